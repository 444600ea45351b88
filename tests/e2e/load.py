"""A calling service's load for the fault tests: commands with Idempotency-Keys sent by
several clients, every answer recorded; and the check of the event log against what
was acknowledged (each acknowledged command's events exactly once, nothing of any
command recorded in part).

Two kinds of command, chosen because a duplicate or a loss shows in the log:

- ``account``: ``POST /v1/accounts`` records ``Organisation.Registered`` and
  ``Account.Opened`` in one transaction;
- ``usage``: ``POST /v1/subscriptions/{id}/usage {"responses": 1}`` records one
  ``Subscription.UsageRecorded`` and adds 1 to the term's usage: counting twice shows.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from in_process import events
from lifecycle_server import Client

EXPECTED = {
    "account": Counter({"Organisation.Registered": 1, "Account.Opened": 1}),
    "usage": Counter({"Subscription.UsageRecorded": 1}),
}
BILLING_ADDRESS = {"line1": "1 Market Street", "city": "San Francisco", "postal_code": "94105", "country": "US"}


@dataclass
class Command:
    key: str
    kind: str
    path: str
    body: dict[str, Any]
    subscription_id: str | None = None
    answers: list[int | str] = field(default_factory=list)
    """Each attempt's status, or the transport error's name when no answer came."""
    acknowledged: dict[str, Any] | None = None
    """The body of the 2xx answer, once one came."""


def seed_subscriptions(client: Client, count: int, prefix: str) -> list[str]:
    """``count`` subscriptions (Strategic Research Team: 10,000 responses a term), bought
    by free accounts through the API."""
    subscription_ids = []
    for number in range(count):
        opened = client.call(
            "POST", "/v1/accounts", 201,
            json={"email": f"{prefix}{number}@example.com", "name": "Load Admin",
                  "username": f"{prefix}{number}", "kind": "free"},
        )
        started = client.call(
            "POST", "/v1/purchases", 201,
            json={"plan": "strategic_research_team", "account_id": opened["account_id"]},
        )
        completed = client.call(
            "POST", f"/v1/purchases/{started['purchase_id']}/complete",
            json={"payment_token": "tok_visa", "billing_address": BILLING_ADDRESS,
                  "accept_terms": True, "accept_auto_renewal": True},
        )
        subscription_ids.append(completed["subscription_id"])
    return subscription_ids


def commands_for(worker: int, subscription_id: str, count: int, prefix: str) -> list[Command]:
    """One worker's commands: two usage increments on its own subscription for each new
    account (so that workers never contend for one aggregate)."""
    made = []
    for number in range(count):
        key = f"{prefix}-{worker}-{number}"
        if number % 3 == 2:
            made.append(
                Command(key, "account", "/v1/accounts",
                        {"email": f"{key}@example.com", "name": "Load User",
                         "username": key, "kind": "free"})
            )
        else:
            made.append(
                Command(key, "usage", f"/v1/subscriptions/{subscription_id}/usage",
                        {"responses": 1}, subscription_id)
            )
    return made


Decision = Callable[[Command, httpx.Response | None, BaseException | None], str]
"""After each attempt: ``"done"``, ``"retry"`` (the same request again, after a pause)
or ``"give_up"`` (leave the command unacknowledged for now)."""


def send_all(client: Client, commands: list[Command], decide: Decision, pause: float = 0.1) -> None:
    """Send each command in turn, with its key, as ``decide`` says after each attempt."""
    for command in commands:
        send_one(client, command, decide, pause)


def send_one(client: Client, command: Command, decide: Decision, pause: float = 0.1) -> None:
    while True:
        answer: httpx.Response | None = None
        error: BaseException | None = None
        try:
            answer = client.http.post(
                command.path, json=command.body, headers={"Idempotency-Key": command.key}
            )
            command.answers.append(answer.status_code)
            if 200 <= answer.status_code < 300:
                command.acknowledged = answer.json()
        except httpx.TransportError as failure:
            error = failure
            command.answers.append(type(failure).__name__)
        verdict = decide(command, answer, error)
        if verdict != "retry":
            return
        time.sleep(pause)


def run_workers(jobs: Iterable[Callable[[], None]]) -> None:
    """Run the jobs in threads of their own; re-raise the first failure."""
    failures: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as failure:  # kept and re-raised in the test's thread
            failures.append(failure)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def recorded_by_command(container: Any) -> dict[str, Counter[str]]:
    """The log's events grouped by the command id (the Idempotency-Key) they carry."""
    by_command: dict[str, Counter[str]] = defaultdict(Counter)
    for _, event in events(container):
        meta = getattr(event, "meta", None) or {}
        command_id = meta.get("command_id")
        if command_id:
            by_command[command_id][type(event).__qualname__] += 1
    return by_command


@dataclass
class LogCheck:
    sent: int
    acknowledged: int
    lost: list[str]
    """Acknowledged commands whose events are missing."""
    duplicated: list[str]
    """Commands whose events are recorded more than once."""
    partial: list[str]
    """Commands recorded in part (some of their events and not others)."""
    applied_unacknowledged: list[str]
    """Commands never acknowledged whose events were nonetheless recorded, whole."""

    def figures(self) -> dict[str, int]:
        return {
            "commands_sent": self.sent,
            "acknowledged": self.acknowledged,
            "lost": len(self.lost),
            "duplicates": len(self.duplicated),
            "half_applied": len(self.partial),
            "applied_but_unacknowledged": len(self.applied_unacknowledged),
        }


def check_log(commands: list[Command], recorded: dict[str, Counter[str]]) -> LogCheck:
    lost, duplicated, partial, applied_unacknowledged = [], [], [], []
    for command in commands:
        seen = recorded.get(command.key, Counter())
        expected = EXPECTED[command.kind]
        if seen == expected:
            if command.acknowledged is None:
                applied_unacknowledged.append(command.key)
        elif not seen:
            if command.acknowledged is not None:
                lost.append(command.key)
        elif all(seen[name] >= count for name, count in expected.items()) and set(seen) <= set(expected):
            duplicated.append(command.key)
        else:
            partial.append(command.key)
    return LogCheck(
        sent=len(commands),
        acknowledged=sum(1 for c in commands if c.acknowledged is not None),
        lost=lost,
        duplicated=duplicated,
        partial=partial,
        applied_unacknowledged=applied_unacknowledged,
    )


def usage_counts(commands: list[Command], recorded: dict[str, Counter[str]]) -> Counter[str]:
    """Per subscription, how many usage increments the log holds for these commands."""
    counts: Counter[str] = Counter()
    for command in commands:
        if command.kind == "usage" and command.subscription_id is not None:
            counts[command.subscription_id] += recorded.get(command.key, Counter())[
                "Subscription.UsageRecorded"
            ]
    return counts
