"""Search and history over every incident ever stored: filters, a keyword and keyset pages.

Pages are ordered newest first by (created_at, id) and continued from the last row seen (a cursor), never by
OFFSET: page 500 costs what page 1 does, and incidents that arrive meanwhile do not shift what comes next.
Each filter has a (filter, created_at, id) index (migration 0006) so a page reads about as many rows as it
shows; the keyword goes through the word index of alarms/storage/search_terms.py."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, select, text, tuple_

from alarms.incidents import Incident
from alarms.queries import Scope
from alarms.storage.rows import by_name
from alarms.storage.schema import incidents
from alarms.storage.search_terms import KeywordQuery, keyword_query

MAX_PAGE = 200
EXPORT_BATCH = 1000
_COLUMNS = [c for c in incidents.c if c.name != "search_terms"]


class BadSearch(ValueError):
    """A search the caller must fix; ``code`` is what the page translates."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True, slots=True)
class SearchFilter:
    incident_id: int | None = None
    keyword: str | None = None
    categories: Sequence[str] = ()
    states: Sequence[str] = ()
    streets: Sequence[str] = ()
    grids: Sequence[str] = ()
    assignees: Sequence[str] = ()
    since: float | None = None  # created at or after (unix seconds)
    until: float | None = None  # created before

    def query(self) -> KeywordQuery | None:
        if not self.keyword or not self.keyword.strip():
            return None
        kq = keyword_query(self.keyword)
        if kq is None:
            raise BadSearch("bad_keyword", "the keyword needs at least one letter or digit")
        return kq


def encode_cursor(created_at: float, incident_id: int) -> str:
    raw = json.dumps([created_at, incident_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    """The position after which the next page starts; BadSearch for anything this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, incident_id = json.loads(raw)
        ok = (
            isinstance(incident_id, int) and isinstance(created_at, int | float) and math.isfinite(created_at)
        )
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise BadSearch("bad_cursor", "the cursor is not one this server gave out")
    return float(created_at), int(incident_id)


FEW = 2000  # SQLite: up to this many keyword matches go by id; more, its time index is walked
_TSQUERY = "to_tsvector('simple', incidents.search_terms) @@ to_tsquery('simple', :tsq)"  # as the GIN index
_FTS = "SELECT rowid FROM incident_fts WHERE incident_fts MATCH :fts"


def _keyword(stmt: Select[Any], kq: KeywordQuery, conn: Connection) -> Select[Any]:
    """The word index, once _walk found the word too rare for the newest rows to fill a page. PostgreSQL:
    a GIN bitmap of the matches, sorted (the planner's choice; cheap for a rare word). SQLite's planner
    would fetch every match by id and sort them all, so FTS5 is asked for FEW + 1 ids first: a few go by
    id; for more, the (…, created_at, id) index is walked newest first and the matches probed as a set
    (`id + 0` keeps the planner from driving by id)."""
    if conn.dialect.name == "postgresql":
        stmt = stmt.where(text(_TSQUERY).bindparams(tsq=kq.tsquery()))
    elif conn.dialect.name == "sqlite":
        probe = conn.execute(text(f"{_FTS} LIMIT :n"), {"fts": kq.fts5(), "n": FEW + 1}).scalars().all()
        if len(probe) <= FEW:
            stmt = stmt.where(incidents.c.id.in_(probe))
        else:
            stmt = stmt.where((incidents.c.id + 0).in_(text(_FTS).bindparams(fts=kq.fts5())))
    return stmt.where(incidents.c.search_terms.like(kq.pattern))  # the terms stand together, in order


def filtered(
    f: SearchFilter, scope: Scope, conn: Connection, keyword: str = "index", cols: Sequence[Any] = ()
) -> Select[Any]:
    """The filter's statement in the caller's scope, newest first (no cursor, no limit). The keyword goes
    through the word index (``index``), is checked row by row (``like``) or is left out (``none``)."""
    c = incidents.c
    stmt = scope.apply(select(*(cols or _COLUMNS)))
    if f.incident_id is not None:
        stmt = stmt.where(c.id == f.incident_id)
    for col, values in (
        (c.category, f.categories),
        (c.state, f.states),
        (c.street_id, f.streets),
        (c.grid_id, f.grids),
        (c.assignee, f.assignees),
    ):
        if values:
            stmt = stmt.where(col == values[0] if len(values) == 1 else col.in_(values))
    if f.since is not None:
        stmt = stmt.where(c.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(c.created_at < f.until)
    kq = f.query()
    if kq is not None and keyword == "index":
        stmt = _keyword(stmt, kq, conn)
    elif kq is not None and keyword == "like":
        stmt = stmt.where(c.search_terms.like(kq.pattern))
    return stmt.order_by(c.created_at.desc(), c.id.desc())


def _after(stmt: Select[Any], position: tuple[float, int] | None) -> Select[Any]:
    if position is None:
        return stmt
    created_at, incident_id = position
    # created_at <= … first: a plain range both databases use on every (…, created_at, id) index.
    return stmt.where(
        incidents.c.created_at <= created_at,
        tuple_(incidents.c.created_at, incidents.c.id) < tuple_(created_at, incident_id),
    )


WALK = 5_000  # rows read newest first, their terms checked, before a keyword goes to the word index


def _walk(
    conn: Connection, f: SearchFilter, scope: Scope, position: tuple[float, int] | None, n: int
) -> list[Incident] | None:
    """A common word fills a page from the newest WALK rows of the other filters (milliseconds, where the
    word index would hand over every one of its 70,000 matches); None when they do not, and only then
    is the index asked (a rarer word: few matches, cheap to fetch)."""
    kq = f.query()
    assert kq is not None
    newest = _after(filtered(f, scope, conn, "none", [*_COLUMNS, incidents.c.search_terms]), position)
    sub = newest.limit(WALK).subquery()
    stmt = (
        select(*(sub.c[col.name] for col in _COLUMNS))
        .where(sub.c.search_terms.like(kq.pattern))
        .order_by(sub.c.created_at.desc(), sub.c.id.desc())
        .limit(n)
    )
    rows = [Incident.from_row(by_name(r)) for r in conn.execute(stmt).mappings()]
    return rows if len(rows) == n else None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Incident]
    next_cursor: str | None


def search_page(
    conn: Connection, f: SearchFilter, scope: Scope, cursor: str | None = None, limit: int = 50
) -> Page:
    """One page and the cursor of the next (None on the last page)."""
    position = decode_cursor(cursor) if cursor else None
    rows = _walk(conn, f, scope, position, limit + 1) if f.query() else None
    if rows is None:
        stmt = _after(filtered(f, scope, conn), position).limit(limit + 1)
        rows = [Incident.from_row(by_name(r)) for r in conn.execute(stmt).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return Page(rows, encode_cursor(last.created_at, last.id) if last else None)


def iter_matches(
    read: Callable[[], AbstractContextManager[Connection]],
    f: SearchFilter,
    scope: Scope,
    batch: int = EXPORT_BATCH,
) -> Iterator[Incident]:
    """Every match, newest first, a batch per short read (constant memory; no snapshot held for an export
    of a million rows)."""
    position: tuple[float, int] | None = None
    while True:
        with read() as conn:
            stmt = _after(filtered(f, scope, conn, "like"), position).limit(batch)  # no index: all is read
            rows = [Incident.from_row(by_name(r)) for r in conn.execute(stmt).mappings()]
        yield from rows
        if len(rows) < batch:
            return
        position = (rows[-1].created_at, rows[-1].id)
