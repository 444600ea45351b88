"""The whole story over real HTTP against ``lifecycle serve`` running as its own process
on PostgreSQL, under the manual clock: a new buyer buys, renews once, cancels and is
downgraded to free."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

CLOCK_START = "2027-01-31T09:00:00Z"
COMMANDS_SECRET = "e2e-commands-secret-0123456789"
OPS_SECRET = "e2e-ops-secret-0123456789"
API_TOKENS = (
    f"e2e-commands:{COMMANDS_SECRET}:views+commands;e2e-ops:{OPS_SECRET}:ops+views"
)
STARTUP_SECONDS = 60.0
SHUTDOWN_SECONDS = 15.0
CLEAN_EXITS = (0, -signal.SIGTERM)
"""How a process that shut down gracefully on SIGTERM ends: exit 0, or the signal itself."""

BUYER = "story.buyer@example.com"
BILLING_ADDRESS = {
    "line1": "1 Market Street",
    "city": "San Francisco",
    "postal_code": "94105",
    "country": "US",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Server:
    """``lifecycle serve`` as a child process, its output going to a file."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    returncode: int | None = field(default=None)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"lifecycle serve exited with {self.process.returncode} while starting:\n"
                    + self.output()
                )
            try:
                answer = httpx.get(f"{self.base_url}/health", timeout=1.0)
                if answer.status_code == 200 and answer.json()["status"] == "ok":
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"lifecycle serve was not healthy within {STARTUP_SECONDS} s:\n" + self.output())

    def terminate(self) -> int:
        """SIGTERM, then wait for the process to end; kill it if it does not."""
        if self.returncode is not None:
            return self.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SHUTDOWN_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SHUTDOWN_SECONDS)
                self.returncode = -signal.SIGKILL
                return self.returncode
        self.returncode = self.process.returncode
        return self.returncode


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """``lifecycle serve`` on a fresh PostgreSQL database (from ``database_url``),
    healthy; always terminated afterwards."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIFECYCLE_")}
    env.update(
        {
            "LIFECYCLE_DATABASE_URL": database_url,
            "LIFECYCLE_CLOCK": "manual",
            "LIFECYCLE_CLOCK_START": CLOCK_START,
            "LIFECYCLE_API_TOKENS": API_TOKENS,
            "LIFECYCLE_LINK_SECRET": "e2e-link-secret-0123456789abcdef",
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = tmp_path / "lifecycle-serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        running.wait_until_healthy()
        yield running
    finally:
        running.terminate()
        print(f"--- output of lifecycle serve ---\n{running.output()}")


class Api:
    """A calling service with one token."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=15.0
        )

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        answer = self.client.request(method, path, **kwargs)
        assert answer.status_code == expected, (method, path, answer.status_code, answer.text)
        return answer.json()


def messages(ops: Api, after: int) -> list[dict[str, Any]]:
    """The buyer's messages, once the notifications view has reached ``after``."""
    return ops.call(  # type: ignore[no-any-return]
        "GET", "/v1/ops/notifications", params={"recipient": BUYER, "min_position": after}
    )


def of_kind(sent: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in sent if m["kind"] == kind]


@pytest.mark.e2e
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_new_buyer_renews_once_cancels_and_is_downgraded_to_free_by_the_served_process(
    server: Server,
) -> None:
    app = Api(server.base_url, COMMANDS_SECRET)
    ops = Api(server.base_url, OPS_SECRET)

    # A new buyer starts, verifies the emailed code and pays.
    started = app.call(
        "POST", "/v1/purchases", 201, json={"plan": "strategic_research", "email": BUYER}
    )
    assert started["status"] == "awaiting_verification"
    purchase = started["purchase_id"]
    verification = of_kind(messages(ops, started["position"]), "email_verification")
    assert len(verification) == 1
    verified = app.call(
        "POST",
        f"/v1/purchases/{purchase}/verify",
        json={"token": verification[0]["data"]["token"]},
    )
    assert verified["status"] == "open"
    completed = app.call(
        "POST",
        f"/v1/purchases/{purchase}/complete",
        json={
            "payment_token": "tok_visa",
            "billing_address": BILLING_ADDRESS,
            "accept_terms": True,
            "accept_auto_renewal": True,
            "accept_privacy": True,
            "account": {"name": "Story Buyer", "username": "storybuyer"},
        },
    )
    assert completed["status"] == "completed"
    subscription_id = completed["subscription_id"]
    organisation_id = completed["organisation_id"]
    account_id = completed["account_id"]

    first = app.call("GET", f"/v1/subscriptions/{subscription_id}")
    assert (first["status"], first["term"]["number"]) == ("active", 1)
    assert instant(first["term"]["start"]) == instant(CLOCK_START)
    first_end = instant(first["term"]["end"])
    assert first_end == instant(CLOCK_START).replace(year=instant(CLOCK_START).year + 1)
    organisation = app.call("GET", f"/v1/organisations/{organisation_id}")
    assert organisation["licence"] == "self_service"
    assert organisation["brand_id"] == completed["brand_id"]

    # Past the end of the first term: renewed for a second term, charged once more.
    advanced = ops.call(
        "POST", "/v1/ops/clock/advance", json={"to": rfc3339(first_end + timedelta(hours=1))}
    )
    assert instant(advanced["now"]) == first_end + timedelta(hours=1)
    second = app.call("GET", f"/v1/subscriptions/{subscription_id}")
    assert (second["status"], second["term"]["number"]) == ("active", 2)
    assert instant(second["term"]["start"]) == first_end
    second_end = instant(second["term"]["end"])
    payments = app.call("GET", f"/v1/subscriptions/{subscription_id}/payments")
    assert [(p["term_number"], p["status"]) for p in payments] == [
        (1, "succeeded"),
        (2, "succeeded"),
    ]
    sent = messages(ops, advanced["position"])
    receipts = of_kind(sent, "renewal_receipt")
    assert [r["data"]["term_number"] for r in receipts] == [2]
    reminders = of_kind(sent, "renewal_reminder")
    assert [instant(r["data"]["renewal_at"]) for r in reminders] == [first_end]
    assert instant(reminders[0]["created_at"]) == first_end - timedelta(days=30)

    # Renewal cancelled: access to the end of the second term, then expiry and free.
    cancelled = app.call(
        "POST", f"/v1/subscriptions/{subscription_id}/cancel-renewal", json={"reason": "budget"}
    )
    assert (cancelled["status"], cancelled["auto_renew"]) == ("non_renewing", False)
    advanced = ops.call(
        "POST", "/v1/ops/clock/advance", json={"to": rfc3339(second_end + timedelta(hours=1))}
    )
    expired = app.call("GET", f"/v1/subscriptions/{subscription_id}")
    assert (expired["status"], expired["term"]["number"]) == ("expired", 2)
    assert instant(expired["expired_at"]) == second_end
    payments = app.call("GET", f"/v1/subscriptions/{subscription_id}/payments")
    assert [p["term_number"] for p in payments] == [1, 2]
    downgraded = app.call("GET", f"/v1/organisations/{organisation_id}")
    assert (downgraded["organisation_id"], downgraded["brand_id"]) == (
        organisation_id,
        completed["brand_id"],
    )
    assert (downgraded["licence"], downgraded["subscription_id"]) == ("free", None)
    buyer = app.call("GET", f"/v1/accounts/{account_id}")
    assert (buyer["organisation_id"], buyer["email"]) == (organisation_id, BUYER)
    sent = messages(ops, advanced["position"])
    notices = of_kind(sent, "downgrade_notice")
    assert [n["data"]["subscription_id"] for n in notices] == [subscription_id]
    # The cancelled renewal was neither reminded nor receipted.
    assert [instant(r["data"]["renewal_at"]) for r in of_kind(sent, "renewal_reminder")] == [
        first_end
    ]
    assert len(of_kind(sent, "renewal_receipt")) == 1

    # SIGTERM: the server runs its shutdown (the container is closed) and ends, by itself,
    # without an error. Uvicorn re-raises the signal once it has shut down gracefully, so
    # the exit status is 0 or "ended by SIGTERM" (143), never a crash or a kill.
    assert server.terminate() in CLEAN_EXITS, server.output()
    output = server.output()
    assert "Application shutdown complete" in output
    assert "Traceback" not in output and "ERROR" not in output, output
