"""The HTTP app on each store, and a driver that speaks the API contract for the tests.

``client`` is a ``TestClient`` over ``api.app.create_app(container)``, entered as a
context manager so that the app's lifespan runs (projection runners follow the log
in the background). ``hub`` wraps it with the few steps most tests start from: open
an account, buy a plan, read the outgoing messages, move the manual clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.app import create_app
from api.bootstrap import Container

BILLING_ADDRESS = {
    "line1": "1 Market Street",
    "city": "San Francisco",
    "postal_code": "94105",
    "country": "US",
}

TOKEN_NAMES = {
    "views": "test-views",
    "commands": "test-commands",
    "audit": "test-audit",
    "ops": "test-ops",
}
"""Which test token (from the shared fixtures' ``API_TOKENS``) each short name stands for."""

_numbers = itertools.count(1)


def problem_of(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with this status and ``type``; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict), body
    return body


class Hub:
    """The API as a calling service sees it."""

    problem = staticmethod(problem_of)
    ok = staticmethod(ok)

    def __init__(self, client: TestClient, container: Container) -> None:
        self.client = client
        self.container = container
        secrets = {token.name: token.secret for token in container.settings.tokens()}
        self.secrets = {short: secrets[name] for short, name in TOKEN_NAMES.items()}

    # --- requests ------------------------------------------------------------------

    def headers(
        self,
        token: str | None = "commands",
        *,
        key: str | None = None,
        actor: str | None = None,
        if_match: str | int | None = None,
        extra: dict[str, str] | None = None,
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.secrets[token]}"
        if key is not None:
            headers["Idempotency-Key"] = key
        if actor is not None:
            headers["X-Actor"] = f"user:{actor}"
        if if_match is not None:
            headers["If-Match"] = if_match if isinstance(if_match, str) else f'"{if_match}"'
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "commands",
        key: str | None = None,
        actor: str | None = None,
        if_match: str | int | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.client.request(
            method,
            path,
            json=body,
            params=params,
            headers=self.headers(token, key=key, actor=actor, if_match=if_match, extra=headers),
        )

    def get(self, path: str, *, token: str | None = "views", **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, token=token, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    # --- the log -------------------------------------------------------------------

    def head(self) -> int:
        return self.container.services.head()

    def events_after(self, position: int) -> list[Any]:
        """The domain events recorded after ``position``, in log order."""
        store = self.container.services.store
        notifications = store.recorder.select_notifications(
            start=position + 1, limit=10_000, settled_only=False
        )
        return [store.mapper.to_domain_event(n) for n in notifications]

    def stored_bytes(self) -> bytes:
        """Everything the service's database holds, as bytes: the SQLite files as they
        are on disk (WAL included), or every row of every PostgreSQL table."""
        url = self.container.settings.database_url
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///") :])
            return b"".join(
                f.read_bytes() for f in sorted(path.parent.glob(path.name + "*")) if f.is_file()
            )
        chunks: list[bytes] = []
        with psycopg.connect(url) as connection:
            tables = connection.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                " AND table_type = 'BASE TABLE'"
            ).fetchall()
            assert tables, "no tables found"
            for schema, table in tables:
                query = sql.SQL("SELECT * FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
                for row in connection.execute(query):
                    for value in row:
                        if isinstance(value, (bytes, memoryview)):
                            chunks.append(bytes(value))
                        else:
                            chunks.append(str(value).encode())
        return b"\n".join(chunks)

    def assert_not_stored(self, *needles: str) -> None:
        """None of ``needles`` is anywhere in the database; and the scan does see what
        is stored (a marker written through the API afterwards is found)."""
        stored = self.stored_bytes()
        for needle in needles:
            assert needle.encode() not in stored, f"{needle!r} was stored"
        marker = f"marker{next(_numbers)}x{id(self):x}"  # hex: no 13-digit run to refuse
        opened = self.open_account(username=marker)
        # Events hold the username sealed; the profile view holds it in clear once it
        # has caught up with the account's opening.
        shown = self.get(
            f"/v1/profiles/{opened['account_id']}", params={"min_position": opened["position"]}
        )
        assert shown.status_code == 200, shown.text
        assert marker.encode() in self.stored_bytes(), "the database scan misses stored data"

    # --- accounts --------------------------------------------------------------------

    @staticmethod
    def unique_email(prefix: str = "user") -> str:
        return f"{prefix}{next(_numbers)}@example.com"

    def open_account(self, kind: str = "free", **fields: Any) -> dict[str, Any]:
        email = fields.pop("email", None) or self.unique_email("admin")
        body = {"email": email, "name": "Ada Admin", "username": email.split("@")[0], "kind": kind}
        body.update(fields)
        opened = ok(self.post("/v1/accounts", body), 201)
        opened["email"] = email
        return opened

    def add_user(self, organisation_id: str, user_type: str = "standard", **kw: Any) -> dict[str, Any]:
        email = self.unique_email("member")
        body = {"email": email, "name": "Bo Member", "username": email.split("@")[0], "user_type": user_type}
        added = ok(self.post(f"/v1/organisations/{organisation_id}/users", body, **kw), 201)
        added["email"] = email
        return added

    def organisation(self, organisation_id: str) -> dict[str, Any]:
        return ok(self.get(f"/v1/organisations/{organisation_id}"))

    def account(self, account_id: str) -> dict[str, Any]:
        return ok(self.get(f"/v1/accounts/{account_id}"))

    # --- purchases -------------------------------------------------------------------

    def start_new_buyer(self, email: str | None = None, **fields: Any) -> dict[str, Any]:
        email = email or self.unique_email("buyer")
        started = ok(
            self.post("/v1/purchases", {"plan": "strategic_research", "email": email, **fields}), 201
        )
        started["email"] = email
        return started

    def verification_token(self, email: str, purchase_id: str, min_position: int) -> str:
        messages = self.notifications(recipient=email, min_position=min_position)
        tokens = [
            m["data"]["token"]
            for m in messages
            if m["kind"] == "email_verification" and m["data"]["purchase_id"] == purchase_id
        ]
        assert len(tokens) == 1, messages
        return str(tokens[0])

    def verified_new_buyer(self, email: str | None = None, **fields: Any) -> dict[str, Any]:
        started = self.start_new_buyer(email, **fields)
        token = self.verification_token(started["email"], started["purchase_id"], started["position"])
        ok(self.post(f"/v1/purchases/{started['purchase_id']}/verify", {"token": token}))
        return started

    @staticmethod
    def completion(
        payment_token: str = "tok_visa", *, new_buyer: bool = False, **overrides: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "payment_token": payment_token,
            "billing_address": dict(BILLING_ADDRESS),
            "accept_terms": True,
            "accept_auto_renewal": True,
        }
        if new_buyer:
            body["accept_privacy"] = True
            body["account"] = {"name": "Nia Buyer", "username": f"nia{next(_numbers)}"}
        body.update(overrides)
        return body

    def complete(self, purchase_id: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post(f"/v1/purchases/{purchase_id}/complete", body, **kw)

    def buy_new(self, payment_token: str = "tok_visa", **fields: Any) -> dict[str, Any]:
        """A new buyer's completed purchase (the completion answer, plus ``email``)."""
        started = self.verified_new_buyer(**fields)
        done = ok(self.complete(started["purchase_id"], self.completion(payment_token, new_buyer=True)))
        done["email"] = started["email"]
        return done

    def upgrade(
        self, account_id: str, payment_token: str = "tok_visa", plan: str = "strategic_research"
    ) -> dict[str, Any]:
        """A free or trial account's completed purchase."""
        started = ok(self.post("/v1/purchases", {"plan": plan, "account_id": account_id}), 201)
        return ok(self.complete(started["purchase_id"], self.completion(payment_token)))

    def subscriber(self, payment_token: str = "tok_visa", plan: str = "strategic_research") -> dict[str, Any]:
        """A free account upgraded to ``plan``: the account and the completed purchase."""
        opened = self.open_account()
        done = self.upgrade(opened["account_id"], payment_token, plan)
        return {**done, "email": opened["email"]}

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        return ok(self.get(f"/v1/subscriptions/{subscription_id}"))

    def payments(self, subscription_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/v1/subscriptions/{subscription_id}/payments")
        assert response.status_code == 200, response.text
        return list(response.json())

    # --- contracts -----------------------------------------------------------------------

    CONTACT = {"first_name": "Grace", "last_name": "Owner", "email": "grace@example.com"}

    @classmethod
    def contract_body(cls, organisation_id: str, **overrides: Any) -> dict[str, Any]:
        """A valid contract of the organisation, starting 2027-03-01 for 12 months,
        under a number no other test uses."""
        body: dict[str, Any] = {
            "organisation_id": organisation_id,
            "number": 700_000 + next(_numbers),
            "start_date": "2027-03-01",
            "term_months": 12,
            "licences": ["research_suite"],
            "notice_days": 60,
            "price": {"amount": "1000.00", "currency": "USD"},
            "primary_contact": cls.CONTACT,
            "billing_contact": cls.CONTACT,
        }
        body.update(overrides)
        return body

    # --- ops ---------------------------------------------------------------------------

    def notifications(
        self, recipient: str | None = None, min_position: int | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {}
        if recipient is not None:
            params["recipient"] = recipient
        params["min_position"] = self.head() if min_position is None else min_position
        response = self.get("/v1/ops/notifications", token="ops", params=params)
        assert response.status_code == 200, response.text
        return list(response.json())

    def kinds(self, recipient: str) -> list[str]:
        return [m["kind"] for m in self.notifications(recipient)]

    def advance(self, to: datetime | str) -> dict[str, Any]:
        instant = to if isinstance(to, str) else to.isoformat()
        return ok(self.post("/v1/ops/clock/advance", {"to": instant}, token="ops"))

    def now(self) -> datetime:
        return self.container.services.clock.now()


@pytest.fixture
def make_client(make_container: Callable[..., Container]) -> Iterator[Callable[..., TestClient]]:
    """Enters a ``TestClient`` over ``create_app(container, **options)``; all are left
    (their lifespans ended) after the test, before its containers are closed."""
    entered: list[TestClient] = []

    def make(container: Container, **options: Any) -> TestClient:
        client = TestClient(create_app(container, **options), raise_server_exceptions=False)
        client.__enter__()
        entered.append(client)
        return client

    yield make
    for client in reversed(entered):
        client.__exit__(None, None, None)


@pytest.fixture
def client(container: Container, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(container)


@pytest.fixture
def hub(client: TestClient, container: Container) -> Hub:
    return Hub(client, container)


@pytest.fixture
def fresh_hub(
    make_fresh_container: Callable[..., Container], make_client: Callable[..., TestClient]
) -> Callable[..., Hub]:
    """Each call: the served API over a new, empty database of the test's store."""

    def make(**overrides: Any) -> Hub:
        container = make_fresh_container(**overrides)
        return Hub(make_client(container), container)

    return make


@pytest.fixture
def make_hub(make_client: Callable[..., TestClient]) -> Callable[..., Hub]:
    """A hub over another container (or the same one with other app options)."""

    def make(container: Container, **options: Any) -> Hub:
        return Hub(make_client(container, **options), container)

    return make
