"""Days that look like a sync gap (pure)."""

from __future__ import annotations

from datetime import date

import pandas as pd

GAP_WINDOW_DAYS = 28


def gap_days(orders_per_day: pd.Series, min_median: int) -> list[tuple[date, float, str]]:
    """Days that look like a sync gap: no row at all, or zero orders where the trailing 28-day
    median (of the days before) is at least `min_median`. Returns (day, median, 'missing'|'zero').

    `orders_per_day` is indexed by every calendar day of the span, NaN where daily_aov has no row.
    """
    median = orders_per_day.shift(1).rolling(GAP_WINDOW_DAYS, min_periods=GAP_WINDOW_DAYS // 2).median()
    gaps = []
    for day, orders in orders_per_day.items():
        expected = median.get(day)
        if pd.isna(orders) and not pd.isna(expected):
            gaps.append((day, float(expected), "missing"))
        elif orders == 0 and not pd.isna(expected) and expected >= min_median:
            gaps.append((day, float(expected), "zero"))
    return gaps
