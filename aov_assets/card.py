"""The "B2B AOV vs B2C AOV" card (one as-of day of `aov_30d`) and the trailing-twelve-month card (one month
of `aov_ttm` against a year earlier), as text, Markdown and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import pandas as pd

from .investigation import ACTIONS, ALL, COHORTS
from .neighbours import MEASURES, NO_HISTORY
from .rules import (
    WINDOW_DAYS,
    WINDOW_SEGMENTS,
    AlertRule,
    add_months,
    as_percent,
    fraction_to_decimal,
    month_start,
    relative_change,
)

if TYPE_CHECKING:
    from .warehouse import Warehouse

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


QUIET_SHOWN = 10  # gone-quiet accounts listed on the card; the rest are counted


@dataclass(frozen=True)
class Findings:
    """One as-of day of the investigation: LTV cohorts, gone-quiet accounts, and the ranked causes."""

    cohorts: list[dict[str, Any]]  # b2b_cohorts_30d rows, top / middle / bottom
    total: dict[str, Any]  # the `all` row: every account, gone quiet, typical counts
    why: list[dict[str, Any]]  # aov_why rows with role `why`, ranked
    ruled_out: list[dict[str, Any]]
    gone_quiet: list[dict[str, Any]]  # account, name, prior_orders, prior_revenue (largest first)

    @classmethod
    def from_frames(cls, cohorts: pd.DataFrame, why: pd.DataFrame, quiet: pd.DataFrame) -> Findings | None:
        """From one as-of day's rows of b2b_cohorts_30d, aov_why and the gone-quiet b2b_accounts_30d."""
        return next(iter(cls.by_day(cohorts, why, quiet).values()), None)

    @classmethod
    def by_day(cls, cohorts: pd.DataFrame, why: pd.DataFrame, quiet: pd.DataFrame) -> dict[date, Findings]:
        """The investigation of each as-of day that has cohort rows, from rows of b2b_cohorts_30d, aov_why and
        the gone-quiet b2b_accounts_30d (largest prior revenue first), e.g. `Warehouse.read_investigation`'s.
        Each frame is converted to plain rows once: a range run builds hundreds of days."""
        rows_of: dict[date, list[dict[str, Any]]] = {}
        causes_of: dict[date, list[dict[str, Any]]] = {}
        quiet_of: dict[date, list[dict[str, Any]]] = {}
        for frame, grouped, keep in (
            (cohorts, rows_of, None),
            (why, causes_of, None),
            (quiet, quiet_of, ["account", "name", "prior_orders", "prior_revenue"]),
        ):
            for row in _records(frame):
                as_of = row.pop("as_of")
                grouped.setdefault(as_of, []).append({k: row[k] for k in keep} if keep else row)
        findings = {}
        for as_of, rows in sorted(rows_of.items()):
            causes = sorted(causes_of.get(as_of, []), key=lambda row: row["rank"])
            findings[as_of] = cls(
                cohorts=sorted((r for r in rows if r["cohort"] != ALL), key=lambda r: COHORTS.index(r["cohort"])),
                total=next(r for r in rows if r["cohort"] == ALL),
                why=[row for row in causes if row["role"] == "why"],
                ruled_out=[row for row in causes if row["role"] == "ruled_out"],
                gone_quiet=quiet_of.get(as_of, []),
            )
        return findings

    @property
    def decomposition(self) -> dict[str, Decimal]:
        """The additive parts of the B2B AOV change (they sum to it, one cent per part)."""
        return {row["cause"]: row["contribution"] for row in self.why + self.ruled_out if row["part"]}

    @property
    def top(self) -> dict[str, Any] | None:
        return self.why[0] if self.why else None

    @property
    def typical_text(self) -> str:
        t = self.total
        if not t["typical_windows"]:
            return "no earlier window to compare with"
        low, high = _whole(t["typical_gone_quiet_min"]), _whole(t["typical_gone_quiet_max"])
        spread = f"{low}" if low == high else f"{low}-{high}"
        return f"typical {spread} (median {t['typical_gone_quiet_median'].normalize():f} of {t['typical_windows']})"

    @property
    def orders_per_account(self) -> Decimal | None:
        """Orders per account that ordered in the current window."""
        active = self.total["active_accounts"]
        return (Decimal(self.total["orders"]) / active).quantize(Decimal("0.01")) if active else None

    def cause_lines(self, limit: int | None = None) -> list[str]:
        return [
            f"{i}. {row['cause']} {_signed_money(row['contribution'])} ({plain_pct(row['share_pct'])} of the move): "
            f"{row['summary']}"
            for i, row in enumerate(self.why[:limit], 1)
        ]

    def why_lines(self) -> list[str]:
        """The ranked causes, then what was ruled out: the same lines on the card, the check and aov_why."""
        ruled_out = [f"- {row['summary']}" for row in self.ruled_out]
        return [*self.cause_lines(), "", "Ruled out:", *ruled_out]  # the blank line ends the numbered list

    def quiet_lines(self, limit: int = QUIET_SHOWN) -> list[str]:
        lines = [
            f"{row['name']} ({row['account']}): {row['prior_orders']} order(s), {money_text(row['prior_revenue'])} "
            "in the prior 30 days"
            for row in self.gone_quiet[:limit]
        ]
        if len(self.gone_quiet) > limit:
            lines.append(f"... {len(self.gone_quiet) - limit} more")
        return lines

    def cohort_table(self) -> list[tuple[str, ...]]:
        header = ("cohort", "accounts", "orders (30D)", "AOV (30D)", "prior AOV", "change", "gone quiet")
        return [header] + [
            (
                row["cohort"],
                f"{row['accounts']:,}",
                f"{row['orders']:,}",
                money_text(row["aov"]),
                money_text(row["prior_aov"]),
                pct_text(row["aov_change_pct"]),
                str(row["gone_quiet"]),
            )
            for row in self.cohorts
        ]

    def as_json(self) -> dict[str, Any]:
        t = self.total
        return {
            "why": [
                {k: _number(row[k]) for k in ("cause", "contribution", "share_pct", "summary")} for row in self.why
            ],
            "action": ACTIONS.get(self.top["cause"]) if self.top else None,
            "ruled_out": [{k: row[k] for k in ("cause", "summary")} for row in self.ruled_out],
            "decomposition": {cause: _number(value) for cause, value in self.decomposition.items()},
            "gone_quiet": {
                "count": int(t["gone_quiet"]),
                "typical_median": _number(t["typical_gone_quiet_median"]),
                "typical_min": t["typical_gone_quiet_min"],
                "typical_max": t["typical_gone_quiet_max"],
                "accounts": [_jsonable(row) for row in self.gone_quiet],
            },
            "cohorts": [
                _jsonable({k: v for k, v in row.items() if not k.startswith("typical")}) for row in self.cohorts
            ],
        }


@dataclass(frozen=True)
class Neighbours:
    """One as-of day of segment_metrics_30d and currency_aov_30d: what moved around B2B AOV."""

    segments: dict[str, dict[str, Any]]  # b2b / b2c / all -> segment_metrics_30d row
    currencies: list[dict[str, Any]]  # currency_aov_30d rows, by segment and currency
    categories: list[dict[str, Any]]  # b2b_category_mix_30d rows

    @classmethod
    def by_day(
        cls, metrics: pd.DataFrame, currencies: pd.DataFrame | None = None, categories: pd.DataFrame | None = None
    ) -> dict[date, Neighbours]:
        """Each as-of day that has segment_metrics_30d rows, e.g. from `Warehouse.read_neighbours`."""
        segments_of: dict[date, dict[str, dict[str, Any]]] = {}
        for row in _records(metrics):
            segments_of.setdefault(row["as_of"], {})[row["segment"]] = row
        rows_of: dict[str, dict[date, list[dict[str, Any]]]] = {"currencies": {}, "categories": {}}
        for name, frame in (("currencies", currencies), ("categories", categories)):
            for row in _records(frame) if frame is not None else []:
                rows_of[name].setdefault(row.pop("as_of"), []).append(row)
        return {
            as_of: cls(segments, rows_of["currencies"].get(as_of, []), rows_of["categories"].get(as_of, []))
            for as_of, segments in sorted(segments_of.items())
            if set(segments) >= set(WINDOW_SEGMENTS)
        }

    def fallen_categories(self, limit: int = 3) -> list[dict[str, Any]]:
        """The categories whose B2B line value per order fell most: what left the baskets."""
        fell = [row for row in self.categories if row["per_order_change"] is not None and row["per_order_change"] < 0]
        return sorted(fell, key=lambda row: (row["per_order_change"], row["category"]))[:limit]

    def lines(self) -> list[str]:
        """The card's "Around it" lines: B2B's share, frequency, loyalty and basket; currencies when several."""
        b2b = self.segments["b2b"]
        if b2b["revenue_share_pct"] is None:
            return [f"B2B around it: {NO_HISTORY} (no day of the current window in the warehouse)"]
        lines = [
            f"B2B share of revenue {_measure(b2b, 'revenue_share_pct')}",
            f"Orders per B2B account {_measure(b2b, 'orders_per_customer')}; active accounts "
            f"{_measure(b2b, 'active_customers')}, new {_measure(b2b, 'new_customers')}",
            f"B2B repeat rate {_measure(b2b, 'repeat_rate_pct')}: accounts that had ordered before the window",
            f"Lines per B2B order {_measure(b2b, 'lines_per_order')}; value per line {_measure(b2b, 'value_per_line')}",
            f"B2B refund rate {_measure(b2b, 'refund_rate_pct')}; AOV stays gross",
        ]
        mine = [row for row in self.currencies if row["segment"] == "b2b"]
        if len({row["currency"] for row in self.currencies}) > 1:
            lines += [
                f"B2B in {row['currency']}: AOV {money_text(row['aov'])} {row['currency']} (prior "
                f"{money_text(row['prior_aov'])}, {pct_text(row['aov_change_pct'])}); {row['orders']:,} orders; "
                f"global AOV {money_text(row['global_aov'])} ({pct_text(row['global_aov_change_pct'])})"
                for row in mine
            ]
        return lines

    def markdown(self) -> str:
        """Every measure per segment, now (prior): segment_metrics_30d's card for one as-of day."""

        def cell(row: dict[str, Any], name: str) -> str:
            now, prior = row[name], row[f"prior_{name}"]
            if now is None:
                return NO_HISTORY
            return f"{_measure_text(name, now)} ({'-' if prior is None else _measure_text(name, prior)})"

        return "\n".join(
            [
                "| measure, now (prior 30 days) | " + " | ".join(WINDOW_SEGMENTS) + " |",
                "| --- |" + " ---: |" * len(WINDOW_SEGMENTS),
                *(
                    f"| {name.replace('_', ' ')} | "
                    + " | ".join(cell(self.segments[s], name) for s in WINDOW_SEGMENTS)
                    + " |"
                    for name in MEASURES
                ),
            ]
        )

    def check_numbers(self) -> dict[str, Any]:
        """B2B's measures now and prior, for the check's metadata."""
        return {f"b2b_{key}": value for key, value in _with_priors(self.segments["b2b"]).items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "neighbours": {segment: _jsonable(_with_priors(row)) for segment, row in self.segments.items()},
            "currencies": [_jsonable({k: row[k] for k in CURRENCY_JSON}) for row in self.currencies],
        }


CURRENCY_JSON = (
    "segment",
    "currency",
    "orders",
    "revenue",
    "aov",
    "prior_aov",
    "aov_change_pct",
    "global_aov",
    "global_prior_aov",
)


def _with_priors(row: dict[str, Any]) -> dict[str, Any]:
    """Each measure of a segment_metrics_30d row and its `prior_` value."""
    return {f"{prefix}{name}": row[f"{prefix}{name}"] for name in MEASURES for prefix in ("", "prior_")}


def _measure(row: dict[str, Any], name: str) -> str:
    """`now (prior P, change)`; "not enough history" for a window the warehouse does not cover."""
    now, prior, change = row[name], row[f"prior_{name}"], row[f"{name}_change"]
    if now is None:
        return NO_HISTORY
    shown = _measure_text(name, now)
    if prior is None:
        return f"{shown} (prior: {NO_HISTORY})"
    moved = "-" if change is None else f"{change:+.1f} pts" if MEASURES[name] == "points" else pct_text(change)
    return f"{shown} (prior {_measure_text(name, prior)}, {moved})"


def _measure_text(name: str, value: Any) -> str:
    if name.endswith("_pct"):
        return plain_pct(value)
    if name == "value_per_line":
        return money_text(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return f"{_whole(value):,}"


def _whole(value: Any) -> Any:
    """A count read back as a float (a column of several days with gaps) prints as the count it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


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

    @classmethod
    def stored(cls, warehouse: Warehouse, as_of: date, rule: AlertRule) -> Card | None:
        """The card of one as-of day as the warehouse has it, with its investigation and neighbours; None
        without aov_30d rows."""
        rows = warehouse.read_card(as_of)
        if rows.empty:
            return None
        neighbours = Neighbours.by_day(*warehouse.read_neighbours(as_of, as_of)).get(as_of)
        return cls.from_rows(rows, rule, Findings.from_frames(*warehouse.read_investigation(as_of, as_of)), neighbours)

    @classmethod
    def from_rows(
        cls,
        rows: pd.DataFrame,
        rule: AlertRule,
        findings: Findings | None = None,
        neighbours: Neighbours | None = None,
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
            f"(prior {money_text(row['prior_per_order'])}, {_signed_money(row['per_order_change'])}); "
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
            f"Likely cause: {top['cause']} ({_signed_money(top['contribution'])}, "
            f"{plain_pct(top['share_pct'])} of the move). {top['summary']}"
        )

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
            *self._around("Around it:", "  "),
        ]
        findings = self.findings
        if findings is None:
            return "\n".join([*lines, "", "No investigation for this day (materialize the b2b_investigation assets)."])
        b2b = self.segments["b2b"]
        move = (b2b.aov - b2b.prior_aov) if b2b.aov is not None and b2b.prior_aov is not None else None
        lines += [
            "",
            "Inside B2B, by account lifetime value:",
            *_aligned(findings.cohort_table()),
            f"Accounts gone quiet (ordered in the prior 30 days, not since): {findings.total['gone_quiet']} vs "
            f"{findings.typical_text}",
            *(f"  {line}" for line in findings.quiet_lines()),
            "",
            f"Why B2B AOV moved ({_signed_money(move)}):",
            *findings.why_lines(),
        ]
        if self.basket_lines():
            lines += ["Left the baskets (B2B line value per order by category):", *self.basket_lines()]
        if findings.top:
            lines.append(f"Action: {ACTIONS[findings.top['cause']]}")
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
        lines = [f"**B2B AOV vs B2C AOV as of {self.as_of}**", "", *rows, "", *(f"- {fact}" for fact in self._facts())]
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
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        (c0, c1), (p0, p1) = self.current_window, self.prior_window
        return (
            {
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
            }
            | (self.findings.as_json() if self.findings else {})
            | (self.neighbours.as_json() if self.neighbours else {})
            | {"left_the_baskets": [_jsonable(row) for row in self.left_the_baskets()]}
        )

    def _around(self, title: str, bullet: str, gap: bool = False) -> list[str]:
        """The neighbours' section, or nothing when they were not materialized for this day."""
        if self.neighbours is None:
            return []
        return ["", title, *([""] if gap else []), *(f"{bullet}{line}" for line in self.neighbours.lines())]

    def _facts(self) -> list[str]:
        b2b = self.segments["b2b"]
        multiplier, prior_multiplier = times_text(self.multiplier), times_text(self.prior_multiplier)
        return [
            f"Multiplier (B2B AOV / B2C AOV): {multiplier} (prior {prior_multiplier})",
            f"B2B orders {pct_text(b2b.orders_change_pct)}, revenue {pct_text(b2b.revenue_change_pct)}; "
            f"lines per order {plain_text(b2b.lines_per_order)} (prior {plain_text(b2b.prior_lines_per_order)})",
            self.headline,
        ]


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
            return {row["segment"]: row for row in _records(ttm[ttm["month"] == f"{first:%Y-%m}"])}

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
                segment: _jsonable(
                    row
                    | {"prior_aov": self.prior.get(segment, {}).get("aov"), "aov_change_pct": self.change_pct(segment)}
                )
                for segment, row in self._segments()
            },
        }


def _aov(row: dict[str, Any]) -> Fraction | None:
    """A TTM row's AOV from its exact revenue and order count (not the AOV rounded to cents)."""
    return Fraction(row["revenue"]) / row["orders"] if row["orders"] else None


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


def _per_order(count: int, orders: int) -> Decimal | None:
    return (Decimal(count) / orders).quantize(Decimal("0.1")) if orders else None


def money_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def pct_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def plain_pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _signed_money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def times_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def plain_text(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _number(value) for key, value in values.items()}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (numpy scalars unwrapped, missing values as None)."""
    names = list(frame.columns)
    columns = [[_plain(v) for v in frame[name].tolist()] for name in names]
    return [dict(zip(names, row)) for row in zip(*columns)]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, Decimal) else value
