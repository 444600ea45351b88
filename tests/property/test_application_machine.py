"""Random sequences of commands and clock advances, driven through the real application
(the handlers of ``commands`` on a container built by ``api.bootstrap.build`` with the
manual clock), on a fresh database per example, on SQLite and on PostgreSQL.

After every step the sandbox's ledger of charges and the aggregates are checked
against the billing and licence rules."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from psycopg import sql

from api.bootstrap import Container, build
from api.settings import Settings
from commands import subscriptions as subscription_commands
from commands.accounts import open_account
from commands.context import Caller
from commands.purchases import (
    CompletedPurchase,
    NewBuyer,
    complete_purchase,
    start_purchase,
    verify_purchase,
)
from commands.time_driven import advance_clock
from lifecycle.account import Account
from lifecycle.calendar import subscription_term
from lifecycle.errors import AlreadySubscribed, CapExceeded, PaymentDeclined, SubscriptionExpired
from lifecycle.organisation import FREE, SELF_SERVICE, Organisation
from lifecycle.subscription import (
    ACTIVE,
    EXPIRED,
    NON_RENEWING,
    PAST_DUE,
    RETRY_DELAYS,
    Subscription,
)
from projections.due_work import INSTANT_FORMAT
from projections.notifications import list_notifications

PLAN = "strategic_research"
BILLING_ADDRESS = {
    "line1": "1 Market Street",
    "city": "San Francisco",
    "postal_code": "94105",
    "country": "US",
}
RENEWING_TOKENS = ("tok_visa", "tok_mastercard")
"""Cards the sandbox approves for every charge."""
PAYING_TOKENS = (*RENEWING_TOKENS, "tok_fails_renewal")
"""Cards the sandbox approves for a purchase."""
CARD_TOKENS = (*PAYING_TOKENS, "tok_declined")
LAST_ATTEMPT = len(RETRY_DELAYS) + 1

MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
POSTGRES_EXAMPLES = 10
"""Fewer examples on PostgreSQL: each creates and drops a database, and every read is a
round trip; the same machine runs its 25 on SQLite."""


# --- a fresh database for each example ------------------------------------------------


class FreshDatabases:
    """Makes an empty database for each example, beside the test's own database: a new
    SQLite file, or a new PostgreSQL database (dropped again when the example ends)."""

    def __init__(self, database_url: str, directory: Path) -> None:
        self.database_url = database_url
        self.directory = directory
        self.postgres = not database_url.startswith("sqlite")
        self._numbers = itertools.count(1)
        self._left: set[str] = set()

    def create(self) -> str:
        number = next(self._numbers)
        if not self.postgres:
            return f"sqlite:///{(self.directory / f'example-{number}.db').resolve()}"
        name = f"lifecycle_machine_{uuid.uuid4().hex}"
        with psycopg.connect(self.database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} STRATEGY = FILE_COPY").format(sql.Identifier(name))
            )
        self._left.add(name)
        parts = urlsplit(self.database_url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))

    def drop(self, url: str) -> None:
        if self.postgres:
            self._drop(urlsplit(url).path.lstrip("/"))

    def drop_all(self) -> None:
        """Whatever an example left behind (one that failed before its teardown)."""
        for name in sorted(self._left):
            self._drop(name)

    def _drop(self, name: str) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self._left.discard(name)


# --- what the machine remembers ---------------------------------------------------------


@dataclass
class CancelledRenewal:
    """A cancellation: the term it was made in, and the subscription's ledger keys then."""

    term: int
    ledger_keys: frozenset[str]


@dataclass
class Bought:
    subscription_id: UUID
    purchase_id: UUID
    organisation_id: UUID
    account_id: UUID
    cancelled: CancelledRenewal | None = None
    expired_at: datetime | None = None


@dataclass(frozen=True)
class Charge:
    key: str
    owner: str
    term: int
    attempt: int
    charge_id: str
    approved: bool
    amount: str
    charged_at: datetime


@dataclass(frozen=True)
class Observed:
    """The service's state after a step, read once for every invariant."""

    charges: list[Charge]
    subscriptions: dict[UUID, Subscription]
    organisations: dict[UUID, Organisation]
    accounts: dict[UUID, Account]
    """The buyers of expired subscriptions."""
    notifications: list[dict[str, Any]]


def ledger(container: Container) -> list[Charge]:
    charges = []
    for row in container.services.gateway.charges():  # type: ignore[attr-defined]
        owner, term, attempt = str(row["idempotency_key"]).split(":")
        charges.append(
            Charge(
                key=str(row["idempotency_key"]),
                owner=owner,
                term=int(term),
                attempt=int(attempt),
                charge_id=str(row["charge_id"]),
                approved=bool(row["approved"]),
                amount=str(row["amount"]),
                charged_at=datetime.fromisoformat(str(row["charged_at"])),
            )
        )
    return charges


def keys_of(charges: list[Charge], owner: UUID) -> frozenset[str]:
    return frozenset(c.key for c in charges if c.owner == str(owner))


def created_at(row: dict[str, Any]) -> datetime:
    return datetime.strptime(row["created_at"], INSTANT_FORMAT).replace(tzinfo=timezone.utc)


# --- the machine -------------------------------------------------------------------------


class ApplicationMachine(RuleBasedStateMachine):
    """Buyers buy, cancel, resume, use, change cards and wait; the rules hold throughout."""

    databases: FreshDatabases
    service_settings: Settings
    """The settings of the test's container (manual clock, tokens); only the database differs."""

    subscriptions = Bundle("subscriptions")

    def __init__(self) -> None:
        super().__init__()
        self.url = self.databases.create()
        self.container = build(
            self.service_settings.model_copy(update={"database_url": self.url})
        )
        self.services = self.container.services
        self.bought: dict[UUID, Bought] = {}
        self.current: dict[UUID, UUID] = {}
        """Each organisation's latest subscription."""
        self.buyers = itertools.count(1)

    def teardown(self) -> None:
        self.container.close()
        self.databases.drop(self.url)

    # --- helpers --------------------------------------------------------------------

    def now(self) -> datetime:
        return self.services.clock.now()

    def subscription(self, subscription_id: UUID) -> Subscription:
        return self.services.load(Subscription, subscription_id, "subscription")

    def as_buyer(self, subscription_id: UUID) -> Caller:
        return Caller.of("tests", self.bought[subscription_id].account_id)

    def ledger(self) -> list[Charge]:
        return ledger(self.container)

    def notifications(self) -> list[dict[str, Any]]:
        self.container.runners["notifications"].catch_up()
        return list_notifications(self.services.database, None)

    def _complete(
        self,
        purchase_id: UUID,
        caller: Caller,
        first_token: str,
        retry_token: str,
        new_buyer: NewBuyer | None,
    ) -> CompletedPurchase:
        """Complete the purchase with the first card; when that is declined, with the retry card."""

        def complete(token: str) -> CompletedPurchase:
            return complete_purchase(
                self.services,
                caller,
                purchase_id,
                payment_token=token,
                billing_address=BILLING_ADDRESS,
                accept_terms=True,
                accept_auto_renewal=True,
                accept_privacy=True,
                new_buyer=new_buyer,
            ).value

        if first_token == "tok_declined":
            before = self.ledger()
            with pytest.raises(PaymentDeclined):
                complete(first_token)
            declined = [c for c in self.ledger() if c not in before]
            assert [(c.owner, c.approved) for c in declined] == [(str(purchase_id), False)]
            first_token = retry_token
        done = complete(first_token)
        assert done.subscription.card is not None
        assert done.subscription.card.token == first_token
        return done

    def _record(self, done: CompletedPurchase) -> UUID:
        subscription = done.subscription
        assert subscription.status == ACTIVE
        assert subscription.term == 1
        assert done.organisation.licence == SELF_SERVICE
        self.bought[subscription.id] = Bought(
            subscription_id=subscription.id,
            purchase_id=done.purchase.id,
            organisation_id=done.organisation.id,
            account_id=done.account.id,
        )
        self.current[done.organisation.id] = subscription.id
        return subscription.id

    # --- buying -----------------------------------------------------------------------

    @rule(
        target=subscriptions,
        new_buyer=st.booleans(),
        first_token=st.sampled_from(CARD_TOKENS),
        retry_token=st.sampled_from(PAYING_TOKENS),
    )
    def buy(self, new_buyer: bool, first_token: str, retry_token: str) -> UUID:
        """A free account upgraded, or a new buyer after verifying their email; a declined
        card first leaves the purchase open for another card."""
        number = next(self.buyers)
        email = f"buyer{number}@example.com"
        if new_buyer:
            caller = Caller.of("tests")
            purchase = start_purchase(self.services, caller, plan=PLAN, email=email).value
            sent = [
                n
                for n in self.notifications()
                if n["recipient"] == email and n["kind"] == "email_verification"
            ]
            assert len(sent) == 1
            verify_purchase(self.services, caller, purchase.id, sent[0]["data"]["token"])
            buyer = NewBuyer(name=f"Buyer {number}", username=f"buyer{number}")
        else:
            opened = open_account(
                self.services,
                Caller.of("tests"),
                email=email,
                name=f"Buyer {number}",
                username=f"buyer{number}",
                kind=FREE,
            ).value
            caller = Caller.of("tests", opened.account.id)
            purchase = start_purchase(
                self.services, caller, plan=PLAN, account_id=opened.account.id
            ).value
            buyer = None
        done = self._complete(purchase.id, caller, first_token, retry_token, buyer)
        return self._record(done)

    @rule(
        target=subscriptions,
        subscription_id=subscriptions,
        first_token=st.sampled_from(CARD_TOKENS),
        retry_token=st.sampled_from(PAYING_TOKENS),
    )
    def buy_again(self, subscription_id: UUID, first_token: str, retry_token: str) -> Any:
        """The buyer of an organisation buys again: refused, without a charge, while its
        latest subscription runs; a new subscription once that has expired."""
        bought = self.bought[subscription_id]
        latest = self.subscription(self.current[bought.organisation_id])
        caller = Caller.of("tests", bought.account_id)
        if latest.status != EXPIRED:
            before = self.ledger()
            with pytest.raises(AlreadySubscribed):
                start_purchase(self.services, caller, plan=PLAN, account_id=bought.account_id)
            assert self.ledger() == before
            return multiple()
        purchase = start_purchase(
            self.services, caller, plan=PLAN, account_id=bought.account_id
        ).value
        done = self._complete(purchase.id, caller, first_token, retry_token, None)
        assert done.organisation.id == bought.organisation_id
        return self._record(done)

    # --- commands on a subscription -----------------------------------------------------

    @rule(subscription_id=subscriptions)
    def cancel_renewal(self, subscription_id: UUID) -> None:
        before = self.subscription(subscription_id)
        if before.status == EXPIRED:
            with pytest.raises(SubscriptionExpired):
                subscription_commands.cancel_renewal(
                    self.services, self.as_buyer(subscription_id), subscription_id
                )
            return
        keys = keys_of(self.ledger(), subscription_id)
        after = subscription_commands.cancel_renewal(
            self.services, self.as_buyer(subscription_id), subscription_id, "too dear"
        ).value
        assert after.status == (EXPIRED if before.status == PAST_DUE else NON_RENEWING)
        bought = self.bought[subscription_id]
        if bought.cancelled is None:
            bought.cancelled = CancelledRenewal(before.term, keys)

    @rule(subscription_id=subscriptions)
    def resume_renewal(self, subscription_id: UUID) -> None:
        before = self.subscription(subscription_id)
        if before.status == EXPIRED:
            with pytest.raises(SubscriptionExpired):
                subscription_commands.resume_renewal(
                    self.services, self.as_buyer(subscription_id), subscription_id
                )
            return
        after = subscription_commands.resume_renewal(
            self.services, self.as_buyer(subscription_id), subscription_id
        ).value
        assert after.status == (ACTIVE if before.status == NON_RENEWING else before.status)
        self.bought[subscription_id].cancelled = None

    @rule(
        subscription_id=subscriptions,
        responses=st.integers(min_value=0, max_value=1200),
        seats=st.integers(min_value=0, max_value=2),
    )
    def record_usage(self, subscription_id: UUID, responses: int, seats: int) -> None:
        before = self.subscription(subscription_id)

        def record() -> Subscription:
            return subscription_commands.record_usage(
                self.services, self.as_buyer(subscription_id), subscription_id, responses, seats
            ).value

        if before.status == EXPIRED:
            with pytest.raises(SubscriptionExpired):
                record()
            return
        over = [
            name
            for name, increment in (("responses", responses), ("seats", seats))
            if increment
            and before.caps[name] is not None
            and before.usage[name] + increment > before.caps[name]
        ]
        if over:
            with pytest.raises(CapExceeded):
                record()
            assert self.subscription(subscription_id).usage == before.usage
            return
        after = record()
        assert after.usage == {
            "responses": before.usage["responses"] + responses,
            "seats": before.usage["seats"] + seats,
        }

    @rule(subscription_id=subscriptions, token=st.sampled_from(CARD_TOKENS))
    def replace_card(self, subscription_id: UUID, token: str) -> None:
        """A new card; during past due the renewal charge is retried with it at once."""
        before = self.subscription(subscription_id)

        def replace() -> Subscription:
            return subscription_commands.replace_card(
                self.services, self.as_buyer(subscription_id), subscription_id, token
            ).value

        if before.status == EXPIRED:
            with pytest.raises(SubscriptionExpired):
                replace()
            return
        keys_before = keys_of(self.ledger(), subscription_id)
        after = replace()
        assert after.card is not None and after.card.token == token
        new_keys = keys_of(self.ledger(), subscription_id) - keys_before
        if before.status != PAST_DUE:
            assert new_keys == frozenset()
            assert (after.status, after.term) == (before.status, before.term)
            return
        attempt = before.failed_attempts + 1
        assert new_keys == {f"{subscription_id}:{before.term + 1}:{attempt}"}
        if token in RENEWING_TOKENS:
            assert (after.status, after.term) == (ACTIVE, before.term + 1)
        elif attempt == LAST_ATTEMPT:
            assert (after.status, after.term) == (EXPIRED, before.term)
        else:
            assert (after.status, after.term) == (PAST_DUE, before.term)

    @rule(subscription_id=subscriptions)
    def remove_card(self, subscription_id: UUID) -> None:
        before = self.subscription(subscription_id)
        if before.status == EXPIRED:
            with pytest.raises(SubscriptionExpired):
                subscription_commands.remove_card(
                    self.services, self.as_buyer(subscription_id), subscription_id
                )
            return
        after = subscription_commands.remove_card(
            self.services, self.as_buyer(subscription_id), subscription_id
        ).value
        assert after.card is None
        assert after.status == before.status

    # --- time ---------------------------------------------------------------------------

    def _advance(self, to: datetime) -> None:
        advance_clock(self.services, self.container.due_work, to)
        assert self.now() == to
        # Everything that was due by then has been done.
        assert self.container.due_work.due(to, 10) == []

    @rule(
        hours=st.one_of(
            st.integers(min_value=1, max_value=72), st.integers(min_value=1, max_value=400 * 24)
        )
    )
    def advance_clock(self, hours: int) -> None:
        self._advance(self.now() + timedelta(hours=hours))

    @rule(
        subscription_id=subscriptions,
        offset=st.sampled_from(
            [-timedelta(hours=1), -timedelta(seconds=1), timedelta(0), timedelta(seconds=1)]
        ),
    )
    def advance_clock_near_the_next_charge(self, subscription_id: UUID, offset: timedelta) -> None:
        """To just before, at or just after the subscription's next instant: its next retry
        when past due, else its renewal (or expiry) instant."""
        subscription = self.subscription(subscription_id)
        due = subscription.next_retry_at or subscription.term_end
        self._advance(max(due + offset, self.now()))

    # --- invariants -----------------------------------------------------------------------
    #
    # The state is read once after each step (``observe``) and every rule below is
    # checked against it.

    def observe(self) -> Observed:
        subscriptions = {i: self.subscription(i) for i in self.bought}
        return Observed(
            charges=self.ledger(),
            subscriptions=subscriptions,
            organisations={
                i: self.services.load(Organisation, i, "organisation") for i in self.current
            },
            accounts={
                b.account_id: self.services.load(Account, b.account_id, "account")
                for b in self.bought.values()
                if subscriptions[b.subscription_id].status == EXPIRED
            },
            notifications=self.notifications(),
        )

    @invariant()
    def the_billing_and_licence_rules_hold(self) -> None:
        observed = self.observe()
        self.never_two_successful_charges_for_one_term(observed)
        self.a_cancelled_renewal_is_never_charged(observed)
        self.expired_is_terminal(observed)
        self.an_expired_subscription_leaves_its_organisation_on_free_with_its_accounts(observed)
        self.licence_is_self_service_exactly_while_the_current_subscription_runs(observed)
        self.usage_never_exceeds_the_caps(observed)
        self.payments_on_a_subscription_match_the_ledger(observed)
        self.renewals_are_charged_from_the_term_end_and_give_the_term(observed)
        self.every_renewal_was_reminded_30_days_before(observed)

    def never_two_successful_charges_for_one_term(self, observed: Observed) -> None:
        approved = Counter((c.owner, c.term) for c in observed.charges if c.approved)
        assert [key for key, count in approved.items() if count > 1] == []

    def a_cancelled_renewal_is_never_charged(self, observed: Observed) -> None:
        for bought in self.bought.values():
            if bought.cancelled is None:
                continue
            subscription_id = bought.subscription_id
            assert keys_of(observed.charges, subscription_id) == bought.cancelled.ledger_keys
            assert not any(
                c.approved and c.term == bought.cancelled.term + 1
                for c in observed.charges
                if c.owner == str(subscription_id)
            )
            assert observed.subscriptions[subscription_id].term == bought.cancelled.term

    def expired_is_terminal(self, observed: Observed) -> None:
        for bought in self.bought.values():
            subscription = observed.subscriptions[bought.subscription_id]
            if bought.expired_at is not None:
                assert subscription.status == EXPIRED
                assert subscription.expired_at == bought.expired_at
            elif subscription.status == EXPIRED:
                assert subscription.expired_at is not None
                assert subscription.expired_at <= self.now()
                bought.expired_at = subscription.expired_at

    def an_expired_subscription_leaves_its_organisation_on_free_with_its_accounts(self, observed: Observed) -> None:
        for bought in self.bought.values():
            subscription = observed.subscriptions[bought.subscription_id]
            if subscription.status != EXPIRED:
                continue
            organisation = observed.organisations[bought.organisation_id]
            account = observed.accounts[bought.account_id]
            assert account.organisation_id == organisation.id
            if self.current[organisation.id] == subscription.id:
                assert organisation.licence == FREE
                assert organisation.subscription_id is None
            notices = [
                n
                for n in observed.notifications
                if n["kind"] == "downgrade_notice"
                and n["data"]["subscription_id"] == str(subscription.id)
            ]
            assert len(notices) == 1
            assert notices[0]["recipient"] == account.email

    def licence_is_self_service_exactly_while_the_current_subscription_runs(self, observed: Observed) -> None:
        for organisation_id, subscription_id in self.current.items():
            organisation = observed.organisations[organisation_id]
            running = observed.subscriptions[subscription_id].status != EXPIRED
            assert (organisation.licence == SELF_SERVICE) == running
            assert organisation.subscription_id == (subscription_id if running else None)

    def usage_never_exceeds_the_caps(self, observed: Observed) -> None:
        for subscription in observed.subscriptions.values():
            for name, limit in subscription.caps.items():
                assert 0 <= subscription.usage[name]
                assert limit is None or subscription.usage[name] <= limit

    def payments_on_a_subscription_match_the_ledger(self, observed: Observed) -> None:
        charges = {c.key: c for c in observed.charges}
        for bought in self.bought.values():
            subscription = observed.subscriptions[bought.subscription_id]
            purchase_payment, *renewal_payments = subscription.payments
            paid = charges[purchase_payment["idempotency_key"]]
            assert paid.owner == str(bought.purchase_id)
            assert paid.approved and purchase_payment["status"] == "succeeded"
            assert paid.charge_id == purchase_payment["payment_id"]
            listed = {p["idempotency_key"]: p for p in renewal_payments}
            assert len(listed) == len(renewal_payments)
            in_ledger = keys_of(observed.charges, subscription.id)
            charged = {k for k, p in listed.items() if not p["payment_id"].startswith("nocharge:")}
            assert charged == in_ledger
            for key, payment in listed.items():
                if key not in in_ledger:
                    assert (payment["status"], payment["reason"]) == ("failed", "no_card_on_file")
                    continue
                charge = charges[key]
                assert charge.charge_id == payment["payment_id"]
                assert charge.approved == (payment["status"] == "succeeded")
                assert charge.amount == payment["amount"]["amount"]
                assert (charge.term, charge.attempt) == (
                    payment["term_number"],
                    payment["attempt"],
                )

    def renewals_are_charged_from_the_term_end_and_give_the_term(self, observed: Observed) -> None:
        for subscription in observed.subscriptions.values():
            for charge in observed.charges:
                if charge.owner != str(subscription.id):
                    continue
                assert charge.term >= 2
                previous_term_end = subscription_term(subscription.anchor, charge.term - 1)[1]
                assert charge.charged_at >= previous_term_end
                if charge.approved:
                    assert subscription.term >= charge.term

    def every_renewal_was_reminded_30_days_before(self, observed: Observed) -> None:
        reminders = [n for n in observed.notifications if n["kind"] == "renewal_reminder"]
        for subscription in observed.subscriptions.values():
            for payment in subscription.payments[1:]:
                if payment["status"] != "succeeded":
                    continue
                renewal_at = subscription_term(subscription.anchor, payment["term_number"] - 1)[1]
                sent = [
                    r
                    for r in reminders
                    if r["data"]["subscription_id"] == str(subscription.id)
                    and datetime.fromisoformat(r["data"]["renewal_at"]) == renewal_at
                ]
                assert len(sent) == 1
                assert renewal_at - timedelta(days=30) <= created_at(sent[0])
                assert created_at(sent[0]) <= datetime.fromisoformat(payment["attempted_at"])


@pytest.fixture
def machine(
    database_url: str, tmp_path: Path, container: Container
) -> Iterator[type[ApplicationMachine]]:
    """The machine on the test's store: each example on a new database of that store,
    with the settings of the shared ``container`` fixture."""
    databases = FreshDatabases(database_url, tmp_path)

    class OnThisStore(ApplicationMachine):
        pass

    OnThisStore.databases = databases
    OnThisStore.service_settings = container.settings
    yield OnThisStore
    databases.drop_all()


def test_random_lifecycles_keep_the_billing_and_licence_rules(
    machine: type[ApplicationMachine],
) -> None:
    on_postgres = machine.databases.postgres
    examples = POSTGRES_EXAMPLES if on_postgres else MACHINE_SETTINGS.max_examples
    run_state_machine_as_test(machine, settings=settings(MACHINE_SETTINGS, max_examples=examples))
