"""Every route documents its answer: in /openapi.json each operation's success response has a schema (a
model for JSON, or a named non-JSON media type with a description), and every route of the app, in the
schema or not, declares a response model or a response class."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dashboard.app import create_app
from tests.dashboard.test_api import FakeRuntime, auth

NON_JSON = (
    "text/event-stream",
    "text/plain",
    "image/jpeg",
    "multipart/x-mixed-replace",
    "video/mp4",
    "text/csv",  # exports (dashboard/export_api.py)
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    rt = FakeRuntime(tmp_path_factory.mktemp("openapi") / "api.db")
    with TestClient(create_app(rt)) as client:
        r = client.get("/openapi.json", headers=auth("operator"))
        assert r.status_code == 200
        yield r.json()
    rt.store.close()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]


def _problem(spec: dict[str, Any], op: dict[str, Any]) -> str | None:
    """Why the operation's success answer is undocumented, or None."""
    codes = [c for c in op["responses"] if c.startswith("2")]
    if not codes:
        return "no 2xx response"
    for code in codes:
        response = op["responses"][code]
        if not response.get("description"):
            return f"{code} without a description"
        content = response.get("content")
        if code == "204":
            if content:
                return "204 with a body"
            continue
        if not content:
            return f"{code} without content"
        for media_type, body in content.items():
            schema = body.get("schema")
            if not schema:
                return f"{code} {media_type} without a schema"
            if media_type == "application/json":
                model = _resolve(spec, schema)
                if model.get("type") != "object" or not model.get("properties"):
                    return f"{code} JSON answer is not a model: {schema}"  # e.g. dict[str, Any]
            elif not media_type.startswith(NON_JSON):
                return f"{code} undocumented media type {media_type}"
    return None


def test_spec_has_the_api(spec: dict[str, Any]) -> None:
    assert len(_operations(spec)) >= 20  # guard: the walk below must not pass on an empty spec


def test_every_operation_documents_its_answer(spec: dict[str, Any]) -> None:
    problems = [
        f"{method} {path}: {why}"
        for method, path, op in _operations(spec)
        if (why := _problem(spec, op)) is not None
    ]
    assert problems == []


def test_the_incident_answers_are_the_published_contract(spec: dict[str, Any]) -> None:
    """The API's incident is the body of docs/schemas/incident.v1.json (the webhooks' and MQTT's)."""
    import json

    published = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "schemas" / "incident.v1.json").read_text()
    )
    incident = spec["components"]["schemas"]["IncidentBody"]
    # Nested models are referenced from OpenAPI's components, from the published file's own $defs.
    properties = json.loads(json.dumps(incident["properties"]).replace("#/components/schemas/", "#/$defs/"))
    assert properties == published["properties"]
    for name, definition in published.get("$defs", {}).items():
        if name in spec["components"]["schemas"]:
            own = json.dumps(spec["components"]["schemas"][name]).replace("#/components/schemas/", "#/$defs/")
            assert json.loads(own) == definition, name
    assert incident["required"] == published["required"]
    detail = spec["components"]["schemas"]["IncidentDetail"]
    assert set(published["required"]) < set(detail["required"])


def test_every_route_declares_a_response(tmp_path: Path) -> None:
    """Routes left out of the schema (pages, redirects, the docs) too: a response model, a response class
    other than the default, or 204."""
    app = create_app(FakeRuntime(tmp_path / "api.db"))
    undeclared = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.response_model is None
        and isinstance(route.response_class, DefaultPlaceholder)
        and route.status_code != 204
    ]
    assert undeclared == []
