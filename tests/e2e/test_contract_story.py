"""An enterprise contract's story over HTTP, against a real ``lifecycle serve`` process on
a fresh PostgreSQL database, under the manual clock: creation, a renewal that continues
the services (Renewals Manager), a renewal that changes them (re-routed to the Account
Executive), and what the customer was sent along the way.

The clock starts at 2027-01-31T09:00Z. The contract runs from 2027-01-01 for 12 months:
its first window opens on 2027-09-02; term 2 is 2028-01-01 → 2028-12-31 (window
2028-09-02); term 3 is quoted for 24 months: 2029-01-01 → 2030-12-31.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lifecycle_server import COMMANDS_SECRET, OPS_SECRET, LifecycleServer

pytestmark = pytest.mark.e2e

HUB = {"Authorization": f"Bearer {COMMANDS_SECRET}"}
OPS = {"Authorization": f"Bearer {OPS_SECRET}"}
ACCOUNT_SERVICES = "renewals-desk@example.com"

OLIVE = {"first_name": "Olive", "last_name": "Owner", "email": "olive@customer.example"}
BILL = {"first_name": "Bill", "last_name": "Payer", "email": "bill@customer.example"}
NORA = {"first_name": "Nora", "last_name": "Ledger", "email": "nora@customer.example"}


@pytest.fixture
def server(postgres_url: str, serve: Callable[..., LifecycleServer]) -> LifecycleServer:
    """``lifecycle serve`` on a fresh PostgreSQL database, under the manual clock."""
    return serve(postgres_url, account_services_email=ACCOUNT_SERVICES)


class Api:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.position = 0

    def send(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        headers = {**(OPS if path.startswith("/v1/ops") else HUB), **kw.pop("headers", {})}
        response = self.http.request(method, path, json=body, headers=headers, **kw)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        answer = response.json()
        if isinstance(answer, dict) and isinstance(answer.get("position"), int):
            self.position = max(self.position, answer["position"])
        return answer

    def get(self, path: str, status: int = 200) -> Any:
        return self.send("GET", path, status=status)

    def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        return self.send("POST", path, body, status)

    def put(self, path: str, body: Any = None, status: int = 200) -> Any:
        return self.send("PUT", path, body, status)

    def advance(self, to: str) -> None:
        self.post("/v1/ops/clock/advance", {"to": to})

    def sent(self, recipient: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, created_at, data) of every message to ``recipient``, oldest first."""
        shown = self.send(
            "GET",
            "/v1/ops/notifications",
            params={"recipient": recipient, "min_position": self.position},
        )
        return [(m["kind"], m["created_at"], m["data"]) for m in shown]


# --- the story -------------------------------------------------------------------------------


def test_a_contract_is_created_renewed_as_is_then_renewed_with_a_change_of_scope(
    server: LifecycleServer,
) -> None:
    api = Api(server.base_url)

    # A customer's organisation signs contract 2027-0042.
    organisation_id = api.post(
        "/v1/accounts",
        {"email": "ada@customer.example", "name": "Ada Admin", "username": "ada", "kind": "free"},
        status=201,
    )["organisation_id"]
    created = api.post(
        "/v1/contracts",
        {
            "organisation_id": organisation_id,
            "number": 20270042,
            "start_date": "2027-01-01",
            "term_months": 12,
            "licences": ["cx", "ex"],
            "notice_days": 90,
            "price": {"amount": "12000.00", "currency": "USD"},
            "primary_contact": OLIVE,
            "billing_contact": BILL,
        },
        status=201,
    )
    contract_id = created["contract_id"]
    assert created["end_date"] == "2027-12-31"
    organisation = api.get(f"/v1/organisations/{organisation_id}")
    assert (organisation["licence"], organisation["contract_ids"]) == ("enterprise", [contract_id])
    api.get(f"/v1/contracts/{contract_id}/renewal", status=404)

    # --- the first renewal continues the services --------------------------------------
    api.advance("2027-09-02T00:00:00Z")
    first = api.get(f"/v1/contracts/{contract_id}/renewal")
    rid = first["renewal_id"]
    assert (first["term_number"], first["stage"], first["owner_role"]) == (
        1,
        "assessment",
        "renewals_manager",
    )
    assert (first["opens_on"], first["contact_by"], first["notice_deadline"]) == (
        "2027-09-02",
        "2027-11-01",
        "2027-10-02",
    )

    api.advance("2027-09-15T10:00:00Z")
    assert (
        api.post(f"/v1/renewals/{rid}/contact", {"notes": "Olive wants to continue"})["stage"]
        == "discussion"
    )
    quote = api.post(
        f"/v1/renewals/{rid}/quotes",
        {
            "licences": ["cx", "ex"],
            "term_months": 12,
            "price": {"amount": "12600.00", "currency": "USD"},
        },
        status=201,
    )
    assert api.post(f"/v1/renewals/{rid}/confirm", {"quote_id": quote["quote_id"]})["stage"] == (
        "confirmed"
    )
    # Finance takes over billing before the invoice goes out.
    billing = api.put(f"/v1/contracts/{contract_id}/contacts/billing", NORA)["billing_contact"]
    assert billing["last_updated"] == "2027-09-15T10:00:00Z"
    invoiced = api.post(f"/v1/renewals/{rid}/invoice")
    invoice = invoiced["invoice"]
    assert (invoiced["stage"], invoice["recipient"]["email"]) == ("invoiced", NORA["email"])
    assert (invoice["amount"], invoice["issued_on"], invoice["due_on"]) == (
        {"amount": "12600.00", "currency": "USD"},
        "2027-09-15",
        "2027-10-15",
    )

    api.advance("2027-12-31T23:59:59Z")
    assert api.get(f"/v1/contracts/{contract_id}")["term_number"] == 1
    api.advance("2028-01-01T00:00:00Z")
    contract = api.get(f"/v1/contracts/{contract_id}")
    assert (contract["term_number"], contract["start_date"], contract["end_date"]) == (
        2,
        "2028-01-01",
        "2028-12-31",
    )
    assert (contract["number"], contract["price"]["amount"]) == (20270042, "12600.00")
    assert contract["billing_contact"]["last_updated"] is None
    assert api.get(f"/v1/contracts/{contract_id}/renewal")["stage"] == "renewed"

    # --- the second renewal adds a product -----------------------------------------------
    api.advance("2028-09-02T00:00:00Z")
    second = api.get(f"/v1/contracts/{contract_id}/renewal")
    rid2 = second["renewal_id"]
    assert rid2 != rid
    assert (second["term_number"], second["stage"], second["owner_role"]) == (
        2,
        "assessment",
        "renewals_manager",
    )

    api.advance("2028-09-20T09:00:00Z")
    api.post(f"/v1/renewals/{rid2}/contact", {"notes": "Olive asks for the dx product"})
    aligned = api.post(
        f"/v1/renewals/{rid2}/align",
        {
            "changes": [
                {"kind": "add_product", "detail": "dx"},
                {"kind": "add_users", "detail": "40"},
            ]
        },
    )
    assert aligned["owner_role"] == "account_executive"
    offered = api.post(
        f"/v1/renewals/{rid2}/quotes",
        {
            "licences": ["cx", "ex", "dx"],
            "term_months": 24,
            "price": {"amount": "30000.00", "currency": "USD"},
        },
        status=201,
    )
    revised = api.post(
        f"/v1/renewals/{rid2}/quotes",
        {
            "licences": ["cx", "ex", "dx"],
            "term_months": 24,
            "price": {"amount": "28000.00", "currency": "USD"},
        },
        status=201,
    )
    stale = api.post(f"/v1/renewals/{rid2}/confirm", {"quote_id": offered["quote_id"]}, status=409)
    assert stale["type"] == "/problems/stale-quote"
    api.post(f"/v1/renewals/{rid2}/confirm", {"quote_id": revised["quote_id"]})
    second_invoice = api.post(f"/v1/renewals/{rid2}/invoice")["invoice"]
    assert (second_invoice["recipient"]["email"], second_invoice["amount"]["amount"]) == (
        NORA["email"],
        "28000.00",
    )
    invoiced_opt_out = api.post(
        f"/v1/renewals/{rid2}/opt-out", {"reason": "changed mind"}, status=409
    )
    assert invoiced_opt_out["type"] == "/problems/stage-out-of-order"

    api.advance("2029-01-01T00:00:00Z")
    contract = api.get(f"/v1/contracts/{contract_id}")
    assert (contract["term_number"], contract["start_date"], contract["end_date"]) == (
        3,
        "2029-01-01",
        "2030-12-31",
    )
    assert (contract["licences"], contract["term_months"], contract["price"]["amount"]) == (
        ["cx", "ex", "dx"],
        24,
        "28000.00",
    )
    assert [
        (t["term_number"], t["start_date"], t["end_date"], t["term_months"], t["price"]["amount"])
        for t in contract["terms"]
    ] == [
        (1, "2027-01-01", "2027-12-31", 12, "12000.00"),
        (2, "2028-01-01", "2028-12-31", 12, "12600.00"),
        (3, "2029-01-01", "2030-12-31", 24, "28000.00"),
    ]
    shown = api.get(f"/v1/contracts/{contract_id}/renewal")
    assert (shown["renewal_id"], shown["stage"], shown["owner_role"]) == (
        rid2,
        "renewed",
        "account_executive",
    )
    assert api.get(f"/v1/organisations/{organisation_id}/contracts") == [contract]

    # --- what was sent, and to whom ------------------------------------------------------
    to_olive = api.sent(OLIVE["email"])
    assert [(kind, at[:10]) for kind, at, _ in to_olive] == [
        ("renewal_notice", "2027-09-02"),
        ("quote", "2027-09-15"),
        ("renewal_notice", "2028-09-02"),
        ("quote", "2028-09-20"),
        ("quote", "2028-09-20"),
    ]
    assert [data["quote_id"] for kind, _, data in to_olive if kind == "quote"] == [
        quote["quote_id"],
        offered["quote_id"],
        revised["quote_id"],
    ]
    to_nora = api.sent(NORA["email"])
    assert [(kind, data["invoice_id"]) for kind, _, data in to_nora] == [
        ("invoice", invoice["invoice_id"]),
        ("invoice", second_invoice["invoice_id"]),
    ]
    assert api.sent(BILL["email"]) == []
    assert api.sent(ACCOUNT_SERVICES) == []


def test_an_uncontacted_renewal_is_escalated_and_an_opt_out_ends_the_contract(
    server: LifecycleServer,
) -> None:
    api = Api(server.base_url)
    organisation_id = api.post(
        "/v1/accounts",
        {"email": "bo@other.example", "name": "Bo Admin", "username": "bo", "kind": "free"},
        status=201,
    )["organisation_id"]
    contract_id = api.post(
        "/v1/contracts",
        {
            "organisation_id": organisation_id,
            "number": 20270077,
            "start_date": "2027-01-01",
            "term_months": 12,
            "licences": ["cx"],
            "notice_days": 30,
            "price": {"amount": "5000.00", "currency": "EUR"},
            "primary_contact": OLIVE,
            "billing_contact": OLIVE,
        },
        status=201,
    )["contract_id"]

    api.advance("2027-11-02T00:00:00Z")
    renewal = api.get(f"/v1/contracts/{contract_id}/renewal")
    assert (renewal["stage"], renewal["overdue"]) == ("assessment", True)
    [(kind, at, data)] = api.sent(ACCOUNT_SERVICES)
    assert (kind, at, data["renewal_id"]) == (
        "renewal_overdue",
        "2027-11-02T00:00:00Z",
        renewal["renewal_id"],
    )

    assert (
        api.post(f"/v1/renewals/{renewal['renewal_id']}/opt-out", {"reason": "budget"})["stage"]
        == "opted_out"
    )
    api.advance("2028-01-01T00:00:00Z")
    assert api.get(f"/v1/contracts/{contract_id}")["status"] == "ended"
    assert api.get(f"/v1/organisations/{organisation_id}")["licence"] == "free"
    assert api.get(f"/v1/contracts/{contract_id}/renewal")["stage"] == "opted_out"
