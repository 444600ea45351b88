"""OpenAPI links: which later operations take the ids an answer carries.

The table ``TAKES`` says, for each kind of resource, which operations take its id and
as which parameter (a path parameter, or a field of the body). A route whose answer
carries ids says which, and where, in its decorator::

    @router.post("/v1/accounts", status_code=201, ...,
                 responses={201: links.to(account="account_id", organisation="organisation_id")})

and its documented answer then links to every operation of ``TAKES[account]`` and
``TAKES[organisation]``, each link naming the operation by its path and method
(``operationRef``) and the parameter by a runtime expression
(``$response.body#/account_id``). A client, or a test walking the API, follows them to
chain real ids: open an account, change it, start its upgrade, complete the purchase,
act on the subscription, its licence requests, the organisation's contracts and their
renewals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Takes:
    """An operation that takes a resource's id: as the path parameter ``parameter``, or
    as the body field ``body``. ``fixed`` path parameters are given as they are;
    ``beside`` path parameters are read from other fields of the same answer."""

    name: str
    method: str
    path: str
    parameter: str | None = None
    body: str | None = None
    fixed: dict[str, str] = field(default_factory=dict)
    beside: dict[str, str] = field(default_factory=dict)

    def link(self, expression: str, description: str) -> dict[str, Any]:
        link: dict[str, Any] = {
            "operationRef": operation_ref(self.method, self.path),
            "description": description,
        }
        parameters = {f"path.{name}": value for name, value in self.fixed.items()}
        for name, field_name in self.beside.items():
            parameters[f"path.{name}"] = f"$response.body#/{field_name}"
        if self.parameter is not None:
            parameters[f"path.{self.parameter}"] = expression
        if parameters:
            link["parameters"] = parameters
        if self.body is not None:
            link["requestBody"] = {self.body: expression}
        return link


def operation_ref(method: str, path: str) -> str:
    """The JSON pointer of an operation in this document (``#/paths/~1v1~1x/get``)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


TAKES: dict[str, tuple[Takes, ...]] = {
    "account": (
        Takes("getAccount", "GET", "/v1/accounts/{account_id}", "account_id"),
        Takes("changeAccount", "PATCH", "/v1/accounts/{account_id}", "account_id"),
        Takes("startUpgrade", "POST", "/v1/purchases", body="account_id"),
        Takes(
            "changeEmailPreferences",
            "PUT",
            "/v1/accounts/{account_id}/email-preferences",
            "account_id",
        ),
        Takes(
            "linkCommunityAccount",
            "PUT",
            "/v1/accounts/{account_id}/community-account",
            "account_id",
        ),
        Takes(
            "recordCertification", "POST", "/v1/accounts/{account_id}/certifications", "account_id"
        ),
        Takes("getProfile", "GET", "/v1/profiles/{account_id}", "account_id"),
        Takes("getProfileContracts", "GET", "/v1/profiles/{account_id}/contracts", "account_id"),
    ),
    "organisation": (
        Takes("getOrganisation", "GET", "/v1/organisations/{organisation_id}", "organisation_id"),
        Takes("addUser", "POST", "/v1/organisations/{organisation_id}/users", "organisation_id"),
        Takes(
            "listSubscriptions",
            "GET",
            "/v1/organisations/{organisation_id}/subscriptions",
            "organisation_id",
        ),
        Takes(
            "listContracts",
            "GET",
            "/v1/organisations/{organisation_id}/contracts",
            "organisation_id",
        ),
        Takes(
            "setAccountTeam",
            "PUT",
            "/v1/organisations/{organisation_id}/account-team",
            "organisation_id",
        ),
        Takes("createContract", "POST", "/v1/contracts", body="organisation_id"),
        Takes(
            "erasePersonalData",
            "POST",
            "/v1/ops/organisations/{organisation_id}/erase-personal-data",
            "organisation_id",
        ),
    ),
    "purchase": (
        Takes("getPurchase", "GET", "/v1/purchases/{purchase_id}", "purchase_id"),
        Takes("verifyPurchase", "POST", "/v1/purchases/{purchase_id}/verify", "purchase_id"),
        Takes("chooseDatacenter", "PUT", "/v1/purchases/{purchase_id}/datacenter", "purchase_id"),
        Takes("completePurchase", "POST", "/v1/purchases/{purchase_id}/complete", "purchase_id"),
    ),
    "subscription": (
        Takes("getSubscription", "GET", "/v1/subscriptions/{subscription_id}", "subscription_id"),
        Takes(
            "listPayments", "GET", "/v1/subscriptions/{subscription_id}/payments", "subscription_id"
        ),
        Takes(
            "cancelRenewal",
            "POST",
            "/v1/subscriptions/{subscription_id}/cancel-renewal",
            "subscription_id",
        ),
        Takes(
            "resumeRenewal",
            "POST",
            "/v1/subscriptions/{subscription_id}/resume-renewal",
            "subscription_id",
        ),
        Takes("replaceCard", "PUT", "/v1/subscriptions/{subscription_id}/card", "subscription_id"),
        Takes(
            "removeCard", "DELETE", "/v1/subscriptions/{subscription_id}/card", "subscription_id"
        ),
        Takes(
            "recordUsage", "POST", "/v1/subscriptions/{subscription_id}/usage", "subscription_id"
        ),
        Takes(
            "submitLicenceRequest",
            "POST",
            "/v1/subscriptions/{subscription_id}/licence-requests",
            "subscription_id",
        ),
        Takes(
            "subscriptionHistory",
            "GET",
            "/v1/audit/{kind}/{aggregate_id}/history",
            "aggregate_id",
            fixed={"kind": "subscriptions"},
        ),
    ),
    "licence request": (
        Takes(
            "getLicenceRequest",
            "GET",
            "/v1/licence-requests/{licence_request_id}",
            "licence_request_id",
        ),
        Takes(
            "fulfilLicenceRequest",
            "POST",
            "/v1/licence-requests/{licence_request_id}/fulfil",
            "licence_request_id",
        ),
        Takes(
            "declineLicenceRequest",
            "POST",
            "/v1/licence-requests/{licence_request_id}/decline",
            "licence_request_id",
        ),
    ),
    "contract": (
        Takes("getContract", "GET", "/v1/contracts/{contract_id}", "contract_id"),
        Takes("changeContact", "PUT", "/v1/contracts/{contract_id}/contacts/{role}", "contract_id"),
        Takes("getContractRenewal", "GET", "/v1/contracts/{contract_id}/renewal", "contract_id"),
        Takes(
            "contractHistory",
            "GET",
            "/v1/audit/{kind}/{aggregate_id}/history",
            "aggregate_id",
            fixed={"kind": "contracts"},
        ),
    ),
    "renewal": (
        Takes("getRenewal", "GET", "/v1/renewals/{renewal_id}", "renewal_id"),
        Takes("recordContact", "POST", "/v1/renewals/{renewal_id}/contact", "renewal_id"),
        Takes("alignScope", "POST", "/v1/renewals/{renewal_id}/align", "renewal_id"),
        Takes("issueQuote", "POST", "/v1/renewals/{renewal_id}/quotes", "renewal_id"),
        Takes("confirmQuote", "POST", "/v1/renewals/{renewal_id}/confirm", "renewal_id"),
        Takes("issueInvoice", "POST", "/v1/renewals/{renewal_id}/invoice", "renewal_id"),
        Takes("optOut", "POST", "/v1/renewals/{renewal_id}/opt-out", "renewal_id"),
    ),
    "quote": (
        Takes(
            "confirmThisQuote",
            "POST",
            "/v1/renewals/{renewal_id}/confirm",
            body="quote_id",
            beside={"renewal_id": "renewal_id"},
        ),
    ),
}
"""For each kind of resource, the operations that take its id."""


def to(**carried: str) -> dict[str, Any]:
    """The ``links`` of an answer that carries these ids: the resource kind (``licence
    request`` spelled ``licence_request``) → the field of the answer's body holding it."""
    links: dict[str, Any] = {}
    for kind, field_name in carried.items():
        kind = kind.replace("_", " ")
        expression = f"$response.body#/{field_name}"
        for takes in TAKES[kind]:
            if takes.name in links:
                raise ValueError(f"two links named {takes.name}")
            description = f"the {kind} of this answer (`{field_name}`)"
            links[takes.name] = takes.link(expression, description)
    return {"links": links}
