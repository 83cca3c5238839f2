"""The names people read for incident categories, states and verdicts, in zh-CN and en: one table for the
exports (dashboard/exports.py) and for the pages, which import it as the module ``/api/labels.js``
(dashboard/static/js/i18n.js), so a list on the page and the file exported from it say the same."""

from __future__ import annotations

import json
from typing import Literal

from alarms.categories import CATEGORIES

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")

STATES: dict[str, tuple[str, str]] = {
    "reported": ("待受理", "Reported"),
    "acknowledged": ("已受理", "Acknowledged"),
    "dispatched": ("已派遣", "Dispatched"),
    "in_progress": ("处置中", "In progress"),
    "resolved": ("已处置", "Resolved"),
    "closed": ("已办结", "Closed"),
    "evaluated": ("已评价", "Evaluated"),
    "cancelled": ("已撤销", "Cancelled"),
    "merged": ("已合并", "Merged"),
}
DISPOSITIONS: dict[str, tuple[str, str]] = {
    "false_alarm": ("误报", "False alarm"),
    "test": ("测试", "Test"),
    "duplicate": ("重复", "Duplicate"),
    "handled": ("已处理", "Handled"),
    "other": ("其他", "Other"),
}
# Categories are named where they are defined (alarms/categories.py), as webhooks and notices name them.
CATEGORY_NAMES: dict[str, tuple[str, str]] = {n: (c.title_zh, c.title_en) for n, c in CATEGORIES.items()}


def pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "zh-CN" else pair[1]


def page_words(lang: Lang) -> dict[str, str]:
    """The i18n keys the pages look these names up by: ``cat.<name>``, ``state.<name>``, ``disp.<name>``."""
    tables = {"cat": CATEGORY_NAMES, "state": STATES, "disp": DISPOSITIONS}
    return {
        f"{prefix}.{k}": pick(pair, lang) for prefix, table in tables.items() for k, pair in table.items()
    }


def js_module() -> str:
    """An ES module whose default export is ``{lang: {key: text}}``, categories in their defined order
    (the search form lists them so)."""
    words = {lang: page_words(lang) for lang in LANGS}
    return f"export default {json.dumps(words, ensure_ascii=False, indent=1)};\n"
