"""The card-number detector that the request guard refuses with and the log redaction
redacts with: any Luhn-valid 13-19 digit number is found whatever separates its digit
groups and whatever digits it is written in, and ids, instants and short numbers, which
form long digit runs of their own, never are."""

from __future__ import annotations

import string
import unicodedata
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.cards import card_number_spans, holds_card_number, luhn_valid

PROPERTY = settings(max_examples=400, deadline=None)

DIGIT_SETS = (
    "0123456789",
    "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",  # full-width
    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",  # Arabic-Indic
    "\u0966\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e\u096f",  # Devanagari
)
SEPARATORS = (
    " ",
    "-",
    ".",
    "_",
    "/",
    ",",
    ":",
    "|",
    "\t",
    "\n",
    "\r\n",
    " - ",
    "\u00a0",
    "\u2013",
    "\u2014",
    "\u200b",
    "\u2009",
    "\u3000",
    "\ufeff",
)
WORDS = st.text(alphabet=string.ascii_letters + "éßжй山 .,;!?()'\"", max_size=20)
"""Text around a number: letters of several scripts, spaces and punctuation, no digits."""


def with_check_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("no check digit")


card_numbers = (
    st.integers(13, 19)
    .flatmap(
        lambda length: st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1)
    )
    .map(with_check_digit)
)


@st.composite
def written(draw: st.DrawFn, number: str) -> str:
    """``number`` as a person may write it: split into groups (of at least four digits,
    the last one aside, as card layouts are), joined by any separators, each digit in
    any script."""
    cuts = sorted(draw(st.sets(st.integers(4, len(number) - 1), max_size=4)))
    groups, start = [], 0
    for cut in cuts:
        if cut - start >= 4:
            groups.append(number[start:cut])
            start = cut
    groups.append(number[start:])
    text = groups[0]
    for group in groups[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + group
    return "".join(
        draw(st.sampled_from(DIGIT_SETS))[int(char)] if char.isdigit() else char for char in text
    )


@PROPERTY
@given(card_numbers.flatmap(written), WORDS, WORDS)
def test_a_luhn_valid_number_is_found_however_it_is_written_and_wherever_it_stands(
    number: str, before: str, after: str
) -> None:
    text = f"{before} {number} {after}"

    spans = card_number_spans(text)

    assert (len(before) + 1, len(before) + 1 + len(number)) in spans
    assert holds_card_number(text)


@PROPERTY
@given(
    card_numbers,
    st.sampled_from(SEPARATORS),
    st.text(alphabet="0123456789", min_size=1, max_size=6),
)
def test_a_number_followed_by_more_digits_is_still_found(
    number: str, separator: str, more: str
) -> None:
    assert holds_card_number(f"{number}{separator}{more}")
    assert holds_card_number(f"{more}{separator}{number}")


@PROPERTY
@given(
    st.uuids(), st.sampled_from(["{}", "/v1/accounts/{}/cards", "user:{}", "{}:1:2", "{0}, {0}"])
)
def test_no_uuid_is_ever_a_card_number(value: uuid.UUID, layout: str) -> None:
    for text in (str(value), str(value).upper()):
        assert not holds_card_number(layout.format(text))


digit_uuids = st.text(alphabet="0123456789", min_size=32, max_size=32).map(
    lambda digits: uuid.UUID(hex=digits)
)


@PROPERTY
@given(
    digit_uuids, st.sampled_from(["{}", "/v1/accounts/{}/cards", "user:{}", "{}:1:2", "{0}, {0}"])
)
def test_no_uuid_made_of_digits_only_is_ever_a_card_number(value: uuid.UUID, layout: str) -> None:
    assert not holds_card_number(layout.format(str(value)))


offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@PROPERTY
@given(
    st.datetimes(timezones=st.one_of(st.just(timezone.utc), offsets)),
    st.sampled_from(["{}", "{0}, {0}"]),
)
def test_no_date_or_instant_is_ever_a_card_number(instant: datetime, layout: str) -> None:
    shapes = [
        instant.isoformat(),
        instant.isoformat(sep=" "),
        instant.isoformat(timespec="microseconds"),
        instant.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        instant.isoformat(timespec="minutes"),
        str(instant),
        instant.date().isoformat(),
    ]
    for shape in shapes:
        assert not holds_card_number(layout.format(shape)), shape


@PROPERTY
@given(
    st.text(alphabet=string.digits + string.ascii_letters + " -./:_\u00a0\uff11\u0663", max_size=60)
)
def test_a_number_of_fewer_than_13_digits_is_never_a_card_number(text: str) -> None:
    digits = [char for char in text if char.isdecimal()]

    if len(digits) < 13:
        assert not holds_card_number(text)


TEXT = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=string.digits
        + " -./:_\t\nabcdefxT"
        + "\u00a0\u200b\u2013\uff14\u0664\u00b2\u2460",
        max_size=60,
    ),
    st.lists(
        st.sampled_from(
            [
                "4000",
                "0566",
                "5566",
                "5556",
                " ",
                "-",
                "x",
                "2027-01-31",
                "T09:00:00",
                "12345678-1234-1234-1234-123456789012",
                "\uff15",
                "abcdef",
            ]
        ),
        max_size=10,
    ).map("".join),
)


@settings(max_examples=1000, deadline=None)
@given(TEXT)
def test_the_screen_never_lets_through_what_the_full_scan_finds(text: str) -> None:
    assert card_number_spans(text) == card_number_spans(text, screen=False)


def _digits(text: str) -> str:
    normalised = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(char)) for char in normalised if char.isdecimal())


@settings(max_examples=1000, deadline=None)
@given(TEXT)
def test_every_span_found_starts_and_ends_on_a_digit_and_holds_13_digits_or_more(text: str) -> None:
    for start, end in card_number_spans(text):
        assert _digits(text[start]) and _digits(text[end - 1]), (text, start, end)
        assert len(_digits(text[start:end])) >= 13, (text, start, end)
