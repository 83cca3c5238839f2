"""Security headers on pages and API answers, and bodies refused before parsing: too large (with or without
Content-Length), or JSON nested too deep. The real app on SQLite through TestClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dashboard.body_limit import MAX_BODY_BYTES, json_depth
from tests.dashboard.test_api import auth, client, runtime, s1, template  # noqa: F401 - fixtures

ACK = "/api/incidents/{}/acknowledge"


# ----- headers ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/api/incidents", "operator"),
        ("/api/incidents/999", "operator"),  # errors too
        ("/api/incidents", None),  # and 401s
        ("/metrics", "operator"),
        ("/readyz", "operator"),
        ("/openapi.json", "operator"),
        ("/healthz", None),
        ("/auth/me", None),
    ],
)
def test_api_answers_carry_security_headers_and_are_never_cached(
    client: TestClient,  # noqa: F811
    path: str,
    who: str | None,
) -> None:
    r = client.get(path, headers=auth(who) if who else {})
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    if not r.headers["content-type"].startswith("text/html"):
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "strict-transport-security" not in r.headers  # plain http here


def test_pages_keep_their_own_strict_policy(client: TestClient) -> None:  # noqa: F811
    r = client.get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    docs = client.get("/docs", headers=auth("operator"))
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_static_assets_revalidate_and_are_not_sniffed(client: TestClient) -> None:  # noqa: F811
    r = client.get("/static/js/app.js")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-content-type-options"] == "nosniff"


def test_hsts_only_over_https(runtime) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from dashboard.app import create_app

    with TestClient(create_app(runtime), base_url="https://testserver") as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


# ----- bodies ----------------------------------------------------------------------------------------------
def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    yield b'{"note": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize("total", [MAX_BODY_BYTES + 10, 10 * MAX_BODY_BYTES])
def test_oversized_chunked_body_without_content_length_is_413(
    client: TestClient,  # noqa: F811
    s1: int,  # noqa: F811
    total: int,
) -> None:
    r = client.post(
        ACK.format(s1),
        headers={**auth("operator"), "content-type": "application/json"},
        content=_chunks(total),  # an iterator: httpx sends Transfer-Encoding: chunked, no Content-Length
    )
    assert r.status_code == 413, r.text
    after = client.get(f"/api/incidents/{s1}", headers=auth("operator")).json()
    assert after["state"] == "reported"


def test_small_chunked_body_still_works(client: TestClient, s1: int) -> None:  # noqa: F811
    r = client.post(
        ACK.format(s1),
        headers={**auth("operator"), "content-type": "application/json"},
        content=iter([b'{"note": ', b'"on my way"}']),
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "acknowledged"


@pytest.mark.parametrize("bad", ["abc", "-1", "1e9", "99999999999999999999"])
def test_bogus_content_length_is_413(client: TestClient, s1: int, bad: str) -> None:  # noqa: F811
    r = client.post(ACK.format(s1), headers={**auth("operator"), "content-length": bad}, content=b"{}")
    assert r.status_code in (400, 413)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20000 + b"]" * 20000,  # RecursionError in the JSON parser without the guard
        b'{"evaluation": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
        b'{"evaluation": ' + b"[" * 40 + b"]" * 40 + b"}",
    ],
)
def test_deeply_nested_json_is_422_never_500(client: TestClient, s1: int, body: bytes) -> None:  # noqa: F811
    r = client.post(
        ACK.format(s1), headers={**auth("operator"), "content-type": "application/json"}, content=body
    )
    assert r.status_code == 422, r.text
    assert "nested" in r.json()["detail"]


def test_reasonable_nesting_is_accepted(client: TestClient, s1: int) -> None:  # noqa: F811
    r = client.post(
        ACK.format(s1),
        headers=auth("operator"),
        json={"note": "ok", "evaluation": {"a": [{"b": [1, 2, {"c": "]]]]}}}"}]}]}},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b"1", 0),
        (b'{"a": "[[[[{{{{"}', 1),
        (b'{"a": "\\"[[[["}', 1),  # an escaped quote does not end the string
        (b"[[1], [[2]]]", 3),
    ],
)
def test_json_depth(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


# ----- found by schemathesis -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/kpis", "/api/incidents"])
@pytest.mark.parametrize("value", ["-2.5645009062484155e+57", "1e300", "inf", "nan", "-1"])
def test_time_filters_out_of_range_are_422_not_500(client: TestClient, path: str, value: str) -> None:  # noqa: F811
    for param in ("since", "until"):
        r = client.get(path, params={param: value}, headers=auth("operator"))
        assert r.status_code == 422, (param, r.text)
        assert value not in r.text  # the 422 names the field, not the value
