"""Every route the app serves, read from its OpenAPI document, against the contract's
Auth rule: no or an unknown token → 401 ``unauthorized``; a token without the route's
scope → 403 ``forbidden``. A route added tomorrow is in the document, so it is checked
the day it is added; a route left out of the document must be listed here, or
``test_every_route_is_documented_or_known`` fails.

The scope each route needs is derived here from the contract's words, not from the
service's own ``scope_for``: ``audit`` for ``/v1/audit/*``, ``ops`` for ``/v1/ops/*``,
else ``views`` to read and ``commands`` to write.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Route

from api.api_docs import ASSETS, ASSETS_PATH

PUBLIC = {
    ("GET", "/health"),
    ("GET", "/v1/email-preferences/{link_token}"),
    ("PUT", "/v1/email-preferences/{link_token}"),
}
"""The contract's routes without a bearer token: health and the email-preferences link."""

UNDOCUMENTED: dict[str, str | None] = {
    "/openapi.json": None,
    "/docs": None,
    "/docs/oauth2-redirect": None,
    "/redoc": None,
    **{f"{ASSETS_PATH}/{name}": None for name in ASSETS},
    "/problems": None,
    "/problems/{slug}": None,
    "/metrics": "ops",
}
"""Routes served outside the OpenAPI document: the document, its viewers and the pages
of the problem types are public (``None``); the Prometheus metrics need ``ops``."""

PATH_VALUES = {"role": "primary", "kind": "subscriptions", "name": "no-such-projection"}
"""Path parameters that are not ids; every other one gets a fresh UUID."""


def required_scope(method: str, path: str) -> str:
    """The contract's Auth rule."""
    if path == "/v1/audit" or path.startswith("/v1/audit/"):
        return "audit"
    if path == "/v1/ops" or path.startswith("/v1/ops/"):
        return "ops"
    return "views" if method == "GET" else "commands"


def documented_routes(hub: Any) -> list[tuple[str, str]]:
    document = hub.client.app.openapi()
    return sorted(
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "put", "post", "patch", "delete")
    )


def concrete(path: str) -> str:
    """``path`` with each ``{parameter}`` filled with a syntactically valid value."""
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end]
        path = path[:start] + PATH_VALUES.get(name, str(uuid.uuid4())) + path[end + 1 :]
    return path


def token_scopes(hub: Any) -> dict[str, frozenset[str]]:
    """The hub's test tokens (by short name) and their scopes."""
    scopes = {token.secret: token.scopes for token in hub.container.settings.tokens()}
    return {short: scopes[secret] for short, secret in hub.secrets.items()}


def send(hub: Any, method: str, path: str, authorization: str | None) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return hub.client.request(method, path, headers=headers)


def test_the_document_lists_the_contracts_routes(hub):
    routes = set(documented_routes(hub))

    assert len(routes) >= 50
    assert PUBLIC <= routes
    for route in (
        ("POST", "/v1/purchases"),
        ("GET", "/v1/audit/verify"),
        ("POST", "/v1/ops/clock/advance"),
        ("GET", "/v1/profiles/{account_id}/contracts/{contract_id}"),
    ):
        assert route in routes


def test_every_protected_route_answers_401_without_a_known_token(hub):
    head = hub.head()
    checked = 0

    for method, template in documented_routes(hub):
        if (method, template) in PUBLIC:
            continue
        path = concrete(template)
        for authorization in (None, "Bearer not-a-known-secret", f"Basic {hub.secrets['ops']}"):
            response = send(hub, method, path, authorization)

            hub.problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].lower().startswith("bearer"), template
        checked += 1

    assert checked == len(documented_routes(hub)) - len(PUBLIC)
    assert hub.head() == head


def test_every_protected_route_answers_403_to_a_token_without_its_scope(hub):
    tokens = token_scopes(hub)
    head = hub.head()

    for method, template in documented_routes(hub):
        if (method, template) in PUBLIC:
            continue
        needed = required_scope(method, template)
        lacking = [short for short, scopes in tokens.items() if needed not in scopes]
        holding = [short for short, scopes in tokens.items() if needed in scopes]
        assert lacking and holding, (template, needed)
        path = concrete(template)

        for short in lacking:
            response = send(hub, method, path, f"Bearer {hub.secrets[short]}")

            body = hub.problem(response, 403, "forbidden")
            assert needed in body["detail"], (template, body)
        for short in holding:
            response = send(hub, method, path, f"Bearer {hub.secrets[short]}")

            assert response.status_code != 401, (template, short, response.text)
            if response.status_code == 403:
                assert response.json()["type"] != "/problems/forbidden", (template, short)
    assert hub.head() == head


def test_public_routes_answer_without_a_token(hub):
    bought = hub.subscriber()
    links = [
        m["data"]["preferences_token"]
        for m in hub.notifications(bought["email"])
        if "preferences_token" in m["data"]
    ]
    assert links
    preferences = {
        "personalised_learning": False,
        "news_and_updates": True,
        "customer_events": True,
    }

    health = hub.get("/health", token=None)
    read = hub.get(f"/v1/email-preferences/{links[0]}", token=None)
    changed = hub.put(f"/v1/email-preferences/{links[0]}", preferences, token=None)
    forged = hub.get("/v1/email-preferences/not-a-signed-link", token=None)

    assert hub.ok(health)["store"] == "ok"
    assert hub.ok(read)["account_id"] == bought["account_id"]
    assert hub.ok(changed)["email_preferences"]["personalised_learning"] is False
    # The link stands in for the token: a forged one is refused as a link, not for a token.
    hub.problem(forged, 401, "invalid-link")


def test_every_route_is_documented_or_known(hub):
    """A route kept out of the OpenAPI document escapes the checks above; it must be
    listed in ``UNDOCUMENTED`` with the scope it needs, and its access is checked here."""
    documented = set(documented_routes(hub))
    tokens = token_scopes(hub)

    for route in hub.client.app.routes:
        if not isinstance(route, (APIRoute, Route)):
            continue
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, route.path) in documented:
                continue
            assert route.path in UNDOCUMENTED, (
                f"{method} {route.path} is neither documented nor known"
            )
            needed = UNDOCUMENTED[route.path]
            if needed is None:
                assert send(hub, method, route.path, None).status_code == 200, route.path
                continue
            hub.problem(send(hub, method, route.path, None), 401, "unauthorized")
            for short, scopes in tokens.items():
                response = send(hub, method, route.path, f"Bearer {hub.secrets[short]}")
                if needed in scopes:
                    assert response.status_code == 200, (route.path, short)
                else:
                    hub.problem(response, 403, "forbidden")


def test_a_secret_is_compared_whole_and_exactly(hub):
    """A token is found only by its whole secret: no prefix, no extension, no other case."""
    secret = hub.secrets["views"]
    near_misses = [secret[:-1], secret + "x", secret.upper(), secret[1:], " " * len(secret), ""]

    for candidate in near_misses:
        hub.problem(send(hub, "GET", "/v1/plans", f"Bearer {candidate}"), 401, "unauthorized")
    assert send(hub, "GET", "/v1/plans", f"Bearer {secret}").status_code == 200


def test_every_configured_secret_is_compared_in_constant_time(hub, monkeypatch):
    """Timing cannot be asserted honestly; what makes it constant can: each request
    compares the offered secret with every configured one through
    ``hmac.compare_digest``, and stops at none of them, whichever matches."""
    import api.auth

    compared: list[int] = []
    real = api.auth.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(1)
        return real(a, b)

    monkeypatch.setattr(api.auth.hmac, "compare_digest", counting)
    configured = len(hub.container.settings.tokens())

    for authorization in (
        f"Bearer {hub.secrets['views']}",
        f"Bearer {hub.secrets['ops']}",
        "Bearer nope",
    ):
        compared.clear()
        send(hub, "GET", "/v1/plans", authorization)

        assert len(compared) == configured, authorization
