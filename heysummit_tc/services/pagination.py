"""Keyset pagination: a page of rows and where the next one starts (deep pages cost what the
first does)."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    items: list
    next_before: Any


def page_of(rows, per_page, cursor):
    """Cut rows fetched with ``limit(per_page + 1)`` into a Page; ``cursor(row)`` names where
    the next page starts (the last row shown)."""
    rows = list(rows)
    return Page(rows[:per_page], cursor(rows[per_page - 1]) if len(rows) > per_page else None)
