"""Request bodies, one model per use case, with their constraints."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from lifecycle.calendar import EARLIEST_DAY, LATEST_DAY, day_supported, instant_supported
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

NOT_MONEY = frozenset(
    {"XAD", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)
"""ISO 4217 codes that name no money a contract is paid in: precious metals, bond-market
and accounting units, the testing code and "no currency"."""
CURRENCY_CODES = frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY


def _iso_4217(code: str) -> str:
    if code not in CURRENCY_CODES:
        raise ValueError("not an ISO 4217 currency code")
    return code


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_iso_4217),
    Field(description="an ISO 4217 currency code of money (not XXX, XTS or a metal)"),
]
Count = Annotated[int, Field(strict=True, ge=0, le=1_000_000_000)]

# --- dates and instants: text of one shape, inside the supported range ------------------

_DAY_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
SUPPORTED_RANGE = f"from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()} (UTC)"


def _day_text(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _DAY_TEXT.fullmatch(value) is None:
        raise ValueError("a date is written YYYY-MM-DD")
    return value


def _supported_day(day: date) -> date:
    if not day_supported(day):
        raise ValueError(f"dates are supported {SUPPORTED_RANGE}")
    return day


def _instant_text(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("an instant is RFC 3339 text with its offset, e.g. 2027-01-31T09:00:00Z")
    return value


def _supported_instant(instant: datetime) -> datetime:
    if not instant_supported(instant):
        raise ValueError(f"instants are supported {SUPPORTED_RANGE}")
    return instant


Day = Annotated[
    date,
    BeforeValidator(_day_text),
    AfterValidator(_supported_day),
    Field(description=f"a UTC day, YYYY-MM-DD, {SUPPORTED_RANGE}"),
]
"""A UTC day, ``YYYY-MM-DD``, inside the supported range."""
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_instant_text),
    AfterValidator(_supported_instant),
    Field(description=f"an RFC 3339 instant with its offset, {SUPPORTED_RANGE}"),
]
"""An RFC 3339 instant with its offset (a naive time names no instant), inside the
supported range."""


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
    trial_days: Annotated[int, Field(strict=True, ge=1, le=365)] = 30
    datacenter: str | None = None
    fedramp: StrictBool = False


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
    accept_terms: StrictBool | None = None
    accept_auto_renewal: StrictBool | None = None
    accept_privacy: StrictBool | None = None
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
    start_date: Day
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
    to: Instant
