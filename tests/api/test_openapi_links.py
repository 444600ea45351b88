"""The OpenAPI document's links (``api.links``) lead somewhere real: each names an
operation of the document, gives only parameters that operation takes, and reads a
field the source answer documents. The walk in ``test_fuzz_openapi.py`` follows them
against the running service."""

from __future__ import annotations

from typing import Any

import pytest

from api.links import TAKES

ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""The document does not depend on the store."""


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


def _operation(document: dict[str, Any], reference: str) -> tuple[str, str, dict[str, Any]]:
    pointer = reference.removeprefix("#/paths/")
    escaped_path, method = pointer.rsplit("/", 1)
    path = escaped_path.replace("~1", "/").replace("~0", "~")
    assert path in document["paths"], reference
    assert method in document["paths"][path], reference
    return path, method, document["paths"][path][method]


def _properties(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _resolve(document, schema)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []) + schema.get("anyOf", []):
        names |= _properties(document, part)
    return names


def _answer_fields(document: dict[str, Any], response: dict[str, Any]) -> set[str]:
    return _properties(document, response["content"]["application/json"]["schema"])


@ON_SQLITE
def test_every_link_names_an_operation_of_the_document_and_what_it_takes(hub: Any) -> None:
    document = hub.client.app.openapi()
    followed_by: dict[str, set[str]] = {}

    for source_path, item in document["paths"].items():
        for source_method, source in item.items():
            for status, response in source["responses"].items():
                for name, link in response.get("links", {}).items():
                    where = f"{source_method.upper()} {source_path} [{status}] {name}"
                    path, method, target = _operation(document, link["operationRef"])
                    taken = {(p["in"], p["name"]) for p in target.get("parameters", [])}
                    fields = _answer_fields(document, response)
                    for parameter, value in link.get("parameters", {}).items():
                        location, parameter_name = parameter.split(".", 1)
                        assert (location, parameter_name) in taken, (where, parameter)
                        if value.startswith("$response.body#/"):
                            assert value.removeprefix("$response.body#/") in fields, (where, value)
                    body = link.get("requestBody", {})
                    if body:
                        content = target["requestBody"]["content"]["application/json"]
                        accepted = _properties(document, content["schema"])
                        for key, value in body.items():
                            assert key in accepted, (where, key)
                            assert value.removeprefix("$response.body#/") in fields, (where, value)
                    followed_by.setdefault(name, set()).add(f"{method.upper()} {path}")

    # Every operation of the table is linked from some answer, under its own name.
    table = {t.name: {f"{t.method} {t.path}"} for kind in TAKES.values() for t in kind}
    assert followed_by == table
