"""A fake Shopify shop: a real HTTP server on 127.0.0.1 speaking enough of the GraphQL Admin API.

`POST /admin/api/{version}/graphql.json` with the token in `X-Shopify-Access-Token` (401 otherwise). Every
query is validated and executed (graphql-core) against `SCHEMA`, a subset of the Admin API's schema with
Shopify's own type and field names: a field the shop does not have is an error, as on Shopify, and each
answer holds exactly the fields the query selected. The operation (`query OrdersPage(...)`,
`OrderLineItems`, `ShopSettings`, `AccessScopes`, `CatalogPage`) and its `variables` decide what the
shop looks up (see `shopify_order` for an order's shape).

Like Shopify: the `created_at` bounds of the search query filter orders, sorted by id, paged by opaque
cursors; nested line items are paged by `$lines`; without `read_all_orders` only the last 60 days of
orders are visible, silently; every response carries `extensions.cost` from a simulated leaky bucket
(a query above what is left is THROTTLED, an HTTP 200), and a query whose requested cost is above 1,000
points is MAX_COST_EXCEEDED. Faults are switchable while it runs (see `Faults`).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

from graphql import build_schema, graphql_sync, parse, validate

from .loopback import LoopbackServer

TOKEN = "test-token"
MAX_QUERY_COST = 1000.0
_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)")
_FILE = re.compile(r"^/bulk/(\d+)\.jsonl$")
_BOUND = re.compile(r"created_at:(>=|<=|>|<)'([^']+)'")
_COMPARE: dict[str, Callable[[datetime, datetime], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}


SCHEMA = build_schema(
    """
    scalar DateTime
    scalar Decimal
    enum CurrencyCode { USD EUR GBP CAD AUD CHF JPY SEK }
    enum OrderSortKeys { ID CREATED_AT PROCESSED_AT UPDATED_AT }
    enum ProductVariantSortKeys { ID SKU TITLE }
    type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
    type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
    type PageInfo { hasNextPage: Boolean! endCursor: String }
    type CustomerEmailAddress { emailAddress: String }
    type Customer { id: ID! tags: [String!]! defaultEmailAddress: CustomerEmailAddress }
    type Company { id: ID! name: String! }
    type CompanyLocation { id: ID! name: String! }
    type CompanyContact { id: ID! }
    type PurchasingCompany { company: Company! location: CompanyLocation! contact: CompanyContact }
    union PurchasingEntity = Customer | PurchasingCompany
    type Collection { title: String! }
    type CollectionConnection { nodes: [Collection!]! }
    type Product {
      id: ID! title: String! productType: String! collections(first: Int, after: String): CollectionConnection!
    }
    type DiscountAllocation { allocatedAmountSet: MoneyBag! }
    type LineItem {
      id: ID! sku: String name: String! quantity: Int! product: Product
      discountedTotalSet: MoneyBag! originalUnitPriceSet: MoneyBag! originalTotalSet: MoneyBag!
      discountAllocations: [DiscountAllocation!]!
    }
    type LineItemEdge { node: LineItem! }
    type LineItemConnection { pageInfo: PageInfo! nodes: [LineItem!]! edges: [LineItemEdge!]! }
    type Order {
      id: ID! name: String! createdAt: DateTime! updatedAt: DateTime! cancelledAt: DateTime test: Boolean!
      currencyCode: CurrencyCode! presentmentCurrencyCode: CurrencyCode! paymentGatewayNames: [String!]!
      totalPriceSet: MoneyBag! subtotalPriceSet: MoneyBag totalTaxSet: MoneyBag totalDiscountsSet: MoneyBag!
      totalShippingPriceSet: MoneyBag! totalRefundedSet: MoneyBag! customer: Customer
      purchasingEntity: PurchasingEntity lineItems(first: Int, after: String): LineItemConnection!
    }
    type OrderEdge { node: Order! }
    type OrderConnection { pageInfo: PageInfo! nodes: [Order!]! edges: [OrderEdge!]! }
    enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
    enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
    type BulkOperation {
      id: ID! status: BulkOperationStatus! errorCode: BulkOperationErrorCode objectCount: String!
      url: String partialDataUrl: String
    }
    type BulkOperationUserError { field: [String!] message: String! }
    type BulkOperationRunQueryPayload { bulkOperation: BulkOperation userErrors: [BulkOperationUserError!]! }
    type Mutation { bulkOperationRunQuery(query: String!, groupObjects: Boolean!): BulkOperationRunQueryPayload }
    type ProductVariant { sku: String title: String! product: Product! }
    type ProductVariantConnection { pageInfo: PageInfo! nodes: [ProductVariant!]! }
    type Shop { currencyCode: CurrencyCode! ianaTimezone: String! name: String! }
    type AccessScope { handle: String! }
    type AppInstallation { accessScopes: [AccessScope!]! }
    type QueryRoot {
      orders(first: Int, after: String, query: String, sortKey: OrderSortKeys, reverse: Boolean): OrderConnection!
      order(id: ID!): Order
      productVariants(first: Int, after: String, sortKey: ProductVariantSortKeys): ProductVariantConnection!
      shop: Shop!
      currentAppInstallation: AppInstallation!
      bulkOperation(id: ID!): BulkOperation
    }
    schema { query: QueryRoot mutation: Mutation }
    """
)


def money(amount: str | Decimal, currency: str = "USD", *, presentment: bool = True) -> dict:
    """A MoneyBag as Shopify writes it: amounts are decimal strings."""
    value = {"amount": f"{Decimal(amount):.2f}", "currencyCode": currency}
    return {"shopMoney": value, "presentmentMoney": dict(value)} if presentment else {"shopMoney": value}


def line_item(
    sku: str | None,
    *,
    quantity: int = 1,
    price: str = "10.00",
    discounts: Iterable[str] = (),
    product_id: int = 1,
    product_type: str = "Supplies",
) -> dict:
    """One LineItem node (its id is given by `shopify_order`): `price` per unit, and the amounts of the
    discounts allocated to the line (a code, an automatic or an order-level discount's share)."""
    original = Decimal(price) * quantity
    allocated = [Decimal(amount) for amount in discounts]
    return {
        "sku": sku,
        "name": f"Product {sku}",
        "quantity": quantity,
        "product": {"id": f"gid://shopify/Product/{product_id}", "productType": product_type},
        "originalTotalSet": money(original, presentment=False),
        "discountAllocations": [{"allocatedAmountSet": money(amount, presentment=False)} for amount in allocated],
    }


def shopify_order(
    number: int,
    created_at: str,
    *,
    total: str = "100.00",
    tax: str = "0.00",
    company: tuple[int, str] | None = None,
    customer_id: int | None = 1,
    tags: Iterable[str] = (),
    lines: list[dict] | None = None,
    cancelled: bool = False,
    test: bool = False,
    currency: str = "USD",
    presentment: tuple[str, str] | None = None,
) -> dict:
    """An Order node shaped like the client's ORDER_FIELDS, with `lineItems` as the full list (the fake pages
    it). `company` is (id, name): a B2B order with that purchasing company; `customer_id=None` is a guest;
    `presentment` (currency, rate): the buyer saw the amounts in that currency, at that rate."""

    def bag(amount: str | Decimal) -> dict:
        value = money(amount, currency)
        if presentment is not None:
            shown, rate = presentment
            converted = (Decimal(amount) * Decimal(rate)).quantize(Decimal("0.01"))
            value["presentmentMoney"] = {"amount": f"{converted}", "currencyCode": shown}
        return value

    lines = lines if lines is not None else [line_item(f"SKU-{number}", price=str(Decimal(total) - Decimal(tax)))]
    customer = None if customer_id is None else {"id": f"gid://shopify/Customer/{customer_id}", "tags": list(tags)}
    if company is not None:
        company_id, company_name = company
        entity = {
            "__typename": "PurchasingCompany",
            "company": {"id": f"gid://shopify/Company/{company_id}", "name": company_name},
            "location": {"id": f"gid://shopify/CompanyLocation/{company_id}", "name": f"{company_name} HQ"},
            "contact": {"id": f"gid://shopify/CompanyContact/{customer_id}"},
        }
    else:
        entity = None if customer is None else {"__typename": "Customer", "id": customer["id"]}
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{1000 + number}",
        "createdAt": created_at,
        "updatedAt": created_at,
        "cancelledAt": created_at if cancelled else None,
        "test": test,
        "presentmentCurrencyCode": presentment[0] if presentment else currency,
        "paymentGatewayNames": ["manual"],
        "totalPriceSet": bag(total),
        "subtotalPriceSet": bag(Decimal(total) - Decimal(tax)),
        "totalTaxSet": bag(tax),
        "totalDiscountsSet": bag("0"),
        "totalShippingPriceSet": bag("0"),
        "totalRefundedSet": bag("0"),
        "customer": customer,
        "purchasingEntity": entity,
        "lineItems": [{"id": f"gid://shopify/LineItem/{number * 1000 + i}", **line} for i, line in enumerate(lines)],
    }


def shopify_product(
    product_id: int,
    title: str,
    *,
    product_type: str = "",
    collections: Iterable[str] = (),
    variants: Iterable[tuple[str | None, str]] = ((None, "Default Title"),),
) -> dict:
    """A product with its variants as (sku, title) pairs; a None sku becomes `SKU-{product_id}`."""
    return {
        "id": product_id,
        "title": title,
        "productType": product_type,
        "collections": list(collections),
        "variants": [(sku if sku is not None else f"SKU-{product_id}", name) for sku, name in variants],
    }


PRODUCTS = (
    shopify_product(1, "Nitrile Gloves", product_type="Safety", variants=(("GLV-M", "M"), ("GLV-L", "L"))),
    shopify_product(2, "Paper Towels", collections=("Janitorial", "Paper")),
    shopify_product(3, "Gift Card", variants=(("", "Default Title"),)),
)


def order_number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def _cursor(kind: str, position: int) -> str:
    return base64.b64encode(f"{kind}:{position}".encode()).decode()


def _position(cursor: str | None) -> int:
    return -1 if cursor is None else int(base64.b64decode(cursor).decode().split(":")[1])


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Faults:
    """Switch these on a running shop; each counts down as it fires."""

    throttle: int = 0  # next N queries: HTTP 200 + THROTTLED, the bucket shown (and left) empty
    too_many: list[str] = field(default_factory=list)  # next responses: 429 with this Retry-After each
    server_errors: int = 0  # next N requests: HTTP 500
    max_first_times_lines: int | None = None  # orders pages with first x lines above this: MAX_COST_EXCEEDED
    repeat_order: int = 0  # next N pages after the first start with the previous page's last order again
    error: str | None = None  # the next query answers this GraphQL error (HTTP 200, code INTERNAL_SERVER_ERROR)
    latency_seconds: float = 0.0  # every orders page
    forbidden: bool = False  # every query: 403, the app lacks a scope the query needs
    raw_answers: list[bytes] = field(default_factory=list)  # next queries: these exact bodies (HTTP 200)
    bulk_running_polls: int = 1  # a bulk operation answers RUNNING this many times before it ends
    bulk_ends: str = "COMPLETED"  # how it ends (FAILED: with errorCode INTERNAL_SERVER_ERROR)
    bulk_short_file: bool = False  # a bulk operation's file lacks its last line (a cut-off download)


class FakeShopify(LoopbackServer):
    """Start with `with FakeShopify(orders) as shop:`; point the client at `shop.base_url`."""

    def __init__(
        self,
        orders: Iterable[Mapping[str, Any]] = (),
        *,
        token: str = TOKEN,
        scopes: Iterable[str] = ("read_orders", "read_all_orders", "read_products"),
        products: Iterable[Mapping[str, Any]] = PRODUCTS,
        currency: str = "USD",
        timezone_name: str = "America/New_York",
        maximum_available: float = 1000.0,
        restore_rate: float = 50.0,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        self.orders = sorted((dict(o) for o in orders), key=lambda o: order_number(o["id"]))
        self.token, self.scopes, self.products = token, frozenset(scopes), list(products)
        self.currency, self.timezone_name, self.now = currency, timezone_name, now
        self.maximum_available, self.restore_rate = maximum_available, restore_rate
        self.faults = Faults()
        self.requests: list[dict[str, Any]] = []
        self.bulk: list[dict[str, Any]] = []  # each bulk operation: its JSONL, polls, and who downloaded it
        self.in_flight = self.max_in_flight = 0
        self._available, self._at = maximum_available, time.monotonic()
        self._lock = threading.Lock()
        super().__init__(self._handler(), "fake-shopify", poll_seconds=0.05)

    def log(self, operation: str | None = None, code: str | None = "any") -> list[dict[str, Any]]:
        """Requests received, optionally of one operation and with one error code (None: no error)."""
        return [
            r
            for r in self.requests
            if (operation is None or r["operation"] == operation) and (code == "any" or r["code"] == code)
        ]

    # ----------------------------------------------------------------- request handling

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        shop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, headers, entry = shop.respond(
                    self.path, self.headers.get("X-Shopify-Access-Token"), body
                )
                payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                entry["response"] = payload  # what is sent, byte for byte (kept before the client can read it)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802 - a bulk operation's file, as Shopify's storage serves it
                match = _FILE.match(self.path)
                if match is None or int(match.group(1)) >= len(shop.bulk):
                    self.send_error(404)
                    return
                operation = shop.bulk[int(match.group(1))]
                operation["downloads"].append(dict(self.headers))
                jsonl = operation["jsonl"]
                if shop.faults.bulk_short_file:
                    jsonl = b"".join(jsonl.splitlines(keepends=True)[:-1])
                self.send_response(200)
                self.send_header("Content-Type", "application/jsonl")
                self.send_header("Content-Length", str(len(jsonl)))
                self.end_headers()
                self.wfile.write(jsonl)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler

    def respond(self, path: str, token: str | None, body: bytes) -> tuple[int, Any, dict[str, str], dict[str, Any]]:
        request = json.loads(body or b"{}")
        match = _OPERATION.match(request.get("query", ""))
        entry: dict[str, Any] = {
            "query": request.get("query", ""),
            "operation": match.group(1) if match else None,
            "variables": request.get("variables") or {},
            "at": time.monotonic(),
            "status": 200,
            "code": None,
        }
        with self._lock:
            self.requests.append(entry)
            status, answer, headers = self._gate(path, token, entry)
            entry["status"] = status
        if status != 200 or answer is not None:
            return status, answer, headers, entry
        return *(self._timed(entry) if entry["operation"] == "OrdersPage" else self._answer(entry)), entry

    def _gate(self, path: str, token: str | None, entry: dict) -> tuple[int, Any, dict[str, str]]:
        """Auth and HTTP-level faults (under the lock): an answer, or (200, None, {}) to go on."""
        faults = self.faults
        if not _PATH.match(path):
            return 404, {"errors": "Not Found"}, {}
        if token != self.token:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, {}
        if faults.forbidden:
            return 403, {"errors": "[API] This action requires merchant approval for read_orders scope."}, {}
        if faults.raw_answers:
            return 200, faults.raw_answers.pop(0), {}
        if faults.too_many:
            retry_after = faults.too_many.pop(0)
            return 429, {"errors": "Exceeded 2 calls per second for api client."}, {"Retry-After": retry_after}
        if faults.server_errors > 0:
            faults.server_errors -= 1
            return 500, {"errors": "Internal Server Error"}, {}
        return 200, None, {}

    def _timed(self, entry: dict) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.faults.latency_seconds)
            return self._answer(entry)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, entry: dict) -> tuple[int, Any, dict[str, str]]:
        operation, variables = entry["operation"], entry["variables"]
        handlers = {
            "OrdersPage": self._orders_page,
            "OrderLineItems": self._order_line_items,
            "ShopSettings": self._shop,
            "AccessScopes": self._access_scopes,
            "CatalogPage": self._catalog_page,
            "BulkOrders": self._bulk_run,
            "BulkStatus": self._bulk_status,
        }
        if operation not in handlers:
            return 200, self._failed(entry, "undefinedField", f"Unknown operation {operation!r}", 1.0), {}
        if problems := validate(SCHEMA, parse(entry["query"])):
            message = "; ".join(problem.message for problem in problems)
            return 200, self._failed(entry, "GRAPHQL_VALIDATION_FAILED", message, 1.0), {}
        requested = self._requested_cost(operation, variables)
        with self._lock:
            faults = self.faults
            limit = faults.max_first_times_lines
            lines = variables.get("lines", 0)
            if requested > MAX_QUERY_COST or (
                operation == "OrdersPage" and limit is not None and variables["first"] * lines > limit
            ):
                message = f"Query cost is {requested:.0f}, which exceeds the single query max cost limit (1000)."
                return 200, self._failed(entry, "MAX_COST_EXCEEDED", message, requested), {}
            self._restore()
            if faults.throttle > 0 or requested > self._available:
                entry["forced"] = faults.throttle > 0
                if faults.throttle > 0:
                    faults.throttle -= 1
                    self._available = 0.0
                return 200, self._failed(entry, "THROTTLED", "Throttled", requested), {}
            if faults.error is not None:
                message, faults.error = faults.error, None
                return 200, self._failed(entry, "INTERNAL_SERVER_ERROR", message, requested), {}
            data, returned = handlers[operation](variables)
            actual = min(requested, 1.0 + returned * self._per_node(operation, variables))
            self._available -= actual
            executed = graphql_sync(SCHEMA, entry["query"], root_value=data, variable_values=dict(variables))
            if executed.errors:  # the fake's data does not fit the schema: a bug here, loud in the test
                raise AssertionError(f"fake shop's {operation} answer breaks the schema: {executed.errors}")
            return 200, {"data": executed.data, "extensions": self._cost(requested, actual)}, {}

    # ----------------------------------------------------------------- the bucket

    def _per_node(self, operation: str, variables: Mapping[str, Any]) -> float:
        """What one returned node costs: an order costs itself and its nested line items page."""
        return (1 + variables.get("lines", 0)) / 4 if operation == "OrdersPage" else 1.0

    def _requested_cost(self, operation: str, variables: Mapping[str, Any]) -> float:
        return 1.0 + variables.get("first", 0) * self._per_node(operation, variables)

    def _restore(self) -> None:
        now = time.monotonic()
        self._available = min(self.maximum_available, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def _cost(self, requested: float, actual: float | None) -> dict:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": self.maximum_available,
                    "currentlyAvailable": self._available,
                    "restoreRate": self.restore_rate,
                },
            }
        }

    def _failed(self, entry: dict, code: str, message: str, requested: float) -> dict:
        entry["code"] = code
        return {
            "errors": [{"message": message, "extensions": {"code": code}}],
            "extensions": self._cost(requested, None),
        }

    # ----------------------------------------------------------------- operations

    def visible_orders(self) -> list[dict]:
        """Without read_all_orders, Shopify shows only the orders of the last 60 days (and says nothing)."""
        if "read_all_orders" in self.scopes:
            return self.orders
        since = self.now() - timedelta(days=60)
        return [o for o in self.orders if _instant(o["createdAt"]) >= since]

    def node(self, order: Mapping[str, Any], lines: int) -> dict:
        """An order as an OrdersPage node: its first `lines` line items as a connection."""
        items = order["lineItems"]
        shown = items[:lines]
        return {
            **order,
            "lineItems": {
                "pageInfo": {
                    "hasNextPage": len(items) > lines,
                    "endCursor": _cursor("line", len(shown) - 1) if shown else None,
                },
                "nodes": shown,
            },
        }

    def _orders_page(self, variables: Mapping[str, Any]) -> tuple[dict, int]:
        bounds = _BOUND.findall(variables.get("query") or "")
        orders = [
            o
            for o in self.visible_orders()
            if all(_COMPARE[op](_instant(o["createdAt"]), _instant(value)) for op, value in bounds)
        ]
        after, first = _position(variables.get("after")), variables["first"]
        start = next((i for i, o in enumerate(orders) if order_number(o["id"]) > after), len(orders))
        if self.faults.repeat_order > 0 and start > 0:
            self.faults.repeat_order -= 1
            start -= 1  # the previous page's last order again
        page = orders[start : start + first]
        nodes = [self.node(o, variables["lines"]) for o in page]
        end = _cursor("order", order_number(page[-1]["id"])) if page else variables.get("after")
        info = {"hasNextPage": start + first < len(orders), "endCursor": end}
        return {"orders": {"pageInfo": info, "nodes": nodes}}, len(nodes)

    def _order_line_items(self, variables: Mapping[str, Any]) -> tuple[dict, int]:
        order = next((o for o in self.visible_orders() if o["id"] == variables["id"]), None)
        if order is None:
            return {"order": None}, 0
        items = order["lineItems"]
        start, first = _position(variables.get("after")) + 1, variables["first"]
        shown = items[start : start + first]
        info = {
            "hasNextPage": start + first < len(items),
            "endCursor": _cursor("line", start + len(shown) - 1) if shown else None,
        }
        return {"order": {"lineItems": {"pageInfo": info, "nodes": shown}}}, len(shown)

    def _bulk_run(self, variables: Mapping[str, Any]) -> tuple[dict, int]:
        """Run the bulk query at once (validated and executed against the schema) and keep its JSONL: one
        line per order, then one per line item with `__parentId`, as Shopify writes it."""
        query = variables["query"]
        if problems := validate(SCHEMA, parse(query)):
            errors = [{"field": ["query"], "message": problem.message} for problem in problems]
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": errors}}, 0
        bounds = _BOUND.findall(query)
        orders = [
            {**o, "lineItems": {"edges": [{"node": item} for item in o["lineItems"]]}}
            for o in self.visible_orders()
            if all(_COMPARE[op](_instant(o["createdAt"]), _instant(value)) for op, value in bounds)
        ]
        root = {"orders": {"edges": [{"node": order} for order in orders]}}
        executed = graphql_sync(SCHEMA, query, root_value=root)
        if executed.errors:
            raise AssertionError(f"fake shop's bulk answer breaks the schema: {executed.errors}")
        lines = []
        for edge in executed.data["orders"]["edges"]:
            order = edge["node"]
            items = order.pop("lineItems")["edges"]
            lines.append(order)
            lines += [{**item["node"], "__parentId": order["id"]} for item in items]
        number = len(self.bulk)
        self.bulk.append({"jsonl": "".join(json.dumps(line) + "\n" for line in lines).encode(), "polls": 0,
                          "objects": len(lines), "downloads": []})  # fmt: skip
        operation = {"id": f"gid://shopify/BulkOperation/{number}", "status": "CREATED"}
        return {"bulkOperationRunQuery": {"bulkOperation": operation, "userErrors": []}}, 0

    def _bulk_status(self, variables: Mapping[str, Any]) -> tuple[dict, int]:
        number = order_number(variables["id"])
        operation = self.bulk[number]
        operation["polls"] += 1
        status = {"id": variables["id"], "objectCount": str(operation["objects"]), "errorCode": None}
        if operation["polls"] <= self.faults.bulk_running_polls:
            return {"bulkOperation": status | {"status": "RUNNING", "url": None, "partialDataUrl": None}}, 0
        if self.faults.bulk_ends != "COMPLETED":
            failed = {"status": self.faults.bulk_ends, "errorCode": "INTERNAL_SERVER_ERROR", "url": None}
            return {"bulkOperation": status | failed | {"partialDataUrl": None}}, 0
        url = f"{self.base_url}/bulk/{number}.jsonl" if operation["objects"] else None
        return {"bulkOperation": status | {"status": "COMPLETED", "url": url, "partialDataUrl": None}}, 0

    def _shop(self, _variables: Mapping[str, Any]) -> tuple[dict, int]:
        shop = {"currencyCode": self.currency, "ianaTimezone": self.timezone_name, "name": "Fake Shop"}
        return {"shop": shop}, 0

    def _access_scopes(self, _variables: Mapping[str, Any]) -> tuple[dict, int]:
        scopes = [{"handle": handle} for handle in sorted(self.scopes)]
        return {"currentAppInstallation": {"accessScopes": scopes}}, 0

    def _catalog_page(self, variables: Mapping[str, Any]) -> tuple[dict, int]:
        variants = [
            {
                "sku": sku,
                "title": title,
                "product": {
                    "id": f"gid://shopify/Product/{product['id']}",
                    "title": product["title"],
                    "productType": product["productType"],
                    "collections": {"nodes": [{"title": name} for name in product["collections"][:1]]},
                },
            }
            for product in self.products
            for sku, title in product["variants"]
        ]
        start, first = _position(variables.get("after")) + 1, variables["first"]
        shown = variants[start : start + first]
        info = {"hasNextPage": start + first < len(variants), "endCursor": _cursor("variant", start + len(shown) - 1)}
        return {"productVariants": {"pageInfo": info, "nodes": shown}}, len(shown)
