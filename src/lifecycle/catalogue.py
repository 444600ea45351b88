"""The self-service plan catalogue (R10): data, with list prices per currency."""

from __future__ import annotations

from dataclasses import dataclass, field

from lifecycle.errors import UnknownPlan
from lifecycle.money import Money


@dataclass(frozen=True)
class Caps:
    """Usage caps of a licence; ``None`` means unlimited."""

    responses: int | None
    seats: int | None

    def as_dict(self) -> dict[str, int | None]:
        return {"responses": self.responses, "seats": self.seats}


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    prices: dict[str, Money] = field(hash=False)
    caps: Caps

    def price_in(self, currency: str) -> Money:
        try:
            return self.prices[currency]
        except KeyError:
            raise UnknownPlan(
                f"plan {self.plan_id!r} has no price in {currency}; "
                f"it is sold in {', '.join(sorted(self.prices))}"
            ) from None


def _prices(**amounts: str) -> dict[str, Money]:
    return {currency: Money.of(amount, currency) for currency, amount in amounts.items()}


STRATEGIC_RESEARCH = Plan(
    plan_id="strategic_research",
    name="Strategic Research",
    prices=_prices(USD="1500.00", EUR="1400.00", GBP="1200.00", AUD="2300.00", CAD="2050.00"),
    caps=Caps(responses=1000, seats=1),
)

STRATEGIC_RESEARCH_TEAM = Plan(
    plan_id="strategic_research_team",
    name="Strategic Research Team",
    prices=_prices(USD="5000.00", EUR="4650.00", GBP="4000.00", AUD="7650.00", CAD="6800.00"),
    caps=Caps(responses=10000, seats=5),
)


class Catalogue:
    """The plans on sale, by id."""

    def __init__(self, plans: tuple[Plan, ...] = (STRATEGIC_RESEARCH, STRATEGIC_RESEARCH_TEAM)):
        self._plans = {plan.plan_id: plan for plan in plans}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._plans.values())

    def get(self, plan_id: str) -> Plan:
        try:
            return self._plans[plan_id]
        except KeyError:
            raise UnknownPlan(
                f"unknown plan {plan_id!r}; plans on sale: {', '.join(self._plans)}"
            ) from None
