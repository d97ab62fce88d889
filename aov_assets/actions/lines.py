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
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from ..core.money import CENT
from ..core.windows import WINDOW_DAYS, two_windows
from ..ingest.parse import Id, RejectedOrder, check_amount, check_id, check_text, entity_id_of

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
    """Cents per line that sum to the lines' exact total rounded half-up once (largest remainders).

    Lines already in whole cents (most: no currency rate, two-decimal prices) are their own cents."""
    if all(value.as_tuple().exponent >= -2 for value in exact):
        return [int(value.scaleb(2)) for value in exact]
    target = int(sum(exact, Decimal(0)).quantize(CENT, ROUND_HALF_UP) * 100)
    floors = [int((value * 100).to_integral_value(ROUND_FLOOR)) for value in exact]
    remainders = [value * 100 - floor for value, floor in zip(exact, floors)]
    for i in sorted(range(len(exact)), key=lambda i: (-remainders[i], i))[: target - sum(floors)]:
        floors[i] += 1
    return floors


LINE_TEXT = {"sku": 64, "variant_sku": 64, "name": 255, "product_type": 32}  # order_lines' VARCHAR lengths
ZERO = Decimal(0)


def order_line_rows(order: _Order, day: date) -> list[tuple]:
    """One counted order's lines as LINE_COLUMNS tuples; an item the warehouse cannot hold exactly
    raises RejectedOrder."""
    lines = counted_lines(order.items)
    for item, variant in lines:
        for field in ("base_row_total", "base_discount_amount", "qty_ordered"):
            check_amount(getattr(item, field), f"items.{field}")
        for field, limit in LINE_TEXT.items():
            check_text(variant if field == "variant_sku" else getattr(item, field), f"items.{field}", limit)
    product_ids = [check_id(item.product_id, "items.product_id") for item, _ in lines]
    rate, entity_id = order.base_to_global_rate, int(order.entity_id)
    exact = [((item.base_row_total or ZERO) - (item.base_discount_amount or ZERO)) * rate for item, _ in lines]
    return [
        (entity_id, number, day, item.sku, variant, item.name, product_id, item.product_type, item.qty_ordered, cents)
        for number, ((item, variant), product_id, cents) in enumerate(zip(lines, product_ids, _allocate(exact)), 1)
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
