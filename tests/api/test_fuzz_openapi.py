"""Hostile input over the whole API, driven by its OpenAPI document, on both stores.

Schemathesis generates requests for every operation the app documents — valid ones
and ones that break the schema — with a bearer token holding every scope, and runs
all of its checks on each answer: a documented status code, content type, headers
and body schema; schema-breaking requests refused, valid ones accepted (or refused
for a reason the contract gives: 402, 409, 412, a rule's 422); a request without or
with a wrong token refused. No answer may be a 5xx but the contract's 503s
(``projection-behind``, ``store-unavailable``, ``resource-busy``). Path parameters are
drawn both at random and from a small seeded world (an organisation with a
subscription, a licence request, a contract with an open renewal, a new buyer's
purchase), so commands reach their handlers rather than only 404. Schemathesis'
coverage cases add every method a path does not serve (405 with ``Allow``), each
optional header left out, and bodies of a media type the operation does not take.

A stateful run then walks the document's links (``api.links``): it opens accounts (or
starts a new buyer's purchase), follows the ids the answers carry to the operations
that take them (upgrade, completion, the subscription, its licence requests,
contracts and their renewals), checks every answer on the way and that what was just
created can be found, and must have reached a subscription and a renewal that way.

The same per-operation run sends raw card data: known test card numbers (plain,
spaced, dashed, as numbers, nested, as keys) and security-code keys injected into
generated bodies of every operation that takes one, and explicit cases for every
operation that writes, every path parameter, the query string and a header. Every
one must be refused with 422 ``raw-card-data-refused``. Afterwards every column of
every table (the events' state bytes included) and every log record the service
emitted are scanned: no Luhn-valid 13-19 digit number and no security-code key may
be there.

Generation is derandomized and bounded (per operation, and in scenarios and steps),
so a run is reproducible.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from psycopg import sql
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.meta import CoverageScenario
from schemathesis.generation.stateful.state_machine import normalize_name
from schemathesis.python import asgi

from api.links import TAKES

MAX_BODY = 64 * 1024
ACCOUNT = {"email": "hostile@example.com", "name": "Hal", "username": "hal", "kind": "free"}

POSITIVE_EXAMPLES = 25
"""Generated requests per operation that fit the schema (some with seeded ids, some
with card data injected)."""
NEGATIVE_EXAMPLES = 15
"""Generated requests per operation that break the schema."""

SCENARIOS = 80
"""Stateful scenarios: each starts at one of ``WALKS_START_AT`` and follows links from
the answers."""
STEPS = 40
"""At most this many requests per scenario."""
COVERAGE_SCENARIOS = frozenset(
    {
        CoverageScenario.UNSPECIFIED_HTTP_METHOD,
        CoverageScenario.MISSING_PARAMETER,
        CoverageScenario.MALFORMED_CONTENT_TYPE,
        CoverageScenario.UNSUPPORTED_CONTENT_TYPE,
    }
)
"""The coverage cases sent besides the generated ones (see ``Fuzz.cover``)."""
WALKS_START_AT = ("POST /v1/accounts", "POST /v1/purchases")
"""Where a scenario starts: opening an account, or a new buyer's purchase."""

DOCUMENTED_503 = frozenset(
    {"/problems/projection-behind", "/problems/store-unavailable", "/problems/resource-busy"}
)
"""The server errors the contract gives: a view behind a generated ``min_position``,
the store out of reach, a command's conflicts not settled within its deadline."""

ACCEPTED_VALID_DATA = ["2xx", "401", "402", "403", "404", "409", "412", "422", "503"]
"""What a request that fits the schema may be answered with: the schema cannot say
which ids exist, which state a resource is in, which card is declined, which version
is current, nor every rule (a rule's refusal is 422, as the contract says)."""

CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # Replaced by ``only_documented_server_errors``: the 503s above are answers.
            "not_a_server_error": {"enabled": False},
            "positive_data_acceptance": {"expected-statuses": ACCEPTED_VALID_DATA},
        },
        "phases": {
            "stateful": {
                # The walk follows the document's links only, not ones guessed from
                # names, with valid requests (the per-operation run sends invalid ones):
                # an invalid step creates nothing to go on with.
                "inference": {"algorithms": []},
                "generation": {"mode": "positive"},
            }
        },
    }
)
"""Every check schemathesis has, ``not_a_server_error`` replaced as said above, and the
walk's links."""

HYPOTHESIS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# --- raw card data ------------------------------------------------------------------------

CARD_NUMBERS = (
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    "5555555555554444",
    "3782 822463 10005",
    "4000056655665556",
    "4222222222222",
)
"""Known test card numbers (Visa, Mastercard, Amex, a 13-digit Visa), as people type them."""

SECURITY_CODE_KEYS = ("cvc", "cvv", "cvc2", "cvv2", "security_code", "CVC", "Security_Code")

CARD_VALUES: tuple[Any, ...] = (
    *CARD_NUMBERS,
    4242424242424242,
    5555555555554444,
    {"card": {"number": "4242 4242 4242 4242", "exp_month": 12}},
    ["note", ["4000056655665556"]],
)
"""What an injection puts at some place of a body."""


def card_injections() -> st.SearchStrategy[tuple[str, Any, Any]]:
    """``(how, key, value)``: a card value under a new key, a card value in place of an
    existing value, a security-code key, or a card number as a key."""
    values = st.sampled_from(CARD_VALUES).map(copy.deepcopy)
    return st.one_of(
        st.tuples(st.just("add"), st.sampled_from(("pan", "note", "card_number")), values),
        st.tuples(st.just("replace"), st.none(), values),
        st.tuples(
            st.just("add"), st.sampled_from(SECURITY_CODE_KEYS), st.sampled_from(("123", 737, ""))
        ),
        st.tuples(st.just("add"), st.sampled_from(CARD_NUMBERS), st.just("x")),
    )


def _containers(document: Any) -> list[Any]:
    found = []
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            found.append(value)
            stack.extend(value)
    return found


def inject(body: Any, how: str, key: Any, value: Any, place: int) -> Any:
    """``body`` with card data put into one of its objects or arrays (chosen by
    ``place``); a body that is neither becomes an object holding the card data."""
    containers = _containers(body)
    if not containers:
        body = {}
        containers = [body]
    target = containers[place % len(containers)]
    if isinstance(target, list):
        target.append(value if key is None else {key: value})
    elif how == "replace" and target:
        target[sorted(target)[place % len(target)]] = value
    else:
        target[key if key is not None else "pan"] = value
    return body


# --- the scan --------------------------------------------------------------------------------

CARD_RUN = re.compile(
    r"(?<![0-9A-Za-z.])(?<![0-9A-Za-z]-)\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])(?!-[0-9A-Za-z])"
)
"""13-19 digits, single spaces or dashes allowed between them, standing on their own:
not part of a longer number or word, nor a piece of a dash-joined id (a UUID), nor the
fraction of a decimal number (a duration, a timestamp)."""
SECURITY_CODE_KEY = re.compile(r"""(?i)["']?\b(cvc2?|cvv2?|security_code)\b["']?\s*[:=]""")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_data_in(text: str) -> list[str]:
    """Every Luhn-valid card-like number and every security-code key in ``text``."""
    found = [
        match.group()
        for match in CARD_RUN.finditer(text)
        if luhn_valid(re.sub(r"[ -]", "", match.group()))
    ]
    found += [match.group() for match in SECURITY_CODE_KEY.finditer(text)]
    return found


def _text(value: Any) -> str:
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _sqlite_rows(path: str) -> Iterator[tuple[str, str]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            for row in connection.execute(f"SELECT * FROM {quoted}"):
                for value in row:
                    yield table, _text(value)
    finally:
        connection.close()


def stored_rows(database_url: str) -> Iterator[tuple[str, str]]:
    """``(table, value as text)`` for every value of every row of every table of the
    database (a SQLite file or a PostgreSQL database)."""
    if database_url.startswith("sqlite:///"):
        yield from _sqlite_rows(database_url[len("sqlite:///") :])
        return
    with psycopg.connect(database_url) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            for row in connection.execute(query):
                for value in row:
                    yield f"{schema}.{table}", _text(value)


CLIENT_LOGGERS = (
    "httpx",
    "httpcore",
    "urllib3",
    "requests",
    "charset_normalizer",
    "hypothesis",
    "schemathesis",
)
"""The test's own HTTP clients and generators log the requests they send (card data
included, by design): their records are not the service's logs."""


BOOKKEEPING = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}
"""What every record carries about where and when it was made (thread and process ids,
timestamps): numbers of the machine, not of the request, and long enough to pass the
Luhn check by chance."""


class Captured(logging.Handler):
    """Every record the service emits, as the text a log line could carry: the message,
    any exception, and every field added to the record (``extra``) that a structured
    formatter writes."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_LOGGERS:
            return
        fields = {key: value for key, value in vars(record).items() if key not in BOOKKEEPING}
        text = record.getMessage() + " " + json.dumps(fields, default=str, ensure_ascii=False)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.records.append((record.name, text))


@pytest.fixture
def captured_logs() -> Iterator[Captured]:
    """The root logger at DEBUG with a ``Captured`` handler; the test's own clients are
    quieted to warnings, as their records are not scanned anyway."""
    root = logging.getLogger()
    clients = [logging.getLogger(name) for name in CLIENT_LOGGERS]
    levels = [(logger, logger.level) for logger in [root, *clients]]
    handler = Captured()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for logger in clients:
        logger.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level in levels:
            logger.setLevel(level)


# --- the seeded world --------------------------------------------------------------------------


CONTRACT = {
    "start_date": "2026-05-01",
    "term_months": 12,
    "licences": ["cx"],
    "notice_days": 30,
    "price": {"amount": "12000.00", "currency": "USD"},
    "primary_contact": {"first_name": "Olive", "last_name": "Owner", "email": "o@example.com"},
    "billing_contact": {"first_name": "Bill", "last_name": "Payer", "email": "b@example.com"},
}
"""A contract whose first renewal window is open under the tests' clock (2027-01-31)."""


def seed(hub: Any) -> dict[str, str]:
    """Real ids for every kind of path parameter the API has."""
    subscriber = hub.subscriber()
    sid = subscriber["subscription_id"]
    licence_request = hub.ok(
        hub.post(
            f"/v1/subscriptions/{sid}/licence-requests",
            {
                "name": "Lee Requester",
                "email": "lee@example.com",
                "username": "lee",
                "kind": "add_seats",
                "description": "ten more seats",
            },
        ),
        201,
    )
    contract = hub.ok(
        hub.post(
            "/v1/contracts",
            {**CONTRACT, "organisation_id": subscriber["organisation_id"], "number": 900001},
        ),
        201,
    )
    renewal = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}/renewal"))
    new_buyer = hub.start_new_buyer()
    hub.container.runners["notifications"].catch_up()
    link_tokens = [
        m["data"]["preferences_token"]
        for m in hub.notifications(recipient=subscriber["email"])
        if "preferences_token" in m["data"]
    ]
    assert link_tokens, "the subscriber got no message with a manage-subscriptions link"
    return {
        "account_id": subscriber["account_id"],
        "organisation_id": subscriber["organisation_id"],
        "subscription_id": sid,
        "purchase_id": new_buyer["purchase_id"],
        "licence_request_id": licence_request["licence_request_id"],
        "contract_id": contract["contract_id"],
        "renewal_id": renewal["renewal_id"],
        "link_token": link_tokens[0],
        "name": "notifications",
        "kind": "subscriptions",
        "aggregate_id": sid,
    }


@pytest.fixture
def fuzz_hub(make_container: Callable[..., Any], make_hub: Callable[..., Any]) -> Iterator[Any]:
    """The app on the test's store; reads that wait for a view give up at once, so a
    generated ``min_position`` beyond the head costs no time."""
    yield make_hub(make_container(read_wait_seconds=0.01))
    # The schema's client registered the app (see ``without_lifespan``): let it go.
    asgi.shutdown_lifespans()


# --- the run ---------------------------------------------------------------------------------


def only_documented_server_errors(ctx: Any, response: Any, case: Any) -> None:
    """Schemathesis' ``not_a_server_error``, but for the 503s the document gives."""
    if response.status_code < 500:
        return
    problem_type = None
    if (response.headers.get("content-type") or [""])[0].startswith("application/problem+json"):
        problem_type = response.json().get("type")
    if response.status_code == 503 and problem_type in DOCUMENTED_503:
        return
    raise AssertionError(
        f"{case.operation.label} answered {response.status_code} {problem_type}: "
        f"{response.text[:500]}"
    )


def without_lifespan(app: Any) -> Any:
    """``app`` for schemathesis' own clients: the hub's client runs the app's lifespan
    (its background work), and a check's probe must not start it a second time. An
    app that returns on the lifespan scope is one without lifespan events."""

    async def serve(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)

    return serve


def assert_card_data_refused(response: Any, sent: Any) -> None:
    assert response.status_code == 422, (response.status_code, response.text[:500], sent)
    assert response.json()["type"] == "/problems/raw-card-data-refused", response.text[:500]


class Fuzz:
    def __init__(self, hub: Any, world: dict[str, str] | None = None) -> None:
        self.hub = hub
        self.world = world or {}
        app = hub.client.app
        self.schema = schemathesis.openapi.from_dict(app.openapi(), config=CONFIG)
        self.schema.app = without_lifespan(app)
        self.session = asgi.get_client(self.schema.app)
        self.auth = {"Authorization": f"Bearer {hub.secrets['ops']}"}
        operations = [result.ok() for result in self.schema.get_all_operations()]
        # Operator commands last: moving the clock expires the seeded link, and erasing
        # personal data or rebuilding a view changes what the other operations see.
        self.operations = sorted(operations, key=lambda op: op.label.startswith("POST /v1/ops/"))
        self.start = hub.now()
        self.failures: list[str] = []
        self.injected: set[str] = set()
        """Operations whose generated bodies carried card data (and were refused)."""
        self.refused: set[str] = set()
        """Operations that refused card data in explicit cases."""
        self.contracts = 0
        self.covered: Counter[str] = Counter()

    def call(self, case: Any) -> Any:
        return case.call(session=self.session, headers=self.auth)

    def validate(self, case: Any, response: Any, **context: Any) -> None:
        """Every check of schemathesis on this answer; failures are collected."""
        try:
            case.validate_response(
                response,
                additional_checks=[only_documented_server_errors],
                headers=self.auth,
                transport_kwargs={"session": self.session, "headers": self.auth},
                **context,
            )
        except FailureGroup as failure:
            self.failures.append(f"{case.operation.label}:\n{failure}")

    def as_a_client_would(self, case: Any) -> None:
        """A step of the walk as the calling service sends it. A valid request acts for
        itself (a random ``X-Actor`` is nobody of the organisation, and its 403 ends the
        chain), on the latest version (a generated ``If-Match`` is hardly ever current)
        and without ``Idempotency-Key`` (generated keys repeat, and a repeat is answered
        with the first answer or refused), and the steps that create what the
        chain goes on with carry what the document cannot name: a plan that exists, an
        approved sandbox card, a currency the service knows, a contract number not yet
        used and terms whose renewal window is open."""
        # Read before any change: schemathesis judges a changed case against the schema.
        valid = case.meta is not None and case.meta.generation.mode.is_positive
        dropped = ("x-actor", "idempotency-key", "if-match") if valid else ()
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in dropped}
        case.headers = {**headers, **self.auth}
        if not valid or not isinstance(case.body, dict):
            return
        for container in _containers(case.body):
            if isinstance(container, dict) and "currency" in container:
                container["currency"] = "USD"  # the document gives no list of ISO 4217 codes
        if case.operation.label == "POST /v1/purchases" and "account_id" in case.body:
            case.body.pop("email", None)
            case.body.update(plan="strategic_research", currency="USD")
        elif case.operation.label == "POST /v1/purchases/{purchase_id}/complete":
            case.body.update(self.hub.completion())
        elif case.operation.label == "POST /v1/contracts":
            self.contracts += 1
            case.body.update(copy.deepcopy(CONTRACT), number=800_000 + self.contracts)

    def seeded(self, operation: Any) -> dict[str, str]:
        names = [p.name for p in operation.path_parameters]
        return {name: self.world[name] for name in names if name in self.world}

    def strategy(self, operation: Any, mode: GenerationMode) -> st.SearchStrategy[Any]:
        plain = operation.as_strategy(generation_mode=mode, headers=dict(self.auth))
        seeded = self.seeded(operation)
        if seeded:
            with_ids = operation.as_strategy(
                generation_mode=mode, headers=dict(self.auth), path_parameters=seeded
            )
            plain = st.one_of(with_ids, plain)
        if operation.label == "POST /v1/ops/clock/advance" and mode is GenerationMode.POSITIVE:
            # At most a year and a half ahead: years of renewals are correct but slow.
            plain = st.datetimes(
                min_value=self.start.replace(tzinfo=None),
                max_value=(self.start + timedelta(days=550)).replace(tzinfo=None),
            ).flatmap(
                lambda at: operation.as_strategy(
                    headers=dict(self.auth), body={"to": at.isoformat() + "Z"}
                )
            )
        cases = plain.map(lambda case: (case, None))
        if operation.body and mode is GenerationMode.POSITIVE:
            injected = st.tuples(
                operation.as_strategy(headers=dict(self.auth), path_parameters=seeded or None),
                st.tuples(card_injections(), st.integers(min_value=0, max_value=64)),
            )
            cases = st.one_of(cases, injected)
        return cases

    def run(self, operation: Any, mode: GenerationMode, examples: int) -> None:
        @settings(HYPOTHESIS, max_examples=examples)
        @given(drawn=self.strategy(operation, mode))
        def requests(drawn: tuple[Any, Any]) -> None:
            case, injection = drawn
            if injection is not None:
                (how, key, value), place = injection
                case.body = inject(case.body, how, key, value, place)
                if case.media_type is None:
                    case.media_type = "application/json"
            response = self.call(case)
            if injection is not None:
                try:
                    assert_card_data_refused(response, case.body)
                except AssertionError as failure:
                    self.failures.append(f"{operation.label} (card data):\n{failure}")
                else:
                    self.injected.add(operation.label)
                return
            self.validate(case, response)

        try:
            requests()
        except Unsatisfiable:
            # Negative mode on an operation with nothing to break: only free-form strings.
            assert mode is GenerationMode.NEGATIVE, operation.label

    def cover(self, operation: Any) -> None:
        """Schemathesis' deterministic coverage cases that no generated request makes:
        every method the path does not serve, each optional header left out, and a body
        sent as a media type the operation does not take (or a malformed one)."""
        generation = self.schema.config.generation_for(operation=operation, phase="coverage")
        cases = self.schema.iter_coverage_cases(
            operation,
            generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            generation_config=generation,
        )
        for case in cases:
            if case.meta.phase.data.scenario not in COVERAGE_SCENARIOS:
                continue
            self.covered[case.meta.phase.data.scenario] += 1
            self.validate(case, self.call(case))

    def walk(self, scenarios: int, steps: int) -> Counter[tuple[str, int]]:
        """Stateful scenarios along the document's links; returns how often a link was
        followed with the ids it carries, by ``(link name, status of the answer)``."""
        fuzz = self
        followed: Counter[tuple[str, int]] = Counter()

        machine = self.schema.as_state_machine()

        def before_call(machine: Any, case: Any) -> None:
            fuzz.as_a_client_would(case)

        def call(machine: Any, case: Any, **kwargs: Any) -> Any:
            return fuzz.call(case)

        def validate_response(
            machine: Any, response: Any, case: Any, *args: Any, **kw: Any
        ) -> None:
            fuzz.validate(case, response, recorder=machine.recorder)
            node = machine.recorder.cases.get(case.id)
            if node is not None and node.transition is not None and node.is_transition_applied:
                link = LINK_NAME.search(node.transition.id)
                assert link is not None, node.transition.id
                followed[(link.group(1), response.status_code)] += 1

        # A walk starts where a client starts, with no ids: the machine's other random
        # starts (an operation on a made-up id) answer 404 and only spend steps.
        starts = {normalize_name(f"RANDOM -> {label}"): label for label in WALKS_START_AT}
        assert starts.keys() <= machine.root_rules, (starts, machine.root_rules)
        Walk = type(
            "Walk",
            (machine,),
            {
                "before_call": before_call,
                "call": call,
                "validate_response": validate_response,
                "root_rules": frozenset(machine.root_rules & starts.keys()),
                "_root_labels": frozenset(starts.values()),
                **{name: None for name in machine.root_rules - starts.keys()},
            },
        )
        Walk.run(
            settings=settings(
                HYPOTHESIS,
                max_examples=scenarios,
                stateful_step_count=steps,
                suppress_health_check=list(HealthCheck),
            )
        )
        return followed

    def explicit_card_cases(self) -> None:
        """Every writing operation with card data in its body, every path parameter as a
        card number, a security code in every query string and a card number in a header."""
        for operation in self.operations:
            label = operation.label
            method = operation.method.upper()
            path = operation.path.format(**{**self._filled(operation), **self.seeded(operation)})
            headers = dict(self.auth, **{"Content-Type": "application/json"})
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                for index, value in enumerate(CARD_VALUES):
                    body = (
                        {"pan": value} if index % 2 else {"payment_token": "tok", "extra": [value]}
                    )
                    self._expect_refused(label, method, path, headers, body=body)
                for key in SECURITY_CODE_KEYS:
                    self._expect_refused(label, method, path, headers, body={"card": {key: "123"}})
            for name in self._filled(operation):
                for number in CARD_NUMBERS[:3]:
                    values = {**self._filled(operation), **self.seeded(operation), name: number}
                    self._expect_refused(label, method, operation.path.format(**values), headers)
            self._expect_refused(label, method, path, headers, params={"cvc": "123"})
            self._expect_refused(label, method, path, headers, params={"q": "4242 4242 4242 4242"})
            self._expect_refused(
                label, method, path, {**headers, "X-Correlation-Id": "4242-4242-4242-4242"}
            )

    @staticmethod
    def _filled(operation: Any) -> dict[str, str]:
        return {p.name: "x" for p in operation.path_parameters}

    def _expect_refused(
        self, label: str, method: str, path: str, headers: dict[str, str], **kw: Any
    ) -> None:
        body = kw.pop("body", None)
        response = self.hub.client.request(
            method, path, headers=headers, content=None if body is None else json.dumps(body), **kw
        )
        try:
            sent = (method, path, body, kw, headers.get("X-Correlation-Id"))
            assert_card_data_refused(response, sent)
        except AssertionError as failure:
            self.failures.append(f"{label}: {failure}")
        else:
            self.refused.add(label)


def test_every_operation_answers_as_documented_refuses_card_data_and_leaks_none(
    fuzz_hub: Any, captured_logs: Captured
) -> None:
    hub = fuzz_hub
    fuzz = Fuzz(hub, seed(hub))
    assert len(fuzz.operations) >= 50, [op.label for op in fuzz.operations]

    for operation in fuzz.operations:
        fuzz.cover(operation)
        fuzz.run(operation, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
        fuzz.run(operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
    fuzz.explicit_card_cases()

    assert not fuzz.failures, "\n\n".join(fuzz.failures)
    assert set(fuzz.covered) == COVERAGE_SCENARIOS, fuzz.covered
    labels = {operation.label for operation in fuzz.operations}
    assert fuzz.refused == labels
    assert fuzz.injected == {operation.label for operation in fuzz.operations if operation.body}

    # The views have followed everything the run wrote, and one of them has been
    # rebuilt from the log, so their rows are part of the scan.
    rebuilder = hub.container.rebuilder("profiles")
    rebuilder.start()
    rebuilder.join(timeout=120)
    for runner in hub.container.runners.values():
        runner.catch_up()
    marker = "scan-marker-5f3a"
    hub.ok(hub.post("/v1/accounts", ACCOUNT, headers={"X-Correlation-Id": marker}), 201)

    stored = list(stored_rows(hub.container.settings.database_url))
    # The events as the service reads them too, in case the stored ones are encrypted.
    stored += [("events", _text(vars(event))) for event in hub.events_after(0)]
    assert any(marker in text for table, text in stored if table != "events"), (
        "the scan of the tables does not see the events' metadata"
    )
    leaks = [(table, found) for table, text in stored for found in card_data_in(text)]
    assert not leaks, leaks[:20]

    service_records = [name for name, _ in captured_logs.records if name.startswith("lifecycle")]
    assert service_records, "no record of the service was captured: the log scan saw nothing"
    logged = [(name, found) for name, text in captured_logs.records for found in card_data_in(text)]
    assert not logged, logged[:20]


LINK_NAME = re.compile(r"\] (\S+) -> ")
"""The link's name in schemathesis' name of a transition (``A -> [201] name -> B``)."""

REACHED_BY_LINKS = frozenset(
    {"account", "organisation", "purchase", "subscription", "contract", "renewal"}
)
"""Kinds of resource an operation of which must have answered 2xx to a walk's step
that followed a link (``api.links.TAKES``): from a new account to its upgrade's
subscription, and to its contract's renewal."""


def test_walks_along_the_documented_links_answer_as_documented_and_reach_deep_resources(
    fuzz_hub: Any,
) -> None:
    fuzz = Fuzz(fuzz_hub)

    followed = fuzz.walk(SCENARIOS, STEPS)

    assert not fuzz.failures, "\n\n".join(fuzz.failures)
    succeeded = {name for (name, status) in followed if 200 <= status < 300}
    reached = {kind for kind, takes in TAKES.items() if succeeded & {t.name for t in takes}}
    assert reached >= REACHED_BY_LINKS, (
        sorted(REACHED_BY_LINKS - reached),
        sorted(followed.items()),
    )


def test_the_scan_finds_card_numbers_and_security_codes_and_ignores_ids_and_hashes() -> None:
    found = [
        'note: "4242 4242 4242 4242"',
        "pan=4242-4242-4242-4242;",
        '{"n": 5555555555554444}',
        '"card": {"CVC": "123"}',
        "{'security_code': ''}",
        "paid with 378282246310005 today",
    ]
    ignored = [
        "1f1937d2-fb5e-594d-9f31-891a1052dde7",
        "12345678-1234-1234-1234-123456789012",
        "4242424242424243",  # fails the Luhn check
        "1732245123.4242424242424242",
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits
        "a4242424242424242",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "2027-01-31T09:00:00.000000+00:00",
        "never a card number or security code (found at body.cvc)",
    ]

    for text in found:
        assert card_data_in(text), text
    for text in ignored:
        assert not card_data_in(text), text


def test_card_data_in_a_header_the_path_or_the_query_is_refused_and_not_recorded(hub):
    """The idempotency key and the correlation id are stored with every event, and
    paths and queries reach the logs: the body's rule holds for them too."""
    opened = hub.open_account()
    head = hub.head()
    body = {**ACCOUNT, "username": "headers"}

    refused = [
        hub.post("/v1/accounts", body, headers={"X-Correlation-Id": "4242 4242 4242 4242"}),
        hub.post("/v1/accounts", body, key="5555-5555-5555-4444"),
        hub.patch(
            f"/v1/accounts/{opened['account_id']}",
            {"name": "N"},
            headers={"X-Actor": "4242424242424242"},
        ),
        hub.get("/v1/accounts/4242424242424242"),
        hub.get("/v1/ops/notifications", token="ops", params={"recipient": "4000056655665556"}),
        hub.get("/v1/plans", params={"cvc": "123"}),
    ]

    for response in refused:
        problem = hub.problem(response, 422, "raw-card-data-refused")
        assert not card_data_in(json.dumps(problem)), problem
    assert hub.head() == head
    hub.ok(hub.post("/v1/accounts", body, headers={"X-Correlation-Id": "corr-1"}), 201)
    assert {e.meta["correlation_id"] for e in hub.events_after(head)} == {"corr-1"}


# --- bodies built to exhaust memory --------------------------------------------------------------


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the request guard hands to the JSON parser."""
    import api.guard

    texts: list[str] = []
    real = api.guard.json

    class Spy:
        @staticmethod
        def loads(text: str, **kwargs: Any) -> Any:
            texts.append(text)
            return real.loads(text, **kwargs)

    monkeypatch.setattr(api.guard, "json", Spy)
    return texts


def post_raw(hub: Any, content: Any, path: str = "/v1/accounts") -> Any:
    headers = {**hub.headers(), "Content-Type": "application/json"}
    return hub.client.post(path, content=content, headers=headers)


def test_a_hundred_thousand_levels_of_nesting_are_refused_without_being_read_whole(hub, parsed):
    deep = b"[" * 100_000
    head = hub.head()

    declared = post_raw(hub, deep)
    streamed = post_raw(hub, (deep[i : i + 4096] for i in range(0, len(deep), 4096)))

    hub.problem(declared, 413, "payload-too-large")
    hub.problem(streamed, 413, "payload-too-large")
    assert parsed == []
    assert hub.head() == head


def test_deep_nesting_under_the_size_limit_is_refused_before_it_is_parsed(hub, parsed):
    bodies = [
        "[" * 60_000,
        "[" * 30_000 + "]" * 30_000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        json.dumps({**ACCOUNT, "extra": json.loads("[" * 32 + "]" * 32)}),
    ]
    head = hub.head()

    for body in bodies:
        assert len(body.encode()) <= MAX_BODY

        problem = hub.problem(post_raw(hub, body.encode()), 422, "invalid-request")

        assert "nested deeper than 32" in problem["detail"], body[:40]
    assert parsed == []
    assert hub.head() == head


def test_nesting_up_to_the_limit_reaches_the_model_and_brackets_in_text_do_not_count(hub, parsed):
    at_limit = {**ACCOUNT, "extra": json.loads("[" * 31 + "]" * 31)}
    bracketed = {**ACCOUNT, "username": "brackets", "name": '"\\' + "[{" * 60}

    refused = hub.problem(post_raw(hub, json.dumps(at_limit).encode()), 422, "invalid-request")
    created = hub.ok(post_raw(hub, json.dumps(bracketed).encode()), 201)

    assert [e["loc"] for e in refused["errors"]] == [["body", "extra"]]
    assert hub.account(created["account_id"])["name"] == bracketed["name"]
    assert len(parsed) == 2


def test_large_bodies_under_the_limit_are_answered_as_invalid_requests(hub):
    head = hub.head()
    wide = "[" + ",".join(["{}"] * 21_000) + "]"
    long_text = json.dumps({**ACCOUNT, "name": "x" * 64_000})
    long_number = '{"responses": ' + "9" * 64_000 + "}"

    for body in (wide, long_text, long_number):
        assert MAX_BODY - 5_000 < len(body) <= MAX_BODY

        hub.problem(post_raw(hub, body.encode()), 422, "invalid-request")
    assert hub.head() == head


LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(alphabet=st.sampled_from('[]{}"\\ a\u00e9'))
)
DOCUMENTS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(alphabet=st.sampled_from('[]{}"\\a')), inner, max_size=3),
    ),
    max_leaves=40,
)


def _depth(document: Any) -> int:
    if isinstance(document, dict):
        return 1 + max(map(_depth, document.values()), default=0)
    if isinstance(document, list):
        return 1 + max(map(_depth, document), default=0)
    return 0


@settings(max_examples=300, derandomize=True, database=None)
@given(document=DOCUMENTS, limit=st.integers(min_value=0, max_value=6), ascii_only=st.booleans())
def test_the_bracket_scan_measures_the_depth_the_parser_would_build(document, limit, ascii_only):
    from api.guard import nesting_exceeds

    text = json.dumps(document, ensure_ascii=ascii_only)

    assert nesting_exceeds(text, limit) == (_depth(document) > limit)
