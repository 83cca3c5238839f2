"""Two operators at once through the HTTP API: an action made on an old version is refused with 409
`stale_version` saying who did what since; a re-press alone (no person acted) does not refuse it; a follow-up
note changes no state; viewers of an incident are listed per scope."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.dashboard.test_api import FakeRuntime, auth, client, runtime, s1, s2, template  # noqa: F401


def test_stale_version_is_a_conflict_that_says_who_did_what(client: TestClient, s1: int) -> None:  # noqa: F811
    url = f"/api/incidents/{s1}"
    seen = client.get(url, headers=auth("operator")).json()["version"]
    r = client.post(f"{url}/acknowledge", headers=auth("supervisor"), json={"expected_version": seen})
    assert r.status_code == 200
    r = client.post(
        f"{url}/cancel",
        headers=auth("operator"),
        json={"note": "looks like a test", "disposition": "test", "expected_version": seen},
    )
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "stale_version"
    assert body["params"]["current_version"] == seen + 1
    assert body["params"]["state"] == "acknowledged"
    assert [(c["actor"], c["action"]) for c in body["params"]["changes"]] == [("sup", "acknowledge")]
    assert client.get(url, headers=auth("operator")).json()["state"] == "acknowledged"  # nothing applied
    r = client.post(
        f"{url}/cancel",
        headers=auth("operator"),
        json={"note": "looks like a test", "disposition": "test", "expected_version": seen + 1},
    )
    assert r.status_code == 200 and r.json()["state"] == "cancelled"


def test_a_re_press_alone_does_not_refuse_a_dispatch(
    client: TestClient,  # noqa: F811
    runtime: FakeRuntime,  # noqa: F811
    s1: int,  # noqa: F811
) -> None:
    url = f"/api/incidents/{s1}"
    assert client.post(f"{url}/acknowledge", headers=auth("operator"), json={}).status_code == 200
    seen = client.get(url, headers=auth("operator")).json()["version"]
    runtime.press("B-001", seq=2)  # the same button again: a retrigger, version + 1
    assert client.get(url, headers=auth("operator")).json()["trigger_count"] == 2
    r = client.post(
        f"{url}/dispatch",
        headers=auth("operator"),
        json={"note": "go", "assignee": "unit-1", "expected_version": seen},
    )
    assert r.status_code == 200, r.text


def test_other_errors_carry_codes(client: TestClient, s1: int) -> None:  # noqa: F811
    url = f"/api/incidents/{s1}"
    r = client.post(f"{url}/resolve", headers=auth("operator"), json={"note": "x"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    assert r.json()["params"]["state"] == "reported"
    r = client.post(f"{url}/acknowledge", headers=auth("street2"), json={})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.post(f"{url}/fly", headers=auth("operator"), json={})
    assert r.status_code == 404 and r.json()["code"] == "unknown_action"


def test_follow_up_note_changes_no_state(client: TestClient, s1: int) -> None:  # noqa: F811
    url = f"/api/incidents/{s1}"
    r = client.post(f"{url}/follow_up", headers=auth("operator"), json={})
    assert r.status_code == 422 and r.json()["code"] == "bad_request"
    before = client.get(url, headers=auth("operator")).json()
    r = client.post(f"{url}/follow_up", headers=auth("operator"), json={"note": "回访：居民已安全"})
    assert r.status_code == 200
    after = client.get(url, headers=auth("operator")).json()
    assert after["state"] == before["state"] == "reported"
    assert after["version"] == before["version"] + 1
    last = after["timeline"][-1]
    assert (last["action"], last["note"], last["from_state"], last["to_state"]) == (
        "follow_up",
        "回访：居民已安全",
        "reported",
        "reported",
    )


def test_viewers_are_listed_in_scope(client: TestClient, s1: int, s2: int) -> None:  # noqa: F811
    r = client.post(f"/api/incidents/{s1}/viewers", headers=auth("operator"), json={})
    assert r.status_code == 200 and [v["name"] for v in r.json()["viewers"]] == ["op"]
    r = client.post(f"/api/incidents/{s1}/viewers", headers=auth("supervisor"), json={"open": True})
    assert [v["name"] for v in r.json()["viewers"]] == ["op", "sup"]
    assert client.post(f"/api/incidents/{s1}/viewers", headers=auth("street2"), json={}).status_code == 404
    r = client.post(f"/api/incidents/{s1}/viewers", headers=auth("operator"), json={"open": False})
    assert [v["name"] for v in r.json()["viewers"]] == ["sup"]
