"""Term arithmetic: boundaries counted from the original anchor, clamped to month end (R20, R40)."""

from __future__ import annotations

import calendar as _cal
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

D = TypeVar("D", date, datetime)


def add_months(anchor: D, months: int) -> D:
    """``anchor`` plus ``months`` calendar months, the day clamped to the month's end.

    Works for dates and datetimes (the time of day is kept). Always count from
    the original anchor: ``add_months(a, 24)``, never ``add_months(add_months(a, 12), 12)``.
    """
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, _cal.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def add_years(anchor: D, years: int) -> D:
    return add_months(anchor, 12 * years)


def subscription_term(anchor: datetime, number: int) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) instants of annual term ``number`` (1-based)."""
    if number < 1:
        raise ValueError("terms are numbered from 1")
    return add_years(anchor, number - 1), add_years(anchor, number)


def contract_term_end(start: date, months_so_far: int) -> date:
    """Last day of a contract term: original start plus the months of terms 1..k, minus a day."""
    return add_months(start, months_so_far) - timedelta(days=1)


def end_of_month(year: int, month: int) -> date:
    return date(year, month, _cal.monthrange(year, month)[1])


# --- the supported range ---------------------------------------------------------------

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
"""Dates and instants the service takes in: every term, window and retry computed from
them (at most 120-month terms, yearly renewals while the clock stays in range) stays
far inside what a ``datetime`` can hold, and every stored instant keeps a four-digit
year, so its text sorts as it should."""


def day_supported(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


def instant_supported(instant: datetime) -> bool:
    """Whether an aware instant falls on a supported UTC day (compared without
    converting, so an instant at the very edge of ``datetime`` cannot overflow)."""
    earliest = datetime(EARLIEST_DAY.year, 1, 1, tzinfo=timezone.utc)
    latest = datetime(LATEST_DAY.year + 1, 1, 1, tzinfo=timezone.utc)
    return earliest <= instant < latest
