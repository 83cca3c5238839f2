"""Typed access to SQLAlchemy result rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import RowMapping


def by_name(row: RowMapping) -> Mapping[str, Any]:
    """A row's columns by name, as the records' ``from_row`` take them. SQLAlchemy types a RowMapping as
    ``Mapping[str | Column, Any]`` and Mapping's key type is invariant, so without this cast a row would not
    match ``Mapping[str, Any]``, although every key the records read is a column name."""
    return cast("Mapping[str, Any]", row)
