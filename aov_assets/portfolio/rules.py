"""The portfolio: one line per store for an as-of day, alerting stores first (pure).

Each store's numbers are its own card's (`aov_30d` of that store and day) in its own global currency;
the change is a percentage, so stores compare. A store without a card for the day is `missing`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from ..core.text import _aligned, _markdown_table, json_number, money_text, pct_text, plain_records, times_text

# The card's verdicts as the portfolio names them: too few B2B orders is `thin`; a card whose 60-day
# window misses days has no verdict either, and reads as `missing` (its numbers are still shown).
VERDICTS = {"alert": "alert", "ok": "ok", "too_few_orders": "thin", "incomplete_window": "missing"}
ORDER = {"alert": 0, "ok": 1, "thin": 1, "missing": 2}
MONEY = ("b2b_aov", "prior_b2b_aov", "b2c_aov")


@dataclass(frozen=True)
class StoreLine:
    """One store's line of the portfolio."""

    store: str
    name: str
    b2b_aov: Decimal | None
    prior_b2b_aov: Decimal | None
    b2b_aov_change_pct: Decimal | None
    b2c_aov: Decimal | None
    multiplier: Decimal | None
    b2b_orders: int | None
    verdict: str
    top_cause: str | None

    @classmethod
    def of(cls, store: str, name: str, card: pd.DataFrame, top_cause: str | None) -> StoreLine:
        """From the store's `aov_30d` rows of the day (empty: `missing`) and its first-ranked cause."""
        by_segment = {row["segment"]: row for row in plain_records(card)}
        if "b2b" not in by_segment:
            return cls(store, name, None, None, None, None, None, None, "missing", None)
        b2b, b2c = by_segment["b2b"], by_segment.get("b2c", {})
        return cls(
            store,
            name,
            b2b["aov"],
            b2b["prior_aov"],
            b2b["aov_change_pct"],
            b2c.get("aov"),
            b2b["multiplier"],
            b2b["orders"],
            VERDICTS.get(b2b["verdict"], b2b["verdict"]),
            top_cause,
        )


def ranked(lines: list[StoreLine]) -> list[StoreLine]:
    """Alerting stores first, then the rest by B2B AOV change (the largest fall first); stores without
    a change (no card, no prior window) last, by key."""
    return sorted(
        lines,
        key=lambda line: (
            ORDER.get(line.verdict, 1),
            line.b2b_aov_change_pct is None,
            line.b2b_aov_change_pct or 0,
            line.store,
        ),
    )


def as_json(as_of: date, lines: list[StoreLine]) -> dict[str, Any]:
    """`aov portfolio --json`: money as strings with two decimals, percentages and the multiplier as numbers."""
    return {
        "as_of": as_of.isoformat(),
        "stores": [
            {
                field.name: _money_string(value) if field.name in MONEY else json_number(value)
                for field, value in zip(fields(StoreLine), astuple(line))
            }
            for line in lines
        ],
    }


def as_csv(lines: list[StoreLine]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([field.name for field in fields(StoreLine)])
    for line in lines:
        writer.writerow(
            [
                _money_string(value) if field.name in MONEY else ("" if value is None else value)
                for field, value in zip(fields(StoreLine), astuple(line))
            ]
        )
    return buffer.getvalue()


def table(lines: list[StoreLine]) -> list[tuple[str, ...]]:
    header = ("store", "B2B AOV", "prior", "change", "B2C AOV", "multiplier", "B2B orders", "verdict", "top cause")
    return [header] + [
        (
            f"{line.name} ({line.store})" if line.name != line.store else line.store,
            money_text(line.b2b_aov),
            money_text(line.prior_b2b_aov),
            pct_text(line.b2b_aov_change_pct),
            money_text(line.b2c_aov),
            times_text(line.multiplier),
            "-" if line.b2b_orders is None else f"{line.b2b_orders:,}",
            line.verdict,
            line.top_cause or "-",
        )
        for line in lines
    ]


def text(as_of: date, lines: list[StoreLine]) -> str:
    alerting = sum(line.verdict == "alert" for line in lines)
    title = f"Portfolio as of {as_of}: {len(lines)} store(s), {alerting} alerting (each in its own currency)"
    return "\n".join([title, "", *_aligned(table(lines))])


def markdown(as_of: date, lines: list[StoreLine]) -> str:
    return "\n".join([f"**Portfolio as of {as_of}**", "", *_markdown_table(table(lines))])


def _money_string(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"
