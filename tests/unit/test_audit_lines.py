"""R60, R61: how an event becomes an audit line, and the exact input of its hash."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from lifecycle.money import Money
from projections.audit_lines import GENESIS, canonical, chained, jsonable, line_hash

LINE = {
    "position": 8,
    "aggregate_id": "6e202644-fb44-5400-b26e-fdd259495cf8",
    "aggregate_type": "subscription",
    "version": 2,
    "type": "UsageRecorded",
    "occurred_at": "2027-02-01T09:00:00Z",
    "service": "hub",
    "actor": None,
    "command_id": "c-1",
    "correlation_id": "c-1",
    "data": {"seats": 0, "responses": 5, "note": "Zürich"},
}


def test_the_hashed_text_is_sorted_compact_json_keeping_non_ascii() -> None:
    text = canonical({"b": 1, "a": {"d": "é", "c": None}})

    assert text == '{"a":{"c":null,"d":"é"},"b":1}'


def test_the_hash_is_sha256_hex_of_the_utf8_text_without_the_hash_key() -> None:
    line = chained(LINE, GENESIS)
    body = {k: v for k, v in line.items() if k != "hash"}

    assert line["prev_hash"] == "0" * 64
    assert line["hash"] == hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()
    assert line["hash"] == line_hash(body)
    assert len(line["hash"]) == 64 and line["hash"] == line["hash"].lower()


def test_the_next_line_names_the_previous_hash() -> None:
    first = chained(LINE, GENESIS)
    second = chained({**LINE, "position": 9, "version": 3}, first["hash"])

    assert second["prev_hash"] == first["hash"]
    assert second["hash"] != first["hash"]


def test_data_renders_money_and_decimals_as_decimal_strings() -> None:
    assert jsonable(Money.of("1500", "USD")) == {"amount": "1500.00", "currency": "USD"}
    assert jsonable(Decimal("12.50")) == "12.50"


def test_data_renders_instants_in_utc_with_z_dates_iso_and_ids_as_strings() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert jsonable(datetime(2027, 2, 1, 11, 0, tzinfo=plus_two)) == "2027-02-01T09:00:00Z"
    assert jsonable(datetime(2027, 2, 1, 9, 0, 0, 5, tzinfo=timezone.utc)) == "2027-02-01T09:00:00.000005Z"
    assert jsonable(date(2027, 12, 31)) == "2027-12-31"
    uid = UUID("6e202644-fb44-5400-b26e-fdd259495cf8")
    assert jsonable({"ids": (uid,)}) == {"ids": ["6e202644-fb44-5400-b26e-fdd259495cf8"]}
