"""The card's neighbours, as pure rules (no Dagster, no I/O): what moved around B2B AOV.

`segment_metrics_30d`, per as-of day D and segment (b2b, b2c, all), for the current window
(D-29..D) and the prior one (D-59..D-30): revenue share, active customers, orders per customer,
repeat rate, new customers, line items per order, value per line and refund rate.
`currency_aov_30d`: per as-of day, segment and order currency, AOV in that currency (no exchange
rate in it) and in the global one.

A customer is the order's `customer_key` (`rules.customer_keys`, decided at order time), so a
customer who moves from B2C to B2B counts in each segment for their own orders; `all` is the union
of both segments' keys. Sums come from daily integer sums; distinct customers over every window at
once from each key's order days (see `active_and_repeat`), never a rescan per as-of day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from ..core.money import CENT, as_percent, cents_to_money, fraction_to_decimal, ratio_to_money, relative_change
from ..core.windows import SEGMENTS, WINDOW_DAYS, WINDOW_SEGMENTS, two_windows

# Each measure, and how its change is given: in percentage points for the percentages, else in percent.
MEASURES = {
    "revenue_share_pct": "points",
    "active_customers": "percent",
    "orders_per_customer": "percent",
    "repeat_rate_pct": "points",
    "new_customers": "percent",
    "lines_per_order": "percent",
    "value_per_line": "percent",
    "refund_rate_pct": "points",
}
SUMS = ("orders", "revenue_cents", "line_items", "refunded_cents")
CURRENCY_SUMS = ("orders", "units", "revenue_cents")  # units: order-currency amount in 1/10,000
NO_HISTORY = "not enough history"


def span_start(first_as_of: date) -> date:
    """The first day whose orders a range of as-of days reads (the prior window of the first one)."""
    return first_as_of - timedelta(days=2 * WINDOW_DAYS - 1)


def active_and_repeat(day: np.ndarray, key: np.ndarray, first: np.ndarray, days: int) -> tuple[np.ndarray, ...]:
    """For windows ending on day 0..days-1: distinct keys with an order in the window, and how many of
    them had ordered before the window started.

    `day`/`key` are (day, key) pairs of orders (day >= 0, duplicates allowed), `first[key]` the key's
    first order day ever (may be < 0). An order day d keeps its key active for the windows ending on
    d .. min(d + 29, the key's next order day - 1): disjoint intervals, so both counts are cumulative
    sums of two bincounts. Such a key is a repeat customer in the windows ending from first + 30.
    """
    pairs = np.unique(key.astype(np.int64) * (days + 1) + day)
    key, day = np.divmod(pairs, days + 1)
    following = np.full(len(day), days, dtype=np.int64)
    same = key[1:] == key[:-1]
    following[:-1][same] = day[1:][same]
    end = np.minimum(np.minimum(day + WINDOW_DAYS, following), days)
    start = np.maximum(day, first[key] + WINDOW_DAYS)
    repeat = start < end

    def covered(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        return np.cumsum(np.bincount(starts, minlength=days + 1) - np.bincount(ends, minlength=days + 1))[:days]

    return covered(day, end), covered(start[repeat], end[repeat])


def segment_rows(
    sums: pd.DataFrame,
    covered: Sequence[date],
    presence: pd.DataFrame,
    first_seen: pd.DataFrame,
    first_as_of: date,
    last_as_of: date,
    unkeyed: Sequence[date] = (),
) -> pd.DataFrame:
    """segment_metrics_30d rows for first_as_of..last_as_of.

    `sums`: per order_date and segment, SUMS of counted orders from span_start(first_as_of);
    `covered`: the days the warehouse has (daily_aov); `presence`: order_date, segment, customer_key
    of counted orders from span_start; `first_seen`: customer_key -> first_order_date (all history).
    A window with no covered day has no measures ("not enough history"), never zeros. `unkeyed` are
    days classified without customer keys (an older version): customer counts of a window that holds
    one, and repeat/new counts of any window on or after the first, are left empty, never guessed.
    """
    start = span_start(first_as_of)
    span = pd.date_range(start, last_as_of, freq="D")
    n = len(span)
    dense = {}
    frame = sums.assign(order_date=pd.to_datetime(sums["order_date"]))
    for segment in SEGMENTS:
        rows = frame[frame["segment"] == segment].set_index("order_date")[list(SUMS)]
        dense[segment] = rows.reindex(span, fill_value=0).to_numpy(dtype=np.int64)
    dense["all"] = dense["b2b"] + dense["b2c"]
    days_now, days_before = two_windows(span.isin(pd.to_datetime(list(covered))).astype(np.int64))

    codes, keys = pd.factorize(pd.concat([presence["customer_key"], first_seen["customer_key"]]))
    first = np.full(len(keys), n, dtype=np.int64)
    seen_codes = codes[len(presence) :]
    first[seen_codes] = (pd.to_datetime(first_seen["first_order_date"]) - span[0]).dt.days.to_numpy()
    day = (pd.to_datetime(presence["order_date"]) - span[0]).dt.days.to_numpy()
    key = codes[: len(presence)]
    segment_of = presence["segment"].to_numpy()
    active = {}
    for segment in WINDOW_SEGMENTS:
        mine = np.ones(len(day), dtype=bool) if segment == "all" else segment_of == segment
        active[segment] = active_and_repeat(day[mine], key[mine], first, n)

    as_of_days = [d.date() for d in span[2 * WINDOW_DAYS - 1 :]]
    unkeyed_now, unkeyed_before = two_windows(span.isin(pd.to_datetime(list(unkeyed))).astype(np.int64))
    first_unkeyed = (pd.Timestamp(min(unkeyed)) - span[0]).days if len(unkeyed) else n  # may be < 0
    now_all, before_all = two_windows(dense["all"])

    def window(sums: np.ndarray, all_revenue: int, counted: tuple[np.ndarray, ...], at: int, keyed: bool) -> dict:
        count, repeat = (int(values[at]) for values in counted)
        return _measures(sums, all_revenue, count if keyed else None, repeat if at < first_unkeyed else None)

    rows = []
    for segment in WINDOW_SEGMENTS:
        now, before = two_windows(dense[segment])
        for i, as_of in enumerate(as_of_days):
            at = i + 2 * WINDOW_DAYS - 1  # the as-of day's index in the span; the prior window ends 30 before
            counted = active[segment]
            current = window(now[i], now_all[i][1], counted, at, not unkeyed_now[i]) if days_now[i] else None
            prior = (
                window(before[i], before_all[i][1], counted, at - WINDOW_DAYS, not unkeyed_before[i])
                if days_before[i]
                else None
            )
            rows.append(
                {"as_of": as_of, "segment": segment}
                | _window_values(current, prior)
                | {name: int(value) for name, value in zip(SUMS, now[i])}
                | {f"prior_{name}": int(value) for name, value in zip(SUMS, before[i])}
                | {"days": int(days_now[i]), "prior_days": int(days_before[i])}
            )
    return pd.DataFrame(rows, dtype=object)  # integers stay integers next to None


def _measures(sums: np.ndarray, all_revenue_cents: int, active: int | None, repeat: int | None) -> dict[str, Any]:
    """One window's measures; the customer counts are None where they cannot be known (see segment_rows)."""
    orders, revenue_cents, line_items, refunded_cents = (int(v) for v in sums)
    known = active is not None and repeat is not None
    return {
        "revenue_share_pct": _pct(revenue_cents, int(all_revenue_cents)),
        "active_customers": active,
        "orders_per_customer": None if active is None else _ratio(orders, active),
        "repeat_rate_pct": _pct(repeat, active) if known else None,
        "new_customers": active - repeat if known else None,
        "lines_per_order": _ratio(line_items, orders),
        "value_per_line": ratio_to_money(revenue_cents, line_items),
        "refund_rate_pct": _pct(refunded_cents, revenue_cents),
    }


def _window_values(current: dict[str, Any] | None, prior: dict[str, Any] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, change in MEASURES.items():
        now = current[name] if current else None
        before = prior[name] if prior else None
        values[name], values[f"prior_{name}"] = now, before
        if change == "points":
            values[f"{name}_change"] = None if now is None or before is None else now - before
        else:
            values[f"{name}_change"] = as_percent(relative_change(_exact(now), _exact(before)))
    return values


def _exact(value: Decimal | int | None) -> Fraction | None:
    return None if value is None else Fraction(value)


def _pct(part: int, whole: int) -> Decimal | None:
    return fraction_to_decimal(Fraction(100 * part, whole)) if whole else None


def _ratio(count: int, per: int) -> Decimal | None:
    return fraction_to_decimal(Fraction(count, per)) if per else None


def currency_rows(sums: pd.DataFrame, first_as_of: date, last_as_of: date) -> pd.DataFrame:
    """currency_aov_30d rows: per as-of day, segment (b2b, b2c, all) and order currency with orders in
    either window. `sums`: per order_date, segment and currency, CURRENCY_SUMS of counted orders from
    span_start(first_as_of). Order-currency money is summed in 1/10,000 units, global in cents."""
    span = pd.date_range(span_start(first_as_of), last_as_of, freq="D")
    as_of_days = [d.date() for d in span[2 * WINDOW_DAYS - 1 :]]
    frame = sums.assign(order_date=pd.to_datetime(sums["order_date"]))
    frame = pd.concat([frame, frame.assign(segment="all")])
    rows = []
    for (segment, currency), group in frame.groupby(["segment", "currency"], sort=True):
        daily = group.groupby("order_date")[list(CURRENCY_SUMS)].sum().reindex(span, fill_value=0)
        now, before = two_windows(daily.to_numpy(dtype=np.int64))
        for as_of, (orders, units, cents), (prior_orders, prior_units, prior_cents) in zip(as_of_days, now, before):
            if orders or prior_orders:
                aov, prior_aov = _units_average(units, orders), _units_average(prior_units, prior_orders)
                global_aov, global_prior = ratio_to_money(cents, orders), ratio_to_money(prior_cents, prior_orders)
                rows.append(
                    {
                        "as_of": as_of,
                        "segment": segment,
                        "currency": currency,
                        "orders": int(orders),
                        "revenue": _units_money(units),
                        "aov": aov,
                        "prior_orders": int(prior_orders),
                        "prior_revenue": _units_money(prior_units),
                        "prior_aov": prior_aov,
                        "aov_change_pct": as_percent(relative_change(_exact(aov), _exact(prior_aov))),
                        "global_revenue": cents_to_money(cents),
                        "global_aov": global_aov,
                        "global_prior_aov": global_prior,
                        "global_aov_change_pct": as_percent(relative_change(_exact(global_aov), _exact(global_prior))),
                    }
                )
    return pd.DataFrame(rows, columns=CURRENCY_COLUMNS).sort_values(["as_of", "segment", "currency"], ignore_index=True)


CURRENCY_COLUMNS = [
    "as_of",
    "segment",
    "currency",
    "orders",
    "revenue",
    "aov",
    "prior_orders",
    "prior_revenue",
    "prior_aov",
    "aov_change_pct",
    "global_revenue",
    "global_aov",
    "global_prior_aov",
    "global_aov_change_pct",
]


def _units_money(units: int) -> Decimal:
    return (Decimal(int(units)).scaleb(-4)).quantize(CENT, ROUND_HALF_UP)


def _units_average(units: int, orders: int) -> Decimal | None:
    return (Decimal(int(units)).scaleb(-4) / int(orders)).quantize(CENT, ROUND_HALF_UP) if orders else None
