"""Building blocks of the integration tests: a paying customer, and threads that
start at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from api.bootstrap import Container
from commands.accounts import open_account
from commands.context import Caller
from commands.purchases import CompletedPurchase, complete_purchase, start_purchase
from commands.services import Services

T = TypeVar("T")

BILLING_ADDRESS = {
    "line1": "1 Market Street",
    "city": "San Francisco",
    "postal_code": "94105",
    "country": "US",
}


def buy_plan(
    services: Services,
    *,
    token: str = "tok_visa",
    plan: str = "strategic_research",
    currency: str = "USD",
    email: str = "buyer@example.com",
) -> CompletedPurchase:
    """A free account upgraded to a self-service plan, paid with ``token``."""
    opened = open_account(
        services,
        Caller.of("tests"),
        email=email,
        name="Ada Buyer",
        username=email.split("@")[0],
        kind="free",
    ).value
    purchase = start_purchase(
        services,
        Caller.of("tests"),
        plan=plan,
        currency=currency,
        account_id=opened.account.id,
    ).value
    return complete_purchase(
        services,
        Caller.of("tests"),
        purchase.id,
        payment_token=token,
        billing_address=BILLING_ADDRESS,
        accept_terms=True,
        accept_auto_renewal=True,
    ).value


@pytest.fixture
def services(container: Container) -> Services:
    return container.services


@pytest.fixture
def buy(services: Services) -> Callable[..., CompletedPurchase]:
    """``buy(token=..., plan=..., currency=..., email=...)`` on the test's container."""

    def buy_on_container(**kwargs: Any) -> CompletedPurchase:
        return buy_plan(services, **kwargs)

    return buy_on_container


def run_together(*calls: Callable[[], T]) -> list[T]:
    """Run each call in its own thread, all released at the same moment; their
    results in order. An exception in any call is raised here."""
    barrier = threading.Barrier(len(calls))

    def released(call: Callable[[], T]) -> T:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(released, call) for call in calls]
        return [future.result(timeout=120) for future in futures]


@pytest.fixture
def together() -> Callable[..., list[Any]]:
    """``together(f, g, ...)``: the calls run concurrently, as ``run_together``."""
    return run_together
