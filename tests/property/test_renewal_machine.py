"""Random sequences of renewal commands, contact changes and clock advances, driven
through the real application (the handlers of ``commands`` on a container built by
``api.bootstrap.build`` under the manual clock, a fresh SQLite file per example).

After every step: a renewal's stage never goes backwards; a term has at most one
renewal; an invoice names the billing contact on file when it was issued (and is sent
there); and after an opt-out nothing happens but the contract's end.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from api.bootstrap import build
from commands import renewals
from commands.accounts import open_account
from commands.context import Caller
from commands.contracts import change_contact, create_contract, current_renewal
from commands.time_driven import advance_clock
from lifecycle.contract import BILLING, Contract
from lifecycle.contract_terms import Contact
from lifecycle.errors import (
    ContractEnded,
    NoticePeriodPassed,
    Rejected,
    ScopeNotAligned,
    StageOutOfOrder,
    StaleQuote,
)
from lifecycle.message import Message
from lifecycle.money import Money
from lifecycle.renewal import (
    ASSESSMENT,
    CHANGE_KINDS,
    CONFIRMED,
    DISCUSSION,
    INVOICED,
    OPTED_OUT,
    PROPOSAL,
    RENEWED,
    Renewal,
)


def _shared_fixtures() -> ModuleType:
    """``tests/conftest.py``, loaded under its own name: ``import conftest`` would find
    whichever folder's conftest was imported last."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("lifecycle_tests_shared_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


settings_for = _shared_fixtures().settings_for

MACHINE_SETTINGS = settings(
    max_examples=20,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

RANK = {ASSESSMENT: 0, DISCUSSION: 1, PROPOSAL: 2, CONFIRMED: 3, INVOICED: 4, RENEWED: 5}
HORIZON = datetime(2031, 1, 1, tzinfo=timezone.utc)
BILLERS = [
    Contact.of("Bill", "Payer", "bill@customer.example"),
    Contact.of("Nora", "Ledger", "nora@customer.example"),
    Contact.of("Olive", "Owner", "olive@customer.example"),
]
OWNER = BILLERS[2]
LICENCES = ["cx", "ex"]
REFUSALS = (
    StageOutOfOrder,
    StaleQuote,
    NoticePeriodPassed,
    ScopeNotAligned,
    ContractEnded,
    Rejected,
)
"""What a renewal command may answer instead of doing it: the rules said no."""
AFTER_OPT_OUT = {"OptOutTookEffect", "Ended", "ContactChanged", "ContractEnded"}
"""The only events of the contract, its renewals and its organisation once it opted out."""


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


class RenewalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="renewal-machine-")
        self.container = build(settings_for(f"sqlite:///{self.directory}/lifecycle.db"))
        self.services = self.container.services
        opened = open_account(
            self.services,
            self._caller(),
            email="admin@customer.example",
            name="Ada Admin",
            username="ada",
            kind="free",
        ).value
        self.organisation_id = opened.organisation.id
        self.contract_id = create_contract(
            self.services,
            self._caller(),
            organisation_id=self.organisation_id,
            number=9001,
            start_date=date(2027, 1, 1),
            term_months=12,
            licences=list(LICENCES),
            notice_days=90,
            price=Money.of("12000.00", "USD"),
            primary_contact=OWNER,
            billing_contact=BILLERS[0],
        ).value.id
        self.billing = BILLERS[0]
        self.stages: dict[UUID, str] = {}
        self.invoice_recipients: dict[UUID, Contact] = {}
        self.opted_out: UUID | None = None
        self.opted_out_at: int | None = None
        self.seen = 0
        self.opened_terms: Counter[int] = Counter()
        self.after_opt_out: list[str] = []
        self.invoice_messages: dict[str, str] = {}

    def teardown(self) -> None:
        self.container.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------

    @staticmethod
    def _caller() -> Caller:
        return Caller.of("machine")

    def _now(self) -> datetime:
        return self.services.clock.now()

    def _contract(self) -> Contract:
        return self.services.load(Contract, self.contract_id, "contract")

    def _renewal(self) -> Renewal | None:
        return current_renewal(self.services, self._contract())

    def _advance(self, to: datetime) -> None:
        if to > self._now():
            advance_clock(self.services, self.container.due_work, min(to, HORIZON))

    def _command(self, name: str, run: Any) -> None:
        """Run a renewal command on the current renewal; after an opt-out it must be
        refused as out of stage order."""
        renewal = self._renewal()
        if renewal is None:
            return
        after_opt_out = self.opted_out is not None
        try:
            run(renewal)
        except REFUSALS as refused:
            if after_opt_out:
                assert isinstance(refused, StageOutOfOrder), (name, refused)
            return
        assert not after_opt_out, f"{name} succeeded after the opt-out"

    # --- the clock ----------------------------------------------------------------------

    @initialize(days=st.integers(min_value=-10, max_value=40))
    def start_around_the_window(self, days: int) -> None:
        """Most examples start with the first renewal window open (2027-09-02)."""
        self._advance(_midnight(date(2027, 9, 2)) + timedelta(days=days))

    @rule(days=st.integers(min_value=1, max_value=75))
    def advance(self, days: int) -> None:
        self._advance(self._now() + timedelta(days=days))

    @rule(milestone=st.sampled_from(["opens", "notice", "contact_by", "term_end"]))
    def advance_to(self, milestone: str) -> None:
        """Straight to a date of the current term, at 00:00Z or just before it."""
        contract = self._contract()
        end = contract.end_date
        day = {
            "opens": end - timedelta(days=120),
            "notice": end - timedelta(days=contract.notice_days) + timedelta(days=1),
            "contact_by": end - timedelta(days=60) + timedelta(days=1),
            "term_end": end + timedelta(days=1),
        }[milestone]
        self._advance(_midnight(day))

    # --- contacts -------------------------------------------------------------------------

    @rule(index=st.integers(min_value=0, max_value=len(BILLERS) - 1))
    def change_billing_contact(self, index: int) -> None:
        try:
            change_contact(self.services, self._caller(), self.contract_id, BILLING, BILLERS[index])
        except ContractEnded:
            assert self.opted_out is not None
            return
        self.billing = BILLERS[index]

    # --- the renewal ----------------------------------------------------------------------

    @rule()
    def progress(self) -> None:
        """The natural next step of the current renewal: contact, quote the current
        services, confirm the latest quote, invoice."""
        renewal = self._renewal()
        if renewal is None:
            return
        if renewal.stage == ASSESSMENT:
            self.contact()
        elif renewal.stage == DISCUSSION:
            self.quote(12, False, 12000)
        elif renewal.stage == PROPOSAL:
            self.confirm(True)
        elif renewal.stage == CONFIRMED:
            self.invoice()

    @rule()
    def contact(self) -> None:
        self._command(
            "contact",
            lambda r: renewals.record_contact(self.services, self._caller(), r.id, "called"),
        )

    @rule(kinds=st.lists(st.sampled_from(CHANGE_KINDS), max_size=2))
    def align(self, kinds: list[str]) -> None:
        changes = [{"kind": kind, "detail": "agreed"} for kind in kinds]
        self._command(
            "align",
            lambda r: renewals.align_scope(self.services, self._caller(), r.id, changes),
        )

    @rule(
        term_months=st.sampled_from([6, 12, 24]),
        add_product=st.booleans(),
        amount=st.integers(min_value=1000, max_value=90000),
    )
    def quote(self, term_months: int, add_product: bool, amount: int) -> None:
        licences = [*LICENCES, "dx"] if add_product else list(LICENCES)
        self._command(
            "quote",
            lambda r: renewals.issue_quote(
                self.services,
                self._caller(),
                r.id,
                licences=licences,
                term_months=term_months,
                price=Money.of(str(amount), "USD"),
            ),
        )

    @rule(latest=st.booleans())
    def confirm(self, latest: bool) -> None:
        def run(renewal: Renewal) -> None:
            quote_id = (
                renewal.quotes[-1 if latest else 0]["quote_id"] if renewal.quotes else UUID(int=0)
            )
            renewals.confirm_quote(self.services, self._caller(), renewal.id, quote_id)

        self._command("confirm", run)

    @rule()
    def invoice(self) -> None:
        def run(renewal: Renewal) -> None:
            expected = self.billing
            renewals.issue_invoice(self.services, self._caller(), renewal.id)
            self.invoice_recipients[renewal.id] = expected

        self._command("invoice", run)

    @rule()
    def opt_out(self) -> None:
        def run(renewal: Renewal) -> None:
            done = renewals.opt_out(self.services, self._caller(), renewal.id, "budget")
            if self.opted_out is None:
                self.opted_out, self.opted_out_at = renewal.id, done.position

        self._command("opt_out", run)

    # --- invariants -----------------------------------------------------------------------

    def _read_new_events(self) -> None:
        store = self.services.store
        new = store.recorder.select_notifications(
            start=self.seen + 1, limit=10_000, settled_only=False
        )
        for notification in new:
            self.seen = notification.id
            event = store.mapper.to_domain_event(notification)
            name = type(event).__name__
            if isinstance(event, Renewal.Opened) and event.contract_id == self.contract_id:  # type: ignore[attr-defined]
                self.opened_terms[event.term_number] += 1
            if isinstance(event, Message.Composed) and event.kind == "invoice":  # type: ignore[attr-defined]
                self.invoice_messages[event.data["renewal_id"]] = event.recipient
            if self.opted_out_at is not None and notification.id > self.opted_out_at:
                self.after_opt_out.append(name)

    @invariant()
    def stages_never_go_backwards(self) -> None:
        for term in self._contract().terms:
            renewal_id = term["renewal_id"]
            if renewal_id is None:
                continue
            stage = self.services.load(Renewal, renewal_id, "renewal").stage
            before = self.stages.get(renewal_id)
            if before == OPTED_OUT:
                assert stage == OPTED_OUT, (before, stage)
            elif before is not None and stage != OPTED_OUT:
                assert RANK[stage] >= RANK[before], (before, stage)
            self.stages[renewal_id] = stage

    @invariant()
    def at_most_one_renewal_per_term(self) -> None:
        self._read_new_events()
        assert all(count == 1 for count in self.opened_terms.values()), self.opened_terms
        ids = [t["renewal_id"] for t in self._contract().terms if t["renewal_id"] is not None]
        assert len(ids) == len(set(ids)) == len(self.opened_terms)

    @invariant()
    def an_invoice_names_the_billing_contact_on_file_when_it_was_issued(self) -> None:
        self._read_new_events()
        for renewal_id, expected in self.invoice_recipients.items():
            invoice = self.services.load(Renewal, renewal_id, "renewal").invoice
            assert invoice is not None and invoice["recipient"] == expected
            assert self.invoice_messages[str(renewal_id)] == expected.email

    @invariant()
    def nothing_happens_after_the_opt_out_but_the_contracts_end(self) -> None:
        self._read_new_events()
        assert set(self.after_opt_out) <= AFTER_OPT_OUT, self.after_opt_out
        if self.opted_out is not None:
            assert self._contract().current_renewal_id == self.opted_out


def test_the_renewal_pipeline_keeps_its_invariants_under_random_commands_and_time() -> None:
    run_state_machine_as_test(RenewalMachine, settings=MACHINE_SETTINGS)
