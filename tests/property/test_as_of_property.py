"""R61: for random histories of a subscription, its state as of any event's instant is
the state folded from the events recorded up to that instant, whether the audit
chain's index has followed the log or not (and across snapshots)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.bootstrap import Container
from api.representations import subscription as shown
from lifecycle.cards import Card
from lifecycle.catalogue import Caps
from lifecycle.change import Change
from lifecycle.money import Money
from lifecycle.subscription import Subscription
from projections.audit_chain import AuditLog

START = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)

steps = st.sampled_from([timedelta(0), MICROSECOND]) | st.timedeltas(
    min_value=MICROSECOND, max_value=timedelta(days=3)
)
actions = st.one_of(
    st.tuples(st.just("usage"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("burst"), st.integers(1, 40)),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("resume")),
    st.tuples(st.just("card"), st.integers(0, 9999)),
    st.tuples(st.just("remove_card")),
)
histories = st.lists(st.tuples(steps, actions), min_size=0, max_size=25)


def card(n: int) -> Card:
    return Card(f"tok_{n:04d}", "visa", f"{n:04d}", 12, 2031)


def change(at: datetime, n: int) -> Change:
    return Change(at, "property-tests", None, f"command-{n}", f"correlation-{n}")


def act(sub: Subscription, action: tuple[Any, ...], at: datetime, n: int) -> None:
    kind = action[0]
    if kind == "usage":
        sub.record_usage(action[1], action[2], change(at, n))
    elif kind == "burst":  # several events in one command, at one instant
        for _ in range(action[1]):
            sub.record_usage(1, 0, change(at, n))
    elif kind == "cancel":
        sub.cancel_renewal("testing", change(at, n))
    elif kind == "resume":
        sub.resume_renewal(change(at, n))
    elif kind == "card":
        sub.replace_card(card(action[1]), change(at, n))
    elif kind == "remove_card":
        sub.remove_card(change(at, n))


def folded(events: list[Any], instant: datetime) -> Subscription | None:
    aggregate = None
    for event in events:
        if event.timestamp <= instant:
            aggregate = event.mutate(aggregate)
    return aggregate


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, chained_after=st.integers(0, 25))
@example(  # 72 events: past the snapshot at version 50, which falls inside a burst
    history=[
        (timedelta(hours=1), ("burst", 40)),
        (timedelta(hours=1), ("usage", 3, 0)),
        (timedelta(hours=1), ("burst", 30)),
    ],
    chained_after=2,
)
def test_state_as_of_each_events_instant_is_the_fold_of_the_events_up_to_it(
    container: Container, history: list[tuple[timedelta, tuple[Any, ...]]], chained_after: int
) -> None:
    services = container.services
    runner = container.runners["audit_chain"]
    audit = AuditLog(services.store, services.database, runner)
    at = START
    sub = Subscription.start(
        uuid4(),
        organisation_id=uuid4(),
        buyer_account_id=uuid4(),
        plan="strategic_research",
        price=Money.of("1500.00", "USD"),
        caps=Caps(responses=None, seats=None),
        card=card(4242),
        billing_address={"country": "US"},
        payment={"payment_id": "p1"},
        change=change(at, 0),
    )
    services.save(sub)
    for n, (step, action) in enumerate(history, 1):
        if n == chained_after:
            runner.catch_up()  # the index knows the events so far; later ones are read from the log
        at += step
        act(sub, action, at, n)
        services.save(sub)
    if chained_after > len(history):
        runner.catch_up()

    events = list(services.store.events.get(sub.id))
    instants = sorted({e.timestamp for e in events})
    assert audit.as_of(sub.id, instants[0] - MICROSECOND) is None
    for k, instant in enumerate(instants):
        probes = [instant]  # at an event's instant, and just before the next one
        if k + 1 < len(instants) and instants[k + 1] - instant > MICROSECOND:
            probes.append(instants[k + 1] - MICROSECOND)
        for probe in probes:
            expected = folded(events, probe)
            actual = audit.as_of(sub.id, probe)
            assert actual is not None and expected is not None
            assert shown(actual) == shown(expected)
            assert actual.version == max(e.originator_version for e in events if e.timestamp <= probe)
    last = audit.as_of(sub.id, instants[-1] + timedelta(days=365))
    assert last is not None and shown(last) == shown(sub)
