"""Completing one purchase from several requests at once charges once, subscribes once,
and tells the others the purchase is completed."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from api.bootstrap import Container
from commands.accounts import open_account
from commands.context import Caller
from commands.purchases import complete_purchase, start_purchase
from commands.services import Services
from lifecycle.errors import DomainError
from lifecycle.organisation import Organisation
from lifecycle.purchase import Purchase

from .conftest import BILLING_ADDRESS

A = TypeVar("A")


def open_purchase(services: Services) -> tuple[Organisation, Purchase]:
    opened = open_account(
        services, Caller.of("tests"), email="r@example.com", name="R", username="r", kind="free"
    ).value
    purchase = start_purchase(
        services, Caller.of("tests"), plan="strategic_research", account_id=opened.account.id
    ).value
    return opened.organisation, purchase


def complete(services: Services, purchase_id: UUID) -> str:
    """``completed``, or the slug of the refusal."""
    try:
        complete_purchase(
            services,
            Caller.of("tests"),
            purchase_id,
            payment_token="tok_visa",
            billing_address=BILLING_ADDRESS,
            accept_terms=True,
            accept_auto_renewal=True,
        )
    except DomainError as refused:
        return refused.slug
    return "completed"


@dataclasses.dataclass
class SlowReader(Services):
    """Services that, having read the purchase the first time, wait until told to go on."""

    go_on: threading.Event = dataclasses.field(default_factory=threading.Event)
    has_read: threading.Event = dataclasses.field(default_factory=threading.Event)

    def load(self, kind: type[A], aggregate_id: UUID, what: str) -> A:
        aggregate = super().load(kind, aggregate_id, what)
        if kind is Purchase and not self.has_read.is_set():
            self.has_read.set()
            assert self.go_on.wait(timeout=30)
        return aggregate


def test_concurrent_completions_of_one_purchase_complete_it_once_and_refuse_the_rest(
    container: Container,
    make_container: Callable[..., Container],
    together: Callable[..., list[Any]],
) -> None:
    processes = [container.services, *(make_container().services for _ in range(3))]
    organisation, purchase = open_purchase(container.services)

    answers = together(*(lambda s=s: complete(s, purchase.id) for s in processes))

    assert sorted(answers) == ["completed"] + ["purchase-completed"] * 3
    charges = container.services.gateway.charges()  # type: ignore[attr-defined]
    assert [row["idempotency_key"] for row in charges] == [f"{purchase.id}:1:1"]
    reloaded = container.services.load(Organisation, organisation.id, "organisation")
    assert len(reloaded.subscription_ids) == 1


def test_a_completion_that_read_the_purchase_before_another_completed_it_is_told_it_is_completed(
    container: Container,
) -> None:
    services = container.services
    organisation, purchase = open_purchase(services)
    slow = SlowReader(**{f.name: getattr(services, f.name) for f in dataclasses.fields(Services)})
    answers: list[str] = []
    late = threading.Thread(target=lambda: answers.append(complete(slow, purchase.id)))
    late.start()
    assert slow.has_read.wait(timeout=30)

    first = complete(services, purchase.id)
    slow.go_on.set()
    late.join(timeout=60)

    assert (first, answers) == ("completed", ["purchase-completed"])
    reloaded = services.load(Organisation, organisation.id, "organisation")
    assert len(reloaded.subscription_ids) == 1
