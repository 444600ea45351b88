"""R17: the service keeps brand, last four and expiry, and refuses raw card data."""

from __future__ import annotations

import pytest
from given import at, card

from lifecycle.cards import raw_card_data

VISA = "4111111111111111"
"""A Luhn-valid 16-digit test number."""


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


def test_number_embedded_in_longer_text_is_not_a_card_number() -> None:
    assert raw_card_data({"note": f"order {VISA}"}) is None


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
