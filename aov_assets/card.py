"""The "B2B AOV vs B2C AOV" card: one as-of day of `aov_30d`, as text, Markdown and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pandas as pd

from .rules import (
    WINDOW_DAYS,
    WINDOW_SEGMENTS,
    AlertRule,
    Totals,
    as_percent,
    fraction_to_decimal,
    ratio_to_money,
    relative_change,
)

VERDICT_TEXT = {
    "alert": "ALERT",
    "ok": "no alert",
    "too_few_orders": "no verdict: too few B2B orders",
    "incomplete_window": "no verdict: the 60-day window is missing days",
}


@dataclass(frozen=True)
class SegmentLine:
    segment: str
    orders: int
    revenue: Decimal
    aov: Decimal | None
    prior_orders: int
    prior_revenue: Decimal
    prior_aov: Decimal | None
    aov_change_pct: Decimal | None
    orders_change_pct: Decimal | None
    revenue_change_pct: Decimal | None
    line_items: int
    prior_line_items: int

    @property
    def lines_per_order(self) -> Decimal | None:
        return _per_order(self.line_items, self.orders)

    @property
    def prior_lines_per_order(self) -> Decimal | None:
        return _per_order(self.prior_line_items, self.prior_orders)


@dataclass(frozen=True)
class CohortLine:
    cohort: str
    companies: int
    aov: Decimal | None
    prior_aov: Decimal | None
    aov_change_pct: Decimal | None
    quiet: int


@dataclass(frozen=True)
class Card:
    as_of: date
    segments: dict[str, SegmentLine]
    multiplier: Decimal | None
    alert: bool
    verdict: str
    days: int
    prior_days: int
    rule: AlertRule
    cohorts: list[CohortLine] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: pd.DataFrame, rule: AlertRule, cohorts: pd.DataFrame | None = None) -> Card:
        """Build from the three `aov_30d` rows of one as-of day (and optionally `company_cohorts`)."""
        by_segment = {row["segment"]: row for row in rows.to_dict("records")}
        missing = set(WINDOW_SEGMENTS) - set(by_segment)
        if missing:
            raise ValueError(f"aov_30d rows missing for segments {sorted(missing)}")
        b2b = by_segment["b2b"]
        fields = SegmentLine.__dataclass_fields__
        return cls(
            as_of=b2b["as_of"],
            segments={
                s: SegmentLine(**{k: v for k, v in by_segment[s].items() if k in fields}) for s in WINDOW_SEGMENTS
            },
            multiplier=b2b["multiplier"],
            alert=bool(b2b["alert"]),
            verdict=b2b["verdict"],
            days=int(b2b["days"]),
            prior_days=int(b2b["prior_days"]),
            rule=rule,
            cohorts=[] if cohorts is None else _cohort_lines(cohorts),
        )

    @property
    def current_window(self) -> tuple[date, date]:
        return self.as_of - timedelta(days=WINDOW_DAYS - 1), self.as_of

    @property
    def prior_window(self) -> tuple[date, date]:
        return self.as_of - timedelta(days=2 * WINDOW_DAYS - 1), self.as_of - timedelta(days=WINDOW_DAYS)

    @property
    def prior_multiplier(self) -> Decimal | None:
        b2b, b2c = self.segments["b2b"], self.segments["b2c"]
        if not (b2b.prior_orders and b2c.prior_orders and b2c.prior_revenue):
            return None
        b2b_aov = Fraction(b2b.prior_revenue) / b2b.prior_orders
        b2c_aov = Fraction(b2c.prior_revenue) / b2c.prior_orders
        return fraction_to_decimal(b2b_aov / b2c_aov)

    @property
    def headline(self) -> str:
        """One sentence: the verdict and the B2B AOV move behind it."""
        b2b = self.segments["b2b"]
        change = pct_text(b2b.aov_change_pct)
        move = f"B2B AOV {money_text(b2b.aov)} vs {money_text(b2b.prior_aov)} in the prior 30 days ({change})"
        threshold = f"threshold: {'more than ' if self.rule.direction != 'both' else ''}{self.rule.drop_pct}%"
        return f"{VERDICT_TEXT.get(self.verdict, self.verdict)}: {move}; {threshold}"

    # ----------------------------------------------------------------- renderings

    def text(self) -> str:
        (c0, c1), (p0, p1) = self.current_window, self.prior_window
        header = ("segment", "orders (30D)", "revenue", "AOV", "prior orders", "prior revenue", "prior AOV", "change")
        table = [header] + [
            (
                s.segment,
                f"{s.orders:,}",
                money_text(s.revenue),
                money_text(s.aov),
                f"{s.prior_orders:,}",
                money_text(s.prior_revenue),
                money_text(s.prior_aov),
                pct_text(s.aov_change_pct),
            )
            for s in self.segments.values()
        ]
        lines = [
            f"B2B AOV vs B2C AOV as of {self.as_of} (UTC days; current {c0}..{c1}, prior {p0}..{p1})",
            "",
            *_aligned(table),
            "",
            *self._facts(),
        ]
        if self.cohorts:
            lines += ["", "Inside B2B, by Company lifetime value:"]
            cohort_table = [("cohort", "companies", "AOV (30D)", "prior AOV", "change")] + [
                (c.cohort, str(c.companies), money_text(c.aov), money_text(c.prior_aov), pct_text(c.aov_change_pct))
                for c in self.cohorts
            ]
            quiet = sum(c.quiet for c in self.cohorts)
            lines += [
                *_aligned(cohort_table),
                f"Companies gone quiet (ordered in the prior 30 days, not since): {quiet}",
            ]
        return "\n".join(lines)

    def markdown(self) -> str:
        rows = [
            "| segment | orders (30D) | revenue | AOV | prior orders | prior revenue | prior AOV | change |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ] + [
            f"| {s.segment} | {s.orders:,} | {money_text(s.revenue)} | {money_text(s.aov)} | {s.prior_orders:,} | "
            f"{money_text(s.prior_revenue)} | {money_text(s.prior_aov)} | {pct_text(s.aov_change_pct)} |"
            for s in self.segments.values()
        ]
        return "\n".join(
            [f"**B2B AOV vs B2C AOV as of {self.as_of}**", "", *rows, "", *(f"- {fact}" for fact in self._facts())]
        )

    def as_json(self) -> dict[str, Any]:
        (c0, c1), (p0, p1) = self.current_window, self.prior_window
        return {
            "as_of": self.as_of.isoformat(),
            "current_window": [c0.isoformat(), c1.isoformat()],
            "prior_window": [p0.isoformat(), p1.isoformat()],
            "segments": {name: _jsonable(vars(line)) for name, line in self.segments.items()},
            "multiplier": _number(self.multiplier),
            "prior_multiplier": _number(self.prior_multiplier),
            "alert": self.alert,
            "verdict": self.verdict,
            "headline": self.headline,
            "threshold_pct": _number(self.rule.drop_pct),
            "direction": self.rule.direction,
            "min_orders": self.rule.min_orders,
            "cohorts": [_jsonable(vars(c)) for c in self.cohorts],
        }

    def _facts(self) -> list[str]:
        b2b = self.segments["b2b"]
        multiplier, prior_multiplier = times_text(self.multiplier), times_text(self.prior_multiplier)
        return [
            f"Multiplier (B2B AOV / B2C AOV): {multiplier} (prior {prior_multiplier})",
            f"B2B orders {pct_text(b2b.orders_change_pct)}, revenue {pct_text(b2b.revenue_change_pct)}; "
            f"lines per order {plain_text(b2b.lines_per_order)} (prior {plain_text(b2b.prior_lines_per_order)})",
            self.headline,
        ]


def _aligned(table: Sequence[Sequence[str]]) -> list[str]:
    """A plain-text table: the first column left-aligned, the numbers right-aligned."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in table
    ]


def _cohort_lines(cohorts: pd.DataFrame) -> list[CohortLine]:
    lines = []
    for row in cohorts.to_dict("records"):
        now = Totals(int(row["orders"]), int(row["revenue_cents"]))
        before = Totals(int(row["prior_orders"]), int(row["prior_revenue_cents"]))
        lines.append(
            CohortLine(
                cohort=row["cohort"],
                companies=int(row["companies"]),
                aov=ratio_to_money(now.revenue_cents, now.orders),
                prior_aov=ratio_to_money(before.revenue_cents, before.orders),
                aov_change_pct=as_percent(relative_change(now.aov, before.aov)),
                quiet=int(row["quiet"]),
            )
        )
    return lines


def _per_order(count: int, orders: int) -> Decimal | None:
    return (Decimal(count) / orders).quantize(Decimal("0.1")) if orders else None


def money_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def pct_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def times_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def plain_text(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _number(value) for key, value in values.items()}
