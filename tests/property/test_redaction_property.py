"""The log redaction's shortcut: text in which no pattern could find anything is left
as it is after one search. It must never let through what the full set of patterns
would replace. And card numbers are redacted exactly where the request guard's
detector finds them, so no log line keeps one the guard would have refused."""

from __future__ import annotations

import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from api.logs import _SUSPECT, REDACTED, _redact_patterns, redact_text
from lifecycle.cards import card_number_spans

CARD_SHAPES = [
    "4000\u00a00566\u00a05566\u00a05556", "4000.0566.5566.5556", "4000_0566_5566_5556",
    "4000/0566/5566/5556", "4000\u20130566\u20135566\u20135556",
    "4000\u200b0566\u200b5566\u200b5556", "4000\n0566\t5566\r\n5556",
    "".join(chr(0xFF10 + int(digit)) for digit in "4000056655665556"),
    "4000056655665556@example.com", "key-4000056655665556", "12/30", "737",
    "2027-01-31T09:00:00.123456+01:00", "12345678-1234-1234-1234-123456789012",
    "192.168.100.200:8000",
]
PIECES = st.sampled_from(
    [
        "4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "378282246310005",
        "1234567890123", "Bearer abc.def", "bearer  x", "Authorization: Basic dXNlcg==",
        '"authorization":"t"', "cvc=123", '"cvv2": "999"', "security_code:1",
        "CVC 12", "eyJhbGciOiJIUzI1NiJ9abc." + "A" * 43, "a" * 16 + "." + "b" * 43,
        "/v1/accounts/{account_id}", "201", "12.5", " ", "-", ":", "=", '"', "\\",
        *CARD_SHAPES,
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=8).map("".join)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_the_shortcut_redacts_what_every_pattern_would(text: str) -> None:
    assert redact_text(text, secrets=()) == _redact_patterns(text)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_no_redacted_text_holds_a_card_number(text: str) -> None:
    assert card_number_spans(redact_text(text, secrets=())) == []


PLAIN = st.lists(
    st.one_of(
        st.sampled_from(["4000", "0566", "5566", "5556", "4000056655665556", *CARD_SHAPES]),
        st.text(alphabet=string.digits + "abdefgx .-/_\u00a0\u2013\uff14", max_size=8),
    ),
    max_size=8,
).map("".join)
"""Text with digits, letters and separators: card numbers, ids, instants, addresses."""


@settings(max_examples=500, deadline=None)
@given(PLAIN)
def test_the_redaction_replaces_exactly_what_the_detector_finds(text: str) -> None:
    assume(_SUSPECT.search(text) is None)  # nothing for the other patterns
    expected, kept = "", 0
    for start, end in card_number_spans(text):
        expected += text[kept:start] + REDACTED
        kept = end
    expected += text[kept:]

    assert redact_text(text, secrets=()) == expected
