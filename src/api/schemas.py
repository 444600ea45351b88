"""Request bodies, one model per use case, with their constraints."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from lifecycle.money import Money

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
Amount = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,2})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(Body):
    amount: Amount
    currency: Currency

    def to_money(self) -> Money:
        return Money.of(Decimal(self.amount), self.currency)


# --- accounts and organisations ---------------------------------------------------


class OpenAccount(Body):
    email: Email
    name: Text
    username: Text
    kind: Literal["free", "trial"]
    trial_days: Annotated[int, Field(ge=1, le=365)] = 30
    datacenter: str | None = None
    fedramp: bool = False


class AddUser(Body):
    email: Email
    name: Text
    username: Text
    user_type: Literal["brand_admin", "standard"]


class ChangeAccount(Body):
    name: Text | None = None
    email: Email | None = None
    username: Text | None = None
    user_type: Literal["brand_admin", "standard"] | None = None


# --- purchases --------------------------------------------------------------------


class StartPurchase(Body):
    plan: Text
    currency: Currency = "USD"
    account_id: str | None = None
    email: Email | None = None
    ip: Annotated[str, StringConstraints(max_length=64)] | None = None


class VerifyPurchase(Body):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ChooseDatacenter(Body):
    datacenter: Text


class BillingAddress(Body):
    line1: Text
    line2: Text | None = None
    city: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
    region: Text | None = None


class NewBuyerAccount(Body):
    name: Text
    username: Text


class CompletePurchase(Body):
    payment_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    billing_address: BillingAddress
    accept_terms: bool | None = None
    accept_auto_renewal: bool | None = None
    accept_privacy: bool | None = None
    account: NewBuyerAccount | None = None


# --- subscriptions ---------------------------------------------------------------------


class CancelRenewal(Body):
    reason: LongText | None = None


class ReplaceCard(Body):
    payment_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RecordUsage(Body):
    responses: Count = 0
    seats: Count = 0


class SubmitLicenceRequest(Body):
    name: Text
    email: Email
    cc: Annotated[list[Email], Field(max_length=20)] = []
    username: Text
    kind: Literal["add_seats", "more_responses", "new_product", "other"]
    description: LongText


class NewCaps(Body):
    responses: Count | None = None
    seats: Count | None = None


class FulfilLicenceRequest(Body):
    caps: NewCaps | None = None
    plan: Text | None = None
    price: MoneyIn | None = None


class DeclineLicenceRequest(Body):
    reason: LongText


# --- enterprise contracts and renewals --------------------------------------------------


class ContactIn(Body):
    """First name, last name and email are required to save a contact (R41)."""

    first_name: Text
    last_name: Text
    email: Email
    account_id: Annotated[str, StringConstraints(max_length=64)] | None = None


Product = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Licences = Annotated[list[Product], Field(min_length=1, max_length=100)]
TermMonths = Annotated[int, Field(strict=True, ge=1, le=120)]


class CreateContract(Body):
    organisation_id: Annotated[str, StringConstraints(max_length=64)]
    number: Annotated[int, Field(strict=True, ge=1, le=999_999_999_999)]
    start_date: date
    term_months: TermMonths
    licences: Licences
    notice_days: Annotated[int, Field(strict=True, ge=0, le=730)]
    price: MoneyIn
    primary_contact: ContactIn
    billing_contact: ContactIn


class RecordRenewalContact(Body):
    notes: LongText | None = None


class ScopeChange(Body):
    kind: Literal["add_product", "add_users", "remove_product", "downgrade"]
    detail: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class AlignScope(Body):
    changes: Annotated[list[ScopeChange], Field(max_length=50)]


class IssueQuote(Body):
    licences: Licences
    term_months: TermMonths
    price: MoneyIn


class ConfirmQuote(Body):
    quote_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class OptOut(Body):
    reason: LongText | None = None


# --- ops ----------------------------------------------------------------------------------


class AdvanceClock(Body):
    to: AwareDatetime  # an instant with its offset: a naive time names no instant
