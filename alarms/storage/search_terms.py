"""Keyword search terms: one normalised text column per incident (``incidents.search_terms``) that both
databases index with what they have for words (PostgreSQL: a GIN index over ``to_tsvector('simple', …)``;
SQLite: an FTS5 table kept in step by triggers, migration 0006).

Chinese has no spaces, and neither pg_trgm nor FTS5's trigram tokenizer can use an index for the two-character
words people type most (火警, 路口). So text is cut here, the same way on both databases: a run of CJK
characters becomes its overlapping bigrams plus its last character (人民路 → ``人民 民路 路``), other words
are lower-cased; fields are kept apart with `` | ``. A query's terms are looked up in the index (AND), then
``LIKE`` on the same column checks they stand next to each other, so 人民路 never matches 人民 … 民路."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from alarms.storage.rows import by_name
from alarms.storage.schema import incidents, timeline

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"([{_CJK}]+)|((?:(?![{_CJK}])[^\W_])+)")
FIELD_SEP = " | "
MAX_QUERY_TERMS = 12


def _tokens(text: str, trailing: bool) -> list[str]:
    out: list[str] = []
    for cjk, word in _TOKEN.findall(text.casefold()):
        if word:
            out.append(word)
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
            if trailing:
                out.append(cjk[-1])
    return out


def document_terms(fields: Iterable[str | None]) -> str:
    """The indexed text of an incident's searchable fields."""
    parts = (" ".join(_tokens(f, trailing=True)) for f in fields if f)
    return FIELD_SEP.join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class KeywordQuery:
    """What a keyword becomes: index terms (``prefix`` ones match any term they begin) and the LIKE
    pattern that confirms they stand together."""

    exact: tuple[str, ...]
    prefix: tuple[str, ...]
    pattern: str

    def tsquery(self) -> str:
        """PostgreSQL ``to_tsquery('simple', …)`` text; terms hold letters and digits only."""
        return " & ".join([f"'{t}'" for t in self.exact] + [f"'{t}':*" for t in self.prefix])

    def fts5(self) -> str:
        """SQLite FTS5 MATCH text."""
        return " AND ".join([f'"{t}"' for t in self.exact] + [f'"{t}"*' for t in self.prefix])


def keyword_query(keyword: str) -> KeywordQuery | None:
    """None when the keyword holds no letters or digits."""
    runs = _TOKEN.findall(keyword.casefold())
    exact: list[str] = []
    prefix: list[str] = []
    shown: list[str] = []
    for n, (cjk, word) in enumerate(runs):
        last = n == len(runs) - 1
        if word:
            prefix.append(word)
            shown.append(word)
        elif len(cjk) == 1:
            prefix.append(cjk)
            shown.append(cjk)
        else:
            grams = [cjk[i : i + 2] for i in range(len(cjk) - 1)]
            exact.extend(grams)
            shown.extend(grams if last else [*grams, cjk[-1]])  # inside the text the run's last char follows
    if not shown:
        return None
    exact = list(dict.fromkeys(exact))[:MAX_QUERY_TERMS]
    prefix = [p for p in dict.fromkeys(prefix) if p not in exact][: max(0, MAX_QUERY_TERMS - len(exact))]
    return KeywordQuery(tuple(exact), tuple(prefix), "%" + " ".join(shown) + "%")


def incident_fields(row: Mapping[str, Any], notes: Sequence[str]) -> list[str | None]:
    """What people search an incident by: title, address, landmark, the names of its places and cameras,
    the worker it went to, the resolution and the operators' notes."""
    place = row.get("place")
    if not isinstance(place, Mapping):
        place = {}
    names = [c.get("name") for c in place.get("cameras") or [] if isinstance(c, Mapping)]
    return [
        row.get("title"),
        *(place.get(k) for k in ("address", "landmark", "grid_name", "community_name", "street_name")),
        place.get("source_name"),
        *names,
        row.get("assignee"),
        row.get("resolution_note"),
        *notes,
    ]


SEARCHABLE = ("title", "place", "assignee", "resolution_note")
# Timeline entries written by devices and the service (a press's "seq 7", a rule's confirmation): not what
# people search for, and a button pressed again and again must not rewrite its incident's terms each time.
DEVICE_ACTIONS = (
    "created", "retrigger", "retriggered", "confirmed", "cleared", "button_cancel", "receipt",
    "clip", "clip_saved", "clip_failed", "delivered",
)  # fmt: skip
_SET_TERMS = update(incidents).where(incidents.c.id == bindparam("b_id")).values(search_terms=bindparam("t"))


def touched(timeline_rows: Iterable[Mapping[str, Any]], changed: Iterable[tuple[Any, Any]]) -> set[int]:
    """Incidents whose terms a flush changes: new ones, ones with a new note, ones whose searchable fields
    changed. A repeated press (a device's note, same fields) costs nothing."""
    ids = {
        r["incident_id"]
        for r in timeline_rows
        if r.get("action") == "created"
        or (r.get("note") and r.get("actor") != "system" and r.get("action") not in DEVICE_ACTIONS)
    }
    ids.update(
        after.id
        for before, after in changed
        if any(getattr(before, n) != getattr(after, n) for n in SEARCHABLE)
    )
    return ids


def refresh(conn: Connection, ids: Iterable[int]) -> None:
    """Recompute the terms of these incidents in the caller's transaction (after their rows are written)."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    cols = [incidents.c.id, *(incidents.c[n] for n in SEARCHABLE)]
    rows = conn.execute(select(*cols).where(incidents.c.id.in_(wanted))).mappings().all()
    notes: dict[int, list[str]] = {}
    stmt = (
        select(timeline.c.incident_id, timeline.c.note)
        .where(
            timeline.c.incident_id.in_(wanted),
            timeline.c.note.is_not(None),
            timeline.c.actor != "system",
            timeline.c.action.not_in(DEVICE_ACTIONS),
        )
        .order_by(timeline.c.id)
    )
    for incident_id, note in conn.execute(stmt):
        notes.setdefault(incident_id, []).append(note)
    terms = {r["id"]: document_terms(incident_fields(by_name(r), notes.get(r["id"], []))) for r in rows}
    params = [{"b_id": k, "t": v} for k, v in terms.items()]
    if params:
        conn.execute(_SET_TERMS, params)
