"""No log line shows a token secret, a signed link, a card number or a security code:
the service does not log them, and the redaction filter catches them where another
library (or a careless line) would."""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest

from api.logs import REDACTED, SECRETS, log_handler, redact_text
from commands.links import LinkSigner
from lifecycle.cards import luhn_valid

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
DEBIT = "4000056655665556"
INVALID_SECRET = "not-a-known-secret-5f2c9a71"
A_LINK = LinkSigner(b"a-link-signing-key-for-tests-0001").issue(
    UUID("123e4567-e89b-42d3-a456-426614174000"), datetime(2027, 1, 31, tzinfo=timezone.utc)
)
SECURITY_CODES = {
    "cvc": "cvc-marker-93f1",
    "cvv": "cvv-marker-27ab",
    "cvc2": "cvc2-marker-c4d8",
    "cvv2": "cvv2-marker-0e6b",
    "security_code": "sc-marker-5d0e",
}


# --- the redaction filter on its own ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer tok-abc.def", "tok-abc.def"),
        ("sent bearer tok-xyz", "tok-xyz"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("[(b'authorization', b'Bearer tok-123')]", "tok-123"),
        ("card " + VISA, VISA),
        ("card 4242 4242 4242 4242 expires", "4242 4242 4242 4242"),
        ("card 4242-4242-4242-4242", "4242-4242-4242-4242"),
        ("card 5555 5555 5555 4444 12 30", "5555 5555 5555 4444"),
        ("tok" + DEBIT, DEBIT),
        ("card 4000.0566.5566.5556 exp", "4000.0566.5566.5556"),
        ("card 4000\u00a00566\u00a05566\u00a05556", "0566\u00a05566"),
        ("card 4000\u20130566\u20135566\u20135556", "0566\u20135566"),
        ("card 4000\u200b0566\u200b5566\u200b5556", "0566\u200b5566"),
        ("card 4000_0566_5566_5556 and 4000/0566/5566/5556", "5566_5556"),
        ("lines 4000\n0566\n5566\n5556", "0566\n5566"),
        ("".join(chr(0xFF10 + int(digit)) for digit in DEBIT), "\uff15\uff16\uff16"),
        (f"from {DEBIT}@example.com", DEBIT),
        (f"X-Correlation-Id: key-{DEBIT}", DEBIT),
        ('{"cvc": "737"}', '"737"'),
        ('{\\"cvv2\\": \\"7373\\"}', "7373"),
        ("security_code=8120&x=1", "8120"),
        ("card_cvc: 4411", "4411"),
        (f"GET /v1/email-preferences/{A_LINK} HTTP/1.1", A_LINK.rsplit(".", 1)[1]),
        (f"GET /v1/plans?link={A_LINK}&x=1", A_LINK.rsplit(".", 1)[0]),
    ],
)
def test_each_kind_of_secret_is_redacted(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_configured_secrets_are_redacted_wherever_they_appear() -> None:
    SECRETS.add("configured-secret-8d1f0c")
    assert redact_text("x=configured-secret-8d1f0c;y") == f"x={REDACTED};y"


@pytest.mark.parametrize(
    "text",
    [
        "2027-01-31T09:00:00.000Z",
        "POST /v1/accounts/{account_id}/email-preferences 200",
        "account 123e4567-e89b-42d3-a456-426614174000 at position 1234",
        "account 40000566-5566-5556-8123-456789012345 at 2027-01-31 09:00:00.123456+01:00",
        "client 192.168.100.200:8000 forwarded for 203.0.113.254, 198.51.100.17",
        "request 40000566556655560a1b2c3d4e5f6789",
        "4242424242424241",  # 16 digits that fail the Luhn check
        "authorization failed",
        "duration 12.345 ms",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger("tests.redaction")
    handler = log_handler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_extra_fields_and_tracebacks_are_redacted_too(json_lines: io.StringIO) -> None:
    logger = logging.getLogger("tests.redaction")
    logger.info(
        "charge for %s",
        "tok_visa",
        extra={
            "body": {"card": {"number": VISA, "cvc": "737"}, "items": [MASTERCARD]},
            "amount": int(DEBIT),
            "headers": {"authorization": "Bearer tok-extra"},
        },
    )
    try:
        raise ValueError(f"refused Authorization: Bearer tok-trace and card {VISA}")
    except ValueError:
        logger.exception("failed")

    first, second = (json.loads(line) for line in json_lines.getvalue().splitlines())
    assert first["message"] == "charge for tok_visa"
    assert first["body"] == {"card": {"number": REDACTED, "cvc": REDACTED}, "items": [REDACTED]}
    assert first["amount"] == REDACTED
    assert first["headers"] == {"authorization": REDACTED}
    assert "ValueError" in second["exc_info"]
    assert "tok-trace" not in second["exc_info"] and VISA not in second["exc_info"]


# --- the service, driven with everything secret it may be sent ------------------------------


class RawRecords(logging.Handler):
    """What the service's loggers emit before any redaction: message, extra fields
    and traceback of each record, as text."""

    STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.name, record.getMessage()]
        parts += [repr(v) for k, v in vars(record).items() if k not in self.STANDARD]
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        self.texts.append(" ".join(parts))


CLIENT_LOGGERS = ("httpx", "httpcore")
"""The test's own HTTP client, which logs every URL it requests (links included)."""


@pytest.fixture
def captured() -> Iterator[tuple[RawRecords, io.StringIO]]:
    """Every logger at DEBUG: the raw records, and the JSON lines an operator reads."""
    raw = RawRecords()
    raw.addFilter(lambda record: not record.name.startswith(CLIENT_LOGGERS))
    stream = io.StringIO()
    written = log_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(raw)  # before the JSON handler, whose filter redacts the record
    root.addHandler(written)
    root.setLevel(logging.DEBUG)
    try:
        yield raw, stream
    finally:
        root.removeHandler(written)
        root.removeHandler(raw)
        root.setLevel(level)


def _link_token(hub: Any, opened: dict[str, Any]) -> str:
    tokens = [
        m["data"]["preferences_token"]
        for m in hub.notifications(recipient=opened["email"])
        if "preferences_token" in m["data"]
    ]
    assert tokens
    return str(tokens[-1])


def test_no_log_line_shows_a_secret_a_link_a_card_number_or_a_security_code(
    hub: Any, captured: tuple[RawRecords, io.StringIO]
) -> None:
    raw, stream = captured
    assert all(luhn_valid(number) for number in (VISA, MASTERCARD, DEBIT))

    # Each token, for what it may do.
    opened = hub.open_account()
    hub.upgrade(opened["account_id"])
    assert hub.get("/v1/plans", token="views").status_code == 200
    assert hub.get(f"/v1/accounts/{opened['account_id']}", token="views").status_code == 200
    assert hub.get("/v1/audit/verify", token="audit").status_code == 200
    assert hub.get("/v1/ops/projections", token="ops").status_code == 200
    assert hub.get("/metrics", token="ops").status_code == 200
    # A token nobody configured, and another scheme.
    invalid = {"Authorization": f"Bearer {INVALID_SECRET}"}
    hub.problem(hub.get("/v1/plans", token=None, headers=invalid), 401, "unauthorized")
    basic = {"Authorization": f"Basic {INVALID_SECRET}"}
    hub.problem(hub.post("/v1/accounts", {}, token=None, headers=basic), 401, "unauthorized")
    # Raw card data, refused wherever it sits.
    refused = [
        hub.post("/v1/accounts", {"email": hub.unique_email(), "name": VISA, "username": "c1"}),
        hub.put(f"/v1/subscriptions/{opened['account_id']}/card", {"payment_token": MASTERCARD}),
        hub.post("/v1/purchases", {"plan": "strategic_research", "card": {"number": DEBIT}}),
        *(
            hub.post("/v1/purchases", {"plan": "strategic_research", "card": {key: code}})
            for key, code in SECURITY_CODES.items()
        ),
        hub.post("/v1/accounts", {"email": hub.unique_email(), "name": "Ada 4242 4242 4242 4242"}),
    ]
    for response in refused:
        hub.problem(response, 422, "raw-card-data-refused")
    # The manage-subscriptions link, its token in the path, also where no route is.
    link_token = _link_token(hub, opened)
    signature = link_token.rsplit(".", 1)[1]
    link = f"/v1/email-preferences/{link_token}"
    hub.ok(hub.get(link, token=None))
    preferences = {"personalised_learning": True, "news_and_updates": False}
    hub.ok(hub.put(link, {**preferences, "customer_events": True}, token=None))
    tampered = link_token.rsplit(".", 1)[0] + "." + "A" * 43
    hub.problem(hub.get(f"/v1/email-preferences/{tampered}", token=None), 401, "invalid-link")
    hub.problem(hub.get(f"{link}/more", token=None), 404, "not-found")
    hub.problem(hub.get("/nowhere/at-all"), 404, "not-found")
    stray = hub.get(f"/nowhere/{VISA}", params={"cvc": "cvc-marker-93f1"})
    assert 400 <= stray.status_code < 500, stray.text
    assert hub.get("/v1/plans", params={"link": link_token}).status_code == 200
    # Ids the caller chooses are logged, but not one holding a card number.
    carded = hub.get("/v1/plans", headers={"X-Correlation-Id": VISA})
    hub.problem(carded, 422, "raw-card-data-refused")

    needles = [
        *hub.secrets.values(),
        INVALID_SECRET,
        hub.container.settings.link_secret,
        link_token,
        signature,
        VISA,
        MASTERCARD,
        DEBIT,
        "4242 4242 4242 4242",
        *SECURITY_CODES.values(),
    ]
    written = stream.getvalue()
    lines = [json.loads(line) for line in written.splitlines()]
    for needle in needles:
        assert needle not in written, f"{needle!r} was logged"
        for text in raw.texts:
            assert needle not in text, f"{needle!r} was logged by the service: {text}"

    # The requests were logged, by route template and token name.
    access = [line for line in lines if line["logger"] == "lifecycle.access"]
    routes = {(line["method"], line["route"], line["status"]) for line in access}
    assert ("GET", "/v1/email-preferences/{link_token}", 200) in routes
    assert ("PUT", "/v1/email-preferences/{link_token}", 200) in routes
    assert ("GET", "/v1/email-preferences/{link_token}", 401) in routes
    assert ("GET", "unmatched", 404) in routes
    names = {line["token"] for line in access}
    assert {"test-views", "test-commands", "test-audit", "test-ops"} <= names
    outcomes = [line.get("outcome") for line in access]
    assert outcomes.count("raw-card-data-refused") >= len(refused)
    assert outcomes.count("unauthorized") == 2
    carded = [line for line in access if line["route"] == "/v1/plans" and line["status"] == 422]
    assert carded and all("correlation_id" not in line for line in carded)
    # The client's own lines did carry the link, and were redacted on the way out.
    assert any(
        line["logger"] == "httpx" and "/v1/email-preferences/" + REDACTED in line["message"]
        for line in lines
    )


def test_a_card_number_in_any_shape_in_a_correlation_id_is_refused_and_never_logged(
    hub: Any, captured: tuple[RawRecords, io.StringIO]
) -> None:
    raw, stream = captured
    shapes = [
        "4000.0566.5566.5556",
        "4000\u00a00566\u00a05566\u00a05556",
        "4000\u200b0566\u200b5566\u200b5556",
        "4000_0566_5566_5556",
        "".join(chr(0xFF10 + int(digit)) for digit in DEBIT),
        f"key-{DEBIT}",
        f"{DEBIT}@example.com",
    ]

    for shape in shapes:
        response = hub.get("/v1/plans", headers={"X-Correlation-Id": shape.encode()})
        hub.problem(response, 422, "raw-card-data-refused")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "lifecycle.access"]
    assert [line["status"] for line in access] == [422] * len(shapes)
    assert all("correlation_id" not in line and "command_id" not in line for line in access)
    written = json.dumps(lines, ensure_ascii=False)
    for needle in [*shapes, DEBIT]:
        assert needle not in written, f"{needle!r} was logged"
        assert all(needle not in text for text in raw.texts), f"{needle!r} was logged"
