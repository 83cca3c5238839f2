"""Search and history (issue 16, item 1) on SQLite and PostgreSQL: keyword terms kept in step with what the
engine writes, Chinese words found by their bigrams but only where they stand together, each filter,
scope, and keyset pages that neither skip nor repeat while new incidents arrive."""

from __future__ import annotations

import pytest

from alarms import search
from alarms.queries import Scope
from alarms.search import BadSearch, SearchFilter, decode_cursor, encode_cursor, search_page
from alarms.storage.search_terms import document_terms, keyword_query
from alarms.storage.store import Store
from tests.alarms.conftest import Clock, signal
from tests.alarms.test_place import _engine


@pytest.mark.parametrize(
    ("fields", "terms"),
    [
        (["人民路 12 号灯杆"], "人民 民路 路 12 号灯 灯杆 杆"),
        (["Fire at B-001", "火"], "fire at b 001 | 火"),
        (["", None, "便利店门口"], "便利 利店 店门 门口 口"),
    ],
)
def test_document_terms(fields: list[str | None], terms: str) -> None:
    assert document_terms(fields) == terms


def test_keyword_query_terms_and_pattern() -> None:
    kq = keyword_query("人民路12号")
    assert kq is not None
    assert kq.exact == ("人民", "民路") and kq.prefix == ("12", "号")
    assert kq.pattern == "%人民 民路 路 12 号%"
    assert kq.tsquery() == "'人民' & '民路' & '12':* & '号':*"
    assert kq.fts5() == '"人民" AND "民路" AND "12"* AND "号"*'
    assert keyword_query("!!! ---") is None


def test_cursor_round_trip_and_forgery() -> None:
    assert decode_cursor(encode_cursor(1.5, 7)) == (1.5, 7)
    for bad in ("", "x", "bnVsbA", encode_cursor(1.0, 2)[:-2] + "!!", "WyJhIiwxXQ"):  # null, ["a",1]
        with pytest.raises(BadSearch) as err:
            decode_cursor(bad)
        assert err.value.code == "bad_cursor"


def _ids(store: Store, f: SearchFilter, scope: Scope | None = None) -> list[int]:
    with store.read() as conn:
        return [i.id for i in search_page(conn, f, scope or Scope(), None, 50).items]


@pytest.fixture(params=["few", "many"])
def matches(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite takes another plan past FEW matches: both must answer the same."""
    if request.param == "many":
        monkeypatch.setattr(search, "FEW", 0)


def test_keyword_filters_and_scope(store: Store, clock: Clock, matches: None) -> None:
    engine = _engine(store, clock)
    first = engine.ingest_signal(signal("B-001", 1, "press", clock.now))[0].incident.id  # type: ignore[index]
    clock.advance(60)
    other = engine.ingest_signal(signal("B-002", 1, "press", clock.now))[0].incident.id  # type: ignore[index]
    engine.act(other, "acknowledge", "op", "东门口有积水")
    engine.act(other, "dispatch", "op", "派人", assignee="王五")

    assert _ids(store, SearchFilter(keyword="人民路")) == [first]  # the address
    assert _ids(store, SearchFilter(keyword="便利店")) == [first]  # the landmark
    assert _ids(store, SearchFilter(keyword="城关街道")) == [first]  # the street's name
    assert _ids(store, SearchFilter(keyword="积水")) == [other]  # an operator's note, written later
    assert _ids(store, SearchFilter(keyword="王五")) == [other]  # the worker
    assert _ids(store, SearchFilter(keyword="东门积水")) == []  # both bigrams there, not side by side
    assert _ids(store, SearchFilter(keyword="12 号")) == [first]
    assert _ids(store, SearchFilter()) == [other, first]  # newest first
    assert _ids(store, SearchFilter(incident_id=first)) == [first]
    assert _ids(store, SearchFilter(states=["dispatched"])) == [other]
    assert _ids(store, SearchFilter(streets=["S-1"], categories=["sos"])) == [first]
    assert _ids(store, SearchFilter(grids=["G-002"])) == [other]
    assert _ids(store, SearchFilter(assignees=["王五"])) == [other]
    assert _ids(store, SearchFilter(since=clock.now - 30)) == [other]
    assert _ids(store, SearchFilter(until=clock.now - 30)) == [first]
    assert _ids(store, SearchFilter(), Scope(streets=frozenset({"S-9"}))) == [other]
    assert _ids(store, SearchFilter(incident_id=first), Scope(grids=frozenset({"G-002"}))) == []


def test_cursor_pages_are_stable_while_incidents_arrive(store: Store, clock: Clock) -> None:
    engine = _engine(store, clock)
    made = []
    for n in range(7):
        change = engine.ingest_signal(signal(f"B-00{1 + n % 2}", n + 1, "press", clock.now))
        made.append(change[0].incident.id)  # type: ignore[index]
        engine.act(made[-1], "acknowledge", "op", None)
        engine.act(made[-1], "cancel", "op", "演练", disposition="test")  # the next press opens a new one
        clock.advance(10 if n != 3 else 0)  # two incidents at the same second: the id breaks the tie
    seen: list[int] = []
    cursor = None
    with store.read() as conn:
        page = search_page(conn, SearchFilter(), Scope(), cursor, 3)
    seen += [i.id for i in page.items]
    engine.ingest_signal(signal("B-001", 99, "press", clock.now + 100))  # arrives between pages
    while page.next_cursor:
        with store.read() as conn:
            page = search_page(conn, SearchFilter(), Scope(), page.next_cursor, 3)
        seen += [i.id for i in page.items]
    assert seen == sorted(made, reverse=True)
    walked: list[int] = []  # a common word: pages come from the newest rows' terms, then the word index
    cursor = None
    while True:
        with store.read() as conn:
            page = search_page(conn, SearchFilter(keyword="演练"), Scope(), cursor, 2)
        walked += [i.id for i in page.items]
        if not (cursor := page.next_cursor):
            break
    assert walked == sorted(made, reverse=True)


def test_repeated_presses_do_not_rewrite_search_terms_but_people_notes_do() -> None:
    """A button pressed again and again (its own "seq N" notes) costs no terms refresh; an operator's note
    does, and a new incident always gets its first terms."""
    from alarms.storage.search_terms import touched

    press = {"incident_id": 1, "action": "retrigger", "actor": "B-001", "note": "press seq 7"}
    note = {"incident_id": 2, "action": "follow_up", "actor": "wang", "note": "积水已排"}
    new = {"incident_id": 3, "action": "created", "actor": "B-002", "note": "press seq 1"}
    assert touched([press], []) == set()
    assert touched([press, note, new], []) == {2, 3}
