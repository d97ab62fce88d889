"""Shopify GraphQL Admin API client: each UTC day's orders, nothing lost, nothing doubled.

Every request is `POST {shop}/admin/api/{version}/graphql.json` with the app's token in the
`X-Shopify-Access-Token` header. A day's orders come from the `orders` connection filtered by the search
query `created_at:>='D' AND created_at:<'D+1'` (UTC instants), sorted by ID and followed by cursor
(`pageInfo { hasNextPage endCursor }`). Only `orders` are read, never `draftOrders`: a completed draft
order is already an order, and an open one is not a sale. Copies of an order id within a day are dropped
(a paging glitch must not double an order). Up to `concurrency` days are fetched at once; days are handed
over in order. A run of `bulk_days` days or more comes from bulk operations instead (a month per
operation: one JSONL file each, orders put back together with their line items).

Each order is handed over as the exact JSON bytes of its node (`msgspec.Raw`), so the lake holds what
the shop said, money included. The exceptions are re-encoded with all their line items in
`lineItems.nodes`: an order with more line items than the nested page (`line_items_page`; the rest come
from `order(id:) { lineItems(first:, after:) }`), and every order of a bulk operation.

Rate limits are cost-based: a bucket of `maximumAvailable` points refilled at `restoreRate` per second,
both read from each response's `extensions.cost.throttleStatus` (they differ by plan), so a query waits
until its expected cost fits beside the queries in flight. THROTTLED (an HTTP 200 with an error), 429
(honouring Retry-After), 5xx and transport errors are retried by tenacity within `retry_seconds`;
401/403 fail at once. MAX_COST_EXCEEDED (a single query above 1,000 points) halves the orders page, then
the nested line-items page, for the rest of the client's life. Without the read_all_orders scope Shopify
silently returns no order older than 60 days, so such days fail loudly instead. No message carries the
token: errors name variables, not values.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx
import msgspec
from tenacity import RetryCallState

from ..shopify_orders import CUSTOMER_GROUPS, gid_number
from .http import PooledClient
from .shopify_api import (
    ANY_JSON,
    BULK_RUN_MUTATION,
    BULK_STATUS_QUERY,
    CATALOG_QUERY,
    DEFAULT_API_VERSION,
    LINE_ITEMS_QUERY,
    LINES_PAGE,
    MAX_PAGE_SIZE,
    ORDER_HEAD,
    ORDERS_PAGE,
    ORDERS_QUERY,
    RECENT_DAYS,
    REPLY,
    SCOPES,
    SCOPES_QUERY,
    SHOP_QUERY,
    Connection,
    CostBucket,
    OrderHead,
    Reply,
    ShopifyAuthError,
    ShopifyConfigError,
    ShopifyError,
    TooCostly,
    api_message,
    bulk_orders_query,
    needs_all_orders,
    one_line,
    transient,
)

BASE_URL_VARIABLE = "SHOPIFY_BASE_URL"

TOKEN_VARIABLE = "SHOPIFY_ACCESS_TOKEN"

CATALOG_PAGE = 100  # product variants per catalog query (each with its product and a collection): well under 1,000

BULK_SPAN_DAYS = 31  # days per bulk operation: a month's orders in one file (all of them in memory at once)

# https only; plain http just for a fake shop on the loopback interface.
_SHOP_URL = re.compile(r"^(https://[^/\s:?#]+(:\d+)?|http://(127\.0\.0\.1|localhost)(:\d+)?)/?$")


def _utc_today() -> date:
    return datetime.now(timezone.utc).date()


class ShopifyClient(PooledClient):
    """The shop's GraphQL Admin API, as an order source for the lake."""

    name = "shopify"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        page_size: int = 10,
        line_items_page: int = 10,
        concurrency: int = 2,
        timeout_seconds: float = 30.0,
        retry_seconds: float = 120.0,
        backoff_seconds: float = 0.5,
        bulk_days: int = 14,
        poll_seconds: float = 2.0,
        token_variable: str = TOKEN_VARIABLE,
        base_url_variable: str = BASE_URL_VARIABLE,
        today: Callable[[], date] = _utc_today,
    ):
        if not _SHOP_URL.match(base_url or ""):
            raise ShopifyConfigError(
                f"{base_url_variable} must be the shop's root, like https://acme.myshopify.com (got {base_url!r})"
            )
        if not token:
            raise ShopifyConfigError(f"no Shopify access token: set {token_variable} to the app's Admin API token")
        for name, size in (("page_size", page_size), ("line_items_page", line_items_page)):
            if not 1 <= size <= MAX_PAGE_SIZE:
                raise ShopifyConfigError(f"{name} must be 1..{MAX_PAGE_SIZE} (got {size})")
        self.shop = urlsplit(base_url).netloc
        self.path = f"/admin/api/{api_version}/graphql.json"
        self.bulk_days, self.poll_seconds, self.timeout_seconds = bulk_days, poll_seconds, timeout_seconds
        self.token_variable = token_variable
        self.today = today
        self._sizes = (page_size, line_items_page)  # (orders, nested line items); shrunk on MAX_COST_EXCEEDED
        self._bucket = CostBucket()
        self._lock = threading.Lock()
        self._scopes: frozenset[str] | None = None
        self._scopes_lock = threading.Lock()
        self._shop_settings: dict | None = None
        super().__init__(
            base_url,
            concurrency=concurrency,
            timeout_seconds=timeout_seconds,
            retry_seconds=retry_seconds,
            backoff_seconds=backoff_seconds,
            headers={"X-Shopify-Access-Token": token},
        )

    # ----------------------------------------------------------------- requests

    def query(self, query: str, variables: dict[str, Any], what: str, shape: tuple) -> Reply:
        """One GraphQL operation: THROTTLED, 429, 5xx and transport errors retried within the budget."""

        def attempt() -> httpx.Response | Reply:  # a TransportError (timeout, refused, reset) propagates: retried
            reserved, reply = self._bucket.take(shape), None
            try:
                reply = send()
                return reply
            finally:
                self._bucket.settle(shape, reserved, reply if isinstance(reply, Reply) else None)

        def send() -> httpx.Response | Reply:
            response = self._http.post(self.path, json={"query": query, "variables": variables})
            status = response.status_code
            if status in (401, 403):
                raise ShopifyAuthError(
                    f"Shopify refused {self.shop} (HTTP {status}: {api_message(response)}). Check "
                    f"{self.token_variable} and the app's access scopes ({SCOPES})"
                )
            if status == 429 or status >= 500:
                return response
            if status != 200:
                raise ShopifyError(f"Shopify {self.shop} failed {what}: HTTP {status}: {api_message(response)}")
            try:
                reply = REPLY.decode(response.content)
            except (msgspec.ValidationError, msgspec.DecodeError) as error:
                raise ShopifyError(f"Shopify {self.shop} answered {what} with no GraphQL response: {error}") from None
            return reply

        def give_up(state: RetryCallState) -> NoReturn:
            error = state.outcome.exception()
            if error is not None:
                problem = type(error).__name__
            elif isinstance(outcome := state.outcome.result(), httpx.Response):
                problem = f"HTTP {outcome.status_code}: {api_message(outcome)}"
            else:
                problem = outcome.problem()
            raise ShopifyError(
                f"Shopify {self.shop} failed {what}: {problem} "
                f"(gave up after {state.attempt_number} attempts in {state.seconds_since_start:.0f}s)"
            ) from None

        retrying = self._retrying(transient, give_up)
        reply = retrying(attempt)
        if "MAX_COST_EXCEEDED" in reply.codes:
            raise TooCostly(f"Shopify {self.shop} refused {what}: {reply.problem()}", reply.problem())
        if reply.errors:
            raise ShopifyError(f"Shopify {self.shop} refused {what}: {reply.problem()}")
        return reply

    def _data(self, reply: Reply, what: str, decoder: msgspec.json.Decoder = ANY_JSON) -> Any:
        try:
            return decoder.decode(reply.data)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise ShopifyError(f"Shopify {self.shop} answered {what} with unexpected data: {error}") from None

    # ----------------------------------------------------------------- lookups

    def customer_groups(self) -> list[dict]:
        """Shopify has no customer groups: the two that an order's customer is read into (tagged B2B or not)."""
        return CUSTOMER_GROUPS

    def store_views(self) -> list[dict]:
        """Shopify has no store views: one shop, one store."""
        return []

    def store_configs(self) -> list[dict]:
        """The shop as the lake's one store config: its currency and time zone."""
        if self._shop_settings is None:
            shop = self._data(self.query(SHOP_QUERY, {}, "the shop's settings", ("shop",)), "the shop's settings")
            self._shop_settings = shop["shop"]
        shop = self._shop_settings
        return [
            {
                "id": 0,
                "code": "shop",
                "name": shop["name"],
                "base_currency_code": shop["currencyCode"],
                "timezone": shop["ianaTimezone"],
            }
        ]

    def access_scopes(self) -> frozenset[str]:
        """The scopes the merchant granted the app (asked once)."""
        with self._scopes_lock:
            if self._scopes is None:
                reply = self.query(SCOPES_QUERY, {}, "the app's access scopes", ("scopes",))
                installation = self._data(reply, "the app's access scopes")["currentAppInstallation"]
                self._scopes = frozenset(scope["handle"] for scope in installation["accessScopes"])
            return self._scopes

    def catalog(self) -> list[dict]:
        """One row per product variant with a SKU; the category is the product type, else the title of
        the product's first collection."""
        rows: list[dict] = []
        after = None
        while True:
            first = min(self._sizes[0], CATALOG_PAGE)
            reply = self.query(CATALOG_QUERY, {"first": first, "after": after}, "product variants", ("catalog", first))
            variants = self._data(reply, "product variants")["productVariants"]
            for variant in variants["nodes"]:
                if not variant.get("sku"):
                    continue
                product = variant["product"]
                collections = product["collections"]["nodes"]
                title = product["title"]
                rows.append(
                    {
                        "sku": variant["sku"],
                        "name": title if variant["title"] == "Default Title" else f"{title} - {variant['title']}",
                        "product_id": gid_number(product["id"]),
                        "category": product.get("productType") or (collections[0]["title"] if collections else None),
                    }
                )
            if not variants["pageInfo"]["hasNextPage"]:
                return rows
            after = variants["pageInfo"]["endCursor"]

    # ----------------------------------------------------------------- orders

    def iter_days(self, days: Iterable[date]) -> Iterator[tuple[date, list[bytes]]]:
        """Each day's orders, in day order: `bulk_days` days or more by bulk operations (a quarter at a
        time, one file each instead of thousands of pages), fewer by pages, `concurrency` days at once."""
        days = list(days)
        if self.bulk_days and len(days) >= self.bulk_days:
            yield from self._bulk_days(days)
            return
        pending = iter(days)
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="shopify")
        try:
            fetches: deque[tuple[date, Future[list[bytes]]]] = deque(
                (day, pool.submit(self.orders_on, day)) for day in itertools.islice(pending, self.concurrency)
            )
            while fetches:
                day, fetch = fetches.popleft()
                payloads = fetch.result()
                following = next(pending, None)
                if following is not None:
                    fetches.append((following, pool.submit(self.orders_on, following)))
                yield day, payloads
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _bulk_days(self, days: list[date]) -> Iterator[tuple[date, list[bytes]]]:
        """The days in order, a stretch of up to BULK_SPAN_DAYS from each next requested day at a time."""
        pending = sorted(set(days))
        while pending:
            start = pending[0]
            stop = min(start + timedelta(days=BULK_SPAN_DAYS), pending[-1] + timedelta(days=1))
            by_day = self.bulk_orders(start, stop)
            for day in (day for day in days if start <= day < stop):
                yield day, by_day.get(day, [])
            pending = [day for day in pending if day >= stop]

    def bulk_orders(self, first: date, stop: date) -> dict[date, list[bytes]]:
        """Orders created in [first 00:00Z, stop 00:00Z) by one bulk operation, by UTC day, each once:
        each order re-encoded with all its line items, as a page would hand it over."""
        self._check_history(first)
        what = f"orders created {first}..{stop - timedelta(days=1)} (bulk operation)"
        search = f"created_at:>='{first}T00:00:00Z' AND created_at:<'{stop}T00:00:00Z'"
        reply = self.query(BULK_RUN_MUTATION, {"query": bulk_orders_query(search)}, what, ("bulk",))
        started = self._data(reply, what)["bulkOperationRunQuery"]
        if started["userErrors"] or not started["bulkOperation"]:
            problems = "; ".join(one_line(error["message"]) for error in started["userErrors"]) or "no operation"
            raise ShopifyError(f"Shopify {self.shop} refused {what}: {problems}")
        url, objects = self._bulk_result(started["bulkOperation"]["id"], what)
        if url is None:
            if objects:
                raise ShopifyError(f"Shopify {self.shop} finished {what} with {objects} objects but no file")
            return {}
        lines = [line for line in self._download(url, what) if line.strip()]
        if len(lines) != objects:
            raise ShopifyError(f"Shopify {self.shop}: the file of {what} holds {len(lines)} of {objects} objects")
        try:
            return _orders_by_day(lines)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError) as error:
            raise ShopifyError(f"Shopify {self.shop}: the file of {what} cannot be read: {error}") from None

    def _bulk_result(self, operation: str, what: str) -> tuple[str | None, int]:
        """Poll the operation until it ends: its file's URL (None when no order matched) and object count."""
        while True:
            reply = self.query(BULK_STATUS_QUERY, {"id": operation}, what, ("bulk status",))
            status = self._data(reply, what)["bulkOperation"]
            if status is None:
                raise ShopifyError(f"Shopify {self.shop} no longer knows the bulk operation of {what}")
            if status["status"] == "COMPLETED":
                return status["url"], int(status["objectCount"])
            if status["status"] not in ("CREATED", "RUNNING"):
                code = status.get("errorCode") or "no error code"
                raise ShopifyError(f"Shopify {self.shop} ended {what} {status['status']} ({code})")
            time.sleep(self.poll_seconds)

    def _download(self, url: str, what: str) -> Iterator[str]:
        """The operation's JSONL, streamed line by line from Shopify's storage: a signed URL, so no token
        is sent there (and the URL, a credential for seven days, is never shown)."""
        try:
            with httpx.Client(timeout=httpx.Timeout(self.timeout_seconds)) as storage:
                with storage.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise ShopifyError(
                            f"Shopify {self.shop}: the file of {what} answered HTTP {response.status_code}"
                        )
                    yield from response.iter_lines()
        except httpx.HTTPError as error:
            raise ShopifyError(f"Shopify {self.shop}: the file of {what} failed: {type(error).__name__}") from None

    def orders_on(self, day: date) -> list[bytes]:
        """Orders created in [day 00:00Z, next day 00:00Z), by id, each once."""
        self._check_history(day)
        what = f"orders created on {day}"
        search = f"created_at:>='{day}T00:00:00Z' AND created_at:<'{day + timedelta(days=1)}T00:00:00Z'"
        seen: set[str] = set()
        payloads: list[bytes] = []
        after: str | None = None
        while True:
            page = self._orders_page(search, after, what)
            for raw in page.nodes:
                try:
                    head = ORDER_HEAD.decode(raw)
                except (msgspec.ValidationError, msgspec.DecodeError) as error:
                    raise ShopifyError(f"Shopify {self.shop} sent an order without an id for {what}: {error}") from None
                if head.id not in seen:
                    seen.add(head.id)
                    payloads.append(self._with_all_lines(raw, head, what))
            if not page.page_info.has_next_page:
                return payloads
            if page.page_info.end_cursor in (None, after):
                raise ShopifyError(f"Shopify {self.shop} did not advance its cursor for {what}")
            after = page.page_info.end_cursor

    def _orders_page(self, search: str, after: str | None, what: str) -> Connection:
        while True:
            first, lines = sizes = self._sizes
            variables = {"first": first, "after": after, "query": search, "lines": lines}
            try:
                reply = self.query(ORDERS_QUERY, variables, what, ("orders", first, lines))
            except TooCostly as error:
                self._shrink(sizes, what, error.problem)
                continue
            return self._data(reply, what, ORDERS_PAGE).orders

    def _shrink(self, sizes: tuple[int, int], what: str, problem: str) -> None:
        """Halve the orders page, then the nested line-items page, for this and every later query."""
        with self._lock:
            if self._sizes != sizes:  # another day's query shrank them already
                return
            first, lines = sizes
            if first == lines == 1:
                raise ShopifyError(
                    f"Shopify {self.shop} refused {what} even one order and one line item at a time: {problem}"
                )
            self._sizes = (first // 2, lines) if first > 1 else (first, lines // 2)

    def _with_all_lines(self, raw: msgspec.Raw, head: OrderHead, what: str) -> bytes:
        """The node as sent, or, when its line items did not fit the nested page, re-encoded with all of them."""
        if head.line_items is None or not head.line_items.page_info.has_next_page:
            return bytes(raw)
        order = msgspec.json.decode(raw)
        nodes = order["lineItems"]["nodes"]
        cursor = head.line_items.page_info.end_cursor
        more = f"the line items of order {head.id} ({what})"
        while True:
            first = self._sizes[1]
            reply = self.query(
                LINE_ITEMS_QUERY, {"id": head.id, "first": first, "after": cursor}, more, ("lines", first)
            )
            owner = self._data(reply, more, LINES_PAGE).order
            if owner is None:
                raise ShopifyError(f"Shopify {self.shop} no longer has order {head.id} while reading {more}")
            page = owner.line_items
            nodes.extend(ANY_JSON.decode(node) for node in page.nodes)
            cursor = page.page_info.end_cursor or cursor
            if not page.page_info.has_next_page:
                break
        order["lineItems"] = {"pageInfo": {"hasNextPage": False, "endCursor": cursor}, "nodes": nodes}
        return msgspec.json.encode(order)

    def _check_history(self, day: date) -> None:
        """Shopify answers a query for orders older than 60 days with none, not an error, unless the app
        has read_all_orders: check that scope (once) before asking for such a day."""
        if not needs_all_orders(day, self.today()) or "read_all_orders" in self.access_scopes():
            return
        raise ShopifyError(
            f"orders created on {day} are older than {RECENT_DAYS} days and the app lacks the read_all_orders "
            f"scope: Shopify would return none of them (no error). Add read_all_orders to the app on {self.shop} "
            "(a public app must first request it in the Partner Dashboard), or start later"
        )


def _orders_by_day(lines: Iterable[str]) -> dict[date, list[bytes]]:
    """A bulk operation's JSONL (orders, and line items naming their order in `__parentId`, in any order)
    -> each UTC day's orders with their line items, each order once."""
    orders: dict[str, dict] = {}
    items: dict[str, dict[str, dict]] = {}  # per order, by line item id: a repeated line counts once
    for line in lines:
        node = ANY_JSON.decode(line)
        parent = node.pop("__parentId", None)
        if parent is None:
            orders.setdefault(node["id"], node)
        else:
            items.setdefault(parent, {}).setdefault(node["id"], node)
    by_day: dict[date, list[bytes]] = {}
    for order_id, order in orders.items():
        nodes = list(items.get(order_id, {}).values())
        order["lineItems"] = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}
        by_day.setdefault(date.fromisoformat(order["createdAt"][:10]), []).append(msgspec.json.encode(order))
    return by_day
