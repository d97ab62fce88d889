"""Numbers as people read them on the card, in the CLI and in Markdown metadata."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd


def _aligned(table: Sequence[Sequence[str]]) -> list[str]:
    """A plain-text table: the first column left-aligned, the numbers right-aligned."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in table
    ]


def _markdown_table(table: Sequence[Sequence[str]]) -> list[str]:
    """The same table as `_aligned`, in Markdown: the first column left-aligned, the numbers right."""
    return [
        "| " + " | ".join(table[0]) + " |",
        "| --- |" + " ---: |" * (len(table[0]) - 1),
        *("| " + " | ".join(row) + " |" for row in table[1:]),
    ]


def money_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def pct_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def plain_pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def signed_money_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def times_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def plain_text(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def json_number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: json_number(value) for key, value in values.items()}


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (numpy scalars unwrapped, missing values as None)."""
    names = list(frame.columns)
    columns = [[_plain(v) for v in frame[name].tolist()] for name in names]
    return [dict(zip(names, row)) for row in zip(*columns)]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, Decimal) else value


def whole_count(value: Any) -> Any:
    """A count read back as a float (a column of several days with gaps) prints as the count it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
