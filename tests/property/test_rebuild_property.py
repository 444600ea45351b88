"""R62: for random command histories, a full rebuild of the profiles and contracts
views equals the live views row for row (on SQLite and PostgreSQL).

The live views follow the log command by command (small batches); the rebuild reads
the whole history in batches of up to 500 events, where a projection writes the
batch's rows together (``Projection.apply_batch``): the two must agree."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import Container
from commands import accounts, contracts, profiles
from commands.context import Caller
from commands.personal_data.erasure import erase_personal_data
from commands.services import Services
from lifecycle.contract_terms import Contact
from lifecycle.errors import DomainError
from lifecycle.money import Money
from projections.rebuild import names_of

_numbers = itertools.count(20_000)
PERSON = {"name": "Ava Exec", "email": "ava@xm.example"}

commands = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(["free", "trial"]), st.booleans()),
        st.tuples(st.just("user"), st.integers(0, 9)),
        st.tuples(st.just("team"), st.integers(0, 9), st.booleans()),
        st.tuples(st.just("preferences"), st.integers(0, 9), st.booleans(), st.booleans()),
        st.tuples(st.just("community"), st.integers(0, 9), st.integers(0, 50)),
        st.tuples(st.just("certification"), st.integers(0, 9), st.sampled_from(["A", "B"]), st.booleans()),
        st.tuples(st.just("contract"), st.integers(0, 9), st.booleans()),
        st.tuples(st.just("contact"), st.integers(0, 9), st.integers(0, 9)),
        st.tuples(st.just("rename"), st.integers(0, 9)),
        st.tuples(st.just("erase"), st.integers(0, 9)),
    ),
    min_size=1,
    max_size=12,
)


class History:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.organisations: list[Any] = []
        self.accounts: list[Any] = []
        self.contracts: list[Any] = []

    def caller(self) -> Caller:
        return Caller.of("tests")

    def pick(self, items: list[Any], index: int) -> Any:
        return items[index % len(items)] if items else None

    def run(self, command: tuple[Any, ...]) -> None:
        kind, *args = command
        try:
            getattr(self, kind)(*args)
        except DomainError:
            pass  # a refused command records nothing

    def open(self, licence: str, fedramp: bool) -> None:
        n = next(_numbers)
        opened = accounts.open_account(
            self.services, self.caller(), email=f"a{n}@example.com", name="Ada",
            username=f"a{n}", kind=licence, fedramp=fedramp,
        ).value
        self.organisations.append(opened.organisation.id)
        self.accounts.append(opened.account.id)

    def user(self, index: int) -> None:
        org = self.pick(self.organisations, index)
        if org is None:
            return
        n = next(_numbers)
        added = accounts.add_user(
            self.services, self.caller(), org, email=f"u{n}@example.com", name="Bo",
            username=f"u{n}", user_type="standard",
        ).value
        self.accounts.append(added.id)

    def team(self, index: int, manager: bool) -> None:
        org = self.pick(self.organisations, index)
        if org is None:
            return
        profiles.set_account_team(
            self.services, self.caller(), org, success_manager=PERSON if manager else None,
            account_executive=PERSON, intake_form_url=None if manager else "https://x.example/f",
            brand_admin_contact=PERSON,
        )

    def preferences(self, index: int, learning: bool, news: bool) -> None:
        account = self.pick(self.accounts, index)
        if account is not None:
            profiles.change_email_preferences(
                self.services, self.caller(), account,
                {"personalised_learning": learning, "news_and_updates": news},
            )

    def community(self, index: int, topics: int) -> None:
        account = self.pick(self.accounts, index)
        if account is not None:
            profiles.link_community_account(
                self.services, self.caller(), account, username="c", rank="Pro",
                created_on="2025-01-01", topics=topics,
            )

    def certification(self, index: int, name: str, completed: bool) -> None:
        account = self.pick(self.accounts, index)
        if account is not None:
            profiles.record_certification(
                self.services, self.caller(), account, name=name,
                status="completed" if completed else "in_progress",
                completed_on="2026-01-01" if completed else None, certificate_url=None,
            )

    def contract(self, index: int, linked: bool) -> None:
        org = self.pick(self.organisations, index)
        if org is None:
            return
        account = self.pick(self.accounts, index) if linked else None
        done = contracts.create_contract(
            self.services, self.caller(), organisation_id=org, number=next(_numbers),
            start_date=date(2027, 1, 1), term_months=12, licences=["cx"], notice_days=90,
            price=Money.of(Decimal("100.00"), "USD"),
            primary_contact=Contact.of("Olive", "Owner", "o@example.com", account),
            billing_contact=Contact.of("Bill", "Payer", "b@example.com"),
        )
        self.contracts.append(done.value.id)

    def contact(self, index: int, who: int) -> None:
        contract = self.pick(self.contracts, index)
        if contract is not None:
            contracts.change_contact(
                self.services, self.caller(), contract, "billing",
                Contact.of("Nora", "Ledger", f"n{who}@example.com"),
            )

    def erase(self, index: int) -> None:
        org = self.pick(self.organisations, index)
        if org is not None:
            erase_personal_data(self.services, self.caller(), org)

    def rename(self, index: int) -> None:
        account = self.pick(self.accounts, index)
        if account is not None:
            accounts.change_account_details(
                self.services, self.caller(), account, {"name": f"Name {next(_numbers)}"}
            )


def rows_of(container: Container, name: str) -> dict[str, list[Any]]:
    tables, _ = names_of(container.runners[name].projection)
    with container.services.database.transaction(commit=False) as tx:
        return {
            table: sorted(
                tuple(sorted((k, str(v)) for k, v in row.items()))
                for row in tx.all(f"SELECT * FROM {table}")
            )
            for table in tables
        }


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=commands)
def test_a_full_rebuild_equals_the_live_views_row_for_row(
    container: Container, history: list[tuple[Any, ...]]
) -> None:
    recorder = History(container.services)
    names = ("profiles", "contracts", "due_work")
    for command in history:
        recorder.run(command)
        for name in names:
            container.runners[name].catch_up()
    assert due_work_rows(container) == due_work_from_the_store(container)
    for name in names:
        live = rows_of(container, name)
        container.rebuilder(name).run()
        assert rows_of(container, name) == live


def due_work_rows(container: Container) -> list[tuple[str, str, str]]:
    with container.services.database.transaction(commit=False) as tx:
        rows = tx.all("SELECT key, aggregate_id, kind FROM due_work")
    return sorted((r["key"], r["aggregate_id"], r["kind"]) for r in rows)


def due_work_from_the_store(container: Container) -> list[tuple[str, str, str]]:
    """What every aggregate the due-work view follows says is due, each read afresh
    from the store (the view moves its copies on by each event instead)."""
    store = container.services.store
    projection = container.runners["due_work"].projection
    ids = {
        n.originator_id
        for n in store.recorder.select_notifications(
            start=1, limit=1_000_000, topics=tuple(projection.topics)
        )
    }
    return sorted(
        (item.key, str(item.aggregate_id), item.kind)
        for aggregate_id in ids
        for item in store.repository.get(aggregate_id).due_work()
    )
