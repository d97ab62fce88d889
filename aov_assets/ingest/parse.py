"""One REST order read exactly, or rejected with a reason naming the field (pure: no Dagster, no I/O).

Money is exact: amounts are Decimals straight from the JSON text, order values rounded half-up to
the cent. Everything the warehouse cannot hold exactly, and every implausible order, is rejected."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from ..core.money import CENT
from ..manifest import Basis

COUNTED_STATES_EXCLUDE = frozenset({"canceled"})
REJECTED = "aov_rejected"  # set by a source's translation (a Shopify test order): the order is rejected with it
DEFAULT_MAX_ORDER_VALUE = Decimal(10_000_000)  # manifest validation.max_order_value, in global currency


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
    "payment_method",
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


Id = int | str  # a JSON number, or the numeric string some Magento versions send; anything else is rejected


class _Item(msgspec.Struct):
    parent_item_id: int | None = None


class _Company(msgspec.Struct):
    company_id: Id | None = None
    company_name: str | None = None


# Magento's JSON writes an empty object as PHP's empty array, `[]`: such a section is absent.
_EmptyObject = list[Any]


class _Payment(msgspec.Struct):
    method: str | None = None  # `companycredit`: Payment on Account (the B2B Company Credit module)


PAYMENT_METHOD_CHARS = 128  # Magento's sales_order_payment.method is varchar(128)


def storable_code(value: str | None) -> str | None:
    """A payment method code as the warehouse can keep it, else None: the code is evidence about the
    order, never a reason to reject it (an extension's odd code must not move AOV)."""
    if value is None or len(value) > PAYMENT_METHOD_CHARS or "\x00" in value:
        return None
    return value


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
    payment: _Payment | _EmptyObject | None = None
    aov_rejected: str | None = None

    @property
    def payment_method(self) -> str | None:
        return storable_code(self.payment.method) if isinstance(self.payment, _Payment) else None


_ORDER_DECODER = msgspec.json.Decoder(OrderFields, strict=False)


class _Identity(msgspec.Struct):
    entity_id: Id | None = None


_IDENTITY_DECODER = msgspec.json.Decoder(_Identity, strict=False)


def entity_id_of(payload: bytes | str) -> int | None:
    """The order's entity_id if it can be read at all (also from an order that is otherwise broken)."""
    try:
        value = _IDENTITY_DECODER.decode(payload).entity_id
    except msgspec.ValidationError:
        return None
    except msgspec.DecodeError:  # malformed for msgspec: maybe only a lone UTF-16 surrogate escape
        value = _entity_id_by_python_json(payload)
    except (UnicodeDecodeError, RecursionError):
        return None
    try:
        return check_id(value, "entity_id")
    except RejectedOrder:
        return None


def _entity_id_by_python_json(payload: bytes | str) -> Id | None:
    """Python's json reads lone surrogate escapes, which msgspec refuses: such a reject still names its order."""
    try:
        value = json.loads(payload if isinstance(payload, str) else bytes(payload)).get("entity_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


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
    if order.aov_rejected is not None:
        raise RejectedOrder(order.aov_rejected)
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
        "payment_method": order.payment_method,
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


def reject_row(day: date, position: int, entity_id: int | None, reason: str, payload: bytes | str) -> dict:
    """A rejected_orders row; the payload as storable text: the lake keeps the exact bytes."""
    return {
        "order_date": day,
        "position": position,
        "entity_id": entity_id,
        "reason": reason,
        "payload": storable_text(payload),
    }


def storable_text(payload: bytes | str) -> str:
    """A payload as text every warehouse stores: invalid UTF-8 replaced, NUL escaped."""
    raw = payload if isinstance(payload, bytes) else payload.encode("utf-8", errors="surrogatepass")
    return raw.decode("utf-8", errors="replace").replace("\x00", "\\u0000")
