"""Cards: what the service keeps (brand, last four, expiry, processor token) and
what it refuses to see (R17): raw card numbers and security codes.

The card-number detector (``card_number_spans``) is the one rule used by the
request guard (which refuses what it finds) and by the log redaction (which
replaces what it finds). A card number is a run of 13 to 19 decimal digits,
separated only by characters that are neither letters nor digits, that passes the
Luhn check:

- the text is first normalised (NFKC, then every Unicode decimal digit read as its
  ASCII digit), so full-width or other scripts' digits and no-break spaces count;
- a run is the digits between letters: digit groups joined by anything that is not
  a letter or a digit (a space, ``-``, ``.``, ``_``, ``/``, an en dash, a zero-width
  space, a newline...). A letter ends a run but does not hide the digits next to it
  (``tok4000056655665556`` holds one);
- every window of consecutive whole groups of 13-19 digits is tried, so a number
  followed by more digits (``4000 0566 5566 5556 12/30``) is found; a group is never
  cut, as nobody writes a card number starting or ending inside a group;
- what is never a card number is masked first: canonical UUIDs, RFC 3339 dates and
  instants, IPv4 and IPv6 addresses, and hexadecimal words of 16 or more characters
  with a letter among them (hashes, trace ids, ``uuid4().hex``).
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import accumulate
from typing import Any

from lifecycle.calendar import end_of_month

SECURITY_CODE_KEYS = frozenset({"cvc", "cvv", "cvc2", "cvv2", "security_code"})

MIN_DIGITS = 13
MAX_DIGITS = 19


@dataclass(frozen=True)
class Card:
    """A card on file, known by the processor's token; never the number."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    def valid_until(self) -> datetime:
        """The first instant the card is no longer valid (after its expiry month)."""
        last_day = end_of_month(self.exp_year, self.exp_month)
        return datetime(last_day.year, last_day.month, last_day.day, tzinfo=timezone.utc).replace(
            hour=23, minute=59, second=59, microsecond=999999
        )

    def expires_before(self, instant: datetime) -> bool:
        return self.valid_until() < instant

    def shown(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "last4": self.last4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
        }


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# --- the detector ----------------------------------------------------------------------

_SCREEN = re.compile(rf"\d(?:[\W_]*\d){{{MIN_DIGITS - 1}}}")
"""13 decimal digits with no letter between them: text without such a stretch (nearly
all text, ids and UUIDs with their hex letters included) holds no card number."""
_ASCII_CLASSES = bytes.maketrans(
    (string.digits + string.ascii_letters).encode(), b"0" * 10 + b"a" * 52
)
_ASCII_SEPARATORS = bytes(code for code in range(128) if not chr(code).isalnum())
_THIRTEEN_DIGITS = b"0" * MIN_DIGITS
"""``_SCREEN`` for ASCII text, a few times faster: separators dropped, digits read as
``0`` and letters as ``a``, then one substring search."""

_HEX = "[0-9A-Fa-f]"
_UUID = rf"(?<!{_HEX}){_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?!{_HEX})"
_INSTANT = (
    r"(?<![0-9])[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::(?:[0-5][0-9]|60)(?:[.,][0-9]{1,9})?)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?)?(?![0-9])"
)
"""An RFC 3339 date, or an instant: ``T`` or a space, minutes, optional seconds and
fraction, and an optional offset (``Z``, ``+01:00``)."""
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"(?<![0-9])(?<![0-9]\.){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9])(?!\.[0-9])"
_IPV6 = (
    r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f:]*::[0-9A-Fa-f:]*|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4})"
    r"(?![0-9A-Fa-f:])"
)
"""What may be an IPv6 address (``::`` or eight groups); ``ipaddress`` decides."""
_HEX_WORD = r"(?<![^\W_])(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{16,}(?![^\W_])"
"""A word (letters and digits between other characters) of 16 or more hexadecimal
digits, at least one of them a letter."""

_NEVER_A_CARD = re.compile(f"{_UUID}|{_INSTANT}|{_IPV4}|{_HEX_WORD}|(?P<ipv6>{_IPV6})")
_RUN = re.compile(r"[0-9]+(?:[\W_]+[0-9]+)*")
"""Digit groups joined by anything but letters and digits."""
_GROUP = re.compile(r"[0-9]+")

_VALUES = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED = bytes.maketrans(bytes(range(10)), bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))


def card_number_spans(text: str, *, screen: bool = True) -> list[tuple[int, int]]:
    """Where card numbers sit in ``text``: ``(start, end)`` of each, in order, spans
    that overlap merged. Each runs from the first digit of a number to its last
    (``4000 0566 5566 5556`` of ``"card 4000 0566 5566 5556 exp 12/30"``).

    ``screen=False`` skips the cheap test for 13 digits (the answer is the same; the
    property tests hold the screen to that).
    """
    if screen and not _may_hold(text):
        return []
    found = sorted(_spans(text))
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def holds_card_number(value: Any) -> bool:
    """Whether a string, or the text of a number, holds a card number anywhere."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        return False
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    else:
        return False
    return _may_hold(text) and next(_spans(text), None) is not None


def _spans(text: str) -> Iterator[tuple[int, int]]:
    prepared, origin = _prepared(text)
    masked = _NEVER_A_CARD.sub(_masked, prepared)
    for run in _RUN.finditer(masked):
        for start, end in _windows(masked, run.start(), run.end()):
            if origin is None:
                yield start, end
            else:
                yield origin[start], origin[end - 1] + 1


def _may_hold(text: str) -> bool:
    if len(text) < MIN_DIGITS:
        return False
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if not text.isascii():
            return _SCREEN.search(text) is not None
    return _THIRTEEN_DIGITS in text.encode("ascii").translate(_ASCII_CLASSES, _ASCII_SEPARATORS)


def _prepared(text: str) -> tuple[str, list[int] | None]:
    """``text`` normalised (NFKC, each decimal digit as its ASCII digit), and for each
    character of that the index of the character of ``text`` it came from (``None``
    when they are the same)."""
    if text.isascii():
        return text, None
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for out in char if char.isascii() else unicodedata.normalize("NFKC", char):
            digit = unicodedata.decimal(out, None)
            chars.append(out if digit is None else chr(48 + digit))
            origin.append(index)
    return "".join(chars), origin


def _masked(match: re.Match[str]) -> str:
    found = match.group()
    if match.lastgroup == "ipv6" and not _is_ipv6(found):
        return found
    return "x" * len(found)


def _is_ipv6(text: str) -> bool:
    """Whether ``text`` is an IPv6 address of three or more colons: ``4000::`` is one
    too, but masking it would hide the card number ``4000 0566 5566 5556::`` ends."""
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return text.count(":") >= 3


def _windows(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Each window of consecutive whole digit groups of ``text[start:end]`` (one run)
    that has 13-19 digits and passes the Luhn check, as ``(start, end)`` in ``text``."""
    groups = [match.span() for match in _GROUP.finditer(text, start, end)]
    digits = "".join(text[a:b] for a, b in groups).encode("ascii").translate(_VALUES)
    if len(digits) < MIN_DIGITS:
        return
    # Luhn sums of every prefix, for a window whose last digit has an even and an odd
    # index: the digits an odd distance from a window's last digit are doubled.
    doubled = digits.translate(_DOUBLED)
    last_even, last_odd = bytearray(digits), bytearray(digits)
    last_even[1::2] = doubled[1::2]
    last_odd[0::2] = doubled[0::2]
    sums = ([0, *accumulate(last_even)], [0, *accumulate(last_odd)])
    bounds = [0, *accumulate(b - a for a, b in groups)]
    low = high = 0  # the windows ending with a group start at a group in [low, high)
    for last in range(len(groups)):
        stop = bounds[last + 1]
        while stop - bounds[low] > MAX_DIGITS:
            low += 1
        while high <= last and stop - bounds[high] >= MIN_DIGITS:
            high += 1
        prefix = sums[(stop - 1) & 1]
        for first in range(low, high):
            if (prefix[stop] - prefix[bounds[first]]) % 10 == 0:
                yield groups[first][0], groups[last][1]


# --- documents -------------------------------------------------------------------------


def raw_card_data(document: Any) -> str | None:
    """Where in a parsed JSON document raw card data sits, or ``None``.

    Looks at every key, every string and every number at any depth (without
    recursion, so deep documents cannot exhaust the stack) for a card number, and at
    every key for a security code's name. Returns a location such as
    ``body.card.number`` (a key holding a card number is shown as ``<key>``); never
    the value itself.
    """
    stack: list[tuple[str, Any]] = [("body", document)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                key = str(key)
                if holds_card_number(key):
                    return f"{location}.<key>"
                if key.lower() in SECURITY_CODE_KEYS:
                    return f"{location}.{key}"
                stack.append((f"{location}.{key}", child))
        elif isinstance(value, list):
            stack.extend((f"{location}[{index}]", child) for index, child in enumerate(value))
        elif holds_card_number(value):
            return location
    return None
