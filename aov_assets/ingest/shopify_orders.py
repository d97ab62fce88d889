"""A Shopify order, as the lake keeps it (the GraphQL Admin API's order node), read as the REST order
every rule downstream reads (pure: no I/O).

The lake keeps Shopify's own bytes; this translation runs when the orders are read, so a fix here is a
re-materialization, never a re-sync. The mapping (issue 27):

- `entity_id` is the number in the order's GID, `increment_id` its `name`; `created_at`/`updated_at`
  are UTC as the REST API writes them.
- Counted unless cancelled (`cancelledAt` set: state `canceled`, else `open`); a test order
  (`test: true`) is rejected with that reason (`REJECTED`).
- Base = the shop's currency (`shopMoney`), global = base (rate 1); the order currency is the
  presentment currency. `totalPriceSet` is the grand total (after discounts, with tax and shipping,
  refunds not subtracted), `subtotalPriceSet` the subtotal (tax included when the shop's prices
  include tax), `totalTaxSet` the tax, `totalRefundedSet` the refunds.
- B2B: an order placed for a company (`purchasingEntity` is a `PurchasingCompany`) carries the
  company as Adobe Commerce's B2B orders do (the account is the company, whichever contact bought);
  otherwise a customer with a tag listed in `segments.b2b_customer_tags` gets customer group
  `TAGGED_GROUP` (the store's lists name it), everyone else `UNTAGGED_GROUP`.
- Line items become items at their original total less the discounts allocated to them, in the shop's
  currency (tax included when the shop's prices include tax).
- A customer's tags are read as the order is fetched (Shopify keeps them on the customer, not the
  order), so a re-sync after a customer was tagged reclassifies that customer's orders of those days.
- No e-mail is read (protected customer data): an order without a customer is its own account.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from ..manifest import Manifest
from .parse import REJECTED

UNTAGGED_GROUP, TAGGED_GROUP = 0, 1
CUSTOMER_GROUPS = [{"id": UNTAGGED_GROUP, "code": "untagged"}, {"id": TAGGED_GROUP, "code": "b2b_tagged"}]


def gid_number(gid: Any) -> int | None:
    """`gid://shopify/Order/123` -> 123 (None when it is not such an id)."""
    if not isinstance(gid, str):
        return None
    number = gid.rsplit("/", 1)[-1]
    return int(number) if number.isdigit() else None


def rest_order(node: dict[str, Any], b2b_tags: frozenset[str]) -> dict[str, Any]:
    """One order node -> the REST order's fields that the rules read."""
    customer = node.get("customer") or {}
    entity = node.get("purchasingEntity") or {}
    company = entity.get("company") if entity.get("__typename") == "PurchasingCompany" else None
    tags = {str(tag).strip().casefold() for tag in customer.get("tags") or ()}
    order = {
        "entity_id": gid_number(node.get("id")),
        "increment_id": node.get("name"),
        "created_at": rest_time(node.get("createdAt")),
        "updated_at": rest_time(node.get("updatedAt")),
        "state": "canceled" if node.get("cancelledAt") else "open",
        "status": "canceled" if node.get("cancelledAt") else "open",
        "store_id": 0,
        "customer_id": gid_number(customer.get("id")),
        "customer_group_id": TAGGED_GROUP if tags & b2b_tags else UNTAGGED_GROUP,
        "customer_email": None,  # protected customer data, not read: a guest order is its own account
        "base_currency_code": _currency(node, "totalPriceSet", "shopMoney"),
        "global_currency_code": _currency(node, "totalPriceSet", "shopMoney"),
        "order_currency_code": node.get("presentmentCurrencyCode")
        or _currency(node, "totalPriceSet", "presentmentMoney"),
        "base_to_global_rate": "1",
        "base_grand_total": _amount(node, "totalPriceSet"),
        "grand_total": _amount(node, "totalPriceSet", "presentmentMoney"),
        "base_subtotal": _amount(node, "subtotalPriceSet"),
        "subtotal": _amount(node, "subtotalPriceSet", "presentmentMoney"),
        "base_tax_amount": _amount(node, "totalTaxSet"),
        "base_discount_amount": _amount(node, "totalDiscountsSet"),
        "base_shipping_amount": _amount(node, "totalShippingPriceSet"),
        "base_total_refunded": _amount(node, "totalRefundedSet"),
        "payment": {"method": next(iter(node.get("paymentGatewayNames") or ()), None)},
        "items": [_item(line) for line in (node.get("lineItems") or {}).get("nodes") or ()],
    }
    if company:
        attributes = {"company_id": gid_number(company.get("id")), "company_name": company.get("name")}
        order["extension_attributes"] = {"company_order_attributes": attributes}
    if node.get("test") is True:
        order[REJECTED] = "a test order (test: true), not a sale"
    return order


def rest_orders(manifest: Manifest, payloads: Mapping[date, pa.BinaryArray]) -> dict[date, pa.BinaryArray]:
    """The lake's days of orders as REST orders: a Shopify store's translated, any other store's as kept."""
    if manifest.source != "shopify":
        return dict(payloads)
    tags = manifest.segments.b2b_customer_tags
    return {day: pa.array(rest_payloads(orders.to_pylist(), tags), pa.binary()) for day, orders in payloads.items()}


def rest_payloads(payloads: Iterable[bytes], b2b_tags: Iterable[str]) -> list[bytes]:
    """The lake's Shopify payloads as REST order payloads; one that is not a JSON object is passed on
    as it is, so the parser rejects it with its own reason."""
    tags = frozenset(str(tag).strip().casefold() for tag in b2b_tags)
    translated = []
    for payload in payloads:
        try:
            node = json.loads(payload)
        except (ValueError, RecursionError):
            translated.append(payload)
            continue
        if not isinstance(node, dict):
            translated.append(payload)
            continue
        translated.append(json.dumps(rest_order(node, tags), ensure_ascii=False).encode())
    return translated


def _item(line: dict[str, Any]) -> dict[str, Any]:
    """A line at its original total less every discount allocated to it (line, code and order-level
    discounts), like Adobe Commerce's `base_row_total - base_discount_amount`."""
    product = line.get("product") or {}
    allocations = [_amount(a, "allocatedAmountSet") for a in line.get("discountAllocations") or ()]
    return {
        "item_id": gid_number(line.get("id")),
        "parent_item_id": None,
        "sku": line.get("sku"),
        "name": line.get("name"),
        "product_id": gid_number(product.get("id")),
        "product_type": "simple",  # Shopify's productType is the merchant's category: the catalog keeps it
        "qty_ordered": line.get("quantity"),
        "base_row_total": _amount(line, "originalTotalSet"),
        "base_discount_amount": _sum(allocations),
    }


def _money(node: dict[str, Any], field: str, which: str) -> dict[str, Any]:
    return ((node.get(field) or {}).get(which)) or {}


def _amount(node: dict[str, Any], field: str, which: str = "shopMoney") -> str | None:
    return _money(node, field, which).get("amount")


def _currency(node: dict[str, Any], field: str, which: str) -> str | None:
    return _money(node, field, which).get("currencyCode")


def _sum(amounts: list[Any]) -> str:
    """Exact sum of decimal strings; a missing or non-numeric one makes the sum unreadable, so the
    order's items are refused (no lines) rather than its discount silently dropped."""
    total = Decimal(0)
    for amount in amounts:
        try:
            total += Decimal(amount) if isinstance(amount, str) else Decimal("NaN")
        except InvalidOperation:
            return "not an amount"
        if not total.is_finite():
            return "not an amount"
    return str(total)


def rest_time(value: Any) -> Any:
    """`2026-05-03T12:34:56Z` -> `2026-05-03 12:34:56` (UTC, as the REST API writes it); anything else
    is passed on for the parser to reject with its reason."""
    if isinstance(value, str) and len(value) == 20 and value.endswith("Z") and value[10] == "T":
        return f"{value[:10]} {value[11:19]}"
    return value
