"""A fake Adobe Commerce store: a real HTTP server on 127.0.0.1 speaking the REST API's orders search.

Implements what the connector relies on, the way Magento 2.4 does it: `searchCriteria` filter groups
(ANDed) of filters (ORed) with the condition types eq, neq, gt, gteq, lt, lteq, in, nin, like, from,
to, null and notnull; sort orders; paging (pageSize above 300 is a 400); the `fields` projection;
401 for a missing or wrong bearer token or OAuth 1.0a HMAC-SHA256 signature (verified with oauthlib
over the request as received); `/V1/customerGroups/search`, `/V1/store/storeViews` and
`/V1/store/storeConfigs`, the catalog (`/V1/products` with category links, `/V1/categories/list`) and the
B2B Companies and Company Credit lists (`/V1/company/`, `/V1/companyCredits/`, `/V1/companyCredits/history`),
all paged and filtered like Magento's searchCriteria; `b2b_module=False` is a store without B2B (404 on those
routes, as Magento Open Source answers). Faults are switchable while it runs: 429 with Retry-After, 5xx, slow
pages, days that are down, 2.3 paging (the last page repeated past the end), malformed orders, and orders
served as exact bytes (lone surrogate escapes, broken escapes, invalid UTF-8).

It serves the sample merchant by default, so the whole asset graph can run over HTTP:

    python -m aov_assets_tests.fake_adobe_commerce --port 8080      # token: test-token
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from aov_assets.ingest.sources.sample import sample_merchant
from aov_assets.ingest.sources.sample_store import CUSTOMER_GROUPS, STORE_CONFIGS, STORE_VIEWS

from .loopback import LoopbackServer

ROOT_CATEGORIES = [{"id": 1, "name": "Root Catalog", "path": "1"}, {"id": 2, "name": "Default Category", "path": "1/2"}]


def catalog_endpoints() -> tuple[list[dict], list[dict]]:
    """The sample's catalog as `/V1/products` and `/V1/categories/list` items (category ids from 3)."""
    categories, ids = list(ROOT_CATEGORIES), {}
    products = []
    for row in sample_merchant().catalog():
        path = "1/2"
        for name in row["category"].split("/"):
            if (path, name) not in ids:
                ids[(path, name)] = len(categories) + 1
                categories.append({"id": ids[(path, name)], "name": name, "path": f"{path}/{ids[(path, name)]}"})
            path = f"{path}/{ids[(path, name)]}"
        links = [{"position": 0, "category_id": path.rsplit("/", 1)[1]}]
        products.append(
            {
                "id": row["product_id"],
                "sku": row["sku"],
                "name": row["name"],
                "extension_attributes": {"category_links": links},
            }
        )
    return products, categories


B2B_ROUTES = {  # route -> (data key, the sample merchant's method that makes it)
    "company": ("companies", "companies"),
    "companyCredits": ("credits", "company_credits"),
    "companyCredits/history": ("history", "credit_history"),
}
NO_ROUTE = {"message": "Request does not match any route."}
TOKEN = "test-token"
REMOVE = object()  # in Faults.malformed: drop the field from the order
DEEP = "<an array nested 5,000 deep>"  # in Faults.malformed: served as that array (json.dumps cannot)
FAULT_BODIES = {
    400: {"message": '"%fieldName" is required. Enter and try again.', "parameters": {"fieldName": "searchCriteria"}},
    429: {"message": "Too many requests"},
}


@dataclass(frozen=True)
class OAuthKeys:
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "fake-access-token"
    access_token_secret: str = "fake-access-token-secret"


@dataclass
class Faults:
    """Switch these on a running server; each applies to the order search endpoint."""

    statuses: list[tuple[int, str | None]] = field(default_factory=list)  # next responses: (status, Retry-After)
    latency_seconds: float = 0.0  # every orders request
    slow_seconds: float = 0.0  # only the next `slow_requests` orders requests (to provoke timeouts)
    slow_requests: int = 0
    down: bool = False  # every orders search answers 503 (an outage)
    down_days: set[date] = field(default_factory=set)  # 503 for searches touching these UTC days
    paging: str = "2.4"  # "2.3": past the last page, the last page again
    drop_total_count: bool = False  # answer without total_count even when `fields` asks for it
    total_count_offset: int = 0  # report a total_count that disagrees with the orders served
    malformed: dict[int, dict[str, Any]] = field(default_factory=dict)  # entity_id -> fields (or REMOVE)
    raw: dict[int, bytes] = field(default_factory=dict)  # entity_id -> the exact bytes served as that order


class OrderStore:
    """Orders by UTC creation day; `overrides` change orders after the fact (a late cancellation)."""

    def __init__(self, orders_on: Callable[[date], list[dict]], first: date, last: date):
        self._orders_on = lru_cache(maxsize=64)(orders_on)
        self.first, self.last = first, last
        self.overrides: dict[int, dict[str, Any]] = {}

    @classmethod
    def sample(cls) -> OrderStore:
        merchant = sample_merchant()
        return cls(merchant.orders_created_on, merchant.first_day, merchant.last_day)

    @classmethod
    def of(cls, orders: Iterable[dict]) -> OrderStore:
        by_day: dict[date, list[dict]] = {}
        for order in orders:
            by_day.setdefault(datetime.fromisoformat(order["created_at"]).date(), []).append(order)
        days = sorted(by_day) or [date(2026, 1, 1)]
        return cls(lambda day: by_day.get(day, []), days[0], days[-1])

    def between(self, first: date, last: date) -> list[dict]:
        day, orders = max(first, self.first), []
        while day <= min(last, self.last):
            orders.extend({**o, **self.overrides.get(o["entity_id"], {})} for o in self._orders_on(day))
            day += timedelta(days=1)
        return orders


def _nested(params: Iterable[tuple[str, str]], root: str) -> dict:
    """`searchCriteria[filter_groups][0][filters][1][field]=x` -> nested dicts."""
    tree: dict = {}
    for key, value in params:
        parts = re.findall(r"[^\[\]]+", key)
        if not parts or parts[0] != root:
            continue
        node = tree
        for part in parts[1:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def _indexed(node: Mapping[str, Any]) -> list:
    return [node[key] for key in sorted(node, key=int)]


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _matches(order: Mapping[str, Any], spec: Mapping[str, str]) -> bool:
    condition = spec.get("condition_type", "eq")
    actual = order.get(spec["field"])
    value = spec.get("value", "")
    if condition == "null":
        return actual is None
    if condition == "notnull":
        return actual is not None
    if actual is None:
        return False
    if condition in ("in", "nin"):
        found = _comparable(actual) in {_comparable(v.strip()) for v in value.split(",")}
        return found if condition == "in" else not found
    if condition == "like":
        pattern = "^" + re.escape(value).replace("%", ".*").replace("_", ".") + "$"
        return re.match(pattern, str(actual), re.IGNORECASE) is not None
    left, right = _comparable(actual), _comparable(value)
    if type(left) is not type(right):
        left, right = str(actual), value
    return {
        "eq": left == right,
        "neq": left != right,
        "gt": left > right,
        "gteq": left >= right,
        "from": left >= right,
        "lt": left < right,
        "lteq": left <= right,
        "to": left <= right,
    }[condition]


def _fields_tree(text: str) -> dict:
    """`items[a,b[c]],total_count` -> {"items": {"a": {}, "b": {"c": {}}}, "total_count": {}}."""
    root: dict = {}
    stack, name = [root], ""
    for char in text + ",":
        if char in ",[]":
            if name.strip():
                stack[-1][name.strip()] = {}
            if char == "[":
                stack.append(stack[-1][name.strip()])
            elif char == "]":
                stack.pop()
            name = ""
        else:
            name += char
    return root


def _project(value: Any, tree: Mapping[str, Any]) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [_project(item, tree) for item in value]
    if isinstance(value, Mapping):
        return {key: _project(value[key], sub) for key, sub in tree.items() if key in value}
    return value


def _created_days(groups: list[list[dict]]) -> tuple[date, date]:
    """The UTC days a search can touch, from created_at bounds ANDed across filter groups."""
    first, last = date.min, date.max
    for filters in groups:
        if len(filters) != 1 or filters[0].get("field") != "created_at":
            continue
        condition, value = filters[0].get("condition_type", "eq"), filters[0].get("value", "")
        moment = datetime.fromisoformat(value)
        if condition in ("gt", "gteq", "from", "eq"):
            first = max(first, moment.date())
        if condition in ("lteq", "to", "eq"):
            last = min(last, moment.date())
        if condition == "lt":
            last = min(last, (moment - timedelta(microseconds=1)).date())
    return first, last


class FakeAdobeCommerce(LoopbackServer):
    """Start with `with FakeAdobeCommerce() as store:`; point the client at `store.base_url`."""

    def __init__(
        self,
        orders: OrderStore | None = None,
        *,
        token: str = TOKEN,
        oauth: OAuthKeys = OAuthKeys(),
        port: int = 0,
        cache_responses: bool = False,
        b2b: Mapping[str, list[dict]] | None = None,
        b2b_module: bool = True,
    ):
        """`cache_responses` serves a repeated query from memory (benchmarks: the store's own CPU
        stays out of the measurement); leave it off when faults or overrides change answers.
        `b2b` holds the "companies", "credits" and "history" items; without it the sample merchant's
        are made on the first B2B request (so nothing else waits for them)."""
        self.orders = orders or OrderStore.sample()
        self.b2b = dict(b2b) if b2b is not None else {}
        self._b2b_sample = b2b is None
        self.b2b_module = b2b_module
        self._cache: dict[str, bytes] | None = {} if cache_responses else None
        self.token, self.oauth = token, oauth
        self.faults = Faults()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        super().__init__(self._handler(), "fake-adobe-commerce", port)

    def order_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/V1/orders")]

    # ----------------------------------------------------------------- request handling

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                cached = store._cache.get(self.path) if store._cache is not None else None
                if cached is not None:
                    time.sleep(store.faults.latency_seconds)
                    status, payload, headers = 200, cached, {}
                else:
                    status, body, headers = store.respond(self.path, dict(self.headers.items()))
                    payload = store.encode(body)
                    if store._cache is not None and status == 200:
                        store._cache[self.path] = payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler

    def encode(self, body: Any) -> bytes:
        """The JSON text of a response, with what json.dumps cannot write put in place of its marks."""
        payload = json.dumps(body).encode().replace(json.dumps(DEEP).encode(), b"[" * 5000 + b"]" * 5000)
        for entity_id, raw in self.faults.raw.items():
            payload = payload.replace(json.dumps(_raw_mark(entity_id)).encode(), raw)
        return payload

    def respond(self, target: str, headers: Mapping[str, str]) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(target)
        params = parse_qsl(url.query, keep_blank_values=True)
        auth = self._authenticate(target, headers)
        with self._lock:
            self.requests.append({"path": url.path, "params": dict(params), "auth": auth})
        if auth is None:
            return (
                401,
                {
                    "message": "The consumer isn't authorized to access %resources.",
                    "parameters": {"resources": "Magento_Sales::actions_view"},
                },
                {},
            )
        route = re.sub(r"^/rest(/[a-z0-9_]+)?/V1/", "", url.path)
        if route == "orders":
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return self._orders(params)
            finally:
                with self._lock:
                    self.in_flight -= 1
        if route == "customerGroups/search":
            return 200, {"items": list(CUSTOMER_GROUPS), "search_criteria": {}, "total_count": len(CUSTOMER_GROUPS)}, {}
        if route == "store/storeViews":
            return 200, list(STORE_VIEWS), {}
        if route == "store/storeConfigs":
            return 200, list(STORE_CONFIGS), {}
        if route in ("products", "categories/list"):
            products, categories = catalog_endpoints()
            return _listed(products if route == "products" else categories, params)
        if route.rstrip("/") in B2B_ROUTES and self.b2b_module:
            return self._b2b_list(route.rstrip("/"), params)
        return 404, NO_ROUTE, {}

    def _authenticate(self, target: str, headers: Mapping[str, str]) -> str | None:
        header = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if header == f"Bearer {self.token}":
            return "bearer"
        if not header.startswith("OAuth "):
            return None
        collected = oauth_signature.collect_parameters(
            uri_query=urlsplit(target).query, headers={"Authorization": header}, exclude_oauth_signature=False
        )
        oauth = {key: value for key, value in collected if key.startswith("oauth_")}
        host = next(v for k, v in headers.items() if k.lower() == "host")
        request = SimpleNamespace(
            http_method="GET",
            uri=f"http://{host}{target}",
            params=[(key, value) for key, value in collected if key != "oauth_signature"],
            signature=oauth.get("oauth_signature", ""),
        )
        valid = (
            oauth.get("oauth_consumer_key") == self.oauth.consumer_key
            and oauth.get("oauth_token") == self.oauth.access_token
            and oauth.get("oauth_signature_method") == "HMAC-SHA256"
            and oauth_signature.verify_hmac_sha256(request, self.oauth.consumer_secret, self.oauth.access_token_secret)
        )
        return "oauth1" if valid else None

    def _b2b_list(self, route: str, params: list[tuple[str, str]]) -> tuple[int, Any, dict[str, str]]:
        key, method = B2B_ROUTES[route]
        if key not in self.b2b and self._b2b_sample:
            self.b2b[key] = getattr(sample_merchant(), method)()
        criteria = _nested(params, "searchCriteria")
        groups = [_indexed(group.get("filters", {})) for group in _indexed(criteria.get("filter_groups", {}))]
        items = [item for item in self.b2b.get(key, []) if all(any(_matches(item, f) for f in fs) for fs in groups)]
        for sort in reversed(_indexed(criteria.get("sortOrders", {}))):
            field = "id" if sort["field"] == "entity_id" else sort["field"]  # the table's entity_id is the item's id
            items.sort(key=lambda item: _comparable(item.get(field)), reverse=sort.get("direction", "ASC") == "DESC")
        return _listed(items, params)

    def _orders(self, params: list[tuple[str, str]]) -> tuple[int, Any, dict[str, str]]:
        faults = self.faults
        with self._lock:
            slow = faults.slow_requests > 0
            faults.slow_requests -= 1 if slow else 0
            fault = faults.statuses.pop(0) if faults.statuses and not slow else None
        time.sleep(faults.latency_seconds + (faults.slow_seconds if slow else 0))
        if fault is not None:
            status, retry_after = fault
            body = FAULT_BODIES.get(status, {"message": "Service temporarily unavailable"})
            return status, body, {"Retry-After": retry_after} if retry_after else {}
        criteria = _nested(params, "searchCriteria")
        page_size = int(criteria.get("pageSize", 0) or 0)
        if page_size > 300:
            return 400, {"message": "Maximum SearchCriteria pageSize is %1", "parameters": ["300"]}, {}
        groups = [_indexed(group.get("filters", {})) for group in _indexed(criteria.get("filter_groups", {}))]
        first, last = _created_days(groups)
        if faults.down or any(first <= day <= last for day in faults.down_days):
            return 503, {"message": "The store is under maintenance"}, {}
        orders = [
            order
            for order in self.orders.between(first, last)
            if all(any(_matches(order, spec) for spec in filters) for filters in groups)
        ]
        for sort in reversed(_indexed(criteria.get("sortOrders", {}))):
            orders.sort(
                key=lambda o: _comparable(o.get(sort["field"])), reverse=sort.get("direction", "ASC").upper() == "DESC"
            )
        orders = [_corrupt(order, faults.malformed.get(order["entity_id"])) for order in orders]
        total = len(orders) + faults.total_count_offset
        if page_size:
            pages = max(-(-total // page_size), 1)
            page = int(criteria.get("currentPage", 1) or 1)
            if faults.paging == "2.3":
                page = min(page, pages)
            orders = orders[(page - 1) * page_size : page * page_size]
        body: dict[str, Any] = {"items": orders, "search_criteria": criteria, "total_count": total}
        fields = dict(params).get("fields")
        if fields:
            body = _project(body, _fields_tree(fields))
        if faults.raw and "items" in body:
            body["items"] = [
                _raw_mark(o["entity_id"]) if o.get("entity_id") in faults.raw else o for o in body["items"]
            ]
        if faults.drop_total_count:
            body.pop("total_count", None)
        return 200, body, {}


def _listed(items: list[dict], params: list[tuple[str, str]]) -> tuple[int, Any, dict[str, str]]:
    """A searchCriteria list answer: one page of `items` (pageSize over 300 is a 400), the total, `fields`."""
    criteria = _nested(params, "searchCriteria")
    size, page = int(criteria.get("pageSize", 0) or 0), int(criteria.get("currentPage", 1) or 1)
    if size > 300:
        return 400, {"message": "Maximum SearchCriteria pageSize is %1", "parameters": ["300"]}, {}
    body: dict[str, Any] = {
        "items": items[(page - 1) * size : page * size] if size else items,
        "search_criteria": criteria,
        "total_count": len(items),
    }
    fields = dict(params).get("fields")
    return 200, _project(body, _fields_tree(fields)) if fields else body, {}


def _raw_mark(entity_id: int) -> str:
    return f"<the raw bytes of order {entity_id}>"


def _corrupt(order: dict, changes: Mapping[str, Any] | None) -> dict:
    if not changes:
        return order
    order = {**order, **changes}
    return {key: value for key, value in order.items() if value is not REMOVE}


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the sample merchant as a fake Adobe Commerce store.")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every orders request")
    parser.add_argument("--cache", action="store_true", help="answer repeated queries from memory (benchmarks)")
    args = parser.parse_args()
    with FakeAdobeCommerce(port=args.port, cache_responses=args.cache) as store:
        store.faults.latency_seconds = args.latency
        print(f"fake Adobe Commerce on {store.base_url} (bearer token: {TOKEN}); Ctrl-C stops it", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
