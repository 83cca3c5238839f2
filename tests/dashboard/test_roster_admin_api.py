"""Admins edit people and units through the API (issue 15): each change is in the audit trail with before
and after, non-admins are refused, a deactivated person is no longer offered for dispatch, and config
seeding at the next start leaves page edits alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alarms import roster
from alarms.queries import Scope
from dashboard.app import create_app
from dashboard.auth import Principal, TokenBook
from tests.dashboard.test_api import T0, TOKENS, FakeRuntime, auth
from tests.dashboard.test_field_api import PEOPLE, UNITS, ok
from tests.dashboard.test_field_api import rt as rt  # the fixture

ZHANG = {
    "name": "张伟",
    "role": "grid_worker",
    "phone": "13800000001",
    "grids": ["G-001"],
    "username": "zhang",
}


@pytest.fixture
def client(rt: FakeRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as c:
        yield c


def people(client: TestClient) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in ok(client.get("/api/roster/people", headers=auth("operator")))["items"]}


def test_admin_moves_a_worker_to_another_grid_and_it_is_audited(client: TestClient) -> None:
    before = people(client)["P-zhang"]
    assert before["grids"] == ["G-001"] and before["on_duty"] and before["edited_at"] is None
    body = {**ZHANG, "grids": ["G-003"]}
    saved = ok(client.put("/api/roster/people/P-zhang", json=body, headers=auth("admin")))
    assert saved == {"action": "update", "id": "P-zhang"}
    after = people(client)["P-zhang"]
    assert after["grids"] == ["G-003"] and after["edited_by"] == "adm" and after["edited_at"]
    trail = ok(client.get("/api/roster/audit", headers=auth("operator")))["items"]
    assert len(trail) == 1
    entry = trail[0]
    assert (entry["actor"], entry["kind"], entry["target_id"], entry["action"]) == (
        "adm",
        "person",
        "P-zhang",
        "update",
    )
    assert entry["before"]["grids"] == ["G-001"] and entry["after"]["grids"] == ["G-003"]
    assert entry["changed"] == ["grids"]
    # The same edit again writes nothing.
    assert (
        ok(client.put("/api/roster/people/P-zhang", json=body, headers=auth("admin")))["action"]
        == "unchanged"
    )
    assert len(ok(client.get("/api/roster/audit", headers=auth("admin")))["items"]) == 1


def test_admin_creates_a_person_and_a_unit(client: TestClient) -> None:
    unit = {"name": "城管中队", "kind": "urban_management", "grids": ["G-001"]}
    assert ok(client.put("/api/roster/units/U-cg", json=unit, headers=auth("admin")))["action"] == "create"
    body = {
        "name": "赵强",
        "role": "urban_management",
        "unit": "U-cg",
        "grids": ["G-001"],
        "shifts": [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}],
    }
    assert ok(client.put("/api/roster/people/P-zhao", json=body, headers=auth("admin")))["action"] == "create"
    zhao = people(client)["P-zhao"]
    assert zhao["unit_name"] == "城管中队" and zhao["shifts"][0]["start"] == "08:00"
    trail = ok(client.get("/api/roster/audit", params={"target": "P-zhao"}, headers=auth("admin")))["items"]
    assert [(e["action"], e["before"]) for e in trail] == [("create", None)]
    units = {u["id"]: u for u in ok(client.get("/api/roster/units", headers=auth("operator")))["items"]}
    assert units["U-cg"]["kind"] == "urban_management"


def test_bad_edits_are_refused_with_a_code(client: TestClient) -> None:
    def put(body: dict[str, Any]) -> Any:
        return client.put("/api/roster/people/P-new", json=body, headers=auth("admin"))

    assert put({**ZHANG, "username": None, "grids": ["G-999"]}).json()["code"] == "roster_unknown_grid"
    assert put({**ZHANG, "username": None, "unit": "U-none"}).json()["code"] == "roster_unknown_unit"
    r = put(ZHANG)  # zhang's sign-in name belongs to P-zhang
    assert r.status_code == 422 and r.json()["code"] == "roster_username_taken"
    assert put({**ZHANG, "username": None, "role": "king"}).status_code == 422
    assert put({**ZHANG, "username": None, "shifts": [{"start": "25:00"}]}).status_code == 422
    assert client.put("/api/roster/people/bad id", json=ZHANG, headers=auth("admin")).status_code == 422
    assert "P-new" not in people(client)
    assert ok(client.get("/api/roster/audit", headers=auth("admin")))["items"] == []


@pytest.mark.parametrize("who", ["operator", "supervisor"])
def test_only_admins_write(client: TestClient, who: str) -> None:
    r = client.put("/api/roster/people/P-zhang", json={**ZHANG, "grids": []}, headers=auth(who))
    assert r.status_code == 403
    assert client.post("/api/roster/people/P-zhang/deactivate", headers=auth(who)).status_code == 403
    assert (
        client.put(
            "/api/roster/units/U-x", json={"name": "x", "kind": "community"}, headers=auth(who)
        ).status_code
        == 403
    )
    assert client.put("/api/roster/people/P-zhang", json=ZHANG).status_code == 401
    assert people(client)["P-zhang"]["grids"] == ["G-001"]
    assert ok(client.get("/api/roster/audit", headers=auth("admin")))["items"] == []


def test_a_deactivated_person_is_no_longer_offered_for_dispatch(client: TestClient, rt: FakeRuntime) -> None:
    incident = rt.press("B-001")
    offered = ok(client.get("/api/field/roster", params={"incident": incident}, headers=auth("operator")))
    assert "P-wang" in [p["id"] for p in offered["people"]]
    assert (
        ok(client.post("/api/roster/people/P-wang/deactivate", headers=auth("admin")))["action"]
        == "deactivate"
    )
    offered = ok(client.get("/api/field/roster", params={"incident": incident}, headers=auth("operator")))
    assert "P-wang" not in [p["id"] for p in offered["people"]]
    r = client.post(
        f"/api/field/incidents/{incident}/dispatch", json={"lead": {"id": "P-wang"}}, headers=auth("operator")
    )
    assert r.status_code in (404, 409, 422), r.text
    wang = people(client)["P-wang"]
    assert not wang["active"] and not wang["on_duty"]
    assert ok(client.get("/api/roster/audit", headers=auth("admin")))["items"][0]["action"] == "deactivate"
    ok(client.post("/api/roster/units/U-pcs/deactivate", headers=auth("admin")))
    offered = ok(client.get("/api/field/roster", params={"incident": incident}, headers=auth("operator")))
    assert offered["units"] == []
    assert client.post("/api/roster/people/P-none/deactivate", headers=auth("admin")).status_code == 404


def test_config_seeding_leaves_page_edits_alone(client: TestClient, rt: FakeRuntime) -> None:
    ok(client.put("/api/roster/people/P-zhang", json={**ZHANG, "grids": ["G-003"]}, headers=auth("admin")))
    ok(client.post("/api/roster/people/P-wang/deactivate", headers=auth("admin")))
    with rt.store.write() as conn:  # a restart: config seeds again and drops P-night
        roster.seed(conn, [p for p in PEOPLE if p.id != "P-night"], UNITS, T0 + 60)
    now = people(client)
    assert now["P-zhang"]["grids"] == ["G-003"]  # the page's edit stands
    assert not now["P-wang"]["active"]  # and so does the page's deactivation
    assert not now["P-night"]["active"]  # never edited on the page: config decides
    assert now["P-li"]["active"]


STREET_OPERATORS = {  # street S-1 holds G-001; street S-2 holds G-003
    "s1": ("tok-roster-s1", Principal("s1-op", "operator", Scope(streets=frozenset({"S-1"})))),
    "s2": ("tok-roster-s2", Principal("s2-op", "operator", Scope(streets=frozenset({"S-2"})))),
    "s2-admin": ("tok-roster-s2-admin", Principal("s2-adm", "admin", Scope(streets=frozenset({"S-2"})))),
}


def test_operators_see_the_roster_of_their_own_street_and_admins_all(
    client: TestClient, rt: FakeRuntime
) -> None:
    rt.services.tokens = TokenBook.build([*TOKENS.values(), *STREET_OPERATORS.values()])

    def seen(who: str, what: str) -> set[str]:
        headers = {"Authorization": f"Bearer {STREET_OPERATORS[who][0]}"}
        found = ok(client.get(f"/api/roster/{what}", headers=headers))["items"]
        return {e["target_id"] if what == "audit" else e["id"] for e in found}

    ok(
        client.put(
            "/api/roster/people/P-zhang", json={**ZHANG, "phone": "13900000009"}, headers=auth("admin")
        )
    )
    ok(
        client.put(
            "/api/roster/people/P-li",
            json={**ZHANG, "name": "李娜", "username": "li", "grids": ["G-003"]},
            headers=auth("admin"),
        )
    )
    assert seen("s1", "people") == {"P-zhang", "P-wang", "P-night"}
    assert seen("s2", "people") == {"P-li"}
    assert seen("s1", "units") == {"U-pcs"} and seen("s2", "units") == set()
    assert seen("s1", "audit") == {"P-zhang"} and seen("s2", "audit") == {"P-li"}
    everyone = {"P-zhang", "P-wang", "P-night", "P-li"}
    assert seen("s2-admin", "people") == everyone and seen("s2-admin", "units") == {"U-pcs"}
    assert seen("s2-admin", "audit") == {"P-zhang", "P-li"}
    # A move to the other street's grid: the new street sees the person and the edit; the old one the edit.
    ok(client.put("/api/roster/people/P-zhang", json={**ZHANG, "grids": ["G-003"]}, headers=auth("admin")))
    assert seen("s1", "people") == {"P-wang", "P-night"}
    assert seen("s2", "people") == {"P-li", "P-zhang"}
    headers = {"Authorization": f"Bearer {STREET_OPERATORS['s1'][0]}"}
    trail = ok(client.get("/api/roster/audit", params={"limit": 1}, headers=headers))["items"]
    assert [(e["target_id"], e["after"]["grids"]) for e in trail] == [("P-zhang", ["G-003"])]
