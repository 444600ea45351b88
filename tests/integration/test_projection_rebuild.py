"""R62: side-by-side rebuilds on SQLite and PostgreSQL. A rebuilt view equals the live
one row for row; views keep answering while a rebuild runs; a poison event stops its
projection only; a failed rebuild leaves the old copy serving."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Container
from commands import accounts, profiles
from commands.context import Caller
from commands.contracts import create_contract
from commands.services import Services
from infrastructure.database import Transaction
from lifecycle.contract_terms import Contact
from lifecycle.money import Money
from projections.rebuild import RebuildFailed, names_of
from projections.runner import Projection, ProjectionFailed, ProjectionRunner

from .conftest import buy_plan

OPS = {"Authorization": "Bearer ops-secret-0123456789"}
EXECUTIVE = {"name": "Ava Exec", "email": "ava@xm.example"}


def make_history(services: Services, organisations: int = 3) -> None:
    """Accounts, users, account teams, preferences, a purchase and contracts."""
    caller = lambda: Caller.of("tests")  # noqa: E731
    buy_plan(services, email="buyer@example.com")
    for n in range(organisations):
        opened = accounts.open_account(
            services, caller(), email=f"a{n}@example.com", name="Ada", username=f"a{n}", kind="free"
        ).value
        org_id = opened.organisation.id
        user = accounts.add_user(
            services, caller(), org_id, email=f"u{n}@example.com", name="Bo", username=f"u{n}",
            user_type="standard",
        ).value
        profiles.set_account_team(
            services, caller(), org_id, success_manager=None, account_executive=EXECUTIVE,
            intake_form_url="https://xm.example/intake", brand_admin_contact=None,
        )
        profiles.change_email_preferences(
            services, caller(), user.id,
            {"personalised_learning": False, "news_and_updates": n % 2 == 0},
        )
        profiles.record_certification(
            services, caller(), user.id, name="CX", status="in_progress",
            completed_on=None, certificate_url=None,
        )
        create_contract(
            services, caller(), organisation_id=org_id, number=9000 + n,
            start_date=date(2027, 1, 1), term_months=12, licences=["cx"], notice_days=90,
            price=Money.of(Decimal("1000.00"), "USD"),
            primary_contact=Contact.of("Olive", "Owner", "olive@example.com", user.id),
            billing_contact=Contact.of("Bill", "Payer", "bill@example.com"),
        )


def rows_of(container: Container, name: str) -> dict[str, list[tuple[Any, ...]]]:
    tables, _ = names_of(container.runners[name].projection)
    shown = {}
    with container.services.database.transaction(commit=False) as tx:
        for table in tables:
            rows = tx.all(f"SELECT * FROM {table}")
            shown[table] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)
    return shown


def tracking(container: Container, name: str) -> dict[str, Any]:
    return container.runners[name].status()


@pytest.mark.parametrize("name", ["profiles", "contracts", "notifications", "audit_chain", "due_work"])
def test_a_rebuilt_view_equals_the_live_one_row_for_row(container: Container, name: str) -> None:
    make_history(container.services)
    runner = container.runners[name]
    runner.catch_up()
    live = rows_of(container, name)
    assert any(live.values()), "the history fills the view"

    generation = container.rebuilder(name).run()

    assert generation == 2
    assert rows_of(container, name) == live
    assert tracking(container, name)["status"] == "live"
    assert runner.position() == container.services.head()


def test_a_second_rebuild_works_on_the_swapped_tables(container: Container) -> None:
    make_history(container.services, organisations=1)
    container.runners["contracts"].catch_up()
    live = rows_of(container, "contracts")
    container.rebuilder("contracts").run()
    assert container.rebuilder("contracts").run() == 3
    assert rows_of(container, "contracts") == live


def test_a_rebuild_applies_events_recorded_while_it_ran(container: Container) -> None:
    services = container.services
    make_history(services, organisations=1)
    container.runners["profiles"].catch_up()
    seen: list[int] = []

    def progress(position: int, head: int) -> None:
        if not seen:  # a write lands in the middle of the rebuild
            accounts.open_account(
                services, Caller.of("tests"), email="late@example.com", name="Late",
                username="late", kind="free",
            )
        seen.append(position)

    container.rebuilder("profiles").run(progress)
    container.runners["profiles"].catch_up()
    live = rows_of(container, "profiles")
    assert any("late@example.com" in str(row) for row in live["profile_accounts"])
    container.rebuilder("profiles").run()
    assert rows_of(container, "profiles") == live


def test_views_keep_answering_while_a_rebuild_runs(container: Container) -> None:
    make_history(container.services, organisations=4)
    container.runners["profiles"].batch_size = 2  # the rebuild takes many transactions
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        head = container.services.head()
        views = client.get("/v1/ops/projections", headers=OPS, params={"min_position": head})
        assert views.status_code == 200
        container.runners["profiles"].wait_for(head, 10)
        with container.services.database.transaction(commit=False) as tx:
            account_ids = [r["account_id"] for r in tx.all("SELECT account_id FROM profile_accounts")]
        statuses: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                for account_id in account_ids:
                    statuses.append(client.get(f"/v1/profiles/{account_id}", headers=OPS).status_code)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            started = client.post("/v1/ops/projections/profiles/rebuild", headers=OPS)
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                shown = {r["name"]: r for r in client.get("/v1/ops/projections", headers=OPS).json()}
                if shown["profiles"]["status"] == "live" and shown["profiles"]["generation"] == 2:
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the rebuild did not finish")
            time.sleep(0.1)
        finally:
            stop.set()
            reader.join()
    assert statuses and set(statuses) == {200}


class Poison(Projection):
    """Counts events; fails on the event at ``poison`` (or on every event while
    ``rebuilding_fails`` is set and it writes into its rebuild's tables)."""

    name = "poison"
    tables = ("CREATE TABLE IF NOT EXISTS poison_rows (position BIGINT PRIMARY KEY)",)

    def __init__(self, poison: int | None = None) -> None:
        self.poison = poison
        self.rebuilding_fails = False

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        if position == self.poison:
            raise ValueError("poison event")
        if self.rebuilding_fails and "__next" in tx._sql("poison_rows"):
            raise ValueError("the rebuild fails")
        tx.execute("INSERT INTO poison_rows (position) VALUES (?)", (position,))


class BatchPoison(Poison):
    """Writes a batch's rows together; fails on the event at ``poison`` either way, or
    only when writing a batch while ``batch_fails`` is set."""

    name = "batch_poison"
    tables = ("CREATE TABLE IF NOT EXISTS batch_poison_rows (position BIGINT PRIMARY KEY)",)

    def __init__(self, poison: int | None = None, batch_fails: bool = False) -> None:
        super().__init__(poison)
        self.batch_fails = batch_fails
        self.batches: list[int] = []

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        if position == self.poison:
            raise ValueError("poison event")
        tx.execute("INSERT INTO batch_poison_rows (position) VALUES (?)", (position,))

    def apply_batch(self, tx: Transaction, batch: Any) -> None:
        self.batches.append(len(batch))
        tx.executemany(
            "INSERT INTO batch_poison_rows (position) VALUES (?)", [(p,) for p, _, _ in batch]
        )
        if self.batch_fails or any(p == self.poison for p, _, _ in batch):
            raise ValueError("the batch fails")


def batch_rows(container: Container) -> list[int]:
    with container.services.database.transaction(commit=False) as tx:
        return [r["position"] for r in tx.all("SELECT position FROM batch_poison_rows ORDER BY 1")]


def test_a_batch_that_fails_names_its_poison_event_and_writes_nothing(container: Container) -> None:
    services = container.services
    make_history(services, organisations=1)
    head = services.head()
    projection = BatchPoison(poison=head - 3)
    runner = ProjectionRunner(services.store, services.database, projection)

    with pytest.raises(ProjectionFailed) as failed:
        runner.catch_up()

    assert failed.value.position == head - 3
    assert "poison event" in repr(failed.value.cause)
    assert projection.batches == [head]  # one batch, rolled back, then event by event
    assert batch_rows(container) == []
    assert runner.position() == 0


def test_a_batch_that_fails_only_as_a_batch_is_applied_event_by_event(
    container: Container,
) -> None:
    services = container.services
    make_history(services, organisations=1)
    head = services.head()
    runner = ProjectionRunner(
        services.store, services.database, BatchPoison(batch_fails=True)
    )

    assert runner.catch_up() == head
    assert batch_rows(container) == list(range(1, head + 1))


class Counted(Projection):
    """Records every position it is given, without a key: twice would show."""

    name = "counted"
    tables = ("CREATE TABLE IF NOT EXISTS counted_rows (position BIGINT NOT NULL)",)

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        tx.execute("INSERT INTO counted_rows (position) VALUES (?)", (position,))


def test_runners_of_one_view_in_two_processes_apply_each_event_once(
    container: Container,
) -> None:
    """Each runner remembers the position it last wrote; when the other one has moved
    it since, its claim fails and it reads the position again."""
    services = container.services
    first = ProjectionRunner(services.store, services.database, Counted(), batch_size=7)
    second = ProjectionRunner(services.store, services.database, Counted(), batch_size=7)
    for n in range(6):
        accounts.open_account(
            services, Caller.of("tests"), email=f"c{n}@example.com", name="C",
            username=f"c{n}", kind="free",
        )
        (first if n % 3 else second).catch_up()
    threads = [threading.Thread(target=r.catch_up) for r in (first, second, first)]
    make_history(services, organisations=2)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first.catch_up()

    with services.database.transaction(commit=False) as tx:
        positions = [r["position"] for r in tx.all("SELECT position FROM counted_rows")]
    assert sorted(positions) == list(range(1, services.head() + 1))


class CountedContracts(Counted):
    """Follows the contract topics only: batches of other events are empty for it."""

    name = "counted_contracts"
    tables = ("CREATE TABLE IF NOT EXISTS counted_contracts_rows (position BIGINT NOT NULL)",)

    def __init__(self) -> None:
        from lifecycle.contract import Contract
        from projections.topics import event_topics

        self.topics = event_topics(Contract)

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        tx.execute("INSERT INTO counted_contracts_rows (position) VALUES (?)", (position,))


def test_batches_with_no_event_for_the_view_move_its_position_once(
    container: Container,
) -> None:
    """A batch holding none of a view's topics only moves its position (on PostgreSQL
    in a statement of its own): a runner that remembers an older position is overtaken
    there too, and such a claim clears a recorded failure as any claim does."""
    services = container.services
    first = ProjectionRunner(services.store, services.database, CountedContracts())
    second = ProjectionRunner(services.store, services.database, CountedContracts())
    accounts.open_account(
        services, Caller.of("tests"), email="n0@example.com", name="N", username="n0",
        kind="free",
    )
    assert second.catch_up() == services.head()
    first._record_failure(ProjectionFailed("counted_contracts", 1, ValueError("earlier")))
    accounts.open_account(
        services, Caller.of("tests"), email="n1@example.com", name="N", username="n1",
        kind="free",
    )
    assert first.catch_up() == services.head()  # no contract event: the position alone
    status = first.status()
    assert (status["status"], status["error"]) == ("live", None)

    make_history(services, organisations=2)  # with contracts
    assert second.catch_up() == services.head()  # overtaken at first, then caught up
    assert first.catch_up() == services.head()
    with services.database.transaction(commit=False) as tx:
        positions = sorted(r["position"] for r in tx.all("SELECT position FROM counted_contracts_rows"))
    contracts = [
        n.id for n in services.store.recorder.select_notifications(
            start=1, limit=10_000, topics=tuple(CountedContracts().topics)
        )
    ]
    assert positions == contracts and len(contracts) >= 2


def test_a_poison_event_marks_its_projection_failed_and_others_go_on(container: Container) -> None:
    services = container.services
    make_history(services, organisations=1)
    poison_at = services.head() - 2
    container.runners["poison"] = ProjectionRunner(
        services.store, services.database, Poison(poison_at), batch_size=1
    )
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 10
        while tracking(container, "poison")["status"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.02)
        accounts.open_account(
            services, Caller.of("tests"), email="after@example.com", name="After",
            username="after", kind="free",
        )
        head = services.head()
        shown = client.get("/v1/ops/projections", headers=OPS).json()
        by_name = {r["name"]: r for r in shown}
        assert by_name["poison"]["status"] == "failed"
        assert by_name["poison"]["failed_position"] == poison_at
        assert "poison event" in by_name["poison"]["error"]
        assert by_name["poison"]["position"] == poison_at - 1
        assert container.runners["profiles"].wait_for(head, 10)
        assert client.get("/health").json()["status"] == "degraded"
        opened = client.get(f"/v1/profiles/{_an_account(container)}", headers=OPS)
        assert opened.status_code == 200


def _an_account(container: Container) -> str:
    with container.services.database.transaction(commit=False) as tx:
        row = tx.one("SELECT account_id FROM profile_accounts")
    assert row is not None
    return str(row["account_id"])


def test_a_failed_rebuild_leaves_the_old_copy_serving(container: Container) -> None:
    services = container.services
    make_history(services, organisations=1)
    projection = Poison()
    runner = ProjectionRunner(services.store, services.database, projection)
    container.runners["poison"] = runner
    runner.catch_up()
    before = rows_of(container, "poison")
    projection.rebuilding_fails = True

    with pytest.raises(RebuildFailed):
        container.rebuilder("poison").run()

    assert rows_of(container, "poison") == before
    status = tracking(container, "poison")
    assert status["status"] == "live"
    assert "the rebuild fails" in status["error"]
    projection.rebuilding_fails = False
    assert container.rebuilder("poison").run() == 2
    assert rows_of(container, "poison") == before


def test_a_rebuild_whose_live_tracking_row_vanished_fails_saying_so(container: Container) -> None:
    services = container.services
    make_history(services, organisations=1)
    container.runners["contracts"].catch_up()
    live = rows_of(container, "contracts")

    def the_live_row_vanishes(position: int, head: int) -> None:
        with services.database.transaction() as tx:
            tx.execute("DELETE FROM projection_tracking WHERE name = ?", ("contracts",))

    with pytest.raises(RebuildFailed, match="tracking row of contracts vanished"):
        container.rebuilder("contracts").run(the_live_row_vanishes)

    assert rows_of(container, "contracts") == live


def test_a_failed_projection_resumes_once_its_event_applies(container: Container) -> None:
    services = container.services
    make_history(services, organisations=1)
    projection = Poison(services.head())
    runner = ProjectionRunner(services.store, services.database, projection)
    container.runners["poison"] = runner
    with pytest.raises(ProjectionFailed):
        runner.catch_up()
    runner._record_failure(ProjectionFailed("poison", services.head(), ValueError("poison event")))
    assert tracking(container, "poison")["status"] == "failed"
    projection.poison = None  # the fix is deployed

    assert runner.catch_up() == services.head()
    status = tracking(container, "poison")
    assert (status["status"], status["error"], status["failed_position"]) == ("live", None, None)


def test_a_failed_runner_follows_again_after_a_rebuild_elsewhere(container: Container) -> None:
    """Under ``lifecycle serve --workers N`` the projections run in one process and a
    rebuild asked for over HTTP runs in a worker: the failed runner learns of the
    repaired copy from its tracking row, without being restarted."""
    services = container.services
    make_history(services, organisations=1)
    poison_at = services.head() - 1
    failing = ProjectionRunner(services.store, services.database, Poison(poison_at))
    container.runners["poison"] = failing
    failing.start(interval=0.05)
    try:
        deadline = time.monotonic() + 10
        while tracking(container, "poison")["status"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert tracking(container, "poison")["status"] == "failed"

        # Another process, with the fix deployed, rebuilds the view beside it.
        elsewhere = ProjectionRunner(services.store, services.database, Poison())
        container.runners["poison"] = elsewhere
        assert container.rebuilder("poison").run() == 2
        accounts.open_account(
            services, Caller.of("tests"), email="later@example.com", name="Later",
            username="later", kind="free",
        )
        head = services.head()

        assert failing.wait_for(head, 10)
        status = tracking(container, "poison")
        assert (status["status"], status["failed_position"]) == ("live", None)
        with services.database.transaction(commit=False) as tx:
            positions = [r["position"] for r in tx.all("SELECT position FROM poison_rows")]
        assert sorted(positions) == list(range(1, head + 1))
    finally:
        failing.stop()


def test_the_cli_shows_status_and_rebuilds_with_a_progress_bar(
    container: Container,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main

    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", database_url)
    make_history(container.services, organisations=1)
    container.runners["contracts"].catch_up()
    live = rows_of(container, "contracts")

    assert main(["projections", "rebuild", "contracts"]) == 0
    out, err = capsys.readouterr()
    assert "contracts rebuilt: generation 2" in out
    assert "[####" in err and "100.0%" in err
    assert rows_of(container, "contracts") == live

    assert main(["projections", "status"]) == 0
    out, _ = capsys.readouterr()
    names = {line.split()[0] for line in out.splitlines()[1:] if line and not line.startswith(" ")}
    assert {"profiles", "contracts", "notifications", "audit_chain", "due_work"} <= names
    assert main(["projections", "rebuild", "nonesuch"]) == 2


def test_a_failed_rebuild_of_a_failed_projection_leaves_it_failed(container: Container) -> None:
    services = container.services
    make_history(services, organisations=1)
    poison_at = services.head() - 1
    runner = ProjectionRunner(services.store, services.database, Poison(poison_at))
    container.runners["poison"] = runner
    with pytest.raises(ProjectionFailed) as failure:
        runner.catch_up()
    runner._record_failure(failure.value)
    before = rows_of(container, "poison")

    assert container.rebuilder("poison").start()
    container.rebuilder("poison").join(30)

    status = tracking(container, "poison")
    assert (status["status"], status["failed_position"]) == ("failed", poison_at)
    assert rows_of(container, "poison") == before
