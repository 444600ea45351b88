"""R20, R40: term boundaries are counted from the original anchor and clamped to the
month's end; they never drift. (Chained additions are allowed to differ: a Feb 29
anchor plus 1 year then plus 3 years is Feb 28, while plus 4 years is Feb 29.)"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from lifecycle.calendar import add_months, add_years, contract_term_end, subscription_term

UTC = timezone.utc
PROPERTY = settings(max_examples=100, deadline=None)

times = st.times()
any_date = st.dates(min_value=date(1600, 1, 1), max_value=date(5000, 12, 31))
month_end_dates = st.builds(
    lambda y, m: date(y, m, calendar.monthrange(y, m)[1]),
    st.integers(1600, 5000),
    st.integers(1, 12),
)
leap_days = st.integers(1600, 5000).filter(calendar.isleap).map(lambda y: date(y, 2, 29))
jan_31s = st.integers(1600, 5000).map(lambda y: date(y, 1, 31))
anchor_dates = st.one_of(any_date, month_end_dates, leap_days, jan_31s)
anchors = st.builds(lambda d, t: datetime.combine(d, t, tzinfo=UTC), anchor_dates, times)
years = st.integers(1, 400)


def last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_adding_years_keeps_the_anchors_month_and_moves_the_year_by_n(
    anchor: datetime, n: int
) -> None:
    boundary = add_years(anchor, n)

    assert (boundary.year, boundary.month) == (anchor.year + n, anchor.month)


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_adding_years_keeps_the_anchors_day_unless_clamped_to_the_months_end(
    anchor: datetime, n: int
) -> None:
    boundary = add_years(anchor, n)

    assert boundary.day == min(anchor.day, last_day(anchor.year + n, anchor.month))


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_adding_years_keeps_the_time_of_day_and_timezone(anchor: datetime, n: int) -> None:
    boundary = add_years(anchor, n)

    assert (boundary.timetz(), boundary.tzinfo) == (anchor.timetz(), anchor.tzinfo)


@settings(PROPERTY)
@given(anchor_year=st.integers(1600, 5000).filter(calendar.isleap), t=times, n=years)
@example(anchor_year=2024, t=time(0, 0), n=1)
@example(anchor_year=2024, t=time(23, 59, 59, 999999), n=4)
@example(anchor_year=2096, t=time(12), n=4)  # 2100 is not a leap year
def test_feb_29_anchor_lands_on_feb_29_in_leap_years_and_feb_28_otherwise(
    anchor_year: int, t: time, n: int
) -> None:
    anchor = datetime.combine(date(anchor_year, 2, 29), t, tzinfo=UTC)

    boundary = add_years(anchor, n)

    expected_day = 29 if calendar.isleap(anchor_year + n) else 28
    assert boundary == datetime.combine(date(anchor_year + n, 2, expected_day), t, tzinfo=UTC)


@settings(PROPERTY)
@given(anchor_year=st.integers(1600, 5000), t=times, k=st.integers(0, 4800))
def test_jan_31_plus_k_months_lands_on_the_31st_or_the_last_day_of_a_shorter_month(
    anchor_year: int, t: time, k: int
) -> None:
    anchor = datetime.combine(date(anchor_year, 1, 31), t, tzinfo=UTC)

    boundary = add_months(anchor, k)

    year, month = anchor_year + k // 12, k % 12 + 1
    assert boundary == datetime.combine(date(year, month, last_day(year, month)), t, tzinfo=UTC)


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_boundary_whose_month_has_the_anchors_day_has_not_drifted_from_it(
    anchor: datetime, n: int
) -> None:
    boundary = add_years(anchor, n)
    assume(last_day(boundary.year, boundary.month) >= anchor.day)

    assert boundary.replace(year=anchor.year) == anchor


@settings(PROPERTY)
@given(anchor=anchors, k=st.integers(-1200, 4800))
def test_adding_months_lands_in_the_kth_month_after_the_anchors(anchor: datetime, k: int) -> None:
    boundary = add_months(anchor, k)

    assert (boundary.year * 12 + boundary.month) - (anchor.year * 12 + anchor.month) == k


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_adding_years_is_adding_twelve_times_as_many_months(anchor: datetime, n: int) -> None:
    assert add_years(anchor, n) == add_months(anchor, 12 * n)


@settings(PROPERTY)
@given(anchor=anchors)
def test_first_term_starts_at_the_anchor(anchor: datetime) -> None:
    assert subscription_term(anchor, 1)[0] == anchor


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_term_n_ends_n_years_from_the_anchor(anchor: datetime, n: int) -> None:
    assert subscription_term(anchor, n)[1] == add_years(anchor, n)


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_terms_are_contiguous(anchor: datetime, n: int) -> None:
    assert subscription_term(anchor, n)[1] == subscription_term(anchor, n + 1)[0]


@settings(PROPERTY)
@given(anchor=anchors, n=years)
def test_every_term_ends_after_it_starts_and_lasts_365_or_366_days(
    anchor: datetime, n: int
) -> None:
    start, end = subscription_term(anchor, n)

    assert start < end
    assert timedelta(days=365) <= end - start <= timedelta(days=366)


@settings(PROPERTY)
@given(anchor=anchors, n=st.integers(-5, 0))
def test_terms_are_numbered_from_one(anchor: datetime, n: int) -> None:
    with pytest.raises(ValueError):
        subscription_term(anchor, n)


# --- contract terms (R40) ---------------------------------------------------------------------


def test_twelve_month_contract_from_2027_01_01_ends_on_2027_12_31() -> None:
    assert contract_term_end(date(2027, 1, 1), 12) == date(2027, 12, 31)


def test_one_month_contract_from_jan_31_of_a_leap_year_ends_on_feb_28() -> None:
    assert contract_term_end(date(2024, 1, 31), 1) == date(2024, 2, 28)


@settings(PROPERTY)
@given(start=anchor_dates, months=st.integers(1, 1200))
def test_contract_term_ends_the_day_before_start_plus_the_months_clamped(
    start: date, months: int
) -> None:
    assert contract_term_end(start, months) + timedelta(days=1) == add_months(start, months)


@settings(PROPERTY)
@given(start=anchor_dates, months=st.integers(1, 1200), more=st.integers(1, 120))
def test_contract_term_ends_strictly_increase_with_the_months_so_far(
    start: date, months: int, more: int
) -> None:
    assert contract_term_end(start, months) < contract_term_end(start, months + more)


@settings(PROPERTY)
@given(start=anchor_dates, months=st.integers(1, 1200))
def test_contract_term_end_is_on_or_after_the_start(start: date, months: int) -> None:
    assert contract_term_end(start, months) >= start
