"""What a cause is and what the causes of one as-of day read besides the per-account sums (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

from ..core.money import as_percent, fraction_to_decimal
from ..core.windows import WINDOW_DAYS
from .accounts import Typical, Windows, largest_per_day


@dataclass(frozen=True)
class Largest:
    """The largest counted B2B order of a window."""

    cents: int
    order_id: str
    account: str


@dataclass(frozen=True)
class Context:
    """What the leading causes need besides the per-account sums, for one as-of day."""

    largest: Largest | None = None
    prior_largest: Largest | None = None
    base_units: dict[str, int] = field(default_factory=dict)  # current window, per base currency
    revenue_cents: dict[str, int] = field(default_factory=dict)
    prior_base_units: dict[str, int] = field(default_factory=dict)
    prior_revenue_cents: dict[str, int] = field(default_factory=dict)
    b2c_aov: Fraction | None = None
    prior_b2c_aov: Fraction | None = None
    refunded_cents: int = 0
    prior_refunded_cents: int = 0
    typical: Typical | None = None
    credit: pd.Series | None = None  # by account: peak credit utilization in the current window (None: no data)
    credit_threshold: float = 0.8  # investigation.credit_utilization


class WindowContext:
    """Dense per-day arrays over the span, so each as-of day's `Context` (largest orders, base
    currencies, B2C AOV, refunds of both windows) costs O(window), not a filter of every row."""

    def __init__(self, daily: pd.DataFrame, currency: pd.DataFrame, segments: pd.DataFrame, windows: Windows):
        """`daily`: account_daily rows of the windows' span; each day's largest order (`largest_per_day`) is enough."""
        self.windows, self.days = windows, windows.days
        largest = largest_per_day(daily)
        at = self.days.get_indexer(pd.to_datetime(largest["order_date"]))
        self.largest_cents = np.full(len(self.days), -1, dtype=np.int64)
        self.largest_cents[at] = largest["largest_cents"].to_numpy(dtype=np.int64)
        self.largest = dict(zip(at, zip(largest["largest_order_id"].astype(str), largest["account"])))
        self.currencies = sorted(set(currency["base_currency_code"]))
        self.by_currency = {
            column: self._cumulative(currency, "base_currency_code", self.currencies, column)
            for column in ("base_units", "revenue_cents")
        }
        b2c = segments[segments["segment"] == "b2c"]
        self.b2c = {column: self._cumulative(b2c, "segment", ["b2c"], column) for column in ("orders", "revenue_cents")}

    def _cumulative(self, frame: pd.DataFrame, key: str, keys: list[str], column: str) -> np.ndarray:
        dense = np.zeros((len(self.days) + 1, len(keys)), dtype=np.int64)
        rows = self.days.get_indexer(pd.to_datetime(frame["order_date"])) + 1
        np.add.at(dense, (rows, pd.Index(keys).get_indexer(frame[key])), frame[column].to_numpy(dtype=np.int64))
        return np.cumsum(dense, axis=0)

    def _bounds(self, as_of: date, offset: int) -> tuple[int, int]:
        end = self.days.get_loc(pd.Timestamp(as_of)) + 1 - offset
        return end - WINDOW_DAYS, end

    def _sum(self, cumulative: np.ndarray, as_of: date, offset: int) -> np.ndarray:
        start, end = self._bounds(as_of, offset)
        return cumulative[end] - cumulative[start]

    def _top(self, as_of: date, offset: int) -> Largest | None:
        start, end = self._bounds(as_of, offset)
        day = start + int(np.argmax(self.largest_cents[start:end]))
        if self.largest_cents[day] < 0:
            return None
        order_id, account = self.largest[day]
        return Largest(int(self.largest_cents[day]), order_id, account)

    def _per_currency(self, column: str, as_of: date, offset: int) -> dict[str, int]:
        """Per base currency with orders of some base value in the window."""
        units = self._sum(self.by_currency["base_units"], as_of, offset)
        sums = self._sum(self.by_currency[column], as_of, offset)
        return {currency: int(v) for currency, v, u in zip(self.currencies, sums, units) if u}

    def _b2c_aov(self, as_of: date, offset: int) -> Fraction | None:
        orders = int(self._sum(self.b2c["orders"], as_of, offset)[0])
        return Fraction(int(self._sum(self.b2c["revenue_cents"], as_of, offset)[0]), 100 * orders) if orders else None

    def __call__(self, as_of: date, typical: Typical) -> Context:
        windows = self.windows
        return Context(
            largest=self._top(as_of, 0),
            prior_largest=self._top(as_of, WINDOW_DAYS),
            base_units=self._per_currency("base_units", as_of, 0),
            revenue_cents=self._per_currency("revenue_cents", as_of, 0),
            prior_base_units=self._per_currency("base_units", as_of, WINDOW_DAYS),
            prior_revenue_cents=self._per_currency("revenue_cents", as_of, WINDOW_DAYS),
            b2c_aov=self._b2c_aov(as_of, 0),
            prior_b2c_aov=self._b2c_aov(as_of, WINDOW_DAYS),
            refunded_cents=int(windows.window("refunded_cents", as_of).sum()),
            prior_refunded_cents=int(windows.window("refunded_cents", as_of, WINDOW_DAYS).sum()),
            typical=typical,
        )


@dataclass(frozen=True)
class Cause:
    cause: str
    role: str  # why | ruled_out
    contribution: Fraction | None  # to A1 - A0, in money
    share: Fraction | None  # of the change
    part: bool
    summary: str


def signed_text(value: Fraction) -> str:
    return f"{fraction_to_decimal(value, Decimal('0.01')):+,.2f}"


def change_text(change: Fraction | None) -> str:
    return "-" if change is None else f"{as_percent(change):+.1f}%"
