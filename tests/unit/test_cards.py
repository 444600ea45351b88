"""R17: the service keeps brand, last four and expiry, and refuses raw card data."""

from __future__ import annotations

import pytest
from given import at, card

from lifecycle.cards import card_number_spans, holds_card_number, raw_card_data

VISA = "4111111111111111"
"""A Luhn-valid 16-digit test number."""
DEBIT = "4000056655665556"
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + digit) for digit in range(10)))


def with_check_digit(body: str) -> str:
    """``body`` followed by the digit that makes it pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:  # doubled once the check digit is appended
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return body + str((10 - total % 10) % 10)


def luhn_number(length: int) -> str:
    return with_check_digit(("4" + "1234567890" * 2)[: length - 1])


def not_luhn(number: str) -> str:
    """The same number with its check digit off by one."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# --- what is found --------------------------------------------------------------------------


@pytest.mark.parametrize("length", range(13, 20))
def test_luhn_valid_number_of_13_to_19_digits_is_found(length: int) -> None:
    assert raw_card_data({"number": luhn_number(length)}) == "body.number"


def test_card_number_written_with_spaces_is_found() -> None:
    assert raw_card_data({"pan": "4111 1111 1111 1111"}) == "body.pan"


def test_card_number_written_with_dashes_is_found() -> None:
    assert raw_card_data({"pan": "4111-1111-1111-1111"}) == "body.pan"


def test_card_number_given_as_an_integer_is_found() -> None:
    assert raw_card_data({"pan": int(VISA)}) == "body.pan"


def test_card_number_deep_in_dicts_and_lists_is_found_at_its_location() -> None:
    document = {"billing": {"cards": [{"brand": "visa"}, {"details": {"n": VISA}}]}}

    assert raw_card_data(document) == "body.billing.cards[1].details.n"


def test_card_number_as_the_whole_document_is_found() -> None:
    assert raw_card_data(VISA) == "body"


def test_card_number_used_as_a_key_is_found_without_showing_it() -> None:
    location = raw_card_data({"cards": {VISA: "mine"}})

    assert location == "body.cards.<key>"


@pytest.mark.parametrize("key", ["cvc", "cvv", "cvc2", "cvv2", "security_code"])
def test_security_code_key_is_found(key: str) -> None:
    assert raw_card_data({"card": {key: "123"}}) == f"body.card.{key}"


@pytest.mark.parametrize("key", ["CVC", "Cvv", "cVc2", "CVV2", "Security_Code"])
def test_security_code_key_is_found_whatever_its_case(key: str) -> None:
    assert raw_card_data({"card": {key: "123"}}) == f"body.card.{key}"


def test_security_code_key_is_found_even_when_its_value_is_empty() -> None:
    assert raw_card_data({"cvc": None}) == "body.cvc"


def test_location_never_contains_the_card_number() -> None:
    location = raw_card_data({"note": f"my card is {VISA}", "n": VISA})

    assert location is not None and VISA not in location


# --- what is not ---------------------------------------------------------------------------


def test_16_digit_number_failing_the_luhn_check_is_ignored() -> None:
    assert raw_card_data({"order": not_luhn(VISA)}) is None


def test_luhn_valid_12_digit_number_is_ignored() -> None:
    assert raw_card_data({"reference": luhn_number(12)}) is None


def test_luhn_valid_20_digit_number_is_ignored() -> None:
    assert raw_card_data({"reference": luhn_number(20)}) is None


def test_short_integers_are_ignored() -> None:
    assert raw_card_data({"seats": 5, "responses": 1000, "zero": 0}) is None


def test_booleans_are_ignored() -> None:
    assert raw_card_data({"accept_terms": True, "accept_privacy": False}) is None


def test_card_token_brand_last4_and_expiry_are_not_card_data() -> None:
    document = {"token": "tok_visa_4242", "brand": "visa", "last4": "4242", "exp_month": 12}

    assert raw_card_data(document) is None


def test_a_card_number_split_across_two_values_is_not_one() -> None:
    assert raw_card_data({"first": "4000 0566", "second": "5566 5556"}) is None


# --- shapes of a card number ------------------------------------------------------------------

SHAPES = {
    "no-break spaces": "4000\u00a00566\u00a05566\u00a05556",
    "tabs": "4000\t0566\t5566\t5556",
    "dots": "4000.0566.5566.5556",
    "underscores": "4000_0566_5566_5556",
    "slashes": "4000/0566/5566/5556",
    "en dashes": "4000\u20130566\u20135566\u20135556",
    "zero-width spaces": "4000\u200b0566\u200b5566\u200b5556",
    "newlines": "4000\n0566\n5566\n5556",
    "spaces and dashes mixed": "4000 - 0566 - 5566 - 5556",
    "full-width digits": DEBIT.translate(FULL_WIDTH),
    "full-width digits and spaces": "4000\u30000566\u30005566\u30005556".translate(FULL_WIDTH),
    "arabic-indic digits": DEBIT.translate(ARABIC_INDIC),
    "inside text": "my card is 4000 0566 5566 5556 exp 12/30",
    "an email local part": f"{DEBIT}@example.com",
    "a prefixed key": f"key-{DEBIT}",
    "glued to letters": f"tok{DEBIT}x",
    "followed by its expiry and code": "4000 0566 5566 5556 12/30 737",
    "after other numbers": "order 12 34 4000 0566 5566 5556",
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_card_number_in_any_shape_is_found_in_a_value_and_in_a_key(shape: str) -> None:
    assert raw_card_data({"note": shape}) == "body.note"
    assert raw_card_data({"notes": {shape: "x"}}) == "body.notes.<key>"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("my card is 4000 0566 5566 5556 exp 12/30", "4000 0566 5566 5556"),
        (f"mail {DEBIT}@example.com now", DEBIT),
        ("paid with \uff14\uff10\uff10\uff10\u00a0" + "0566 5566 5556!".translate(FULL_WIDTH),
         "\uff14\uff10\uff10\uff10\u00a0" + "0566 5566 5556".translate(FULL_WIDTH)),
    ],
)
def test_the_span_found_runs_from_the_numbers_first_digit_to_its_last(
    text: str, number: str
) -> None:
    (span,) = card_number_spans(text)

    assert text[span[0] : span[1]] == number


def test_a_card_number_as_a_floating_point_number_is_found() -> None:
    assert raw_card_data({"pan": float(DEBIT)}) == "body.pan"


def test_the_location_of_a_card_number_inside_text_never_shows_it() -> None:
    location = raw_card_data({"my card is 4000 0566 5566 5556": {"n": 1}})

    assert location == "body.<key>"


# --- what never is a card number ---------------------------------------------------------------

NEVER_CARDS = {
    "a uuid whose first groups are digits": "40000566-5566-5556-8123-456789012345",
    "a uuid of digits only in a path": "/v1/accounts/12345678-1234-4234-9234-123456789012/x",
    "uuids in a list": "40000566-5566-5556-8123-456789012345, 40000566-5566-5556-8123-456789012346",
    "an instant with fraction and offset": "2027-01-31T09:00:00.123456+01:00",
    "an instant written with a space": "2027-01-31 09:00:00.123456+01:00",
    "instants in a list": "2027-01-31T09:00:00Z, 2027-02-28T09:00:00Z, 2027-03-31T09:00:00Z",
    "dates in a list": "2027-01-31, 2027-02-28, 2027-03-31",
    "an address and a port": "192.168.100.200:8000",
    "forwarded addresses": "203.0.113.254, 198.51.100.17, 192.0.2.141",
    "an ipv6 address": "2001:4860:4860::8888",
    "a hex id": "40000566556655560a1b2c3d4e5f6789",
    "a sha-256": "e3b0c44298fc1c149afbf4c8996fb924" + "27ae41e4649b934ca495991b7852b855",
    "a trace context": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "a card number's digits inside a hex id": f"{DEBIT}abcdef",
    "12 digits": "4000 0566 5566",
    "a 20-digit number": "40000566556655561234",
}


@pytest.mark.parametrize("text", NEVER_CARDS.values(), ids=NEVER_CARDS.keys())
def test_ids_instants_addresses_and_hashes_are_not_card_numbers(text: str) -> None:
    assert not holds_card_number(text)
    assert raw_card_data({"value": text, text: 1}) is None


def test_a_card_number_next_to_an_instant_is_still_found() -> None:
    assert holds_card_number("2027-01-31 4000 0566 5566 5556")
    assert holds_card_number("2027-01-31T09:00:00Z 4000056655665556")


def test_a_card_number_next_to_a_uuid_is_still_found() -> None:
    assert holds_card_number(f"123e4567-e89b-42d3-a456-426614174000 {DEBIT}")


# --- deep documents ----------------------------------------------------------------------------


def nested_lists(depth: int, leaf: object) -> list[object]:
    document: list[object] = []
    innermost = document
    for _ in range(depth - 1):
        inner: list[object] = []
        innermost.append(inner)
        innermost = inner
    innermost.append(leaf)
    return document


def nested_dicts(depth: int, leaf: object) -> dict[str, object]:
    document: dict[str, object] = {}
    innermost = document
    for _ in range(depth - 1):
        inner: dict[str, object] = {}
        innermost["a"] = inner
        innermost = inner
    innermost["a"] = leaf
    return document


def test_card_number_under_100000_levels_of_lists_is_found_without_recursion_error() -> None:
    location = raw_card_data(nested_lists(100_000, VISA))

    assert location == "body" + "[0]" * 100_000


def test_100000_levels_of_dicts_without_card_data_are_scanned_without_recursion_error() -> None:
    assert raw_card_data(nested_dicts(100_000, "nothing here")) is None


# --- the card on file -------------------------------------------------------------------------


def test_card_expires_before_the_first_instant_after_its_expiry_month() -> None:
    assert card(exp_month=2, exp_year=2027).expires_before(at(2027, 3, 1))


def test_card_does_not_expire_before_the_last_day_of_its_expiry_month() -> None:
    assert not card(exp_month=2, exp_year=2027).expires_before(at(2027, 2, 28, 23, 59, 59))


def test_card_expiring_in_december_is_valid_through_new_years_eve() -> None:
    assert not card(exp_month=12, exp_year=2026).expires_before(at(2026, 12, 31, 23, 59, 59))


def test_card_shown_has_brand_last4_and_expiry_only() -> None:
    shown = card(exp_month=4, exp_year=2030).shown()

    assert shown == {"brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2030}
