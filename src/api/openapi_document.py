"""The OpenAPI document other teams generate their clients from: FastAPI's document,
completed from what each operation is.

FastAPI writes the operations, their parameters and their models. What it cannot know
is added here, for every operation alike:

- the problem answers it can give (``models.PROBLEMS``: by status, from whether it
  writes, is public, takes an id, ``If-Match`` or ``X-Actor``), each one the named
  ``Problem`` schema, with ``Retry-After`` on 503 and ``WWW-Authenticate`` on 401;
- ``ETag`` on every answer that shows a resource's ``version``;
- ``Idempotency-Key`` on every write the idempotency middleware keeps answers for
  (every write behind a bearer token);
- no security on public operations, the bearer token on every other;
- an optional body documented as its model (not ``anyOf [model, null]``), so that a
  client may leave it out.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from fastapi import FastAPI

from api import models
from api.auth import is_public
from api.deps import IDEMPOTENCY_KEY_DESCRIPTION
from api.guard import BODY_METHODS

LINK_PARAMETER = "link_token"
"""The path parameter of the routes an email's signed link authorises."""

IDEMPOTENCY_KEY = {
    "name": "idempotency-key",
    "in": "header",
    "required": False,
    "schema": {"anyOf": [{"type": "string", "maxLength": 255}, {"type": "null"}]},
    "description": IDEMPOTENCY_KEY_DESCRIPTION,
}
"""As FastAPI writes ``api.deps.IdempotencyKeyHeader``, for the writes whose route
does not read the key itself (the middleware still keeps their answers)."""
BEARER = "HTTPBearer"
SCHEMAS = "#/components/schemas/"


def install(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi()`` (made once, then kept)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's) with the additions the module describes."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = models.Problem.model_json_schema(ref_template=SCHEMAS + "{model}")
    schemas.update(problem.pop("$defs", {}))  # the models it refers to (``InvalidField``)
    schemas["Problem"] = problem
    components.setdefault("responses", {})["MethodNotAllowed"] = copy.deepcopy(
        models.METHOD_NOT_ALLOWED
    )
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            _complete_operation(document, path, method.upper(), operation)
    _drop_unused_schemas(document)
    return document


def facts(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any]
) -> models.RouteFacts:
    """What the operation is, as ``models.PROBLEMS`` asks."""
    parameters = operation.get("parameters", [])
    headers = {p["name"].lower() for p in parameters if p["in"] == "header"}
    path_parameters = {p["name"] for p in parameters if p["in"] == "path"}
    public = is_public(path)
    return models.RouteFacts(
        writes=method in BODY_METHODS,
        public=public,
        signed_link=public and LINK_PARAMETER in path_parameters,
        takes_id=bool(path_parameters)
        or any(name.endswith("_id") for name in _body_properties(document, operation)),
        if_match="if-match" in headers,
        acting_user="x-actor" in headers,
    )


def _complete_operation(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any]
) -> None:
    route = facts(document, path, method, operation)
    if route.writes and not route.public and not _has_header(operation, "idempotency-key"):
        operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
    if route.public:
        operation["security"] = []
    else:
        operation["security"] = [{BEARER: []}]
    _optional_body_as_its_model(operation)

    responses = operation.setdefault("responses", {})
    for code in [c for c in responses if c.isdigit() and int(c) >= 400]:
        answer = responses[code]
        if int(code) in {p.status for p in models.PROBLEMS}:
            del responses[code]  # decided by the table below
        else:
            answer["content"] = {models.PROBLEM_JSON: {"schema": dict(models.PROBLEM_REF)}}
    for problem in models.PROBLEMS:
        key = str(problem.status)
        if key in responses or not problem.given(route):
            continue
        responses[key] = models.problem_response(problem.description)
        if problem.headers:
            responses[key]["headers"] = copy.deepcopy(problem.headers)
    for code, answer in responses.items():
        if code.startswith("2") and _shows_a_version(document, answer):
            answer.setdefault("headers", {}).update(copy.deepcopy(models.ETAG))
    operation["responses"] = dict(sorted(responses.items()))


def _has_header(operation: dict[str, Any], name: str) -> bool:
    return any(
        p["in"] == "header" and p["name"].lower() == name for p in operation.get("parameters", [])
    )


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix(SCHEMAS)]
    return schema


def _body_properties(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {})
    names: set[str] = set()
    for media in content.values():
        schema = media.get("schema", {})
        for part in schema.get("anyOf", [schema]):
            names |= set(_resolve(document, part).get("properties", {}))
    return names


def _optional_body_as_its_model(operation: dict[str, Any]) -> None:
    """``body: Model | None = None`` is written ``anyOf [Model, null]``: a client
    generated from that must send ``null`` to send nothing. The body is optional
    (``required`` is false) and, when sent, the model."""
    body = operation.get("requestBody")
    if body is None or body.get("required"):
        return
    for media in body.get("content", {}).values():
        schema = media.get("schema", {})
        parts = schema.get("anyOf", [])
        models_of = [p for p in parts if p != {"type": "null"}]
        if len(parts) == 2 and len(models_of) == 1 and "$ref" in models_of[0]:
            media["schema"] = models_of[0]


def _shows_a_version(document: dict[str, Any], answer: dict[str, Any]) -> bool:
    """An answer whose body is a resource with its ``version``: ``api.responses.resource``
    sends it with ``ETag``."""
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if not schema:
        return False
    shown = _resolve(document, schema)
    return "version" in shown.get("required", [])


def _drop_unused_schemas(document: dict[str, Any]) -> None:
    """FastAPI adds its validation-error schemas to the operations that declare no 422;
    every 422 here is a ``Problem``, so they are left unused, and go."""
    schemas = document["components"]["schemas"]
    while True:
        text = json.dumps({**document, "components": {**document["components"], "schemas": {}}})
        text += json.dumps(schemas)
        used = set(re.findall(re.escape(SCHEMAS) + r'([^"]+)"', text))
        unused = [name for name in schemas if name not in used and name != "Problem"]
        if not unused:
            return
        for name in unused:
            del schemas[name]
