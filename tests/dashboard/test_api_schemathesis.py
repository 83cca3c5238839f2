"""Schemathesis against the OpenAPI spec of the real app, served by uvicorn on loopback over SQLite (real
HTTP, so the middlewares and the lifespan run as in production). For every documented operation: no 5xx, and
every answer that the spec describes matches its schema and content type. Bounded by MAX_EXAMPLES per
operation so the module runs in about a minute on two cores.

The event stream never ends, so it is left to the route table (tests/dashboard/test_route_roles.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from dashboard.app import create_app
from tests.dashboard.test_api import TOKENS, FakeRuntime, _dead_delivery
from tests.support.ports import free_port

MAX_EXAMPLES = 20
AUTH = {"Authorization": f"Bearer {TOKENS['admin'][0]}"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    rt = FakeRuntime(tmp_path_factory.mktemp("schemathesis") / "api.db")
    for button in ("B-001", "B-003"):
        _dead_delivery(rt, rt.press(button))  # incidents 1, 2 and a dead delivery each: real rows to hit
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="schemathesis-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(15)
    rt.store.close()


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> Any:
    spec = httpx.get(f"{base_url}/openapi.json", headers=AUTH, timeout=10)
    assert spec.status_code == 200
    return schemathesis.openapi.from_dict(spec.json()).exclude(path="/api/events")


def _fuzz(api_schema: Any, base_url: str, mode: GenerationMode, checks: list[Any]) -> list[str]:
    """Run each operation's strategy for MAX_EXAMPLES examples; the failures, one line each."""
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples every run: a failure here reproduces, it is not flaky
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report fast, fix from the example
        )
        def run(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=AUTH, checks=checks)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to get wrong: no parameters
        except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide others'
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}")
    return failures


def test_valid_requests_never_fail_and_match_the_schema(api_schema: Any, base_url: str) -> None:
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures = _fuzz(api_schema, base_url, GenerationMode.POSITIVE, checks)
    assert not failures, "\n".join(failures)


def test_invalid_requests_are_refused_never_a_server_error(api_schema: Any, base_url: str) -> None:
    failures = _fuzz(api_schema, base_url, GenerationMode.NEGATIVE, [not_a_server_error])
    assert not failures, "\n".join(failures)


def test_spec_needs_a_token(base_url: str) -> None:
    assert httpx.get(f"{base_url}/openapi.json", timeout=10).status_code == 401


def test_spec_covers_the_api(api_schema: Any, base_url: str) -> None:
    paths = set(httpx.get(f"{base_url}/openapi.json", headers=AUTH, timeout=10).json()["paths"])
    assert {"/api/incidents", "/api/incidents/{incident_id}/{action}", "/api/deliveries"} <= paths


# Integers at the edges of what a database column or a C long holds: schemathesis found `offset=2**63` (a 500
# from SQLite's OverflowError) only after 3,204 random cases; these reach every integer parameter at once.
EDGE_INTEGERS = (-1, 0, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1)
STREAMS = ("text/event-stream", "multipart/x-mixed-replace")


def _integer_params(op: dict[str, Any]) -> list[dict[str, Any]]:
    def is_int(schema: dict[str, Any]) -> bool:
        options = [schema, *schema.get("anyOf", [])]
        return any(s.get("type") == "integer" for s in options)

    return [p for p in op.get("parameters", []) if p["in"] in ("query", "path") and is_int(p["schema"])]


def test_every_integer_parameter_at_its_edges_is_never_a_server_error(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/openapi.json", headers=AUTH, timeout=10).json()
    failures, tried = [], 0
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is None or any(m in STREAMS for r in op["responses"].values() for m in r.get("content", {})):
            continue
        params = _integer_params(op)
        path_params = {p["name"]: 1 for p in op.get("parameters", []) if p["in"] == "path"}
        for param in params:
            for value in EDGE_INTEGERS:
                values = {**path_params, **({param["name"]: value} if param["in"] == "path" else {})}
                url = base_url + path.format(**{k: v for k, v in values.items()})
                query = {param["name"]: value} if param["in"] == "query" else {}
                r = httpx.get(url, params=query, headers=AUTH, timeout=10)
                tried += 1
                if r.status_code >= 500:
                    failures.append(f"GET {path} {param['name']}={value}: {r.status_code} {r.text[:200]}")
    assert tried >= 20, f"only {tried} requests: the spec lost its integer parameters?"
    assert not failures, "\n".join(failures)
