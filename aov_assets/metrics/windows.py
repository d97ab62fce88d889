"""Daily sums into the 30-day card and the trailing twelve months, and the contraction verdict (pure).

Sums and counts are stored, averages derived: every window is a difference of cumulative daily
sums, exact in integer cents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd

from ..core.money import as_percent, cents_to_money, fraction_to_decimal, ratio_to_money, relative_change
from ..core.windows import SEGMENTS, WINDOW_DAYS, WINDOW_SEGMENTS, add_months, two_windows


@dataclass(frozen=True)
class Totals:
    """Exact sums for one segment over one window."""

    orders: int
    revenue_cents: int
    line_items: int = 0

    @property
    def aov(self) -> Fraction | None:
        return Fraction(self.revenue_cents, 100 * self.orders) if self.orders else None


@dataclass(frozen=True)
class AlertRule:
    drop_pct: Decimal
    direction: Literal["contraction", "expansion", "both"] = "contraction"
    min_orders: int = 30


@dataclass(frozen=True)
class Verdict:
    code: Literal["alert", "ok", "too_few_orders", "incomplete_window"]
    explanation: str

    @property
    def fired(self) -> bool:
        return self.code == "alert"


def b2b_verdict(current: Totals, prior: Totals, rule: AlertRule, *, complete: bool = True) -> Verdict:
    """The contraction rule: B2B AOV change strictly beyond the threshold, exact arithmetic.

    No verdict (and no alert) when either window has fewer than `min_orders` B2B orders or is
    missing days: a small or partial sample says nothing about accounts buying less.
    """
    if not complete:
        return Verdict("incomplete_window", "the 60-day window is missing days of data")
    if current.orders < rule.min_orders or prior.orders < rule.min_orders:
        return Verdict(
            "too_few_orders",
            f"too few B2B orders for a verdict ({current.orders} now, {prior.orders} prior; "
            f"at least {rule.min_orders} in each window)",
        )
    change = relative_change(current.aov, prior.aov)
    assert change is not None
    threshold = Fraction(rule.drop_pct) / 100
    shrank = change < -threshold and rule.direction in ("contraction", "both")
    grew = change > threshold and rule.direction in ("expansion", "both")
    percent = as_percent(change)
    if shrank:
        return Verdict("alert", f"B2B AOV down {-percent}% vs the prior 30 days (threshold {rule.drop_pct}%)")
    if grew:
        return Verdict("alert", f"B2B AOV up {percent}% vs the prior 30 days (threshold {rule.drop_pct}%)")
    return Verdict("ok", f"B2B AOV change {percent}% is within the {rule.drop_pct}% threshold")


DAILY_COLUMNS = ("order_date", "segment", "orders", "revenue_cents", "line_items")


def _dense(daily: pd.DataFrame, days: pd.DatetimeIndex) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-segment (orders, revenue_cents, line_items) arrays over `days`, plus which days exist."""
    frame = daily.assign(order_date=pd.to_datetime(daily["order_date"]))
    present = days.isin(frame["order_date"]).astype(np.int64)
    arrays = {}
    for segment in SEGMENTS:
        rows = frame[frame["segment"] == segment].set_index("order_date")[["orders", "revenue_cents", "line_items"]]
        arrays[segment] = rows.reindex(days, fill_value=0).to_numpy(dtype=np.int64)
    arrays["all"] = arrays["b2b"] + arrays["b2c"]
    return arrays, present


def window_sums(daily: pd.DataFrame, first_as_of: date, last_as_of: date) -> pd.DataFrame:
    """Trailing 30 days (D-29..D) and prior 30 days (D-59..D-30) for every as-of day D.

    `daily` holds one row per day and segment with integer sums; windows are differences of
    cumulative sums (O(days)), never a rescan of orders. `days`/`prior_days` count the days the
    warehouse actually has, so a gap is visible instead of silently shrinking the numbers.
    """
    span = pd.date_range(first_as_of - timedelta(days=2 * WINDOW_DAYS - 1), last_as_of, freq="D")
    arrays, present = _dense(daily, span)
    days_now, days_before = two_windows(present)
    frames = []
    for segment in WINDOW_SEGMENTS:
        now, before = two_windows(arrays[segment])
        frames.append(
            pd.DataFrame(
                {
                    "as_of": [d.date() for d in span[2 * WINDOW_DAYS - 1 :]],
                    "segment": segment,
                    "orders": now[:, 0],
                    "revenue_cents": now[:, 1],
                    "line_items": now[:, 2],
                    "prior_orders": before[:, 0],
                    "prior_revenue_cents": before[:, 1],
                    "prior_line_items": before[:, 2],
                    "days": days_now,
                    "prior_days": days_before,
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["as_of", "segment"], ignore_index=True)


def card_rows(sums: pd.DataFrame, rule: AlertRule) -> pd.DataFrame:
    """`window_sums` -> the `aov_30d` table: AOVs, changes, multiplier and the verdict per as-of day."""
    rows = []
    for as_of, day in sums.groupby("as_of", sort=True):
        by_segment = {row.segment: row for row in day.itertuples(index=False)}
        current = {s: Totals(r.orders, r.revenue_cents, r.line_items) for s, r in by_segment.items()}
        prior = {s: Totals(r.prior_orders, r.prior_revenue_cents, r.prior_line_items) for s, r in by_segment.items()}
        b2b = by_segment["b2b"]
        complete = b2b.days == WINDOW_DAYS and b2b.prior_days == WINDOW_DAYS
        verdict = b2b_verdict(current["b2b"], prior["b2b"], rule, complete=complete)
        b2c_aov = current["b2c"].aov
        multiplier = (
            fraction_to_decimal(current["b2b"].aov / b2c_aov) if current["b2b"].aov is not None and b2c_aov else None
        )
        for segment in WINDOW_SEGMENTS:
            now, before, row = current[segment], prior[segment], by_segment[segment]
            rows.append(
                {
                    "as_of": as_of,
                    "segment": segment,
                    "orders": now.orders,
                    "revenue": cents_to_money(now.revenue_cents),
                    "aov": ratio_to_money(now.revenue_cents, now.orders),
                    "prior_orders": before.orders,
                    "prior_revenue": cents_to_money(before.revenue_cents),
                    "prior_aov": ratio_to_money(before.revenue_cents, before.orders),
                    "aov_change_pct": as_percent(relative_change(now.aov, before.aov)),
                    "orders_change_pct": as_percent(relative_change(now.orders, before.orders)),
                    "revenue_change_pct": as_percent(relative_change(now.revenue_cents, before.revenue_cents)),
                    "multiplier": multiplier,
                    "alert": segment == "b2b" and verdict.fired,
                    "verdict": verdict.code,
                    "line_items": now.line_items,
                    "prior_line_items": before.line_items,
                    "days": int(row.days),
                    "prior_days": int(row.prior_days),
                }
            )
    return pd.DataFrame(rows)


def ttm_rows(daily: pd.DataFrame, first_month: date, last_month: date) -> pd.DataFrame:
    """Trailing-twelve-month sums per segment for each month M (the 12 calendar months ending with M).

    `days` counts the days of the 12 months the warehouse has, so a young history is visible.
    """
    months = pd.period_range(add_months(first_month, -11), last_month, freq="M")
    span = pd.date_range(months[0].start_time, months[-1].end_time.normalize(), freq="D")
    arrays, present = _dense(daily, span)
    month_of_day = span.to_period("M")
    ends = np.arange(12, len(months) + 1)

    def trailing(values: np.ndarray) -> np.ndarray:
        per_month = pd.DataFrame(values).groupby(month_of_day).sum().reindex(months, fill_value=0)
        cumulative = np.concatenate(
            [np.zeros((1,) + per_month.shape[1:], dtype=np.int64), np.cumsum(per_month.to_numpy(), axis=0)]
        )
        return cumulative[ends] - cumulative[ends - 12]

    days = trailing(present)[:, 0]
    sums = {segment: trailing(arrays[segment]) for segment in WINDOW_SEGMENTS}
    rows = []
    for position, end in enumerate(ends):
        totals = {s: Totals(*(int(v) for v in sums[s][position])) for s in WINDOW_SEGMENTS}
        b2b_aov, b2c_aov = totals["b2b"].aov, totals["b2c"].aov
        multiplier = fraction_to_decimal(b2b_aov / b2c_aov) if b2b_aov is not None and b2c_aov else None
        for segment, total in totals.items():
            rows.append(
                {
                    "month": str(months[end - 1]),
                    "segment": segment,
                    "orders": total.orders,
                    "revenue": cents_to_money(total.revenue_cents),
                    "aov": ratio_to_money(total.revenue_cents, total.orders),
                    "line_items": total.line_items,
                    "multiplier": multiplier,
                    "days": int(days[position]),
                }
            )
    return pd.DataFrame(rows)


def daily_rows(sums: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    """Every day x segment with its sums, zeros where a day had no counted orders (a real zero)."""
    grid = pd.MultiIndex.from_product([list(days), list(SEGMENTS)], names=["order_date", "segment"])
    frame = sums.set_index(["order_date", "segment"]) if len(sums) else None
    values = (
        frame[["orders", "revenue_cents", "line_items"]].reindex(grid, fill_value=0)
        if frame is not None
        else pd.DataFrame(0, index=grid, columns=["orders", "revenue_cents", "line_items"])
    )
    return values.astype("int64").reset_index()
