"""What is in the baskets, as pure rules (no Dagster, no I/O): an order's counted lines, and the
categories whose spend per order moved.

A line is what the shopper chose once: a configurable product is its parent row (the child's SKU
kept as `variant_sku`); a bundle is the row(s) that carry the price (a dynamic-price bundle prices
its children, a fixed-price one its parent); anything else is its own row. A line's value is its
`base_row_total - base_discount_amount` (absent = 0) x `base_to_global_rate`, in cents that add up
exactly to the order's lines rounded once (largest remainders), so a sum over lines is the sum
over orders of their line totals, to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from .rules import CENT, WINDOW_DAYS, Id, RejectedOrder, check_amount, check_id, check_text, entity_id_of, two_windows

LINE_COLUMNS = [
    "entity_id",
    "line",
    "order_date",
    "sku",
    "variant_sku",
    "name",
    "product_id",
    "product_type",
    "qty",
    "line_cents",
]
UNCATEGORIZED = "uncategorized"


class _Item(msgspec.Struct):
    item_id: Id | None = None
    parent_item_id: Id | None = None
    sku: str | None = None
    name: str | None = None
    product_id: Id | None = None
    product_type: str | None = None
    qty_ordered: Decimal | None = None
    base_row_total: Decimal | None = None
    base_discount_amount: Decimal | None = None


class _Order(msgspec.Struct):
    entity_id: Id
    base_to_global_rate: Decimal
    items: list[_Item] = []


_ORDER = msgspec.json.Decoder(_Order, strict=False)


def counted_lines(items: Sequence[_Item]) -> list[tuple[_Item, str | None]]:
    """The order's lines as (the row that carries the line, the variant SKU of a configurable)."""
    children: dict[Any, list[_Item]] = {}
    for item in items:
        if item.parent_item_id is not None:
            children.setdefault(str(item.parent_item_id), []).append(item)
    lines: list[tuple[_Item, str | None]] = []
    for item in items:
        if item.parent_item_id is not None:
            continue
        mine = children.get(str(item.item_id), [])
        if item.product_type == "configurable":
            lines.append((item, mine[0].sku if mine else None))
        elif item.product_type == "bundle" and mine and not (item.base_row_total or 0):
            lines += [(child, None) for child in mine]  # dynamic price: the children carry it
        else:
            lines.append((item, None))
    return lines


def _allocate(exact: list[Decimal]) -> list[int]:
    """Cents per line that sum to the lines' exact total rounded half-up once (largest remainders)."""
    target = int(sum(exact, Decimal(0)).quantize(CENT, ROUND_HALF_UP) * 100)
    floors = [int((value * 100).to_integral_value(ROUND_FLOOR)) for value in exact]
    remainders = [value * 100 - floor for value, floor in zip(exact, floors)]
    for i in sorted(range(len(exact)), key=lambda i: (-remainders[i], i))[: target - sum(floors)]:
        floors[i] += 1
    return floors


LINE_TEXT = {"sku": 64, "variant_sku": 64, "name": 255, "product_type": 32}  # order_lines' VARCHAR lengths


def order_line_rows(order: _Order, day: date) -> list[dict[str, Any]]:
    """One counted order's lines; an item the warehouse cannot hold exactly raises RejectedOrder."""
    lines = counted_lines(order.items)
    for item, variant in lines:
        for field in ("base_row_total", "base_discount_amount", "qty_ordered"):
            check_amount(getattr(item, field), f"items.{field}")
        for field, limit in LINE_TEXT.items():
            check_text(variant if field == "variant_sku" else getattr(item, field), f"items.{field}", limit)
        check_id(item.product_id, "items.product_id")
    exact = [
        ((item.base_row_total or Decimal(0)) - (item.base_discount_amount or Decimal(0))) * order.base_to_global_rate
        for item, _ in lines
    ]
    return [
        {
            "entity_id": int(order.entity_id),
            "line": number,
            "order_date": day,
            "sku": item.sku,
            "variant_sku": variant,
            "name": item.name,
            "product_id": check_id(item.product_id, "items.product_id"),
            "product_type": item.product_type,
            "qty": item.qty_ordered,
            "line_cents": cents,
        }
        for number, ((item, variant), cents) in enumerate(zip(lines, _allocate(exact)), 1)
    ]


def line_rows(
    days: Iterable[tuple[date, Sequence[bytes]]], counted: set[int], rejected: set[tuple[date, int]]
) -> tuple[pd.DataFrame, list[int]]:
    """The lines of the counted orders (entity_ids) among some days' raw payloads, skipping the
    payloads classification rejected (by day and position: a losing duplicate copy among them).
    Also returns the counted orders whose items cannot be read (they have no lines; never fatal)."""
    rows, unreadable = [], []
    for day, payloads in days:
        for position, payload in enumerate(payloads):
            if (day, position) in rejected:
                continue
            try:
                order = _ORDER.decode(payload)
                if int(order.entity_id) in counted:
                    rows += order_line_rows(order, day)
            except (msgspec.ValidationError, RejectedOrder, ValueError, ArithmeticError, TypeError):
                unreadable.append(entity_id_of(payload))
    return pd.DataFrame(rows, columns=LINE_COLUMNS, dtype=object), [i for i in unreadable if i in counted]


# --------------------------------------------------------------------------- categories


def category_rows(sums: pd.DataFrame, orders: pd.DataFrame, first_as_of: date, last_as_of: date) -> pd.DataFrame:
    """Per as-of day and category: B2B spend per order now and in the prior 30 days (the "mix").

    `sums`: per order_date and category, counted B2B line cents and lines; `orders`: per order_date,
    counted B2B orders; both from 59 days before the first as-of day. Spend per order is a category's
    line value over all B2B orders of the window, so the categories' changes add up to the change in
    line value per order.
    """
    span = pd.date_range(first_as_of - pd.Timedelta(days=2 * WINDOW_DAYS - 1), last_as_of, freq="D")
    as_of_days = [d.date() for d in span[2 * WINDOW_DAYS - 1 :]]
    per_day = orders.assign(order_date=pd.to_datetime(orders["order_date"])).set_index("order_date")["orders"]
    orders_now, orders_before = two_windows(per_day.reindex(span, fill_value=0).to_numpy(dtype=np.int64))
    frame = sums.assign(order_date=pd.to_datetime(sums["order_date"]))
    rows = []
    for category, group in frame.groupby("category", sort=True):
        daily = group.groupby("order_date")[["line_cents", "lines"]].sum().reindex(span, fill_value=0)
        now, before = two_windows(daily.to_numpy(dtype=np.int64))
        for i, as_of in enumerate(as_of_days):
            if now[i][1] or before[i][1]:
                rows.append(
                    {
                        "as_of": as_of,
                        "category": category,
                        "line_value": Decimal(int(now[i][0])).scaleb(-2),
                        "lines": int(now[i][1]),
                        "prior_line_value": Decimal(int(before[i][0])).scaleb(-2),
                        "prior_lines": int(before[i][1]),
                        "per_order": _per_order(now[i][0], orders_now[i]),
                        "prior_per_order": _per_order(before[i][0], orders_before[i]),
                    }
                )
    frame = pd.DataFrame(rows, columns=CATEGORY_COLUMNS, dtype=object)
    moved = [
        None if now is None or before is None else now - before
        for now, before in zip(frame["per_order"], frame["prior_per_order"])
    ]
    return frame.assign(per_order_change=moved)


CATEGORY_COLUMNS = [
    "as_of",
    "category",
    "line_value",
    "lines",
    "prior_line_value",
    "prior_lines",
    "per_order",
    "prior_per_order",
]


def _per_order(cents: int, orders: int) -> Decimal | None:
    return (Decimal(int(cents)) / int(orders) / 100).quantize(CENT, ROUND_HALF_UP) if orders else None


# --------------------------------------------------------------------------- bought together

PAIR_DAYS = 90  # basket_pairs: the trailing days up to the month's end
MIN_SKU_SUPPORT = Fraction(1, 100)  # SKU pairs bought together in at least 1% of the segment's orders
PAIR_COLUMNS = ["kind", "antecedent", "consequent", "orders", "support_pct", "confidence_pct", "lift"]


PAIR_ROWS = 1_000_000  # (item, item) rows of one slice of orders counted at a time: 8 MB per int64 array


def pair_rows(items: pd.DataFrame, orders: int, min_support: Fraction = Fraction(0)) -> pd.DataFrame:
    """Items bought together in one order, as directed rules antecedent -> consequent.

    `items` holds distinct (entity_id, item) of one segment's orders, `orders` how many orders the
    window has. support = orders with both / all orders; confidence = orders with both / orders with
    the antecedent; lift = support / (support(antecedent) x support(consequent)). Kept to pairs at or
    above `min_support`; the ratios are rounded to 4 places (they are not money).
    """
    return BasketCounts.of(items, orders).rules(min_support)


@dataclass(frozen=True)
class BasketCounts:
    """The counts behind support, confidence and lift for one set of orders: how many orders, orders per
    item, and orders per ordered pair of distinct items. Counts of disjoint sets of orders add up, so a
    90-day window is the sum of its parts, each part's lines read and counted once."""

    orders: int
    alone: pd.Series  # item -> orders with it
    together: pd.Series  # (antecedent, consequent) -> orders with both

    @classmethod
    def of(cls, items: pd.DataFrame, orders: int) -> BasketCounts:
        """Items are counted as integer codes, a slice of orders at a time (every ordered pair of an
        order's items, at most PAIR_ROWS of them per slice)."""
        if items.empty:
            return cls(orders, pd.Series([], dtype=np.int64), pd.Series([], index=_PAIRS, dtype=np.int64))
        codes, names = pd.factorize(items["item"], sort=True)
        names = np.asarray(names, dtype=object)
        keys, counts = _pair_counts(items["entity_id"].to_numpy(), codes, len(names))
        first, second = np.divmod(keys, len(names))
        together = pd.Series(counts, index=pd.MultiIndex.from_arrays([names[first], names[second]]))
        return cls(orders, pd.Series(np.bincount(codes, minlength=len(names)), index=names), together)

    def __add__(self, other: BasketCounts) -> BasketCounts:
        alone, together = (
            mine.add(theirs, fill_value=0).astype(np.int64)
            for mine, theirs in ((self.alone, other.alone), (self.together, other.together))
        )
        return BasketCounts(self.orders + other.orders, alone, together)

    def rules(self, min_support: Fraction = Fraction(0)) -> pd.DataFrame:
        """The rules of `pair_rows`, in (antecedent, consequent) order."""
        if self.together.empty or not self.orders:
            return pd.DataFrame(columns=PAIR_COLUMNS[1:])
        kept = self.together[self.together * min_support.denominator >= min_support.numerator * self.orders]
        kept = kept.sort_index()
        antecedent, consequent = (kept.index.get_level_values(level).to_numpy(dtype=object) for level in (0, 1))
        both = kept.to_numpy(dtype=np.float64)
        a, b = (self.alone[names].to_numpy(dtype=np.float64) for names in (antecedent, consequent))
        return pd.DataFrame(
            {
                "antecedent": antecedent,
                "consequent": consequent,
                "orders": kept.to_numpy(dtype=np.int64),
                "support_pct": np.round(100 * both / self.orders, 4),
                "confidence_pct": np.round(100 * both / a, 4),
                "lift": np.round(both * self.orders / (a * b), 4),
            }
        )


_PAIRS = pd.MultiIndex.from_arrays([[], []])


def _pair_counts(order_ids: np.ndarray, codes: np.ndarray, items: int) -> tuple[np.ndarray, np.ndarray]:
    """(first * items + second, orders with both) for every ordered pair of distinct items sharing an
    order, sorted; the orders are expanded a slice at a time, never all at once."""
    by_order = np.argsort(order_ids, kind="stable")
    ids, codes = order_ids[by_order], codes[by_order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    sizes = np.diff(np.r_[starts, len(ids)])
    expanded = np.cumsum(sizes.astype(np.int64) ** 2)  # pairs (with an item itself) up to each order
    found = []
    first = 0
    while first < len(sizes):
        done = expanded[first - 1] if first else 0
        stop = max(int(np.searchsorted(expanded, done + PAIR_ROWS, side="right")), first + 1)
        start, end = starts[first], starts[stop] if stop < len(starts) else len(codes)
        slice_codes, slice_sizes = codes[start:end], sizes[first:stop]
        per_row = np.repeat(slice_sizes, slice_sizes)  # each row pairs with every row of its order
        row_start = np.repeat(starts[first:stop] - start, slice_sizes)
        left = np.repeat(np.arange(len(slice_codes)), per_row)
        offset = np.arange(len(left)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        right = np.repeat(row_start, per_row) + offset
        a, b = slice_codes[left], slice_codes[right]
        different = a != b
        found.append(np.unique(a[different] * items + b[different], return_counts=True))
        first = stop
    keys = np.concatenate([k for k, _ in found])
    counts = np.concatenate([c for _, c in found])
    if len(found) > 1:  # the same pair in several slices: add them up
        keys, where = np.unique(keys, return_inverse=True)
        counts = np.bincount(where, weights=counts, minlength=len(keys)).astype(np.int64)
    return keys, counts


# --------------------------------------------------------------------------- whitespace

WHITESPACE_SHARE = Fraction(1, 2)  # a category "the peers buy" when at least half of them do
WHITESPACE_COLUMNS = ["account", "category", "cohort", "peers", "peers_buying", "peer_median_spend"]


def whitespace_rows(spend: pd.DataFrame, cohort_of: pd.Series) -> pd.DataFrame:
    """For each B2B account, the categories that at least half of its LTV-cohort peers buy and it does
    not, sized by the median spend of the peers that buy it.

    `spend`: account, category, line_cents over the trailing 12 months; `cohort_of`: account -> cohort.
    An account's peers are the other accounts of its cohort, whether or not they bought anything.
    """
    bought = spend[(spend["line_cents"] > 0) & spend["account"].isin(cohort_of.index)]
    bought = bought.groupby(["account", "category"], as_index=False)["line_cents"].sum()
    cohort_of_buyer = bought["account"].map(cohort_of)
    rows = []
    for (cohort, category), group in bought.groupby([cohort_of_buyer, "category"], sort=True):
        members = set(cohort_of.index[cohort_of == cohort])
        buyers = set(group["account"])
        peers = len(members) - 1
        if peers < 1 or len(buyers) * WHITESPACE_SHARE.denominator < WHITESPACE_SHARE.numerator * peers:
            continue
        median = Decimal(str(np.median(group["line_cents"].to_numpy(dtype=np.int64)))) / 100
        for account in sorted(members - buyers):
            rows.append(
                {
                    "account": account,
                    "category": category,
                    "cohort": cohort,
                    "peers": peers,
                    "peers_buying": len(buyers),
                    "peer_median_spend": median.quantize(CENT, ROUND_HALF_UP),
                }
            )
    return pd.DataFrame(rows, columns=WHITESPACE_COLUMNS, dtype=object)
