"""The OpenAPI document as the internal services use it: they generate a client from
``/openapi.json`` first. The document must be valid OpenAPI 3.1, a client generated
from it with openapi-python-client (offline, the version pinned in the test extras)
must come out whole (no warning: every answer typed, no model dropped), and the
purchase story must run through that client, its refusals arriving as typed problems.

The client is generated once per session, into a temporary directory, and is pointed
at the test's app (on each store) through an httpx client that calls the app in
process."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""The document does not depend on the store."""

GENERATOR_CONFIG = {
    # No formatting of the generated code: it is imported, not read.
    "post_hooks": [],
    # The audit export is NDJSON, which the generator does not parse: it hands it over
    # as bytes, as its documentation says to do for a content type it does not know.
    "content_type_overrides": {"application/x-ndjson": "application/octet-stream"},
}
GENERATION_TIMEOUT_SECONDS = 180
"""It takes about two seconds; the bound is for a loaded machine."""

READS = frozenset({"GET", "HEAD"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/v1/email-preferences/{link_token}"),
        ("PUT", "/v1/email-preferences/{link_token}"),
    }
)


@dataclass(frozen=True)
class Generated:
    """A client package generated from a document, and what the generator said."""

    package: str
    returncode: int
    output: str

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def operation(self, name: str) -> ModuleType:
        """The module of the operation whose id is ``name`` (in its tag's folder)."""
        api = Path(self.module("api").__file__ or "").parent
        found = list(api.glob(f"*/{name}.py"))
        assert len(found) == 1, (name, found)
        return self.module(f"api.{found[0].parent.name}.{name}")


@pytest.fixture(scope="session")
def generate(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[dict[str, Any]], Generated]]:
    """Generates a client from a document (once per document in the session)."""
    made: dict[str, Generated] = {}
    added: list[str] = []

    def generated(document: dict[str, Any]) -> Generated:
        text = json.dumps(document, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        if digest not in made:
            where = tmp_path_factory.mktemp("generated-client")
            package = f"lifecycle_client_{digest}"
            (where / "openapi.json").write_text(text)
            (where / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
            ran = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "openapi_python_client",
                    "generate",
                    "--path",
                    str(where / "openapi.json"),
                    "--output-path",
                    str(where / package),
                    "--meta",
                    "none",
                    "--config",
                    str(where / "config.json"),
                ],
                check=False,
                capture_output=True,
                text=True,
                timeout=GENERATION_TIMEOUT_SECONDS,
                cwd=where,
            )
            sys.path.insert(0, str(where))
            added.append(str(where))
            made[digest] = Generated(package, ran.returncode, ran.stdout + ran.stderr)
        return made[digest]

    yield generated
    for where in added:
        sys.path.remove(where)


@pytest.fixture
def generated(hub: Any, generate: Callable[[dict[str, Any]], Generated]) -> Generated:
    made = generate(hub.client.app.openapi())
    assert made.returncode == 0, made.output
    return made


def client_of(hub: Any, generated: Generated, token: str = "commands") -> Any:
    """The generated client, authenticated with one of the test tokens, sending its
    requests to the test's app."""
    secret = hub.secrets[token]
    client = generated.module("client").AuthenticatedClient(
        base_url="http://testserver", token=secret
    )
    # The generated client takes any httpx client; this one calls the app in process.
    client.set_httpx_client(
        TestClient(
            hub.client.app,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {secret}"},
            raise_server_exceptions=False,
        )
    )
    return client


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


# --- the document ---------------------------------------------------------------------------


@ON_SQLITE
def test_the_openapi_document_is_valid_openapi_3_1_with_a_relative_server(hub: Any) -> None:
    document = hub.client.app.openapi()

    validate(document)

    assert document["openapi"].startswith("3.1")
    assert [server["url"] for server in document["servers"]] == ["/"]


@ON_SQLITE
def test_operation_ids_are_the_route_names_and_schema_titles_are_unique(hub: Any) -> None:
    document = hub.client.app.openapi()
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    titles = [
        schema.get("title", name) for name, schema in document["components"]["schemas"].items()
    ]

    assert len(ids) == len(set(ids)), sorted(ids)
    assert all(re.fullmatch(r"[a-z][a-z_]{2,40}", i) and "_v1_" not in i for i in ids), ids
    assert {"cancel_renewal", "complete_purchase", "get_subscription"} <= set(ids)
    assert len(titles) == len(set(titles)), sorted(titles)


@ON_SQLITE
def test_every_error_answer_is_the_one_named_problem_schema(hub: Any) -> None:
    document = hub.client.app.openapi()
    errors = [
        (f"{method} {path} {status}", answer)
        for method, path, operation in operations(document)
        for status, answer in operation["responses"].items()
        if int(status) >= 400
    ]

    assert errors
    for where, answer in errors:
        assert answer["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }, where
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


@ON_SQLITE
def test_each_operation_documents_only_the_errors_it_can_answer(hub: Any) -> None:
    document = hub.client.app.openapi()

    for method, path, operation in operations(document):
        where = f"{method} {path}"
        statuses = {int(status) for status in operation["responses"]}
        headers = {
            p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"
        }
        takes_path_ids = any(p["in"] == "path" for p in operation.get("parameters", []))
        if method in READS:
            assert not statuses & {409, 412, 413, 415}, where
        else:
            assert {413, 415} <= statuses, where
        assert (412 in statuses) == ("if-match" in headers), where
        if not takes_path_ids and method in READS:
            assert 404 not in statuses, where
        if (method, path) in PUBLIC:
            assert 403 not in statuses, where
            assert operation["security"] == [], where
        else:
            assert {401, 403} <= statuses, where
            assert operation["security"] == [{"HTTPBearer": []}], where
        assert {422, 503} <= statuses, where
        assert operation["responses"]["503"]["headers"]["Retry-After"]["required"], where

    paths = document["paths"]
    assert 401 not in {int(s) for s in paths["/health"]["get"]["responses"]}
    assert (
        "invalid-link"
        in paths["/v1/email-preferences/{link_token}"]["get"]["responses"]["401"]["description"]
    )
    assert 402 in {
        int(s) for s in paths["/v1/purchases/{purchase_id}/complete"]["post"]["responses"]
    }
    assert 404 in {int(s) for s in paths["/v1/purchases"]["post"]["responses"]}  # account_id
    assert 404 not in {int(s) for s in paths["/v1/accounts"]["post"]["responses"]}


@ON_SQLITE
def test_every_write_behind_a_token_takes_an_idempotency_key(hub: Any) -> None:
    document = hub.client.app.openapi()

    for method, path, operation in operations(document):
        if method in WRITES and (method, path) not in PUBLIC:
            names = [p["name"].lower() for p in operation["parameters"] if p["in"] == "header"]
            assert names.count("idempotency-key") == 1, f"{method} {path}"


@ON_SQLITE
def test_answers_that_show_a_version_declare_their_etag_and_money_and_dates_their_format(
    hub: Any,
) -> None:
    document = hub.client.app.openapi()
    schemas = document["components"]["schemas"]
    subscription = document["paths"]["/v1/subscriptions/{subscription_id}"]["get"]
    renewal = schemas["Renewal"]["properties"]

    assert subscription["responses"]["200"]["headers"]["ETag"]["required"]
    assert "headers" not in document["paths"]["/v1/plans"]["get"]["responses"]["200"]
    assert schemas["Term"]["properties"]["start"]["format"] == "date-time"
    assert renewal["notice_deadline"]["format"] == "date"
    assert {"type": "string", "format": "date-time"}.items() <= _nullable(
        schemas["Subscription"]["properties"]["next_retry_at"]
    ).items()
    assert re.fullmatch(schemas["Money"]["properties"]["amount"]["pattern"], "1500.00")
    assert not re.fullmatch(schemas["Money"]["properties"]["amount"]["pattern"], "1500.0")


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    (kept,) = [part for part in schema["anyOf"] if part != {"type": "null"}]
    return dict(kept)


# --- the generated client ----------------------------------------------------------------


@ON_SQLITE
def test_a_client_generated_from_the_document_comes_out_whole(generated: Generated) -> None:
    assert "Warning" not in generated.output, generated.output
    models = generated.module("models")
    for name in ("Problem", "Renewal", "QuoteIssued", "ScopeChange", "Subscription", "Purchase"):
        assert hasattr(models, name), name


def test_the_purchase_story_runs_through_the_generated_client(
    hub: Any, generated: Generated
) -> None:
    models = generated.module("models")
    client = client_of(hub, generated)
    op = generated.operation

    opened = op("open_account").sync_detailed(
        client=client,
        body=models.OpenAccount(
            email=hub.unique_email("gen"),
            name="Gen Client",
            username=f"gen{uuid4().hex[:8]}",
            kind=models.OpenAccountKind.FREE,
        ),
    )
    assert opened.status_code == 201, opened.content
    account = opened.parsed
    assert isinstance(account, models.AccountCreated)

    plans = op("list_plans").sync(client=client)
    assert any(plan.plan == "strategic_research" for plan in plans), plans

    started = op("start_purchase").sync(
        client=client,
        body=models.StartPurchase(plan="strategic_research", account_id=account.account_id),
    )
    assert isinstance(started, models.PurchaseStarted), started

    def completion(payment_token: str) -> Any:
        return models.CompletePurchase(
            payment_token=payment_token,
            billing_address=models.BillingAddress(
                line1="1 Market Street", city="San Francisco", postal_code="94105", country="US"
            ),
            accept_terms=True,
            accept_auto_renewal=True,
        )

    declined = op("complete_purchase").sync(
        started.purchase_id, client=client, body=completion("tok_declined")
    )
    assert isinstance(declined, models.Problem), declined
    assert (declined.status, declined.type_) == (402, "/problems/payment-declined")

    completed = op("complete_purchase").sync_detailed(
        started.purchase_id, client=client, body=completion("tok_visa")
    )
    purchase = completed.parsed
    assert isinstance(purchase, models.Purchase), completed.content
    assert purchase.status == "completed"
    assert completed.headers["ETag"] == f'"{purchase.version}"'

    read = op("get_subscription").sync_detailed(purchase.subscription_id, client=client)
    subscription = read.parsed
    assert isinstance(subscription, models.Subscription), read.content
    assert isinstance(subscription.term.start, datetime) and subscription.term.start.tzinfo
    assert subscription.term.end > subscription.term.start
    assert re.fullmatch(r"[0-9]+\.[0-9]{2}", subscription.price.amount)
    first_etag = read.headers["ETag"]

    cancelled = op("cancel_renewal").sync_detailed(purchase.subscription_id, client=client)
    assert isinstance(cancelled.parsed, models.Subscription), cancelled.content
    assert cancelled.parsed.status == "non_renewing"

    stale = op("resume_renewal").sync(purchase.subscription_id, client=client, if_match=first_etag)
    assert isinstance(stale, models.Problem), stale
    assert (stale.status, stale.type_) == (412, "/problems/version-conflict")

    missing = op("get_subscription").sync(str(uuid4()), client=client)
    assert isinstance(missing, models.Problem), missing
    assert (missing.status, missing.type_) == (404, "/problems/not-found")

    resumed = op("resume_renewal").sync(
        purchase.subscription_id, client=client, if_match=cancelled.headers["ETag"]
    )
    assert isinstance(resumed, models.Subscription), resumed
    assert resumed.status == "active"
