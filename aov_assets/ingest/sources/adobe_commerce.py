"""Adobe Commerce (Magento 2) REST client: each UTC day's orders, nothing lost, nothing doubled.

Orders created on a day are requested with two ANDed filter groups on `created_at` (from the day's
start inclusive to the next day's start exclusive, compared in UTC by the API), sorted by
`entity_id`, `pageSize` at most 300, and a `fields` projection that keeps `total_count`. Pages are
counted from `total_count`, so we never ask past the end (2.3 repeats the last page there, 2.4
returns none); copies of an entity_id are dropped and the distinct count must equal `total_count`,
else the day is fetched again and then fails loudly. Pages of several days are in flight at once
(`concurrency`), days are handed over in order.

Each order is kept as the exact JSON bytes the API sent (`msgspec.Raw`), so the lake holds what the
store said, money included. 429/5xx/timeouts are retried (by tenacity) with exponential backoff and
full jitter, honouring Retry-After, within a time budget; 401/403 fail at once. No message, log line or
exception carries a credential: auth lives in headers, and errors name variables, not values.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, NoReturn

import httpx
import msgspec
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from oauthlib.oauth1 import Client as OAuth1Signer
from tenacity import RetryCallState

from ..parse import entity_id_of
from .http import PooledClient

MAX_PAGE_SIZE = 300

# What the lake keeps of each order: everything the rules read, plus what explains an order later.
ORDER_FIELDS = (
    "items[entity_id,increment_id,created_at,updated_at,state,status,store_id,customer_id,customer_group_id,"
    "customer_is_guest,customer_email,base_currency_code,global_currency_code,order_currency_code,base_to_global_rate,"
    "base_to_order_rate,base_grand_total,grand_total,base_subtotal,subtotal,base_discount_amount,"
    "base_shipping_amount,base_tax_amount,base_total_refunded,total_item_count,total_qty_ordered,payment[method],"
    "items[item_id,parent_item_id,sku,name,product_id,product_type,qty_ordered,price,row_total,base_row_total,"
    "base_discount_amount],"
    "extension_attributes[company_order_attributes[company_id,company_name],company_attributes[company_id]]],"
    "total_count"
)

# The ACL resource each endpoint needs (System > Extensions > Integrations > API).
ACL_RESOURCES = {
    "orders": "Magento_Sales::actions_view (Sales > Operations > Orders > Actions > View)",
    "customerGroups/search": "Magento_Customer::group (Customers > Customer Groups)",
    "store/storeViews": "Magento_Backend::stores (Stores > Settings > All Stores)",
    "store/storeConfigs": "Magento_Backend::stores (Stores > Settings > All Stores)",
    "products": "Magento_Catalog::products (Catalog > Inventory > Products)",
    "categories/list": "Magento_Catalog::categories (Catalog > Inventory > Categories)",
    "company/": "Magento_Company::company (B2B Companies)",
    "companyCredits/": "Magento_Company::credit_history (B2B Company Credit)",
    "companyCredits/history": "Magento_Company::credit_history (B2B Company Credit)",
}
BASE_URL_VARIABLE = "ADOBE_COMMERCE_BASE_URL"
CREDENTIAL_VARIABLES = {  # Credentials field -> environment variable
    "token": "ADOBE_COMMERCE_TOKEN",
    "consumer_key": "ADOBE_COMMERCE_CONSUMER_KEY",
    "consumer_secret": "ADOBE_COMMERCE_CONSUMER_SECRET",
    "access_token": "ADOBE_COMMERCE_ACCESS_TOKEN",
    "access_token_secret": "ADOBE_COMMERCE_ACCESS_TOKEN_SECRET",
}
OAUTH_VARIABLES = tuple(CREDENTIAL_VARIABLES.values())[1:]


class AdobeCommerceError(RuntimeError):
    """A request that failed for good; the message names the day, endpoint, status and API message.

    `status` is the last HTTP status, or None when the store could not be reached at all.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AdobeCommerceAuthError(AdobeCommerceError):
    """The store refused the credentials or the integration lacks an ACL resource."""


class AdobeCommerceConfigError(AdobeCommerceError):
    """The environment does not describe a usable store connection."""


class B2BModuleMissing(AdobeCommerceError):
    """The store answers the B2B routes with 404 (Magento Open Source): no Companies, no credit to read."""


@dataclass(frozen=True)
class Credentials:
    """Bearer token, or the four OAuth 1.0a values; values never appear in repr or messages, which name
    the variables instead: `named` turns a default name into the one this store reads (store `acme`:
    ACME_ADOBE_COMMERCE_TOKEN)."""

    token: str | None = field(default=None, repr=False)
    consumer_key: str | None = field(default=None, repr=False)
    consumer_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    access_token_secret: str | None = field(default=None, repr=False)
    named: Callable[[str], str] = field(default=str, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], named: Callable[[str], str] = str) -> Credentials:
        values = {name: environ.get(named(variable)) or None for name, variable in CREDENTIAL_VARIABLES.items()}
        return cls(**values, named=named)

    @property
    def kind(self) -> str:
        return "bearer" if self.token else "oauth1"

    @property
    def variables(self) -> str:
        return self.named(CREDENTIAL_VARIABLES["token"]) if self.token else ", ".join(map(self.named, OAUTH_VARIABLES))

    def auth(self) -> httpx.Auth:
        if self.token:
            return _BearerAuth(self.token)
        oauth = (self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)
        if all(oauth):
            return _OAuth1Auth(*oauth)
        missing = [self.named(name) for name, value in zip(OAUTH_VARIABLES, oauth) if not value]
        if len(missing) == len(OAUTH_VARIABLES):
            raise AdobeCommerceConfigError(
                f"no Adobe Commerce credentials: set {self.named(CREDENTIAL_VARIABLES['token'])}, or the four "
                f"OAuth 1.0a integration values {', '.join(missing)}"
            )
        raise AdobeCommerceConfigError(f"incomplete OAuth 1.0a credentials: {', '.join(missing)} not set")


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class _OAuth1Auth(httpx.Auth):
    """OAuth 1.0a, HMAC-SHA256, signed by oauthlib over the exact URL httpx sends (fresh nonce per try)."""

    def __init__(self, consumer_key: str, consumer_secret: str, access_token: str, access_token_secret: str):
        self._signer = OAuth1Signer(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=access_token,
            resource_owner_secret=access_token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
        )

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        _, headers, _ = self._signer.sign(str(request.url), request.method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request


class _Page(msgspec.Struct):
    items: list[msgspec.Raw] | None = None
    total_count: int | None = None


_PAGE = msgspec.json.Decoder(_Page)
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)


def _decode_page(content: bytes) -> _Page:
    """The page, even when one order in it cannot be decoded (nested deeper than msgspec's recursion
    limit, a lone UTF-16 surrogate escape, invalid UTF-8, a broken value).

    Such an order must still reach the lake (and be rejected there, with its reason), not fail the
    day, so the items are then split by an iterative scan and the rest is decoded as usual.
    """
    try:
        return _PAGE.decode(content)
    except msgspec.ValidationError:  # well-formed, but not an order search result
        raise
    except (RecursionError, msgspec.DecodeError):
        pass
    depth, key, opened, items = 0, b"", None, []
    for token in _JSON_TOKEN.finditer(content):
        mark, at = token.group(), token.start()
        if mark in (b"{", b"["):
            depth += 1
            if depth == 2 and mark == b"[" and key == b'"items"':
                opened = start = at + 1
        elif mark in (b"}", b"]"):
            if depth == 2 and opened is not None:
                items.append(content[start:at].strip())
                page = _PAGE.decode(content[:opened] + content[at:])
                return _Page([msgspec.Raw(item) for item in items if item], page.total_count)
            depth -= 1
        elif mark == b"," and depth == 2 and opened is not None:
            items.append(content[start:at].strip())
            start = at + 1
        elif depth == 1:
            key = mark
    raise msgspec.DecodeError("JSON is malformed outside the order items")


def _api_message(response: httpx.Response) -> str:
    """Magento's `{"message": "... %1 ...", "parameters": [...]}` rendered; else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        text = re.sub(r"<[^>]+>", " ", response.text)
        return " ".join(text.split())[:200] or response.reason_phrase
    if not isinstance(body, Mapping) or "message" not in body:
        return str(body)[:200]
    message = str(body["message"])
    parameters = body.get("parameters") or []
    if isinstance(parameters, Mapping):
        for name, value in parameters.items():
            message = message.replace(f"%{name}", str(value))
    else:
        for position, value in enumerate(parameters, start=1):
            message = message.replace(f"%{position}", str(value))
    return message


def _transient(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


class AdobeCommerceClient(PooledClient):
    """The store's REST API, as an order source for the lake."""

    name = "adobe_commerce"

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        store_code: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        timeout_seconds: float = 30.0,
        retry_seconds: float = 120.0,
        backoff_seconds: float = 0.5,
    ):
        if not re.match(r"^https?://[^/\s]+", base_url or ""):
            raise AdobeCommerceConfigError(
                f"{credentials.named(BASE_URL_VARIABLE)} must be the store root, like https://shop.example.com "
                f"(got {base_url!r})"
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise AdobeCommerceConfigError(f"page_size must be 1..{MAX_PAGE_SIZE} (got {page_size})")
        self.credentials = credentials
        self.prefix = f"/rest/{store_code}/V1" if store_code else "/rest/V1"
        self.page_size = page_size
        super().__init__(
            base_url,
            concurrency=concurrency,
            timeout_seconds=timeout_seconds,
            retry_seconds=retry_seconds,
            backoff_seconds=backoff_seconds,
            headers={},
            auth=credentials.auth(),
        )
        self._lookups: dict[str, list[dict]] = {}

    # ----------------------------------------------------------------- requests

    def get(self, endpoint: str, params: Mapping[str, Any], what: str) -> httpx.Response:
        """GET `{prefix}/{endpoint}`: transient failures retried within the budget, then a clear error."""
        path = f"{self.prefix}/{endpoint}"

        def attempt() -> httpx.Response:  # a TransportError (timeout, refused, reset) propagates: retried
            response = self._http.get(path, params=params)
            status = response.status_code
            if status in (401, 403):
                raise AdobeCommerceAuthError(self._auth_message(endpoint, response), status)
            if 400 <= status < 500 and status != 429:
                raise AdobeCommerceError(
                    f"Adobe Commerce GET {path} failed for {what}: HTTP {status}: {_api_message(response)}", status
                )
            return response

        def give_up(state: RetryCallState) -> NoReturn:
            error = state.outcome.exception()
            if error is None:
                response = state.outcome.result()
                problem, status = f"HTTP {response.status_code}: {_api_message(response)}", response.status_code
            else:
                problem, status = type(error).__name__, None
            raise AdobeCommerceError(
                f"Adobe Commerce GET {path} failed for {what}: {problem} "
                f"(gave up after {state.attempt_number} attempts in {state.seconds_since_start:.0f}s)",
                status,
            ) from None

        retrying = self._retrying(_transient, give_up)
        return retrying(attempt)

    def _auth_message(self, endpoint: str, response: httpx.Response) -> str:
        resource = ACL_RESOURCES.get(endpoint.split("?")[0], "the resource of this endpoint")
        hint = (
            " Adobe Commerce 2.4.4+ refuses integration tokens as bearer tokens unless 'Allow OAuth Access "
            "Tokens to be used as standalone Bearer tokens' is on; otherwise use the four OAuth variables."
            if self.credentials.kind == "bearer"
            else ""
        )
        return (
            f"Adobe Commerce refused GET {self.prefix}/{endpoint} (HTTP {response.status_code}: "
            f"{_api_message(response)}). Check {self.credentials.variables}, and that the integration "
            f"or user role has the ACL resource {resource}.{hint}"
        )

    def _search(self, endpoint: str, what: str, **criteria: Any) -> list[dict]:
        """All items of a searchCriteria endpoint, page by page."""
        items: list[dict] = []
        page = 1
        while True:
            params = {"searchCriteria[pageSize]": self.page_size, "searchCriteria[currentPage]": page}
            params.update(criteria)
            body = self.get(endpoint, params, what).json()
            batch = body.get("items") or []
            items.extend(batch)
            if len(batch) < self.page_size or len(items) >= (body.get("total_count") or 0):
                return items
            page += 1

    # ----------------------------------------------------------------- lookups

    def customer_groups(self) -> list[dict]:
        if "groups" not in self._lookups:
            self._lookups["groups"] = self._search("customerGroups/search", "customer groups")
        return self._lookups["groups"]

    def store_views(self) -> list[dict]:
        if "views" not in self._lookups:
            self._lookups["views"] = self.get("store/storeViews", {}, "store views").json()
        return self._lookups["views"]

    def store_configs(self) -> list[dict]:
        if "configs" not in self._lookups:
            self._lookups["configs"] = self.get("store/storeConfigs", {}, "store configs").json()
        return self._lookups["configs"]

    def count_orders(self, first: date, last: date) -> int:
        """Orders created first..last (UTC days), from total_count alone."""
        params = _created_between(first, last + timedelta(days=1)) | {
            "searchCriteria[pageSize]": 1,
            "searchCriteria[currentPage]": 1,
            "fields": "total_count",
        }
        return int(self.get("orders", params, f"orders created {first}..{last}").json().get("total_count") or 0)

    def catalog(self) -> list[dict]:
        """SKU -> name and category path (`/V1/products` with its category links, `/V1/categories/list`
        for the names); a product's first category link decides."""
        products = self._search(
            "products", "products", fields="items[id,sku,name,extension_attributes[category_links]],total_count"
        )
        categories = self._search("categories/list", "categories", fields="items[id,name,path],total_count")
        names = {str(c["id"]): c.get("name") or str(c["id"]) for c in categories}
        paths = {
            str(c["id"]): "/".join(names.get(i, i) for i in str(c.get("path", "")).split("/")[2:])  # below the root
            for c in categories
        }
        rows = []
        for product in products:
            links = (product.get("extension_attributes") or {}).get("category_links") or []
            first = min(links, key=lambda link: int(link.get("position") or 0), default=None)
            category = paths.get(str(first["category_id"])) if first else None
            rows.append(
                {
                    "sku": product.get("sku"),
                    "name": product.get("name"),
                    "product_id": product.get("id"),
                    "category": category,
                }
            )
        return rows

    # ----------------------------------------------------------------- B2B companies and credit

    def companies(self) -> list[dict]:
        """Every Company (`/V1/company/`): name, status, sales representative, customer group."""
        return self._b2b("company/", "companies")

    def company_credits(self) -> list[dict]:
        """Each Company's credit limit (null = none) and balance (negative = owed), `/V1/companyCredits/`."""
        return self._b2b("companyCredits/", "company credits", **_by_entity_id())

    def credit_history(self, since: datetime | None = None) -> list[dict]:
        """Credit operations (`/V1/companyCredits/history`), only those at or after `since` (UTC; naive = UTC)."""
        criteria = _by_entity_id()
        if since is not None:
            moment = since.astimezone(timezone.utc) if since.tzinfo else since
            criteria |= {
                "searchCriteria[filter_groups][0][filters][0][field]": "datetime",
                "searchCriteria[filter_groups][0][filters][0][value]": f"{moment:%Y-%m-%d %H:%M:%S}",
                "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
            }
        return self._b2b("companyCredits/history", "company credit history", **criteria)

    def _b2b(self, endpoint: str, what: str, **criteria: Any) -> list[dict]:
        """A B2B list route; its 404 means the store has no B2B module, which callers report, not crash on."""
        try:
            return self._search(endpoint, what, **criteria)
        except AdobeCommerceError as error:
            if error.status != 404:
                raise
            raise B2BModuleMissing(
                f"Adobe Commerce GET {self.prefix}/{endpoint} answered HTTP 404: the store has no B2B "
                "Companies/Company Credit module, so credit causes are not available",
                404,
            ) from None

    # ----------------------------------------------------------------- orders

    def order_page(self, day: date, number: int) -> _Page:
        params = _created_between(day, day + timedelta(days=1)) | {
            "searchCriteria[sortOrders][0][field]": "entity_id",
            "searchCriteria[sortOrders][0][direction]": "ASC",
            "searchCriteria[pageSize]": self.page_size,
            "searchCriteria[currentPage]": number,
            "fields": ORDER_FIELDS,
        }
        response = self.get("orders", params, f"orders created on {day} (page {number})")
        try:
            return _decode_page(response.content)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as error:
            raise AdobeCommerceError(
                f"Adobe Commerce GET {self.prefix}/orders for orders created on {day} (page {number}) "
                f"returned something that is not an order search result: {error}"
            ) from None

    def pages_for(self, total_count: int) -> int:
        return max(-(-total_count // self.page_size), 1)

    def iter_days(self, days: Iterable[date]) -> Iterator[tuple[date, list[bytes]]]:
        """Each day's orders, in day order, with pages of up to 2 x concurrency days in flight."""
        pending_days = iter(days)
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="adobe-commerce")
        try:
            fetches: deque[_DayFetch] = deque()
            for day in pending_days:
                fetches.append(_DayFetch(self, pool, day))
                if len(fetches) >= 2 * self.concurrency:
                    break
            while fetches:
                fetch = fetches.popleft()
                payloads = fetch.result()
                following = next(pending_days, None)
                if following is not None:
                    fetches.append(_DayFetch(self, pool, following))
                yield fetch.day, payloads
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def client_for(settings: Any, base_url: str | None, credentials: Credentials, **overrides: Any) -> AdobeCommerceClient:
    """A client from the manifest's `adobe_commerce` section, the store root and the credentials."""
    if not base_url:
        raise AdobeCommerceConfigError(
            f"source: adobe_commerce needs {credentials.named(BASE_URL_VARIABLE)}, the store root (e.g. "
            "https://shop.example.com)"
        )
    options = {
        "store_code": settings.store_code,
        "page_size": settings.page_size,
        "concurrency": settings.concurrency,
        "timeout_seconds": settings.timeout_seconds,
        "retry_seconds": settings.retry_seconds,
    }
    return AdobeCommerceClient(base_url, credentials, **(options | overrides))


def _created_between(start: date, stop: date) -> dict[str, str]:
    """created_at in [start 00:00:00, stop 00:00:00): two filter groups, which the API ANDs."""
    return {
        "searchCriteria[filter_groups][0][filters][0][field]": "created_at",
        "searchCriteria[filter_groups][0][filters][0][value]": f"{start:%Y-%m-%d} 00:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[filter_groups][1][filters][0][field]": "created_at",
        "searchCriteria[filter_groups][1][filters][0][value]": f"{stop:%Y-%m-%d} 00:00:00",
        "searchCriteria[filter_groups][1][filters][0][condition_type]": "lt",
    }


def _by_entity_id() -> dict[str, str]:
    """Page in entity_id order, so operations added while we read land on later pages, never shift earlier ones."""
    return {"searchCriteria[sortOrders][0][field]": "entity_id", "searchCriteria[sortOrders][0][direction]": "ASC"}


class _DayFetch:
    """A day's orders; a second attempt if the distinct count disagrees with total_count."""

    ATTEMPTS = 2

    def __init__(self, client: AdobeCommerceClient, pool: ThreadPoolExecutor, day: date):
        self.client, self.pool, self.day = client, pool, day
        self._pages = _DayPages(client, pool, day)

    def result(self) -> list[bytes]:
        for attempt in range(1, self.ATTEMPTS + 1):
            payloads, problem = self._pages.done.result()
            if problem is None:
                return payloads
            if attempt < self.ATTEMPTS:
                self._pages = _DayPages(self.client, self.pool, self.day)
        raise AdobeCommerceError(f"{problem} (fetched {self.ATTEMPTS} times)")


class _DayPages:
    """One pass over a day's pages on the shared pool.

    Page 1 first; with its total_count, all remaining pages at once. A store that leaves out
    total_count is followed page by page until a short page, or a page that repeats the previous
    one (what 2.3 answers past the end).
    """

    def __init__(self, client: AdobeCommerceClient, pool: ThreadPoolExecutor, day: date):
        self.client, self.pool, self.day = client, pool, day
        self.done: Future[tuple[list[bytes], str | None]] = Future()
        self._lock = threading.Lock()
        self._pages: dict[int, _Page] = {}
        self._outstanding = 0
        self._submit(1)

    def _submit(self, number: int) -> None:
        with self._lock:
            self._outstanding += 1
        self.pool.submit(self.client.order_page, self.day, number).add_done_callback(
            lambda future, number=number: self._landed(number, future)
        )

    def _landed(self, number: int, future: Future[_Page]) -> None:
        if future.cancelled() or self.done.done():
            return
        try:
            self._follow(number, future.result())
        except BaseException as error:  # a failed page, or a bug in following it: the day fails, never hangs
            with self._lock:
                if not self.done.done():
                    self.done.set_exception(error)

    def _follow(self, number: int, page: _Page) -> None:
        """Keep the page, ask for the pages after it, and finish the day with the last one outstanding."""
        with self._lock:
            self._pages[number] = page
            previous = self._pages.get(number - 1)
        if page.total_count is not None:
            if number == 1:
                for following in range(2, self.client.pages_for(page.total_count) + 1):
                    self._submit(following)
        elif len(page.items or []) == self.client.page_size and not _same_orders(page, previous):
            self._submit(number + 1)
        with self._lock:
            self._outstanding -= 1
            finished = self._outstanding == 0
        if finished:
            self.done.set_result(self._merge())

    def _merge(self) -> tuple[list[bytes], str | None]:
        """Pages in order with copies of an entity_id dropped; a count that disagrees is a problem."""
        seen: set[int] = set()
        payloads: list[bytes] = []
        for number in sorted(self._pages):
            for raw in self._pages[number].items or []:
                entity_id = entity_id_of(raw)
                if entity_id is not None:  # an order without one is kept: classified_orders rejects it
                    if entity_id in seen:
                        continue
                    seen.add(entity_id)
                payloads.append(bytes(raw))
        expected = self._pages[1].total_count
        if expected is not None and len(payloads) != expected:
            return payloads, (
                f"Adobe Commerce reported {expected} orders created on {self.day} but returned {len(payloads)} "
                f"distinct orders over {len(self._pages)} page(s); orders may have changed during the sync or "
                "the store's search is inconsistent. Re-run the partition"
            )
        return payloads, None


def _same_orders(page: _Page, previous: _Page | None) -> bool:
    """True when a page repeats the one before it (Magento 2.3 past the last page)."""
    if previous is None or not page.items or not previous.items:
        return False
    return [entity_id_of(raw) for raw in page.items] == [entity_id_of(raw) for raw in previous.items]
