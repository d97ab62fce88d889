"""Segments, the 30-day windows and calendar months every domain counts in."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

SEGMENTS = ("b2b", "b2c")
WINDOW_SEGMENTS = ("b2b", "b2c", "all")
WINDOW_DAYS = 30


def two_windows(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day rows (days x sums, from 59 days before the first as-of day) -> their sums over the current
    window (D-29..D) and the prior one (D-59..D-30) of every as-of day: differences of cumulative sums."""
    zero = np.zeros((1, *dense.shape[1:]), dtype=np.int64)
    cumulative = np.concatenate([zero, np.cumsum(dense, axis=0, dtype=np.int64)])
    ends = np.arange(2 * WINDOW_DAYS, len(dense) + 1)  # cumulative index just past each as-of day
    return cumulative[ends] - cumulative[ends - WINDOW_DAYS], cumulative[ends - WINDOW_DAYS] - cumulative[
        ends - 2 * WINDOW_DAYS
    ]


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)
