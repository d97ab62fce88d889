"""The rules behind every number, as pure functions (no Dagster, no I/O).

Money is exact: order values are Decimals rounded half-up to the cent, and every sum is an
integer number of cents. Averages and percentages are derived from those sums, never stored sums
of averages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

SEGMENTS = ("b2b", "b2c")
WINDOW_SEGMENTS = ("b2b", "b2c", "all")
WINDOW_DAYS = 30
CENT = Decimal("0.01")
PCT = Decimal("0.0001")
COUNTED_STATES_EXCLUDE = frozenset({"canceled"})
DEFAULT_MAX_ORDER_VALUE = Decimal(10_000_000)  # manifest validation.max_order_value, in global currency


# --------------------------------------------------------------------------- money


def cents_to_money(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)


def money_to_cents(amount: Decimal) -> int:
    """Cents of an amount that is already rounded to the cent (raises if it is not)."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)


def ratio_to_money(numerator_cents: int, denominator: int) -> Decimal | None:
    """numerator_cents / denominator as money, rounded half-up to the cent (AOV)."""
    if denominator == 0:
        return None
    return (Decimal(int(numerator_cents)) / Decimal(int(denominator)) / 100).quantize(CENT, ROUND_HALF_UP)


def average_cents(cents: pd.Series, counts: pd.Series) -> pd.Series:
    """cents / count per row rounded half-up to the cent (`ratio_to_money`'s rule for non-negative sums,
    in integers); missing where the count is 0."""
    c, n = cents.to_numpy(dtype=np.int64), counts.to_numpy(dtype=np.int64)
    if (c < 0).any():
        raise ValueError("average_cents needs non-negative sums")
    rounded = (2 * c + n) // np.maximum(2 * n, 1)
    return pd.Series(rounded, index=cents.index, dtype="Int64").mask(n == 0)


def fraction_to_decimal(value: Fraction | None, places: Decimal = PCT) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(places, ROUND_HALF_UP)


# --------------------------------------------------------------------------- parsing

ORDER_COLUMNS = (
    "entity_id",
    "increment_id",
    "order_date",
    "created_at",
    "updated_at",
    "state",
    "status",
    "company_id",
    "customer_id",
    "customer_group_id",
    "store_id",
    "base_currency_code",
    "order_currency_code",
    "base_to_global_rate",
    "base_grand_total",
    "grand_total",
    "base_subtotal",
    "order_value",
    "line_items",
    "counted",
    "company_name",
    "refunded",
    "subtotal",
    "customer_email",
    "base_tax_amount",
)
# Columns held as Arrow arrays (exact decimals, timestamps): no Python object per value between the
# columnar parse and the warehouse's bulk write; values read back one at a time are Decimals and
# Timestamps (missing: pd.NA). The other columns are Python objects (None for missing).
TYPED_COLUMNS = {
    **dict.fromkeys(
        ("base_to_global_rate", "base_grand_total", "grand_total", "base_subtotal", "subtotal", "base_tax_amount"),
        pa.decimal128(20, 4),
    ),
    "order_value": pa.decimal128(20, 2),
    "refunded": pa.decimal128(20, 2),
    "created_at": pa.timestamp("us"),
    "updated_at": pa.timestamp("us"),
}


def order_frame(columns: Mapping[str, Sequence | np.ndarray | pa.Array]) -> pd.DataFrame:
    """classified_orders rows as a frame: TYPED_COLUMNS as Arrow-backed columns, the rest as objects."""

    def column(name: str, values: Sequence | np.ndarray | pa.Array) -> pd.Series:
        if name not in TYPED_COLUMNS:
            return pd.Series(values, dtype=object)
        array = values if isinstance(values, pa.Array) else pa.array(values, TYPED_COLUMNS[name])
        return pd.Series(pd.arrays.ArrowExtensionArray(array.cast(TYPED_COLUMNS[name])))

    return pd.DataFrame({name: column(name, values) for name, values in columns.items()})


class RejectedOrder(ValueError):
    """An order that cannot be read; the message is the reason kept in `rejected_orders`."""


MAX_ID = 2**63 - 1  # BIGINT in the warehouse, int64 in the lake
SMALL_IDS = {"customer_group_id": 2**31 - 1, "store_id": 2**31 - 1}  # INTEGER columns
AMOUNT_PLACES = Decimal("0.0001")  # Magento's decimal(20,4), the warehouse's NUMERIC(20,4)
AMOUNT_DIGITS = 16  # integer digits NUMERIC(20,4) holds
TEXT_LIMITS = {  # the warehouse's VARCHAR lengths
    "increment_id": 50,
    "state": 32,
    "status": 32,
    "base_currency_code": 3,
    "order_currency_code": 3,
    "company_name": 255,
    "customer_email": 255,
    "created_at": 64,
    "updated_at": 64,
}
AMOUNTS = (
    "base_grand_total",
    "base_subtotal",
    "grand_total",
    "subtotal",
    "base_to_global_rate",
    "base_total_refunded",
    "base_tax_amount",
)
Basis = Literal["grand_total", "pre_tax", "subtotal"]  # manifest metric.basis
Id = int | str  # a JSON number, or the numeric string some Magento versions send; anything else is rejected


class _Item(msgspec.Struct):
    parent_item_id: int | None = None


class _Company(msgspec.Struct):
    company_id: Id | None = None
    company_name: str | None = None


# Magento's JSON writes an empty object as PHP's empty array, `[]`: such a section is absent.
_EmptyObject = list[Any]


class _Extension(msgspec.Struct):
    company_order_attributes: _Company | _EmptyObject | None = None
    company_attributes: _Company | _EmptyObject | None = None


class OrderFields(msgspec.Struct):
    """The fields of an Adobe Commerce REST order that the rules read (the lake keeps the rest).

    Decoded with msgspec: money becomes an exact Decimal straight from the JSON text, numeric
    strings are accepted (`strict=False`), and a wrong type is an error naming its JSON path.
    """

    entity_id: Id
    created_at: str
    state: str
    base_grand_total: Decimal
    base_subtotal: Decimal
    grand_total: Decimal
    items: list[_Item]
    base_to_global_rate: Decimal | None = None
    increment_id: str | None = None
    updated_at: str | None = None
    status: str | None = None
    customer_id: Id | None = None
    customer_group_id: Id | None = None
    store_id: Id | None = None
    base_currency_code: str | None = None
    global_currency_code: str | None = None
    order_currency_code: str | None = None
    base_tax_amount: Decimal | None = None
    base_total_refunded: Decimal | None = None
    subtotal: Decimal | None = None
    customer_email: str | None = None
    extension_attributes: _Extension | _EmptyObject | None = None


_ORDER_DECODER = msgspec.json.Decoder(OrderFields, strict=False)


class _Identity(msgspec.Struct):
    entity_id: Id | None = None


_IDENTITY_DECODER = msgspec.json.Decoder(_Identity, strict=False)


def entity_id_of(payload: bytes | str) -> int | None:
    """The order's entity_id if it can be read at all (also from an order that is otherwise broken).

    Python's json reads what msgspec refuses as malformed (a lone UTF-16 surrogate escape), so an
    order rejected for that still names its entity_id."""
    try:
        return check_id(_IDENTITY_DECODER.decode(payload).entity_id, "entity_id")
    except msgspec.ValidationError:
        return None
    except msgspec.DecodeError:
        pass
    except (UnicodeDecodeError, RecursionError, RejectedOrder):
        return None
    try:
        value = json.loads(payload if isinstance(payload, str) else bytes(payload)).get("entity_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return check_id(value, "entity_id")
    except RejectedOrder:
        return None


def parse_order(
    payload: bytes | str,
    day: date,
    basis: Basis,
    max_order_value: Decimal = DEFAULT_MAX_ORDER_VALUE,
) -> dict:
    """One order's REST JSON -> one flat `classified_orders` row (without the segment).

    `day` is the UTC day the order was fetched for: an order created on another day is rejected,
    so a partition never writes rows that belong to another partition. Everything the warehouse
    cannot hold exactly (ids beyond BIGINT, amounts beyond NUMERIC(20,4), text beyond its column,
    NUL) and every implausible order (a rate that is not above 0, a value above
    `max_order_value`) is rejected with a reason naming the field and the value.
    """
    try:
        order = _ORDER_DECODER.decode(payload)
    except msgspec.ValidationError as error:
        raise RejectedOrder(str(error)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise RejectedOrder(f"not a JSON order: {str(error)[:120]}") from None
    except RecursionError:
        raise RejectedOrder("not a JSON order: nested too deeply") from None
    for field, limit in TEXT_LIMITS.items():
        check_text(getattr(order, field, None), field, limit)
    company = company_attributes(order.extension_attributes)
    if company:
        check_text(company.company_name, "company_name", TEXT_LIMITS["company_name"])
    created_at = _timestamp(order.created_at, "created_at")
    if created_at.date() != day:
        raise RejectedOrder(f"created_at {created_at} is not on the requested day {day}")
    for field in AMOUNTS:
        check_amount(getattr(order, field), field)
    rate = global_rate(order)
    order_value = (basis_amount(order, basis) * rate).quantize(CENT, ROUND_HALF_UP)
    if order_value > max_order_value:
        raise RejectedOrder(
            f"order value {order_value} (global currency) is above validation.max_order_value {max_order_value}"
        )
    refunded = order.base_total_refunded or Decimal(0)
    return {
        "entity_id": check_id(order.entity_id, "entity_id"),
        "increment_id": order.increment_id,
        "order_date": day,
        "created_at": created_at,
        "updated_at": None if order.updated_at is None else _timestamp(order.updated_at, "updated_at"),
        "state": order.state,
        "status": order.status,
        "company_id": company.company_id if company else None,
        "customer_id": check_id(order.customer_id, "customer_id"),
        "customer_group_id": check_id(order.customer_group_id, "customer_group_id"),
        "store_id": check_id(order.store_id, "store_id"),
        "base_currency_code": order.base_currency_code,
        "order_currency_code": order.order_currency_code,
        "base_to_global_rate": rate,
        "base_grand_total": order.base_grand_total,
        "grand_total": order.grand_total,
        "base_subtotal": order.base_subtotal,
        "order_value": order_value,
        "line_items": sum(1 for item in order.items if item.parent_item_id is None),
        "counted": order.state not in COUNTED_STATES_EXCLUDE,
        "company_name": company.company_name if company else None,
        "refunded": (refunded * rate).quantize(CENT, ROUND_HALF_UP),
        "subtotal": order.subtotal,
        "customer_email": order.customer_email,
        "base_tax_amount": order.base_tax_amount,
    }


def global_rate(order: OrderFields) -> Decimal:
    """base_to_global_rate; an order without one (imported or migrated orders) has rate 1 when its
    base currency is the global currency, and cannot be valued otherwise."""
    rate = order.base_to_global_rate
    if rate is None:
        base, global_ = order.base_currency_code, order.global_currency_code
        if global_ is None:
            raise RejectedOrder(
                "base_to_global_rate and global_currency_code are missing: no value in the global currency"
            )
        if global_ != base:
            raise RejectedOrder(
                f"base_to_global_rate is missing and global_currency_code {_short(global_)} is not "
                f"base_currency_code {_short(base)}"
            )
        return Decimal(1)
    if rate <= 0:
        raise RejectedOrder(f"base_to_global_rate must be above 0: {rate}")
    return rate


def basis_amount(order: OrderFields, basis: Basis) -> Decimal:
    """The base-currency amount the manifest's metric.basis values: the grand total; the grand total
    without tax (discounts still deducted, shipping kept); or the subtotal (before discounts, no shipping)."""
    if basis == "grand_total":
        return order.base_grand_total
    if basis == "subtotal":
        return order.base_subtotal
    if order.base_tax_amount is None:
        raise RejectedOrder("base_tax_amount is missing (metric.basis: pre_tax needs it)")
    if order.base_tax_amount > order.base_grand_total:
        raise RejectedOrder(
            f"base_tax_amount {order.base_tax_amount} is above base_grand_total {order.base_grand_total}"
        )
    return order.base_grand_total - order.base_tax_amount


def company_attributes(extension: _Extension | list | None) -> _Company | None:
    """The B2B Company on the order (`company_order_attributes`, or the customer-side name), its id
    checked; a company_id of 0 means none. An empty section (`[]`) is an absent one."""
    if not isinstance(extension, _Extension):
        _absent(extension, "extension_attributes")
        return None
    for name in ("company_order_attributes", "company_attributes"):
        attributes = getattr(extension, name)
        if not isinstance(attributes, _Company):
            _absent(attributes, name)
        elif company_id := check_id(attributes.company_id, "company_id"):
            return _Company(company_id, attributes.company_name)
    return None


def _absent(section: list | None, name: str) -> None:
    """An object section that is missing, null or `[]` is absent; a list with entries is not an object."""
    if section:
        raise RejectedOrder(f"{name} is a list, not an object: {_short(section)}")


def _short(value: Any, limit: int = 40) -> str:
    """A value for a reason: printable (NUL and surrogates escaped) and at most `limit` characters."""
    text = ascii(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def check_id(value: int | str | None, field: str) -> int | None:
    """An id as the warehouse holds it (0..2^63-1, or 2^31-1 for INTEGER columns), from a JSON integer or
    a string of digits."""
    if value is None:
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise RejectedOrder(f"{field} is not an integer id: {_short(value)}")
        value = int(value)
    high = SMALL_IDS.get(field, MAX_ID)
    if not 0 <= value <= high:
        raise RejectedOrder(f"{field} is out of range (0..{'2^31-1' if high < MAX_ID else '2^63-1'}): {_short(value)}")
    return value


def check_amount(amount: Decimal | None, field: str) -> None:
    """Non-negative, finite, and exactly representable in NUMERIC(20,4)."""
    if amount is None:
        return
    if not amount.is_finite() or amount < 0:
        raise RejectedOrder(f"{field} is not a non-negative number: {_short(amount)}")
    if amount and amount.adjusted() >= AMOUNT_DIGITS:
        raise RejectedOrder(f"{field} has more than {AMOUNT_DIGITS} integer digits: {_short(amount)}")
    if amount != amount.quantize(AMOUNT_PLACES):
        raise RejectedOrder(f"{field} has more than 4 decimal places: {_short(amount)}")


def check_text(value: str | None, field: str, limit: int) -> None:
    """Text the warehouse can store as is: PostgreSQL refuses NUL (msgspec already refuses lone surrogates
    and invalid UTF-8: "not a JSON order")."""
    if value is None:
        return
    if "\x00" in value:
        raise RejectedOrder(f"{field} contains a NUL character: {_short(value)}")
    if len(value) > limit:
        raise RejectedOrder(f"{field} is longer than {limit} characters: {_short(value)}")


def _timestamp(value: str, field: str) -> datetime:
    """Magento's `YYYY-MM-DD HH:MM:SS` (UTC) as a naive UTC datetime; an explicit offset is honoured."""
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise RejectedOrder(f"{field} is not a timestamp: {_short(value)}") from None
    return moment


# --------------------------------------------------------------------------- segments


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


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Totals:
    """Exact sums for one segment over one window."""

    orders: int
    revenue_cents: int
    line_items: int = 0

    @property
    def aov(self) -> Fraction | None:
        return Fraction(self.revenue_cents, 100 * self.orders) if self.orders else None


def relative_change(now: Fraction | int | None, before: Fraction | int | None) -> Fraction | None:
    """(now / before - 1) exactly; None when there is nothing to compare against."""
    if now is None or before is None or before == 0:
        return None
    return Fraction(now) / Fraction(before) - 1


def as_percent(change: Fraction | None) -> Decimal | None:
    return fraction_to_decimal(None if change is None else change * 100)


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


def two_windows(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day rows (days x sums, from 59 days before the first as-of day) -> their sums over the current
    window (D-29..D) and the prior one (D-59..D-30) of every as-of day: differences of cumulative sums."""
    zero = np.zeros((1, *dense.shape[1:]), dtype=np.int64)
    cumulative = np.concatenate([zero, np.cumsum(dense, axis=0, dtype=np.int64)])
    ends = np.arange(2 * WINDOW_DAYS, len(dense) + 1)  # cumulative index just past each as-of day
    return cumulative[ends] - cumulative[ends - WINDOW_DAYS], cumulative[ends - WINDOW_DAYS] - cumulative[
        ends - 2 * WINDOW_DAYS
    ]


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


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


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
    from .columnar import parse_orders  # the columnar path reads these rules' limits

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


def reject_row(day: date, position: int, entity_id: int | None, reason: str, payload: bytes | str) -> dict:
    """A rejected_orders row; the payload as storable text (invalid UTF-8 replaced, NUL escaped): the
    lake keeps the exact bytes."""
    raw = payload if isinstance(payload, bytes) else payload.encode("utf-8", errors="surrogatepass")
    text = raw.decode("utf-8", errors="replace").replace("\x00", "\\u0000")
    return {"order_date": day, "position": position, "entity_id": entity_id, "reason": reason, "payload": text}


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
