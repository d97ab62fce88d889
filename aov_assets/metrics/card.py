"""The B2B vs B2C card and the TTM card, as text, JSON and Markdown, from the warehouse's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..actions.calls import CallList, CallSettings
from ..around.neighbours import Neighbours
from ..core.money import as_percent, fraction_to_decimal, relative_change
from ..core.text import (
    _aligned,
    _markdown_table,
    json_number,
    jsonable,
    money_text,
    pct_text,
    plain_pct,
    plain_records,
    plain_text,
    signed_money_text,
    times_text,
)
from ..core.windows import WINDOW_DAYS, WINDOW_SEGMENTS, add_months, month_start
from ..investigation.causes import ACTIONS
from ..investigation.findings import Findings
from .windows import AlertRule

if TYPE_CHECKING:
    from ..warehouse import Warehouse


GONE_QUIET = "Accounts gone quiet (ordered in the prior 30 days, not since):"
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
class Card:
    as_of: date
    segments: dict[str, SegmentLine]
    multiplier: Decimal | None
    alert: bool
    verdict: str
    days: int
    prior_days: int
    rule: AlertRule
    findings: Findings | None = None
    neighbours: Neighbours | None = None
    calls: CallList | None = None

    @classmethod
    def stored(
        cls, warehouse: Warehouse, as_of: date, rule: AlertRule, calls: CallSettings | None = None
    ) -> Card | None:
        """The card of one as-of day as the warehouse has it, with its investigation, neighbours and (with
        `calls`) its call list; None without aov_30d rows."""
        rows = warehouse.read_card(as_of)
        if rows.empty:
            return None
        neighbours = Neighbours.by_day(*warehouse.read_neighbours(as_of, as_of)).get(as_of)
        findings = Findings.from_frames(*warehouse.read_investigation(as_of, as_of))
        call_list = CallList.stored(warehouse, as_of, calls) if calls is not None and findings else None
        return cls.from_rows(rows, rule, findings, neighbours, call_list)

    @classmethod
    def from_rows(
        cls,
        rows: pd.DataFrame,
        rule: AlertRule,
        findings: Findings | None = None,
        neighbours: Neighbours | None = None,
        calls: CallList | None = None,
    ) -> Card:
        """Build from the three `aov_30d` rows of one as-of day (and that day's investigation and neighbours)."""
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
            findings=findings,
            neighbours=neighbours,
            calls=calls,
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

    def left_the_baskets(self) -> list[dict[str, Any]]:
        """When the check fires and B2B lines per order fell: the categories whose value per order fell most."""
        b2b = self.segments["b2b"]
        if not (self.alert and self.neighbours and b2b.orders and b2b.prior_orders):
            return []
        if Fraction(b2b.line_items, b2b.orders) >= Fraction(b2b.prior_line_items, b2b.prior_orders):
            return []
        return self.neighbours.fallen_categories()

    def basket_lines(self) -> list[str]:
        """One line per category that left the baskets (empty unless `left_the_baskets` has some)."""
        return [
            f"{row['category']}: {money_text(row['per_order'])} per B2B order "
            f"(prior {money_text(row['prior_per_order'])}, {signed_money_text(row['per_order_change'])}); "
            f"{row['lines']:,} lines (prior {row['prior_lines']:,})"
            for row in self.left_the_baskets()
        ]

    @property
    def likely_cause(self) -> str | None:
        """One sentence naming the top cause, or None when the investigation has none."""
        top = self.findings.top if self.findings else None
        if top is None:
            return None
        return (
            f"Likely cause: {top['cause']} ({signed_money_text(top['contribution'])}, "
            f"{plain_pct(top['share_pct'])} of the move). {top['summary']}"
        )

    # ----------------------------------------------------------------- renderings

    @property
    def title(self) -> str:
        (c0, c1), (p0, p1) = self.current_window, self.prior_window
        return f"B2B AOV vs B2C AOV as of {self.as_of} (UTC days; current {c0}..{c1}, prior {p0}..{p1})"

    def segment_table(self) -> list[tuple[str, ...]]:
        header = ("segment", "orders (30D)", "revenue", "AOV", "prior orders", "prior revenue", "prior AOV", "change")
        return [header] + [
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

    @property
    def move(self) -> Decimal | None:
        """The B2B AOV change in money (the cards' AOVs, to the cent)."""
        b2b = self.segments["b2b"]
        return (b2b.aov - b2b.prior_aov) if b2b.aov is not None and b2b.prior_aov is not None else None

    def text(self) -> str:
        lines = [
            self.title,
            "",
            *_aligned(self.segment_table()),
            "",
            *self.facts(),
            self.headline,
            *self._around("Around it:", "  "),
        ]
        findings = self.findings
        if findings is None:
            return "\n".join([*lines, "", "No investigation for this day (materialize the b2b_investigation assets)."])
        lines += [
            "",
            "Inside B2B, by account lifetime value:",
            *_aligned(findings.cohort_table()),
            f"{GONE_QUIET} {findings.total['gone_quiet']} vs {findings.typical_text}",
            *(f"  {line}" for line in findings.quiet_lines()),
            "",
            f"Why B2B AOV moved ({signed_money_text(self.move)}):",
            *findings.why_lines(),
        ]
        if self.basket_lines():
            lines += ["Left the baskets (B2B line value per order by category):", *self.basket_lines()]
        if findings.top:
            lines.append(f"Action: {ACTIONS[findings.top['cause']]}")
        if self.calls is not None and not self.calls.rows.empty:
            lines += ["", f"Who should call ({self.calls.accounts} accounts; all of them: {self.calls.command}):"]
            lines += [f"  {rep}: {accounts}" for rep, accounts in self.calls.by_rep()]
        return "\n".join(lines)

    def markdown(self) -> str:
        rows = [  # narrow enough for the asset's Overview panel; revenue is in the text card and the facts
            "| segment | AOV (30D) | prior AOV | change | orders | prior orders |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ] + [
            f"| {s.segment} | {money_text(s.aov)} | {money_text(s.prior_aov)} | {pct_text(s.aov_change_pct)} | "
            f"{s.orders:,} | {s.prior_orders:,} |"
            for s in self.segments.values()
        ]
        lines = [
            f"**B2B AOV vs B2C AOV as of {self.as_of}**",
            "",
            *rows,
            "",
            *(f"- {fact}" for fact in [*self.facts(), self.headline]),
        ]
        lines += self._around("**Around it**", "- ", gap=True)
        findings = self.findings
        if findings is None:
            return "\n".join(lines)
        table = findings.cohort_table()
        lines += [
            "",
            "**Inside B2B, by account lifetime value**",
            "",
            *_markdown_table(table),
            "",
            f"**Gone quiet: {findings.total['gone_quiet']}** vs {findings.typical_text}",
            "",
            *(f"- {line}" for line in findings.quiet_lines()),
            "",
            "**Why B2B AOV moved**",
            "",
            *findings.why_lines(),
        ]
        if self.basket_lines():
            lines += ["", "**Left the baskets**", "", *(f"- {line}" for line in self.basket_lines())]
        if findings.top:
            lines += ["", f"**Action:** {ACTIONS[findings.top['cause']]}"]
        if self.calls is not None and not self.calls.rows.empty:
            lines += ["", f"**Who should call ({self.calls.accounts} accounts; all: `{self.calls.command}`)**", ""]
            lines += [f"- **{rep}**: {accounts}" for rep, accounts in self.calls.by_rep()]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        (c0, c1), (p0, p1) = self.current_window, self.prior_window
        return (
            {
                "as_of": self.as_of.isoformat(),
                "current_window": [c0.isoformat(), c1.isoformat()],
                "prior_window": [p0.isoformat(), p1.isoformat()],
                "segments": {name: jsonable(vars(line)) for name, line in self.segments.items()},
                "multiplier": json_number(self.multiplier),
                "prior_multiplier": json_number(self.prior_multiplier),
                "alert": self.alert,
                "verdict": self.verdict,
                "headline": self.headline,
                "threshold_pct": json_number(self.rule.drop_pct),
                "direction": self.rule.direction,
                "min_orders": self.rule.min_orders,
            }
            | (self.findings.as_json() if self.findings else {})
            | (self.neighbours.as_json() if self.neighbours else {})
            | {"left_the_baskets": [jsonable(row) for row in self.left_the_baskets()]}
            | ({"call_list": self.calls.as_json()} if self.calls is not None else {})
        )

    def _around(self, title: str, bullet: str, gap: bool = False) -> list[str]:
        """The neighbours' section, or nothing when they were not materialized for this day."""
        if self.neighbours is None:
            return []
        return ["", title, *([""] if gap else []), *(f"{bullet}{line}" for line in self.neighbours.lines())]

    def facts(self) -> list[str]:
        b2b = self.segments["b2b"]
        multiplier, prior_multiplier = times_text(self.multiplier), times_text(self.prior_multiplier)
        return [
            f"Multiplier (B2B AOV / B2C AOV): {multiplier} (prior {prior_multiplier})",
            f"B2B orders {pct_text(b2b.orders_change_pct)}, revenue {pct_text(b2b.revenue_change_pct)}; "
            f"lines per order {plain_text(b2b.lines_per_order)} (prior {plain_text(b2b.prior_lines_per_order)})",
        ]


TREND_DAYS = 90  # as-of days of the trend table and chart


def trend_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """`aov_30d` rows of several as-of days -> one row per day, oldest first: b2b_aov, prior_b2b_aov,
    b2b_change_pct, b2c_aov and the verdict. The trend's table and its chart both draw these."""
    b2b = rows[rows["segment"] == "b2b"].set_index("as_of")
    b2c = rows[rows["segment"] == "b2c"].set_index("as_of")["aov"]
    return pd.DataFrame(
        {
            "b2b_aov": b2b["aov"],
            "prior_b2b_aov": b2b["prior_aov"],
            "b2b_change_pct": b2b["aov_change_pct"],
            "b2c_aov": b2c.reindex(b2b.index),
            "verdict": b2b["verdict"],
        }
    ).sort_index()


def trend_of(warehouse: Warehouse, as_of: date) -> pd.DataFrame:
    """The trend of the TREND_DAYS as-of days to `as_of`, as the warehouse has them."""
    return trend_frame(warehouse.read_aov_30d(as_of - timedelta(days=TREND_DAYS - 1), as_of))


@dataclass(frozen=True)
class TtmCard:
    """The twelve calendar months to `month` per segment, against the twelve months a year earlier.

    A window is partial while the warehouse holds fewer of its days than the months have (a young
    history): its AOVs are shown, flagged, but not plotted and not compared, so the first months of a
    history never read as a trend.
    """

    month: date
    rows: dict[str, dict[str, Any]]  # segment -> its aov_ttm row
    prior: dict[str, dict[str, Any]]  # the same, twelve months earlier ({} before the history)

    @classmethod
    def from_frame(cls, ttm: pd.DataFrame, month: date) -> TtmCard | None:
        """From `aov_ttm` rows holding `month` (and, if there, the month a year earlier); None without them."""

        def of(first: date) -> dict[str, dict[str, Any]]:
            return {row["segment"]: row for row in plain_records(ttm[ttm["month"] == f"{first:%Y-%m}"])}

        rows = of(month)
        return cls(month, rows, of(add_months(month, -12))) if rows else None

    @classmethod
    def stored(cls, warehouse: Warehouse, month: date) -> TtmCard | None:
        return cls.from_frame(warehouse.read_ttm([month, add_months(month, -12)]), month)

    @classmethod
    def before(cls, warehouse: Warehouse, as_of: date) -> TtmCard | None:
        """The card of the calendar month before `as_of`'s month (the monthly run judges complete months;
        shown with that day's 30-day card)."""
        return cls.stored(warehouse, add_months(month_start(as_of), -1))

    @staticmethod
    def _days_of(month: date) -> int:
        return (add_months(month, 1) - add_months(month, -11)).days

    @property
    def partial(self) -> bool:
        return self.rows["b2b"]["days"] < self._days_of(self.month)

    @property
    def comparable(self) -> bool:
        """Both windows complete: the change against a year earlier means something."""
        earlier = add_months(self.month, -12)
        return not self.partial and bool(self.prior) and self.prior["b2b"]["days"] == self._days_of(earlier)

    def change_pct(self, segment: str) -> Decimal | None:
        if not self.comparable:
            return None
        now, before = self.rows[segment], self.prior[segment]
        return as_percent(relative_change(_aov(now), _aov(before)))

    @property
    def title(self) -> str:
        span = f"{add_months(self.month, -11):%Y-%m}..{self.month:%Y-%m}"
        partial = f"; partial: {self.rows['b2b']['days']} of {self._days_of(self.month)} days" if self.partial else ""
        return f"Trailing twelve months to {self.month:%Y-%m} ({span}{partial})"

    def _segments(self) -> list[tuple[str, dict[str, Any]]]:
        return [(segment, self.rows[segment]) for segment in WINDOW_SEGMENTS]

    def table(self) -> list[tuple[str, ...]]:
        header = ("segment", "TTM AOV", "a year earlier", "change", "orders")
        return [header] + [
            (
                segment,
                money_text(row["aov"]),
                money_text(self.prior.get(segment, {}).get("aov")),
                pct_text(self.change_pct(segment)),
                f"{row['orders']:,}",
            )
            for segment, row in self._segments()
        ]

    def facts(self) -> list[str]:
        earlier = self.prior.get("b2b", {}).get("multiplier")
        facts = [
            f"Multiplier (B2B AOV / B2C AOV): {times_text(self.rows['b2b']['multiplier'])} (a year earlier "
            f"{times_text(earlier)})"
        ]
        if not self.comparable:
            facts.append(
                "No change against a year earlier: one of the two windows is partial (the history is younger)."
            )
        return facts

    def lines(self) -> list[str]:
        return [self.title, "", *_aligned(self.table()), *self.facts()]

    def markdown(self) -> str:
        table = self.table()
        return "\n".join(
            [
                f"**{self.title}**",
                "",
                *_markdown_table(table),
                "",
                *(f"- {fact}" for fact in self.facts()),
            ]
        )

    def numbers(self) -> dict[str, Any]:
        """What the UI plots per month: the AOVs of complete windows only, the change when comparable."""
        numbers: dict[str, Any] = {"partial": self.partial, "days": self.rows["b2b"]["days"]}
        numbers |= {f"{segment}_orders": self.rows[segment]["orders"] for segment in ("b2b", "b2c")}
        if not self.partial:
            numbers |= {f"{segment}_aov": row["aov"] for segment, row in self._segments()}
            numbers["multiplier"] = self.rows["b2b"]["multiplier"]
        if self.comparable:
            numbers |= {f"{segment}_aov_yoy_pct": self.change_pct(segment) for segment, _ in self._segments()}
        return numbers

    def as_json(self) -> dict[str, Any]:
        return {
            "month": f"{self.month:%Y-%m}",
            "partial": self.partial,
            "comparable": self.comparable,
            "segments": {
                segment: jsonable(
                    row
                    | {"prior_aov": self.prior.get(segment, {}).get("aov"), "aov_change_pct": self.change_pct(segment)}
                )
                for segment, row in self._segments()
            },
        }


def _aov(row: dict[str, Any]) -> Fraction | None:
    """A TTM row's AOV from its exact revenue and order count (not the AOV rounded to cents)."""
    return Fraction(row["revenue"]) / row["orders"] if row["orders"] else None


def _per_order(count: int, orders: int) -> Decimal | None:
    return (Decimal(count) / orders).quantize(Decimal("0.1")) if orders else None
