"""A projection names the aggregates it follows; it then follows every one of their events."""

from __future__ import annotations

from eventsourcing.utils import get_topic

from lifecycle.contract import Contract, ContractNumber
from lifecycle.subscription import Subscription
from projections.topics import event_topics


def test_a_projection_follows_every_event_of_the_aggregates_it_names_and_no_other() -> None:
    topics = event_topics(Subscription, Contract)

    assert get_topic(Subscription.Started) in topics  # type: ignore[attr-defined]
    assert get_topic(Subscription.RenewalCancelled) in topics  # type: ignore[attr-defined]
    assert get_topic(Subscription.Expired) in topics  # type: ignore[attr-defined]
    assert get_topic(Contract.Ended) in topics  # type: ignore[attr-defined]
    assert get_topic(ContractNumber.Claimed) not in topics  # type: ignore[attr-defined]
    assert len(topics) == len(set(topics))
    assert all(
        topic.startswith(("lifecycle.subscription:", "lifecycle.contract:Contract."))
        for topic in topics
    )
