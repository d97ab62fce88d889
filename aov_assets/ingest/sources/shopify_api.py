"""Shopify's GraphQL Admin API as this project reads it: the queries (one place for every field we ask
for), the answers' shapes, the errors, and the app's cost bucket on a shop (pure: no requests here).

What changes when Shopify's schema or rate limits change lives here; how days are fetched is the client's
(`shopify.py`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date, timedelta
from typing import Any

import httpx
import msgspec

DEFAULT_API_VERSION = "2026-10"  # the stable version of the quarter (2027-01 is still a release candidate)

MAX_PAGE_SIZE = 250

RECENT_DAYS = 60  # without read_all_orders, Shopify shows only the orders of the last 60 days

SCOPES = "read_orders, read_customers, read_products, and read_all_orders for orders older than 60 days"

_MONEY = "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"

LINE_ITEM_FIELDS = (
    "id sku name quantity product { id productType } originalTotalSet { shopMoney { amount currencyCode } } "
    "discountAllocations { allocatedAmountSet { shopMoney { amount currencyCode } } }"
)

# What the lake keeps of each order: everything the rules read, plus what explains an order later.
ORDER_OWN_FIELDS = (
    "id name createdAt updatedAt cancelledAt test presentmentCurrencyCode paymentGatewayNames "
    f"totalPriceSet {_MONEY} subtotalPriceSet {_MONEY} totalTaxSet {_MONEY} totalDiscountsSet {_MONEY} "
    f"totalShippingPriceSet {_MONEY} totalRefundedSet {_MONEY} "
    "customer { id tags } "
    "purchasingEntity { __typename ... on PurchasingCompany { company { id name } location { id name } "
    "contact { id } } ... on Customer { id } }"
)

ORDER_FIELDS = (
    f"{ORDER_OWN_FIELDS} "
    f"lineItems(first: $lines) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {LINE_ITEM_FIELDS} }} }}"
)

ORDERS_QUERY = (
    "query OrdersPage($first: Int!, $after: String, $query: String!, $lines: Int!) { "
    "orders(first: $first, after: $after, query: $query, sortKey: ID) { "
    f"pageInfo {{ hasNextPage endCursor }} nodes {{ {ORDER_FIELDS} }} }} }}"
)

LINE_ITEMS_QUERY = (
    "query OrderLineItems($id: ID!, $first: Int!, $after: String) { order(id: $id) { "
    "lineItems(first: $first, after: $after) { pageInfo { hasNextPage endCursor } "
    f"nodes {{ {LINE_ITEM_FIELDS} }} }} }} }}"
)


def bulk_orders_query(search: str) -> str:
    """A bulk operation's query (many days at once): Shopify runs it and writes JSONL, one line per order
    and one per line item (with `__parentId`, its order's id); connections take no page sizes there."""
    return (
        f"{{ orders(query: {json.dumps(search)}, sortKey: ID) {{ edges {{ node {{ {ORDER_OWN_FIELDS} "
        f"lineItems {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }} }} }} }} }}"
    )


BULK_RUN_MUTATION = (
    "mutation BulkOrders($query: String!) { bulkOperationRunQuery(query: $query, groupObjects: false) { "
    "bulkOperation { id status } userErrors { field message } } }"
)

BULK_STATUS_QUERY = (
    "query BulkStatus($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount url partialDataUrl } }"
)

SHOP_QUERY = "query ShopSettings { shop { currencyCode ianaTimezone name } }"

SCOPES_QUERY = "query AccessScopes { currentAppInstallation { accessScopes { handle } } }"

CATALOG_QUERY = (
    "query CatalogPage($first: Int!, $after: String) { productVariants(first: $first, after: $after, sortKey: ID) { "
    "pageInfo { hasNextPage endCursor } nodes { sku title product { id title productType "
    "collections(first: 1) { nodes { title } } } } } }"
)


class ShopifyError(RuntimeError):
    """A request that failed for good, in one line naming the shop (its host), never the token."""


class ShopifyAuthError(ShopifyError):
    """Shopify refused the token (401) or the app's access scopes (403)."""


class ShopifyConfigError(ShopifyError):
    """The environment does not describe a usable shop connection."""


class TooCostly(ShopifyError):
    """MAX_COST_EXCEEDED: the query asks for more than one query may cost (the orders pages shrink)."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


class _Throttle(msgspec.Struct, rename="camel"):
    maximum_available: float
    currently_available: float
    restore_rate: float


class _Cost(msgspec.Struct, rename="camel"):
    requested_query_cost: float | None = None
    throttle_status: _Throttle | None = None


class _Extensions(msgspec.Struct):
    cost: _Cost | None = None


class _Error(msgspec.Struct):
    message: str = ""
    extensions: dict[str, Any] = {}


class Reply(msgspec.Struct):
    data: msgspec.Raw = msgspec.Raw(b"null")
    errors: list[_Error] | str | None = None
    extensions: _Extensions | None = None

    @property
    def codes(self) -> set[str]:
        return {str(e.extensions.get("code")) for e in self.errors} if isinstance(self.errors, list) else set()

    def problem(self) -> str:
        if isinstance(self.errors, str):
            return one_line(self.errors)
        return "; ".join(one_line(f"{e.extensions.get('code') or 'ERROR'}: {e.message}") for e in self.errors or [])


class _PageInfo(msgspec.Struct, rename="camel"):
    has_next_page: bool = False
    end_cursor: str | None = None


class Connection(msgspec.Struct, rename="camel"):
    page_info: _PageInfo
    nodes: list[msgspec.Raw]


class _Orders(msgspec.Struct):
    orders: Connection


class _LinesHead(msgspec.Struct, rename="camel"):
    page_info: _PageInfo


class OrderHead(msgspec.Struct, rename="camel"):
    id: str
    line_items: _LinesHead | None = None


class _LinesOwner(msgspec.Struct, rename="camel"):
    line_items: Connection


class _Order(msgspec.Struct):
    order: _LinesOwner | None = None


REPLY = msgspec.json.Decoder(Reply)

ORDERS_PAGE = msgspec.json.Decoder(_Orders)

ORDER_HEAD = msgspec.json.Decoder(OrderHead)

LINES_PAGE = msgspec.json.Decoder(_Order)

ANY_JSON = msgspec.json.Decoder()


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def api_message(response: httpx.Response) -> str:
    """Shopify's `{"errors": "..."}` (or a list of `{"message"}`), else the start of the body."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return one_line(re.sub(r"<[^>]+>", " ", response.text))[:200] or response.reason_phrase
    if isinstance(errors, list):
        errors = "; ".join(str(e.get("message", e) if isinstance(e, dict) else e) for e in errors)
    return one_line(errors or response.reason_phrase)[:200]


class CostBucket:
    """The app's cost bucket on this shop, as the last response described it, refilling at its restore rate.

    Size and rate depend on the shop's plan, so both come from `throttleStatus`, never from a constant. A
    query's expected cost is the `requestedQueryCost` last seen for its shape (operation and page sizes);
    the first query of a shape goes alone and teaches it. Queries in flight keep their cost reserved until
    their answer says what the bucket holds, so concurrent days never spend the same points twice. Answers
    can reach the client in another order than Shopify wrote them, so the bucket never believes a status
    that holds more than the one it has (restored since): an older answer must not give back spent points.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._status: _Throttle | None = None
        self._at = 0.0
        self._costs: dict[tuple, float] = {}
        self._learning: set[tuple] = set()
        self._reserved = 0.0

    def take(self, shape: tuple) -> float:
        """Wait until the expected cost fits beside what is in flight; returns the points reserved. A shape
        not seen yet is expected to cost as much as the costliest one seen, and learns alone."""
        with self._changed:
            while True:
                known = self._costs.get(shape)
                if known is None and shape in self._learning:
                    self._changed.wait(0.05)  # another query of this shape is learning its cost
                    continue
                status, held = self._status, self._held(time.monotonic())
                cost = known if known is not None else max(self._costs.values(), default=0.0)
                if status is not None and status.restore_rate > 0:
                    cost = min(cost, status.maximum_available)
                    if cost > held - self._reserved:
                        self._changed.wait((cost - held + self._reserved) / status.restore_rate)
                        continue
                if known is None:
                    self._learning.add(shape)
                self._reserved += cost
                return cost

    def settle(self, shape: tuple, reserved: float, reply: Reply | None) -> None:
        """The query is answered (or failed): release its reservation and learn from its cost extension."""
        cost = reply.extensions.cost if reply is not None and reply.extensions else None
        with self._changed:
            self._reserved -= reserved
            self._learning.discard(shape)
            if cost is not None and cost.requested_query_cost is not None:
                self._costs[shape] = cost.requested_query_cost
            if cost is not None and cost.throttle_status is not None:
                status, now = cost.throttle_status, time.monotonic()
                held = self._held(now)
                if held < status.currently_available:  # an older answer reached the client after a newer one
                    status = msgspec.structs.replace(status, currently_available=held)
                self._status, self._at = status, now
            self._changed.notify_all()

    def _held(self, now: float) -> float:
        """What the bucket holds now by the last status, restored since (infinite before any status)."""
        status = self._status
        if status is None or status.restore_rate <= 0:
            return float("inf")
        restored = status.currently_available + (now - self._at) * status.restore_rate
        return min(status.maximum_available, restored)


def needs_all_orders(day: date, today: date) -> bool:
    """Whether Shopify shows the day's orders only to an app with read_all_orders (older than 60 days)."""
    return day <= today - timedelta(days=RECENT_DAYS)


def transient(outcome: httpx.Response | Reply) -> bool:
    return isinstance(outcome, httpx.Response) or "THROTTLED" in outcome.codes
