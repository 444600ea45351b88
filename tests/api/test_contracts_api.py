"""Enterprise contracts and the renewal pipeline over HTTP, on SQLite and PostgreSQL:
the routes, their answers and their problem types.

The manual clock starts at 2027-01-31T09:00Z. The contract of most tests runs from
2027-01-01 for 12 months (end 2027-12-31) with 90 days' notice: its renewal window
opens on 2027-09-02, the customer must be contacted by 2027-11-01, and opt-outs and
changes are accepted through 2027-10-02.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Hub

_numbers = itertools.count(5001)

OWNER = {"first_name": "Olive", "last_name": "Owner", "email": "olive@customer.example"}
BILLER = {"first_name": "Bill", "last_name": "Payer", "email": "bill@customer.example"}
NEW_BILLER = {"first_name": "Nora", "last_name": "Ledger", "email": "nora@customer.example"}
PRICE = {"amount": "12000.00", "currency": "USD"}
NEW_PRICE = {"amount": "15000.00", "currency": "USD"}
ACCOUNT_SERVICES = "account-services@example.com"

WINDOW_OPENS = "2027-09-02T00:00:00Z"
BEFORE_DEADLINE = "2027-09-10T12:00:00Z"
AFTER_DEADLINE = "2027-10-03T00:00:00Z"
OVERDUE_FROM = "2027-11-02T00:00:00Z"
TERM_ENDS = "2028-01-01T00:00:00Z"


def contract_body(organisation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organisation_id": organisation_id,
        "number": next(_numbers),
        "start_date": "2027-01-01",
        "term_months": 12,
        "licences": ["cx", "ex"],
        "notice_days": 90,
        "price": PRICE,
        "primary_contact": dict(OWNER),
        "billing_contact": dict(BILLER),
    }
    body.update(overrides)
    return body


def new_contract(hub: Hub, organisation_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    organisation_id = organisation_id or hub.open_account()["organisation_id"]
    return hub.ok(hub.post("/v1/contracts", contract_body(organisation_id, **overrides)), 201)


def renewal_of(hub: Hub, contract_id: str) -> dict[str, Any]:
    return hub.ok(hub.get(f"/v1/contracts/{contract_id}/renewal"))


def opened_renewal(hub: Hub, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A contract whose window has opened: the contract and its renewal."""
    contract = new_contract(hub, **overrides)
    hub.advance(WINDOW_OPENS)
    return contract, renewal_of(hub, contract["contract_id"])


def renewal_command(hub: Hub, renewal_id: str, action: str, body: Any = None, **kw: Any) -> Any:
    return hub.post(f"/v1/renewals/{renewal_id}/{action}", body, **kw)


def quote(hub: Hub, renewal_id: str, price: dict[str, str] = NEW_PRICE, **overrides: Any) -> Any:
    body = {"licences": ["cx", "ex"], "term_months": 12, "price": price}
    body.update(overrides)
    return renewal_command(hub, renewal_id, "quotes", body)


def confirmed_renewal(hub: Hub, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    contract, renewal = opened_renewal(hub, **overrides)
    rid = renewal["renewal_id"]
    hub.advance(BEFORE_DEADLINE)
    hub.ok(renewal_command(hub, rid, "contact", {"notes": "called Olive"}))
    quoted = hub.ok(quote(hub, rid), 201)
    return contract, hub.ok(renewal_command(hub, rid, "confirm", {"quote_id": quoted["quote_id"]}))


def messages(hub: Hub, recipient: str, kind: str) -> list[dict[str, Any]]:
    return [m for m in hub.notifications(recipient) if m["kind"] == kind]


# --- contracts -----------------------------------------------------------------------------


def test_creating_a_contract_answers_201_with_its_id_end_date_and_position(hub: Hub) -> None:
    response = hub.post("/v1/contracts", contract_body(hub.open_account()["organisation_id"]))

    created = hub.ok(response, 201)
    assert created["end_date"] == "2027-12-31"
    assert isinstance(created["contract_id"], str) and isinstance(created["position"], int)


def test_a_contract_number_already_used_is_409_duplicate_contract_number(hub: Hub) -> None:
    first = new_contract(hub, number=4242)
    other_organisation = hub.open_account()["organisation_id"]

    response = hub.post("/v1/contracts", contract_body(other_organisation, number=4242))

    hub.problem(response, 409, "duplicate-contract-number")
    assert hub.ok(hub.get(f"/v1/contracts/{first['contract_id']}"))["number"] == 4242


def test_a_contract_number_must_be_an_integer(hub: Hub) -> None:
    body = contract_body(hub.open_account()["organisation_id"], number="A-17")

    hub.problem(hub.post("/v1/contracts", body), 422, "invalid-request")


def test_a_contract_of_an_unknown_organisation_is_404(hub: Hub) -> None:
    body = contract_body("00000000-0000-4000-8000-000000000000")

    hub.problem(hub.post("/v1/contracts", body), 404, "not-found")


def test_a_contract_shows_its_current_term_contacts_and_history(hub: Hub) -> None:
    created = new_contract(hub, number=777)

    response = hub.get(f"/v1/contracts/{created['contract_id']}")

    shown = hub.ok(response)
    assert response.headers["etag"] == f'"{shown["version"]}"'
    assert {k: shown[k] for k in ("number", "status", "term_number", "start_date", "end_date")} == {
        "number": 777,
        "status": "active",
        "term_number": 1,
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
    }
    assert (shown["licences"], shown["term_months"], shown["notice_days"], shown["price"]) == (
        ["cx", "ex"],
        12,
        90,
        PRICE,
    )
    assert shown["primary_contact"] == {**OWNER, "account_id": None, "last_updated": None}
    assert shown["billing_contact"] == {**BILLER, "account_id": None, "last_updated": None}
    assert [(t["term_number"], t["start_date"], t["end_date"]) for t in shown["terms"]] == [
        (1, "2027-01-01", "2027-12-31")
    ]


def test_an_organisation_with_a_contract_is_enterprise_and_lists_it(hub: Hub) -> None:
    organisation_id = hub.open_account()["organisation_id"]
    created = new_contract(hub, organisation_id)

    shown = hub.organisation(organisation_id)

    assert (shown["licence"], shown["contract_ids"]) == ("enterprise", [created["contract_id"]])


def test_an_organisations_contracts_are_listed_newest_first_as_their_get_shows_them(
    hub: Hub,
) -> None:
    organisation_id = hub.open_account()["organisation_id"]
    first = new_contract(hub, organisation_id)
    second = new_contract(hub, organisation_id, start_date="2027-03-01")

    response = hub.get(f"/v1/organisations/{organisation_id}/contracts")

    assert response.status_code == 200, response.text
    assert response.json() == [
        hub.ok(hub.get(f"/v1/contracts/{second['contract_id']}")),
        hub.ok(hub.get(f"/v1/contracts/{first['contract_id']}")),
    ]


def test_an_organisation_holding_a_contract_cannot_buy_self_service(hub: Hub) -> None:
    opened = hub.open_account()
    new_contract(hub, opened["organisation_id"])

    response = hub.post(
        "/v1/purchases", {"plan": "strategic_research", "account_id": opened["account_id"]}
    )

    hub.problem(response, 409, "already-subscribed")


def test_changing_the_billing_contact_shows_when_it_was_last_updated(hub: Hub) -> None:
    created = new_contract(hub)

    response = hub.put(f"/v1/contracts/{created['contract_id']}/contacts/billing", NEW_BILLER)

    shown = hub.ok(response)
    assert shown["billing_contact"] == {
        **NEW_BILLER,
        "account_id": None,
        "last_updated": "2027-01-31T09:00:00Z",
    }
    assert shown["primary_contact"]["last_updated"] is None
    assert isinstance(shown["position"], int)


def test_a_contact_without_a_last_name_is_422_invalid_request(hub: Hub) -> None:
    created = new_contract(hub)
    contact = {"first_name": "Nora", "email": "nora@customer.example"}

    response = hub.put(f"/v1/contracts/{created['contract_id']}/contacts/primary", contact)

    hub.problem(response, 422, "invalid-request")


def test_a_contact_without_an_email_is_422_invalid_request(hub: Hub) -> None:
    created = new_contract(hub)
    contact = {"first_name": "Nora", "last_name": "Ledger", "email": ""}

    response = hub.put(f"/v1/contracts/{created['contract_id']}/contacts/billing", contact)

    hub.problem(response, 422, "invalid-request")


def test_a_contract_without_a_billing_contact_is_422_invalid_request(hub: Hub) -> None:
    body = contract_body(hub.open_account()["organisation_id"])
    del body["billing_contact"]

    hub.problem(hub.post("/v1/contracts", body), 422, "invalid-request")


def test_changing_a_contact_of_another_version_is_412(hub: Hub) -> None:
    created = new_contract(hub)
    path = f"/v1/contracts/{created['contract_id']}/contacts/billing"

    response = hub.put(path, NEW_BILLER, if_match=7)

    hub.problem(response, 412, "version-conflict")


# --- the window, notices and escalation --------------------------------------------------


def test_a_contract_has_no_renewal_before_its_window_opens(hub: Hub) -> None:
    created = new_contract(hub)
    hub.advance("2027-09-01T23:59:59Z")

    hub.problem(hub.get(f"/v1/contracts/{created['contract_id']}/renewal"), 404, "not-found")


def test_the_renewal_opens_in_assessment_with_its_dates(hub: Hub) -> None:
    contract, renewal = opened_renewal(hub)

    assert {
        k: renewal[k]
        for k in ("contract_id", "term_number", "stage", "owner_role", "opens_on", "contact_by")
    } == {
        "contract_id": contract["contract_id"],
        "term_number": 1,
        "stage": "assessment",
        "owner_role": "renewals_manager",
        "opens_on": "2027-09-02",
        "contact_by": "2027-11-01",
    }
    assert (renewal["notice_deadline"], renewal["overdue"], renewal["quotes"]) == (
        "2027-10-02",
        False,
        [],
    )


def test_the_renewal_reads_the_same_by_its_own_id(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)

    assert hub.ok(hub.get(f"/v1/renewals/{renewal['renewal_id']}")) == renewal


def test_the_renewal_notice_goes_to_the_primary_contact_on_file(hub: Hub) -> None:
    created = new_contract(hub)
    new_owner = {"first_name": "Pia", "last_name": "Prime", "email": "pia@customer.example"}
    hub.ok(hub.put(f"/v1/contracts/{created['contract_id']}/contacts/primary", new_owner))

    hub.advance(WINDOW_OPENS)

    [notice] = messages(hub, "pia@customer.example", "renewal_notice")
    assert notice["data"]["contract_id"] == created["contract_id"]
    assert messages(hub, OWNER["email"], "renewal_notice") == []


def test_an_uncontacted_renewal_is_overdue_and_escalated_to_account_services(hub: Hub) -> None:
    contract, renewal = opened_renewal(hub)

    hub.advance(OVERDUE_FROM)

    shown = hub.ok(hub.get(f"/v1/renewals/{renewal['renewal_id']}"))
    assert (shown["stage"], shown["overdue"]) == ("assessment", True)
    [escalation] = messages(hub, ACCOUNT_SERVICES, "renewal_overdue")
    assert escalation["data"]["renewal_id"] == renewal["renewal_id"]


def test_a_renewal_contacted_in_time_is_not_escalated(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    hub.ok(renewal_command(hub, renewal["renewal_id"], "contact"))

    hub.advance(OVERDUE_FROM)

    assert hub.ok(hub.get(f"/v1/renewals/{renewal['renewal_id']}"))["overdue"] is False
    assert messages(hub, ACCOUNT_SERVICES, "renewal_overdue") == []


# --- the stages ---------------------------------------------------------------------------


def test_contacting_the_customer_answers_the_renewal_in_discussion(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)

    response = renewal_command(hub, renewal["renewal_id"], "contact", {"notes": "called"})

    shown = hub.ok(response)
    assert (shown["stage"], shown["renewal_id"]) == ("discussion", renewal["renewal_id"])
    assert response.headers["etag"] == f'"{shown["version"]}"'
    assert isinstance(shown["position"], int)


def test_a_command_out_of_stage_order_is_409_stage_out_of_order(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)

    response = renewal_command(hub, renewal["renewal_id"], "invoice")

    hub.problem(response, 409, "stage-out-of-order")


def test_a_quote_answers_201_with_its_id_and_goes_to_the_primary_contact(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    hub.ok(renewal_command(hub, renewal["renewal_id"], "contact"))

    quoted = hub.ok(quote(hub, renewal["renewal_id"]), 201)

    assert quoted["stage"] == "proposal"
    assert [q["quote_id"] for q in quoted["quotes"]] == [quoted["quote_id"]]
    [sent] = messages(hub, OWNER["email"], "quote")
    assert (sent["data"]["quote_id"], sent["data"]["price"]) == (quoted["quote_id"], NEW_PRICE)


def test_confirming_a_revised_quote_is_409_stale_quote(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    rid = renewal["renewal_id"]
    hub.ok(renewal_command(hub, rid, "contact"))
    first = hub.ok(quote(hub, rid), 201)
    hub.ok(quote(hub, rid, {"amount": "14000.00", "currency": "USD"}), 201)

    response = renewal_command(hub, rid, "confirm", {"quote_id": first["quote_id"]})

    hub.problem(response, 409, "stale-quote")


def test_confirming_the_latest_quote_answers_the_renewal_confirmed(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    rid = renewal["renewal_id"]
    hub.ok(renewal_command(hub, rid, "contact"))
    hub.ok(quote(hub, rid), 201)
    latest = hub.ok(quote(hub, rid, {"amount": "14000.00", "currency": "USD"}), 201)

    shown = hub.ok(renewal_command(hub, rid, "confirm", {"quote_id": latest["quote_id"]}))

    assert (shown["stage"], shown["confirmed_quote_id"]) == ("confirmed", latest["quote_id"])


def test_a_repeated_quote_with_the_same_idempotency_key_issues_one_quote(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    rid = renewal["renewal_id"]
    hub.ok(renewal_command(hub, rid, "contact"))
    body = {"licences": ["cx", "ex"], "term_months": 12, "price": NEW_PRICE}

    first = hub.ok(hub.post(f"/v1/renewals/{rid}/quotes", body, key="quote-once"), 201)
    again = hub.ok(hub.post(f"/v1/renewals/{rid}/quotes", body, key="quote-once"), 201)

    assert again == first
    assert len(hub.ok(hub.get(f"/v1/renewals/{rid}"))["quotes"]) == 1


# --- owner, notice deadline, opt-out ----------------------------------------------------------


def test_a_change_of_scope_routes_the_renewal_to_the_account_executive(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    rid = renewal["renewal_id"]
    hub.ok(renewal_command(hub, rid, "contact"))

    shown = hub.ok(
        renewal_command(hub, rid, "align", {"changes": [{"kind": "add_product", "detail": "dx"}]})
    )

    assert (shown["owner_role"], shown["changes"]) == (
        "account_executive",
        [{"kind": "add_product", "detail": "dx"}],
    )


def test_a_change_after_the_notice_deadline_is_409_notice_period_passed(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    rid = renewal["renewal_id"]
    hub.ok(renewal_command(hub, rid, "contact"))
    hub.advance(AFTER_DEADLINE)

    response = renewal_command(
        hub, rid, "align", {"changes": [{"kind": "add_users", "detail": "20"}]}
    )

    hub.problem(response, 409, "notice-period-passed")


def test_an_opt_out_after_the_notice_deadline_is_409_notice_period_passed(hub: Hub) -> None:
    _, renewal = opened_renewal(hub)
    hub.advance(AFTER_DEADLINE)

    response = renewal_command(hub, renewal["renewal_id"], "opt-out", {"reason": "budget"})

    hub.problem(response, 409, "notice-period-passed")


def test_an_opted_out_contract_ends_at_its_end_date_and_the_organisation_falls_back(
    hub: Hub,
) -> None:
    organisation_id = hub.open_account()["organisation_id"]
    contract, renewal = opened_renewal(hub, organisation_id=organisation_id)
    opted = hub.ok(renewal_command(hub, renewal["renewal_id"], "opt-out", {"reason": "budget"}))
    hub.advance("2027-12-31T23:59:59Z")
    before = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}"))

    hub.advance(TERM_ENDS)

    after = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}"))
    assert opted["stage"] == "opted_out"
    assert (before["status"], after["status"]) == ("active", "ended")
    assert hub.organisation(organisation_id)["licence"] == "free"
    assert renewal_of(hub, contract["contract_id"])["stage"] == "opted_out"


# --- invoice and the next term -------------------------------------------------------------


def test_the_invoice_goes_to_the_billing_contact_on_file_due_30_days_after_issue(hub: Hub) -> None:
    contract, renewal = confirmed_renewal(hub)
    path = f"/v1/contracts/{contract['contract_id']}/contacts/billing"
    hub.ok(hub.put(path, NEW_BILLER))

    shown = hub.ok(renewal_command(hub, renewal["renewal_id"], "invoice"))

    invoice = shown["invoice"]
    assert shown["stage"] == "invoiced"
    assert (invoice["amount"], invoice["issued_on"], invoice["due_on"]) == (
        NEW_PRICE,
        "2027-09-10",
        "2027-10-10",
    )
    assert invoice["recipient"] == {**NEW_BILLER, "account_id": None}
    [sent] = messages(hub, NEW_BILLER["email"], "invoice")
    assert sent["data"]["invoice_id"] == invoice["invoice_id"]
    assert messages(hub, BILLER["email"], "invoice") == []


def test_an_invoiced_renewal_starts_the_next_term_the_day_after_the_end_date(hub: Hub) -> None:
    contract, renewal = confirmed_renewal(hub)
    hub.ok(renewal_command(hub, renewal["renewal_id"], "invoice"))

    hub.advance(TERM_ENDS)

    shown = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}"))
    assert (shown["term_number"], shown["start_date"], shown["end_date"], shown["price"]) == (
        2,
        "2028-01-01",
        "2028-12-31",
        NEW_PRICE,
    )
    assert shown["number"] == contract["number"]
    assert renewal_of(hub, contract["contract_id"])["stage"] == "renewed"


def test_a_contract_past_its_end_date_without_invoice_stays_on_its_old_terms(hub: Hub) -> None:
    contract, renewal = confirmed_renewal(hub)

    hub.advance("2028-01-15T00:00:00Z")

    shown = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}"))
    assert (shown["status"], shown["term_number"], shown["end_date"]) == ("active", 1, "2027-12-31")
    assert hub.ok(hub.get(f"/v1/renewals/{renewal['renewal_id']}"))["overdue"] is True


def test_a_renewal_invoiced_after_the_end_date_starts_the_next_term_at_once(hub: Hub) -> None:
    contract, renewal = confirmed_renewal(hub)
    hub.advance("2028-01-15T00:00:00Z")

    shown = hub.ok(renewal_command(hub, renewal["renewal_id"], "invoice"))

    current = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}"))
    assert shown["stage"] == "renewed"
    assert (current["term_number"], current["start_date"]) == (2, "2028-01-01")


def test_an_unknown_renewal_is_404(hub: Hub) -> None:
    hub.problem(hub.get("/v1/renewals/7b3f2e3c-0000-4000-8000-000000000000"), 404, "not-found")
