"""The guard in front of every command: body size, media type, validation problems,
never a 500, and raw card data refused before anything is stored."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from api.logs import log_handler

MAX_BODY = 64 * 1024

VISA = "4242424242424242"
"""A card number (16 digits, passes Luhn)."""


def account_body(**overrides):
    body = {"email": "guarded@example.com", "name": "Gia", "username": "gia", "kind": "free"}
    body.update(overrides)
    return body


def raw_post(hub, path, content: bytes, content_type: str | None = "application/json", **kw):
    headers = hub.headers(**kw)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return hub.client.post(path, content=content, headers=headers)


# --- size and media type ----------------------------------------------------------------


def test_a_body_over_64_kib_is_413_payload_too_large_and_records_nothing(hub):
    head = hub.head()
    body = json.dumps(account_body(name="x" * MAX_BODY)).encode()
    assert len(body) > MAX_BODY

    response = raw_post(hub, "/v1/accounts", body)

    hub.problem(response, 413, "payload-too-large")
    assert hub.head() == head


def test_the_limit_is_exactly_64_kib(hub):
    valid = json.dumps(account_body()).encode()
    at_limit = valid + b" " * (MAX_BODY - len(valid))
    over_limit = at_limit + b" "

    accepted = raw_post(hub, "/v1/accounts", at_limit)
    refused = raw_post(hub, "/v1/accounts", over_limit)

    assert accepted.status_code == 201, accepted.text
    hub.problem(refused, 413, "payload-too-large")


def test_a_non_json_body_is_415_unsupported_media_type_and_records_nothing(hub):
    head = hub.head()
    bodies = [
        (b"email=a@example.com&kind=free", "text/plain"),
        (b"email=a%40example.com&kind=free", "application/x-www-form-urlencoded"),
        (b'{"email": "a@example.com", ', "application/json"),
        (b"\xff\xfe not json", "application/json"),
    ]

    for content, content_type in bodies:
        response = raw_post(hub, "/v1/accounts", content, content_type)

        hub.problem(response, 415, "unsupported-media-type")
    assert hub.head() == head


def test_commands_that_need_no_body_accept_an_empty_one_with_any_or_no_content_type(hub):
    done = hub.subscriber()
    path = f"/v1/subscriptions/{done['subscription_id']}"

    for content_type in (None, "text/plain", "application/json", "application/octet-stream"):
        cancelled = raw_post(hub, f"{path}/cancel-renewal", b"", content_type)
        resumed = raw_post(hub, f"{path}/resume-renewal", b"", content_type)
        headers = hub.headers()
        if content_type is not None:
            headers["Content-Type"] = content_type
        removed = hub.client.request("DELETE", f"{path}/card", content=b"", headers=headers)

        assert hub.ok(cancelled)["status"] == "non_renewing", content_type
        assert hub.ok(resumed)["status"] == "active", content_type
        assert hub.ok(removed)["card"] is None, content_type
        hub.ok(hub.put(f"{path}/card", {"payment_token": "tok_visa"}))


# --- validation --------------------------------------------------------------------------


def test_a_body_that_breaks_the_schema_is_422_invalid_request_listing_each_error(hub):
    head = hub.head()

    response = hub.post("/v1/accounts", {"email": "not-an-email", "kind": "gold", "username": "u"})

    problem = hub.problem(response, 422, "invalid-request")
    locations = {tuple(error["loc"]) for error in problem["errors"]}
    assert {("body", "email"), ("body", "kind"), ("body", "name")} <= locations
    assert all(isinstance(error["msg"], str) and error["msg"] for error in problem["errors"])
    assert hub.head() == head


def test_a_body_that_is_not_the_object_a_command_needs_is_422_invalid_request(hub):
    for content, content_type in ((b"[]", "application/json"), (b"null", "application/json"), (b"", None)):
        response = raw_post(hub, "/v1/accounts", content, content_type)

        problem = hub.problem(response, 422, "invalid-request")
        assert problem["errors"], content


def test_json_nested_beyond_reason_is_refused_without_a_500(hub):
    deep = "[" * 5000 + "]" * 5000

    response = raw_post(hub, "/v1/accounts", deep.encode())

    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_odd_headers_never_cause_a_500(hub):
    opened = hub.open_account()
    odd = [
        {"If-Match": "not-a-version"},
        {"If-Match": '"-1"'},
        {"If-Match": '"99999999999999999999999999"'},
        {"X-Actor": "user:not-a-uuid-at-all-but-36-chars-long!"},
        {"X-Actor": "user:"},
        {"X-Actor": "user:" + "0" * 36},
        {"X-Actor": "user:" + "-" * 36},
        {"Idempotency-Key": "k" * 300},
        {"X-Correlation-Id": "c" * 300},
    ]

    for headers in odd:
        response = hub.patch(f"/v1/accounts/{opened['account_id']}", {"name": "Odd"}, headers=headers)

        assert response.status_code < 500, (headers, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")


def test_odd_values_are_refused_as_invalid_requests_and_count_nothing(hub):
    done = hub.subscriber()
    path = f"/v1/subscriptions/{done['subscription_id']}/usage"
    head = hub.head()
    odd = [
        '{"responses": Infinity}',
        '{"responses": NaN}',
        '{"responses": 1e400}',
        '{"responses": 1' + "0" * 40 + "}",
        '{"responses": -1}',
        '{"responses": 1, "seats": null}',
        '{"responses": [1], "seats": {"a": 1}}',
        '{"responses": 1, "responses": "many"}',
    ]

    for text in odd:
        response = raw_post(hub, path, text.encode())

        hub.problem(response, 422, "invalid-request")
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["usage"] == {"responses": 0, "seats": 0}


def test_unknown_routes_and_methods_are_answered_as_problems(hub):
    hub.problem(hub.get("/v1/nothing-here"), 404, "not-found")
    response = hub.get("/v1/accounts")

    assert response.status_code == 405, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


# --- raw card data --------------------------------------------------------------------------


CARD_BODIES = {
    "plain": lambda: account_body(name=VISA),
    "spaced": lambda: account_body(name="4242 4242 4242 4242"),
    "dashed": lambda: account_body(username="4242-4242-4242-4242"),
    "amex-15": lambda: account_body(name="378282246310005"),
    "visa-13": lambda: account_body(name="4222222222222"),
    "19-digits": lambda: account_body(name=LUHN_19),
    "number": lambda: account_body(extra={"card": int(VISA)}),
    "nested-list": lambda: account_body(notes=[{"deep": [["x", {"pan": "5555 5555 5555 4444"}]]}]),
    "as-key": lambda: account_body(meta={VISA: "yes"}),
}


def _luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        candidate = prefix + check
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("no check digit")


LUHN_19 = _luhn_complete("424242424242424242")
LUHN_12 = _luhn_complete("42424242424")
LUHN_20 = _luhn_complete("4242424242424242424")
NOT_LUHN_16 = VISA[:-1] + str((int(VISA[-1]) + 1) % 10)


def _digits_in(body) -> list[str]:
    found = []

    def walk(value):
        if isinstance(value, dict):
            for key, child in value.items():
                walk(key)
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            digits = str(value).replace(" ", "").replace("-", "")
            if digits.isdigit() and len(digits) >= 13:
                found.append(digits)

    walk(body)
    return found


def test_a_card_number_anywhere_in_the_body_is_refused_and_nothing_is_stored(hub):
    head = hub.head()
    refused_digits = []

    for case, make in CARD_BODIES.items():
        body = make()
        digits = _digits_in(body)
        assert digits, case

        response = hub.post("/v1/accounts", body, key=f"card-{case}")

        problem = hub.problem(response, 422, "raw-card-data-refused")
        for number in digits:
            assert number not in json.dumps(problem), case
        refused_digits += digits
    assert hub.head() == head
    hub.assert_not_stored(*refused_digits, "guarded@example.com")


def test_a_security_code_key_at_any_depth_is_refused(hub):
    done = hub.subscriber()
    head = hub.head()

    for key in ("cvc", "cvv", "cvc2", "cvv2", "security_code"):
        for body in (
            {"payment_token": "tok_mastercard", key: "737"},
            {"payment_token": "tok_mastercard", key: ""},
            {"payment_token": "tok_mastercard", key.upper(): "737"},
            {"payment_token": "tok_mastercard", "extra": [{"card": {key: "737"}}]},
        ):
            response = hub.put(f"/v1/subscriptions/{done['subscription_id']}/card", body)

            hub.problem(response, 422, "raw-card-data-refused")
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["card"]["last4"] == "4242"


def test_a_card_number_as_the_payment_token_is_refused_and_the_card_on_file_is_kept(hub):
    done = hub.subscriber()
    head = hub.head()

    response = hub.put(f"/v1/subscriptions/{done['subscription_id']}/card", {"payment_token": VISA})

    hub.problem(response, 422, "raw-card-data-refused")
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["card"]["last4"] == "4242"
    hub.assert_not_stored(VISA)


def test_card_data_is_refused_on_patch_and_delete_too(hub):
    opened = hub.open_account()
    done = hub.subscriber()
    head = hub.head()

    patched = hub.patch(f"/v1/accounts/{opened['account_id']}", {"name": "5555-5555-5555-4444"})
    deleted = hub.request(
        "DELETE", f"/v1/subscriptions/{done['subscription_id']}/card", {"cvc2": "123"}
    )

    hub.problem(patched, 422, "raw-card-data-refused")
    hub.problem(deleted, 422, "raw-card-data-refused")
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["card"] is not None
    hub.assert_not_stored("5555555555554444", "5555-5555-5555-4444")


def test_card_data_in_a_purchase_completion_creates_nothing_and_charges_nothing(hub):
    started = hub.verified_new_buyer()
    head = hub.head()
    body = hub.completion(new_buyer=True)
    body["billing_address"]["line2"] = "4242 4242 4242 4242"

    response = hub.complete(started["purchase_id"], body)

    hub.problem(response, 422, "raw-card-data-refused")
    assert hub.head() == head
    assert hub.container.services.gateway.charges() == []
    assert hub.ok(hub.get(f"/v1/purchases/{started['purchase_id']}"))["status"] == "open"


def test_digits_that_are_not_a_card_number_are_accepted(hub):
    for value in (NOT_LUHN_16, LUHN_12, LUHN_20, "4242 4242 4242 4243 x", "call 555 0100 x12"):
        response = hub.post("/v1/accounts", account_body(username=value))

        opened = hub.ok(response, 201)
        assert hub.account(opened["account_id"])["username"] == value


# --- card numbers in other shapes -------------------------------------------------------------

DEBIT = "4000056655665556"
"""A card number (16 digits, passes Luhn)."""
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))

SHAPES = {
    "no-break spaces": "4000\u00a00566\u00a05566\u00a05556",
    "tabs": "4000\t0566\t5566\t5556",
    "dots": "4000.0566.5566.5556",
    "underscores": "4000_0566_5566_5556",
    "slashes": "4000/0566/5566/5556",
    "en dashes": "4000\u20130566\u20135566\u20135556",
    "zero-width spaces": "4000\u200b0566\u200b5566\u200b5556",
    "newlines": "4000\n0566\n5566\n5556",
    "full-width digits": DEBIT.translate(FULL_WIDTH),
    "inside text": "my card is 4000 0566 5566 5556 exp 12/30",
    "an email local part": f"{DEBIT}@example.com",
    "a prefixed key": f"key-{DEBIT}",
}
"""A card number as it was accepted and stored before: other separators, other digits,
inside text, in an email address, behind a prefix."""


class LogLines:
    """What the service logged: every record as emitted (before redaction) and every
    line an operator reads (redacted, with the request's ids)."""

    def __init__(self) -> None:
        self.raw: list[str] = []
        self.written = io.StringIO()

    def texts(self) -> list[str]:
        lines = [json.loads(line) for line in self.written.getvalue().splitlines()]
        return self.raw + [json.dumps(line, ensure_ascii=False, default=str) for line in lines]

    def assert_never_logged(self, *needles: str) -> None:
        texts = self.texts()
        assert any("lifecycle.access" in text for text in texts), "the access log was not seen"
        for needle in needles:
            for text in texts:
                assert needle not in text, f"{needle!r} was logged: {text}"


STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}
CLIENT_LOGGERS = ("httpx", "httpcore")
"""The test's own HTTP client, which logs every URL it requests."""


@pytest.fixture
def logs() -> Iterator[LogLines]:
    captured = LogLines()

    class Raw(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not record.name.startswith(CLIENT_LOGGERS):
                extra = {k: v for k, v in vars(record).items() if k not in STANDARD}
                captured.raw.append(f"{record.name} {record.getMessage()} {extra!r}")

    written = log_handler(captured.written)
    written.addFilter(lambda record: not record.name.startswith(CLIENT_LOGGERS))
    root = logging.getLogger()
    level = root.level
    handlers = [Raw(logging.DEBUG), written]
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(level)


def test_a_card_number_in_any_shape_anywhere_in_a_body_is_refused_and_neither_stored_nor_logged(
    hub, logs
):
    head = hub.head()

    for name, shape in SHAPES.items():
        for body in (
            account_body(name=shape),
            account_body(meta={shape: "yes"}),
            account_body(notes=[{"deep": [f"see {shape} please"]}]),
        ):
            response = hub.post("/v1/accounts", body)

            problem = hub.problem(response, 422, "raw-card-data-refused")
            assert shape not in problem["detail"] and DEBIT not in problem["detail"], name
    for number in (int(DEBIT), float(DEBIT)):
        response = hub.post("/v1/accounts", account_body(extra=number))

        hub.problem(response, 422, "raw-card-data-refused")
    assert hub.head() == head
    hub.assert_not_stored(DEBIT, *SHAPES.values(), "guarded@example.com")
    logs.assert_never_logged(DEBIT, *SHAPES.values())


def test_a_licence_request_describing_a_card_number_in_text_is_refused_and_no_message_is_sent(hub):
    done = hub.subscriber()
    head = hub.head()
    description = "my card is 4000 0566 5566 5556 exp 12/30, please charge the extra seats to it"

    response = hub.post(
        f"/v1/subscriptions/{done['subscription_id']}/licence-requests",
        {
            "name": "Lee",
            "email": "lee@example.com",
            "username": "lee",
            "kind": "add_seats",
            "description": description,
        },
    )

    problem = hub.problem(response, 422, "raw-card-data-refused")
    assert problem["detail"].endswith("(found at body.description)")
    assert hub.head() == head
    assert hub.notifications("lee@example.com") == []
    hub.assert_not_stored(DEBIT, "4000 0566 5566 5556", "please charge the extra seats")


def test_a_card_number_in_any_shape_in_the_path_the_query_or_a_header_is_refused_and_not_kept(
    hub, logs
):
    done = hub.subscriber()
    subscription = f"/v1/subscriptions/{done['subscription_id']}"
    head = hub.head()
    body = account_body(username="shapes")

    for name, shape in SHAPES.items():
        in_path = quote(shape, safe="/")
        places = {
            "the path": [
                hub.get(f"/v1/accounts/{in_path}"),
                hub.post(f"/v1/subscriptions/{in_path}/cancel-renewal"),
            ],
            "the query string": [
                hub.get("/v1/plans", params={"q": shape}),
                hub.get("/v1/plans", params={shape: "1"}),
            ],
        }
        if "\n" not in shape:  # a line break cannot be sent in a header
            sent = shape.encode()
            places["the x-correlation-id header"] = [
                hub.post("/v1/accounts", body, headers={"X-Correlation-Id": sent}),
                hub.get(subscription, headers={"X-Correlation-Id": sent}),
            ]
            places["the idempotency-key header"] = [
                hub.post("/v1/accounts", body, headers={"Idempotency-Key": sent}),
                hub.post(f"{subscription}/cancel-renewal", headers={"Idempotency-Key": sent}),
            ]
        for place, responses in places.items():
            for response in responses:
                problem = hub.problem(response, 422, "raw-card-data-refused")
                assert problem["detail"].endswith(f"(found in {place})"), (name, problem)
                assert DEBIT not in problem["detail"], name
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["status"] == "active"
    hub.assert_not_stored(DEBIT, *SHAPES.values())
    logs.assert_never_logged(DEBIT, *SHAPES.values())


def test_ids_instants_and_addresses_that_form_long_digit_runs_are_accepted(hub):
    digit_uuid = "40000566-5566-5556-8123-456789012345"
    instant = "2027-01-31T09:00:00.123456+01:00"
    name = f"Ada (ref {digit_uuid}, since {instant} and 2027-01-31 09:00:00.123456+01:00)"
    headers = {
        "X-Correlation-Id": f"{digit_uuid}:2027-01-31T09:00:00Z",
        "Idempotency-Key": "40000566556655560a1b2c3d4e5f6789",
        "X-Forwarded-For": "203.0.113.254, 198.51.100.17",
        "Host": "192.168.100.200:8000",
    }

    opened = hub.ok(hub.post("/v1/accounts", account_body(name=name), headers=headers), 201)

    assert hub.account(opened["account_id"])["name"] == name
    for ip in ("192.168.100.200", "2001:4860:4860::8888"):
        response = hub.get("/v1/datacenters", params={"ip": ip})
        assert response.status_code == 200, (ip, response.text)
    done = hub.subscriber()
    as_of = {"as_of": "2099-01-31T09:00:00.123456+01:00"}
    audit = f"/v1/audit/subscriptions/{done['subscription_id']}"
    hub.ok(hub.get(audit, token="audit", params=as_of))


def test_a_chunked_body_over_64_kib_is_413_payload_too_large(hub):
    head = hub.head()

    def chunks():
        yield b'{"email": "chunk@example.com", "name": "'
        for _ in range(65):
            yield b"x" * 1024
        yield b'", "username": "chunk", "kind": "free"}'

    response = hub.client.post(
        "/v1/accounts", content=chunks(), headers={**hub.headers(), "Content-Type": "application/json"}
    )

    hub.problem(response, 413, "payload-too-large")
    assert hub.head() == head


def test_text_beyond_ascii_is_kept_as_sent(hub):
    opened = hub.open_account(name="Zoë Ångström 山田 🚀")

    assert hub.account(opened["account_id"])["name"] == "Zoë Ångström 山田 🚀"


def test_a_nul_character_in_any_text_is_422_invalid_request_and_the_views_stay_live(hub):
    done = hub.subscriber()
    head = hub.head()
    bodies = [
        ("/v1/accounts", {"email": "n@example.com", "name": "a\u0000b", "username": "n", "kind": "free"}),
        ("/v1/purchases", {"plan": "strategic_research", "email": "a\u0000b@example.com"}),
        (
            f"/v1/subscriptions/{done['subscription_id']}/licence-requests",
            {"name": "L", "email": "l@example.com", "username": "l", "kind": "other", "description": "x\u0000y"},
        ),
    ]

    for path, body in bodies:
        problem = hub.problem(hub.post(path, body), 422, "invalid-request")
        assert problem["errors"], path
    assert hub.head() == head
    later = hub.start_new_buyer()
    assert [m["kind"] for m in hub.notifications(later["email"], min_position=later["position"])] == [
        "email_verification"
    ]
    assert hub.ok(hub.get("/health", token=None))["status"] == "ok"


def test_a_json_body_may_name_its_charset_or_a_json_suffix_type(hub):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        body = json.dumps(account_body(username=f"u{len(content_type)}")).encode()

        response = raw_post(hub, "/v1/accounts", body, content_type)

        assert response.status_code == 201, (content_type, response.text)


def test_a_query_parameter_given_twice_is_422_invalid_request_naming_it(hub):
    once = hub.get("/v1/datacenters?ip=203.0.113.9")
    twice = hub.get("/v1/datacenters?ip=203.0.113.9&ip=198.51.100.7")

    assert once.status_code == 200
    body = hub.problem(twice, 422, "invalid-request")
    assert "'ip'" in body["detail"]
    assert body["errors"] == [{"loc": ["query", "ip"], "msg": "given more than once"}]


def test_a_body_cut_off_by_a_disconnect_never_reaches_a_handler():
    import asyncio

    from api.auth import TokenRegistry
    from api.guard import CLIENT_GONE_KEY, RequestGuard
    from api.settings import ApiToken

    reached, sent = [], []

    async def handler(scope, receive, send):
        reached.append(await receive())

    guard = RequestGuard(handler, TokenRegistry([ApiToken("t", "secret-0123456789", frozenset({"commands"}))]))
    arriving = iter(
        [
            {"type": "http.request", "body": b'{"responses": 1', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive():
        return next(arriving)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/subscriptions/x/usage",
        "query_string": b"",
        "headers": [
            (b"authorization", b"Bearer secret-0123456789"),
            (b"content-type", b"application/json"),
        ],
    }
    asyncio.run(guard(scope, receive, send))

    assert reached == [] and sent == []
    assert scope["state"][CLIENT_GONE_KEY] is True
