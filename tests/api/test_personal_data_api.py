"""Erasing an organisation's personal data over HTTP, on SQLite and PostgreSQL:
``POST /v1/ops/organisations/{id}/erase-personal-data``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from uuid import uuid4

if TYPE_CHECKING:
    from conftest import Hub

ERASED = "[erased]"
OWNER = {"first_name": "Ottilie", "last_name": "Owner", "email": "ottilie@shred-api.example"}
BILLER = {"first_name": "Bert", "last_name": "Payer", "email": "bert@shred-api.example"}


def erase(hub: Hub, organisation_id: str, token: str = "ops", **kw: Any) -> Any:
    return hub.post(
        f"/v1/ops/organisations/{organisation_id}/erase-personal-data", None, token=token, **kw
    )


def test_erasing_an_organisations_personal_data_over_http(hub: Hub) -> None:
    bought = hub.buy_new()  # a new buyer: the purchase made the organisation
    purchase = hub.ok(hub.get(f"/v1/purchases/{bought['purchase_id']}"))
    organisation_id, account_id = purchase["organisation_id"], purchase["account_id"]
    contract = hub.ok(
        hub.post(
            "/v1/contracts",
            {
                "organisation_id": organisation_id,
                "number": 8801,
                "start_date": "2027-01-01",
                "term_months": 12,
                "licences": ["cx"],
                "notice_days": 90,
                "price": {"amount": "12000.00", "currency": "USD"},
                "primary_contact": OWNER,
                "billing_contact": BILLER,
            },
        ),
        201,
    )
    other = hub.open_account()
    assert hub.account(account_id)["email"] == bought["email"]

    assert erase(hub, organisation_id, token="commands").status_code == 403
    hub.problem(erase(hub, str(uuid4())), 404, "not-found")
    hub.problem(erase(hub, "not-an-id"), 422, "invalid-request")

    erased = hub.ok(erase(hub, organisation_id))
    assert erased["organisation_id"] == organisation_id
    assert erased["personal_data_erased_at"] == "2027-01-31T09:00:00Z"
    again = hub.ok(erase(hub, organisation_id))
    assert again["personal_data_erased_at"] == erased["personal_data_erased_at"]

    # The resources and the views show the marker; what is not personal is intact.
    shown = hub.account(account_id)
    assert (shown["name"], shown["email"], shown["username"]) == (ERASED, ERASED, ERASED)
    assert hub.ok(hub.get(f"/v1/purchases/{bought['purchase_id']}"))["email"] == ERASED
    shown_contract = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}"))
    assert shown_contract["primary_contact"]["email"] == ERASED
    assert shown_contract["number"] == 8801
    subscription = hub.subscription(bought["subscription_id"])
    assert subscription["status"] == "active"
    profile = hub.ok(
        hub.get(f"/v1/profiles/{account_id}", params={"min_position": erased["position"]})
    )
    assert profile["account"]["email"] == ERASED
    assert hub.account(other["account_id"])["email"] == other["email"]

    # The audit chain still verifies, and its export holds no personal value in clear.
    verified = hub.ok(
        hub.get("/v1/audit/verify", token="audit", params={"min_position": erased["position"]})
    )
    assert verified["ok"] is True
    exported = hub.get(
        "/v1/audit/export",
        token="audit",
        params={"min_position": erased["position"], "limit": 10_000},
    )
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines and lines[-1]["type"] == "PersonalDataErased"
    for needle in (bought["email"], OWNER["email"], BILLER["email"]):
        assert needle not in exported.text
