"""Every problem type leads somewhere: one title per type, a page at its address, and
the list in the docs, all from one catalogue."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest

from api.problem_types import CATALOGUE, markdown
from lifecycle.errors import (
    Conflict,
    DomainError,
    NotFound,
    NotPermitted,
    PaymentRefused,
    Rejected,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "src"


def every_module() -> None:
    for package in ("lifecycle", "commands", "projections", "api"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            importlib.import_module(info.name)


def subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | subclasses(sub)
    return found


FAMILY_STATUS: tuple[tuple[type[DomainError], set[int]], ...] = (
    (NotFound, {404}),
    (PaymentRefused, {402}),
    (NotPermitted, {401, 403}),
    (Rejected, {422}),
    (Conflict, {409, 412}),
)
"""What each family of domain errors means in HTTP; a slug in the catalogue says which."""


def test_every_domain_error_names_a_problem_type_whose_status_fits_its_family() -> None:
    every_module()

    for error in subclasses(DomainError):
        assert error.slug in CATALOGUE, f"{error.__qualname__}: {error.slug} is not catalogued"
        for family, statuses in FAMILY_STATUS:
            if issubclass(error, family):
                assert CATALOGUE[error.slug].status in statuses, error
                break


def test_every_problem_the_code_answers_is_catalogued() -> None:
    written = set()
    for path in SOURCES.rglob("*.py"):
        text = path.read_text()
        written |= set(re.findall(r'\bproblem\(\s*"([a-z-]+)"', text))
        written |= set(re.findall(r'^\s+slug = "([a-z-]+)"', text, re.MULTILINE))

    assert written, "the scan finds nothing"
    assert written <= set(CATALOGUE), written - set(CATALOGUE)


def test_each_type_has_a_title_a_meaning_and_a_remedy() -> None:
    for kind in CATALOGUE.values():
        assert kind.title and kind.meaning and kind.remedy, kind.slug
        assert kind.type == f"/problems/{kind.slug}"


def test_every_problem_types_page_answers_without_a_token(hub: Any) -> None:
    for kind in CATALOGUE.values():
        page = hub.client.get(kind.type)

        assert page.status_code == 200, kind.slug
        assert page.headers["content-type"].startswith("text/html")
        assert kind.title.replace("'", "&#x27;") in page.text
        assert "What to do" in page.text


def test_the_list_of_problem_types_links_each_page(hub: Any) -> None:
    listed = hub.client.get("/problems")

    assert listed.status_code == 200
    assert set(re.findall(r'href="/problems/([a-z-]+)"', listed.text)) == set(CATALOGUE)


def test_an_unknown_problem_type_is_not_found(hub: Any) -> None:
    hub.problem(hub.client.get("/problems/no-such-type"), 404, "not-found")


def test_the_docs_list_every_problem_type_as_the_catalogue_says() -> None:
    assert (ROOT / "docs" / "problems.md").read_text() == markdown()


@pytest.mark.parametrize(
    "answer",
    [
        # the body's shape (the framework's validation), and a rule about its content
        lambda hub: hub.post("/v1/accounts", {"kind": "free"}),
        lambda hub: hub.post("/v1/purchases", {"plan": "no-such-plan", "email": "a@example.com"}),
        # a query parameter given twice (the request guard)
        lambda hub: hub.client.get(
            "/v1/plans?min_position=1&min_position=2", headers=hub.headers("views")
        ),
    ],
)
def test_one_problem_type_has_one_title_wherever_it_is_answered(hub: Any, answer: Any) -> None:
    body = hub.problem(answer(hub), 422, "invalid-request")

    assert body["title"] == CATALOGUE["invalid-request"].title
