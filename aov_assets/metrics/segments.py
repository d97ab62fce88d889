"""Which orders are B2B, decided by each order's own fields at order time (pure: no Dagster, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from ..ingest.parse import (
    DEFAULT_MAX_ORDER_VALUE,
    ORDER_COLUMNS,
    RejectedOrder,
    entity_id_of,
    order_frame,
    parse_order,
    reject_row,
)
from ..manifest import Basis


def resolve_ids(wanted: Iterable[int | str], known: Sequence[Mapping[str, Any]], what: str) -> frozenset[int]:
    """Manifest codes or numeric ids -> ids, against the store's own list (`{id, code}` rows).

    Codes match case-insensitively (Magento keeps them unique that way); an unknown code or id is
    an error that lists what the store has.
    """
    by_code = {str(row["code"]).casefold(): int(row["id"]) for row in known}
    ids = {int(row["id"]) for row in known}
    resolved: set[int] = set()
    for entry in wanted:
        if isinstance(entry, str) and entry.casefold() in by_code:
            resolved.add(by_code[entry.casefold()])
        elif str(entry).isdigit() and int(entry) in ids:
            resolved.add(int(entry))
        else:
            listing = ", ".join(f"{row['code']} ({row['id']})" for row in known) or "none"
            raise ValueError(f"unknown {what} {entry!r}; the store has: {listing}")
    return frozenset(resolved)


@dataclass(frozen=True)
class SegmentRule:
    """The manifest's routing with codes already resolved to ids."""

    routing: Literal["company_or_group", "store_view"]
    b2b_group_ids: frozenset[int] = frozenset()
    b2b_store_ids: frozenset[int] = frozenset()


def classify(orders: pd.DataFrame, rule: SegmentRule) -> pd.DataFrame:
    """Add `segment` and `segment_reason` from each order's own fields (order-time classification)."""
    if rule.routing == "store_view":
        reason = np.where(orders["store_id"].isin(list(rule.b2b_store_ids)), "store_view", "default")
    else:
        reason = np.select(
            [
                orders["company_id"].notna().to_numpy(),
                orders["customer_group_id"].isin(list(rule.b2b_group_ids)).to_numpy(),
            ],
            ["company", "customer_group"],
            default="default",
        )
    return orders.assign(
        segment=np.where(reason == "default", "b2c", "b2b"),
        segment_reason=reason,
    )


def customer_keys(orders: pd.DataFrame) -> np.ndarray:
    """Who placed each order, decided at order time: a B2B order's Company (`company:<id>`), else the
    customer (`customer:<id>`; Magento's guests have none, or 0), else a guest by lower-cased email
    (`guest:<email>`), else the order itself (`order:<entity_id>`)."""
    company = orders["company_id"].astype("Int64")
    customer = orders["customer_id"].astype("Int64")
    customer = customer.mask(customer == 0)
    email = orders["customer_email"].astype("string").str.strip().str.lower()
    email = email.mask(email == "")

    def keyed(prefix: str, values: pd.Series) -> np.ndarray:
        return (prefix + values.astype("string")).to_numpy(dtype=object, na_value="")

    return np.select(
        [
            (orders["segment"] == "b2b").to_numpy() & company.notna().to_numpy(),
            customer.notna().to_numpy(),
            email.notna().to_numpy(),
        ],
        [keyed("company:", company), keyed("customer:", customer), keyed("guest:", email)],
        default=keyed("order:", orders["entity_id"].astype("Int64")),
    ).astype(object)


def classify_orders(
    days: Iterable[tuple[date, Sequence[bytes] | pa.BinaryArray]],
    basis: Basis,
    rule: SegmentRule,
    max_order_value: Decimal = DEFAULT_MAX_ORDER_VALUE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw orders of some days -> (classified rows, with their `position` in the day; rejected rows);
    every payload lands in exactly one. The columnar parse reads what it can read exactly in one pass
    and `parse_order` the rest (columnar.py), so both give the same rows and reasons.

    A second copy of an entity_id (a source paging glitch) is rejected with its reason and the most
    recently updated copy is kept, so raw orders = classified + rejected always holds. Amounts and
    timestamps stay Arrow arrays (`order_frame`), the rest Python objects, so they go to the database
    exactly as parsed.
    """
    from ..ingest.columnar import parse_orders  # the columnar path reads these rules' limits

    dates, arrays = [], []
    for day, day_payloads in days:
        dates.append(day)
        arrays.append(day_payloads if isinstance(day_payloads, pa.Array) else pa.array(day_payloads, pa.binary()))
    sizes = [len(array) for array in arrays]
    payloads = pa.concat_arrays(arrays) if arrays else pa.array([], pa.binary())
    day_of = np.repeat(np.arange(len(dates)), sizes)
    positions = np.arange(len(payloads)) - np.repeat(np.cumsum([0, *sizes])[:-1], sizes)
    fast, left = parse_orders(dates, payloads, day_of, basis, max_order_value)
    rows, rejects = [], []
    for i in left:
        day, position, payload = dates[day_of[i]], int(positions[i]), payloads[int(i)].as_py()
        try:
            rows.append(parse_order(payload, day, basis, max_order_value) | {"position": position})
        except RejectedOrder as reason:
            rejects.append(reject_row(day, position, entity_id_of(payload), str(reason), payload))
    slow = order_frame({name: [row[name] for row in rows] for name in [*ORDER_COLUMNS, "position"]})
    orders = pd.concat(
        [fast.assign(position=pd.Series(positions[fast.pop("row").to_numpy(dtype=np.int64)], dtype=object)), slow],
        ignore_index=True,
    )
    newest_first = orders.sort_values(["updated_at", "order_date", "position"], ascending=False, na_position="last")
    duplicate = newest_first.duplicated("entity_id")
    for row in newest_first[duplicate].itertuples(index=False):
        reason = f"duplicate entity_id {row.entity_id}; kept the most recently updated copy"
        payload = arrays[dates.index(row.order_date)][row.position].as_py()
        rejects.append(reject_row(row.order_date, row.position, row.entity_id, reason, payload))
    kept = newest_first[~duplicate].sort_values(["order_date", "position"])
    rejected = pd.DataFrame(rejects, columns=["order_date", "position", "entity_id", "reason", "payload"], dtype=object)
    classified = classify(kept, rule).reset_index(drop=True)
    classified["customer_key"] = customer_keys(classified)
    return classified.drop(columns="customer_email"), rejected


def cross_day_duplicates(orders: pd.DataFrame, elsewhere: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """An entity_id classified on another day (MySQL reuses ids after test orders are deleted) is a
    duplicate like any other: the more recently updated copy wins (a tie: the later day), in whichever
    run it is met. `orders` are a run's classified rows; `elsewhere` holds entity_id, order_date and
    updated_at of the warehouse's copies of the same ids on days outside the run. Returns which of
    `orders` lose, and which rows of `elsewhere` lose (to be moved to that day's rejected_orders)."""
    if elsewhere.empty:
        return np.zeros(len(orders), dtype=bool), elsewhere
    theirs = elsewhere.set_index("entity_id")
    lose = np.zeros(len(orders), dtype=bool)
    beaten = []
    for i, (entity_id, day, updated) in enumerate(orders[["entity_id", "order_date", "updated_at"]].itertuples(False)):
        if entity_id not in theirs.index:
            continue
        other = theirs.loc[entity_id]
        if _recency(updated, day) > _recency(other["updated_at"], other["order_date"]):
            beaten.append(entity_id)
        else:
            lose[i] = True
    return lose, elsewhere[elsewhere["entity_id"].isin(beaten)]


def _recency(updated: datetime | None, day: date) -> tuple[datetime, date]:
    return (datetime.min if updated is None or pd.isna(updated) else updated, day)
