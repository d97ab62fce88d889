"""The Shopify client against a real HTTP server on 127.0.0.1 (the fake shop)."""

import time
from datetime import date, datetime, timedelta, timezone

import httpx
import msgspec
import pytest

from aov_assets.ingest.shopify_orders import CUSTOMER_GROUPS
from aov_assets.ingest.sources.shopify import (
    ORDERS_QUERY,
    ShopifyAuthError,
    ShopifyClient,
    ShopifyConfigError,
    ShopifyError,
)
from aov_assets.ingest.sources.shopify_api import CostBucket, Reply

from ..fake_shopify import TOKEN, FakeShopify, line_item, order_number, shopify_order, shopify_product

DAY = date(2026, 5, 3)
TODAY = date(2026, 5, 10)
NOW = datetime(2026, 5, 10, 12, tzinfo=timezone.utc)
OLD = TODAY - timedelta(days=60)  # partly older than 60 days at NOW: needs read_all_orders
ORDERS = [
    shopify_order(5, "2026-05-02T23:59:59Z"),
    shopify_order(3, "2026-05-03T00:00:00Z"),
    shopify_order(8, "2026-05-03T10:00:00Z", company=(42, "Acme Facilities"), total="250.00", tax="20.00"),
    shopify_order(1, "2026-05-03T12:30:00Z", lines=[line_item(f"L{i}", price=f"{i + 1}.25") for i in range(7)]),
    shopify_order(6, "2026-05-03T15:00:00Z", customer_id=None),
    shopify_order(2, "2026-05-03T23:59:59Z", cancelled=True),
    shopify_order(4, "2026-05-04T00:00:00Z"),
    shopify_order(7, "2026-05-05T08:00:00Z"),
    shopify_order(9, "2026-05-06T08:00:00Z"),
    shopify_order(20, "2026-03-11T09:00:00Z"),  # on OLD, before NOW - 60 days
    shopify_order(21, "2026-03-12T09:00:00Z"),  # 59 days back: visible without read_all_orders
]
DAY_IDS = [1, 2, 3, 6, 8]
ALL_SCOPES = ("read_orders", "read_all_orders", "read_products")


@pytest.fixture
def shop():
    with FakeShopify(ORDERS, restore_rate=100_000, now=lambda: NOW) as server:
        yield server


def client(shop: FakeShopify, **options) -> ShopifyClient:
    options = {
        "page_size": 2,
        "line_items_page": 3,
        "retry_seconds": 5,
        "backoff_seconds": 0.01,
        "today": lambda: TODAY,
    } | options
    return ShopifyClient(shop.base_url, options.pop("token", TOKEN), **options)


def ids(payloads: list[bytes]) -> list[int]:
    return [order_number(msgspec.json.decode(p)["id"]) for p in payloads]


def order(number: int) -> dict:
    return next(o for o in ORDERS if order_number(o["id"]) == number)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_day_over_several_pages_is_that_utc_day_each_order_as_sent(shop):
    with client(shop) as api:
        [(day, payloads)] = api.iter_days([DAY])
    assert day == DAY and ids(payloads) == DAY_IDS  # 23:59:59 the day before and 00:00:00 the next day left out
    pages = shop.log("OrdersPage")
    assert len(pages) == 3 and {p["variables"]["first"] for p in pages} == {2}
    assert (
        pages[0]["variables"]["query"] == "created_at:>='2026-05-03T00:00:00Z' AND created_at:<'2026-05-04T00:00:00Z'"
    )
    served = b"".join(p["response"] for p in pages)
    for payload in payloads:
        number = ids([payload])[0]
        if number != 1:  # the one order with more line items than the nested page, see below
            assert payload in served  # the node's bytes exactly as the API sent them
            assert msgspec.json.decode(payload) == shop.node(order(number), 3)


def test_an_order_with_more_line_items_than_the_nested_page_gets_all_of_them(shop):
    with client(shop) as api:
        [(_, payloads)] = api.iter_days([DAY])
    merged = msgspec.json.decode(payloads[DAY_IDS.index(1)])
    assert merged["lineItems"]["nodes"] == order(1)["lineItems"]  # all 7, in order
    assert merged["lineItems"]["pageInfo"]["hasNextPage"] is False
    assert {k: v for k, v in merged.items() if k != "lineItems"} == {
        k: v for k, v in order(1).items() if k != "lineItems"
    }
    follow_ups = shop.log("OrderLineItems")
    assert [r["variables"]["first"] for r in follow_ups] == [3, 3]  # lines 4-6, then 7
    assert {r["variables"]["id"] for r in follow_ups} == {"gid://shopify/Order/1"}


def test_an_order_repeated_on_the_next_page_is_handed_over_once(shop):
    shop.faults.repeat_order = 2
    with client(shop) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert ids(payloads) == DAY_IDS
    served = [msgspec.json.decode(p["response"])["data"]["orders"]["nodes"] for p in shop.log("OrdersPage")]
    assert sum(len(nodes) for nodes in served) > len(DAY_IDS)  # the shop did send copies


def test_days_arrive_in_order_with_several_days_in_flight(shop):
    days = [DAY + timedelta(days=i) for i in range(-1, 5)]
    shop.faults.latency_seconds = 0.2  # long enough that all three days overlap even on a busy CI
    with client(shop, page_size=50, concurrency=3) as api:
        fetched = list(api.iter_days(days))
    assert [day for day, _ in fetched] == days
    assert [ids(p) for _, p in fetched] == [[5], DAY_IDS, [4], [7], [9], []]
    assert shop.max_in_flight == 3
    shop.max_in_flight = 0
    with client(shop, page_size=50, concurrency=1) as api:
        list(api.iter_days(days[:3]))
    assert shop.max_in_flight == 1


def test_throttled_the_client_waits_until_the_bucket_holds_the_query_then_succeeds():
    with FakeShopify(ORDERS, restore_rate=100, now=lambda: NOW) as shop, client(shop, page_size=10) as api:
        shop.faults.throttle = 1
        [(_, payloads)] = api.iter_days([DAY])
    assert ids(payloads) == DAY_IDS
    throttled, retried = shop.log("OrdersPage")[:2]
    assert throttled["code"] == "THROTTLED" and retried["code"] is None
    assert len(shop.log(code="THROTTLED")) == 1  # had the client not waited, the shop's own bucket would throttle it
    cost = 1 + 10 * (1 + 3) / 4  # the requested cost the shop reported; its bucket was left empty
    assert retried["at"] - throttled["at"] >= cost / 100


# A throttled answer as Shopify's community forum shows one (HTTP 200; `extensions` beside `errors`, not in them).
DOCUMENTED_THROTTLE = b"""{"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
  "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
  "extensions": {"cost": {"requestedQueryCost": 752, "actualQueryCost": null,
  "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0}}}}"""


def test_a_throttled_answer_shaped_as_shopify_sends_it_makes_the_client_wait_for_the_points(shop):
    shop.faults.raw_answers = [DOCUMENTED_THROTTLE]
    with client(shop, page_size=10) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert ids(payloads) == DAY_IDS
    throttled, retried = shop.log("OrdersPage")[:2]
    assert retried["at"] - throttled["at"] >= (752 - 666) / 50.0  # waited until the bucket held the 752 points


def test_an_older_status_answered_late_does_not_give_back_points_a_newer_one_spent():
    def answered(available: float) -> Reply:
        status = {"maximumAvailable": 8.0, "currentlyAvailable": available, "restoreRate": 4.0}
        cost = {"requestedQueryCost": 3.0, "throttleStatus": status}
        return msgspec.json.decode(msgspec.json.encode({"extensions": {"cost": cost}}), type=Reply)

    bucket, shape = CostBucket(), ("OrdersPage", 2, 3)
    bucket.settle(shape, bucket.take(shape), answered(8.0))  # the first query teaches the shape's cost
    first, second = bucket.take(shape), bucket.take(shape)  # both in flight: 6 of 8 points reserved
    bucket.settle(shape, second, answered(2.0))  # Shopify answered the first (5 left), then the second (2 left)
    bucket.settle(shape, first, answered(5.0))  # ... but the first's answer reached the client last
    started = time.monotonic()
    bucket.take(shape)
    assert time.monotonic() - started >= 0.2  # waited for 2 -> 3 points (0.25 s), did not trust the stale 5


def test_the_client_paces_itself_to_the_bucket_and_is_never_throttled():
    with FakeShopify(ORDERS, maximum_available=12, restore_rate=100, now=lambda: NOW) as shop:
        with client(shop, concurrency=1) as api:
            fetched = list(api.iter_days([DAY, DAY + timedelta(days=1), DAY]))
    assert [ids(p) for _, p in fetched] == [DAY_IDS, [4], DAY_IDS]
    assert len(shop.log("OrdersPage")) == 7  # 21 points asked of a 12-point bucket
    assert shop.log(code="THROTTLED") == []


def test_concurrent_days_share_the_bucket_without_spending_the_same_points_twice():
    days = [DAY + timedelta(days=i) for i in range(4)] * 2
    with FakeShopify(ORDERS, maximum_available=8, restore_rate=40, now=lambda: NOW) as shop:
        shop.faults.latency_seconds = 0.25  # each page takes a while: the days' pages overlap even on a busy CI
        with client(shop, concurrency=4) as api:
            fetched = list(api.iter_days(days))
    assert [ids(p) for _, p in fetched] == [DAY_IDS, [4], [7], [9]] * 2
    assert shop.max_in_flight > 1  # the days did overlap
    assert shop.log(code="THROTTLED") == []  # 4 days at once, 3 points a page, in an 8-point bucket


def test_a_missing_scope_403_fails_at_once_naming_what_to_check(shop):
    shop.faults.forbidden = True
    with client(shop) as api, pytest.raises(ShopifyAuthError) as refused:
        list(api.iter_days([DAY]))
    message = str(refused.value)
    assert "HTTP 403" in message and "requires merchant approval for read_orders" in message
    assert "Check SHOPIFY_ACCESS_TOKEN and the app's access scopes" in message and TOKEN not in message
    assert len(shop.requests) == 1  # not retried


def test_429_honours_retry_after(shop):
    shop.faults.too_many = ["1"]
    with client(shop) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert ids(payloads) == DAY_IDS
    refused, retried = shop.requests[:2]
    assert refused["status"] == 429 and retried["at"] - refused["at"] >= 1.0


def test_5xx_are_retried(shop):
    shop.faults.server_errors = 2
    with client(shop) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert ids(payloads) == DAY_IDS
    assert [r["status"] for r in shop.requests[:3]] == [500, 500, 200]


def test_500s_past_the_retry_budget_fail_naming_the_shop_and_the_day(shop):
    shop.faults.server_errors = 10_000
    with client(shop, retry_seconds=0.3) as api, pytest.raises(ShopifyError) as error:
        list(api.iter_days([DAY]))
    message = one_line(error)
    assert type(error.value) is ShopifyError
    assert message.startswith(f"Shopify {shop.base_url.removeprefix('http://')} failed orders created on 2026-05-03: ")
    assert "HTTP 500: Internal Server Error (gave up after " in message
    assert len(shop.requests) >= 2


def test_a_wrong_token_fails_at_once_naming_the_variable_never_the_value(shop):
    secret = "shpat_sekrit-4242"
    with client(shop, token=secret) as api, pytest.raises(ShopifyAuthError) as error:
        list(api.iter_days([DAY]))
    message = one_line(error)
    assert message.startswith(f"Shopify refused {shop.base_url.removeprefix('http://')} (HTTP 401: [API] Invalid API")
    assert "Check SHOPIFY_ACCESS_TOKEN and the app's access scopes (read_orders," in message
    assert secret not in message and len(shop.requests) == 1
    with client(shop, token=secret, token_variable="ACME_SHOPIFY_ACCESS_TOKEN") as api:
        with pytest.raises(ShopifyAuthError, match="Check ACME_SHOPIFY_ACCESS_TOKEN and"):
            api.store_configs()


def test_another_graphql_error_fails_the_day_in_one_line(shop):
    shop.faults.error = "Internal error.\nLooks like something went wrong on our end."
    with client(shop) as api, pytest.raises(ShopifyError) as error:
        list(api.iter_days([DAY]))
    message = one_line(error)
    assert message.startswith(f"Shopify {shop.base_url.removeprefix('http://')} refused orders created on 2026-05-03:")
    assert message.endswith("INTERNAL_SERVER_ERROR: Internal error. Looks like something went wrong on our end.")
    assert len(shop.requests) == 1


def test_max_cost_exceeded_halves_the_orders_page_then_the_line_items_page_and_the_day_completes(shop):
    shop.faults.max_first_times_lines = 8
    with client(shop, page_size=8, line_items_page=4) as api:
        [(_, payloads)] = api.iter_days([DAY])
        assert ids(payloads) == DAY_IDS
        sizes = [(r["variables"]["first"], r["variables"]["lines"], r["code"]) for r in shop.log("OrdersPage")]
        assert sizes == [
            (8, 4, "MAX_COST_EXCEEDED"),
            (4, 4, "MAX_COST_EXCEEDED"),
            (2, 4, None),
            (2, 4, None),
            (2, 4, None),
        ]
        shop.requests.clear()
        shop.faults.max_first_times_lines = 2
        [(_, payloads)] = api.iter_days([DAY])  # the smaller pages stay: the next day starts at 2 x 4
    assert ids(payloads) == DAY_IDS
    shrinking = [(r["variables"]["first"], r["variables"]["lines"]) for r in shop.log("OrdersPage")[:3]]
    assert shrinking == [(2, 4), (1, 4), (1, 2)]
    assert msgspec.json.decode(payloads[0])["lineItems"]["nodes"] == order(1)["lineItems"]
    assert {r["variables"]["first"] for r in shop.log("OrderLineItems")} == {2}


def test_max_cost_exceeded_at_one_order_and_one_line_fails_in_one_line(shop):
    shop.faults.max_first_times_lines = 0
    with client(shop, page_size=2, line_items_page=2) as api, pytest.raises(ShopifyError) as error:
        list(api.iter_days([DAY]))
    assert "refused orders created on 2026-05-03 even one order and one line item at a time: MAX_COST_EXCEEDED" in (
        one_line(error)
    )
    sizes = [(r["variables"]["first"], r["variables"]["lines"]) for r in shop.log("OrdersPage")]
    assert sizes == [(2, 2), (1, 2), (1, 1)]  # and no further


def test_a_day_older_than_60_days_without_read_all_orders_fails_instead_of_coming_back_empty():
    scopes = ("read_orders", "read_products")
    with FakeShopify(ORDERS, scopes=scopes, restore_rate=100_000, now=lambda: NOW) as shop, client(shop) as api:
        search = f"created_at:>='{OLD}T00:00:00Z' AND created_at:<'{OLD + timedelta(days=2)}T00:00:00Z'"
        served = httpx.post(
            f"{shop.base_url}/admin/api/2026-10/graphql.json",
            headers={"X-Shopify-Access-Token": TOKEN},
            json={
                "query": ORDERS_QUERY,
                "variables": {"first": 50, "lines": 1, "query": search},
            },
        ).json()
        assert [o["id"] for o in served["data"]["orders"]["nodes"]] == ["gid://shopify/Order/21"]  # 20: silently gone
        shop.requests.clear()
        days = api.iter_days([OLD + timedelta(days=1), OLD])
        assert ids(next(days)[1]) == [21]
        with pytest.raises(ShopifyError) as error:
            next(days)
    assert one_line(error).startswith(
        "orders created on 2026-03-11 are older than 60 days and the app lacks the read_all_orders scope: Shopify "
        "would return none of them (no error). Add read_all_orders to the app on 127.0.0.1:"
    )
    assert sorted(r["operation"] for r in shop.requests) == ["AccessScopes", "OrdersPage"]
    assert shop.log("OrdersPage")[0]["variables"]["query"].startswith("created_at:>='2026-03-12")  # none for 03-11


def test_with_read_all_orders_old_days_are_fetched_after_one_scope_check(shop):
    with client(shop) as api:
        fetched = list(api.iter_days([OLD - timedelta(days=1), OLD, OLD + timedelta(days=1)]))
    assert [ids(p) for _, p in fetched] == [[], [20], [21]]
    assert len(shop.log("AccessScopes")) == 1


def test_days_within_60_days_need_no_scope_check(shop):
    with client(shop) as api:
        list(api.iter_days([OLD + timedelta(days=1), DAY]))
    assert shop.log("AccessScopes") == []


def test_catalog_has_a_row_per_variant_with_a_sku_and_a_category_from_type_or_collection():
    products = [
        shopify_product(1, "Nitrile Gloves", product_type="Safety", variants=(("GLV-M", "M"), ("GLV-L", "L"))),
        shopify_product(2, "Paper Towels", collections=("Janitorial", "Paper")),
        shopify_product(3, "Gift Card", variants=(("", "Default Title"),)),
        shopify_product(4, "Mystery Box", variants=(("MYS", "Default Title"),)),
    ]
    with FakeShopify(products=products) as shop, client(shop) as api:
        rows = api.catalog()
    assert rows == [
        {"sku": "GLV-M", "name": "Nitrile Gloves - M", "product_id": 1, "category": "Safety"},
        {"sku": "GLV-L", "name": "Nitrile Gloves - L", "product_id": 1, "category": "Safety"},
        {"sku": "SKU-2", "name": "Paper Towels", "product_id": 2, "category": "Janitorial"},
        {"sku": "MYS", "name": "Mystery Box", "product_id": 4, "category": None},
    ]
    assert len(shop.log("CatalogPage")) == 3  # pages of two variants


def test_store_configs_carry_the_shops_currency_and_time_zone_and_there_are_no_groups_or_views():
    with FakeShopify(currency="EUR", timezone_name="Europe/Berlin") as shop, client(shop) as api:
        assert api.store_configs() == [
            {"id": 0, "code": "shop", "name": "Fake Shop", "base_currency_code": "EUR", "timezone": "Europe/Berlin"}
        ]
        api.store_configs()
        assert api.customer_groups() == CUSTOMER_GROUPS and api.store_views() == []
    assert len(shop.requests) == 1


@pytest.mark.parametrize(
    "base_url", ["shop.example.com", "http://acme.myshopify.com", "https://acme.myshopify.com/admin", ""]
)
def test_a_base_url_that_is_not_a_shop_root_is_refused_naming_the_variable(base_url):
    with pytest.raises(ShopifyConfigError, match=r"^SHOPIFY_BASE_URL must be the shop's root, like https://"):
        ShopifyClient(base_url, TOKEN)
    with pytest.raises(ShopifyConfigError, match=r"^ACME_SHOPIFY_BASE_URL must"):
        ShopifyClient(base_url, TOKEN, base_url_variable="ACME_SHOPIFY_BASE_URL")


@pytest.mark.parametrize("option", ["page_size", "line_items_page"])
@pytest.mark.parametrize("size", [0, 251])
def test_page_sizes_outside_1_to_250_are_refused(option, size):
    with pytest.raises(ShopifyConfigError, match=rf"^{option} must be 1..250 \(got {size}\)$"):
        ShopifyClient("https://acme.myshopify.com", TOKEN, **{option: size})


def test_an_empty_token_is_refused_naming_the_variable():
    with pytest.raises(ShopifyConfigError, match="set SHOPIFY_ACCESS_TOKEN"):
        ShopifyClient("https://acme.myshopify.com", "")
    with pytest.raises(ShopifyConfigError, match="set ACME_SHOPIFY_ACCESS_TOKEN"):
        ShopifyClient("https://acme.myshopify.com", "", token_variable="ACME_SHOPIFY_ACCESS_TOKEN")


def test_the_shop_answers_only_the_fields_its_schema_has(shop):
    """The fake validates and executes each query against its schema subset: the client's own queries
    pass (every test above), a field the schema lacks fails like on Shopify, and an answer holds only
    the fields that were asked for."""
    with client(shop) as api:
        with pytest.raises(ShopifyError, match="Cannot query field 'totalPrice' on type 'Order'"):
            api.query("query OrdersPage { orders(first: 1) { nodes { id totalPrice } } }", {}, "a test", ("x",))
        narrow = "query OrdersPage($first: Int!) { orders(first: $first) { nodes { id name } } }"
        reply = api.query(narrow, {"first": 1, "lines": 1, "query": ""}, "a test", ("y",))
    assert msgspec.json.decode(reply.data) == {"orders": {"nodes": [{"id": "gid://shopify/Order/1", "name": "#1001"}]}}


def without_cursor(payload: bytes) -> dict:
    order = msgspec.json.decode(payload)
    return order | {"lineItems": {"nodes": order["lineItems"]["nodes"]}}


def test_many_days_come_from_one_bulk_operation_equal_to_the_pages(shop):
    days = [date(2026, 5, 1) + timedelta(days=i) for i in range(20)]
    with client(shop, bulk_days=14, poll_seconds=0.01) as api:
        bulk = list(api.iter_days(days))
    with client(shop, bulk_days=0) as api:
        paged = list(api.iter_days(days))
    assert [day for day, _ in bulk] == days
    assert {day: [without_cursor(p) for p in payloads] for day, payloads in bulk} == {
        day: [without_cursor(p) for p in payloads] for day, payloads in paged
    }
    assert ids(dict(bulk)[DAY]) == DAY_IDS
    assert len(msgspec.json.decode(dict(bulk)[DAY][0])["lineItems"]["nodes"]) == 7  # order 1: all its lines
    (operation,) = shop.bulk
    assert operation["polls"] == 2 and len(shop.log("BulkOrders")) == 1  # RUNNING, then COMPLETED
    (download,) = operation["downloads"]
    assert "X-Shopify-Access-Token" not in download  # the signed file URL gets no token


def test_a_long_range_takes_one_bulk_operation_per_month_and_a_failed_one_says_so(shop):
    days = [date(2026, 3, 12) + timedelta(days=i) for i in range(100)]
    with client(shop, bulk_days=14, poll_seconds=0.01, today=lambda: date(2026, 3, 20)) as api:
        fetched = dict(api.iter_days(days))
    assert len(shop.bulk) == 4 and len(fetched) == 100  # 31 + 31 + 31 + 7 days
    assert ids(fetched[date(2026, 3, 12)]) == [21] and ids(fetched[DAY]) == DAY_IDS
    shop.faults.bulk_short_file = True
    with client(shop, bulk_days=14, poll_seconds=0.01) as api:
        with pytest.raises(
            ShopifyError, match=r"the file of orders created 2026-05-01..2026-05-20 .* holds \d+ of \d+"
        ):
            list(api.iter_days([date(2026, 5, 1) + timedelta(days=i) for i in range(20)]))
    shop.faults.bulk_short_file = False
    shop.faults.bulk_ends = "FAILED"
    with client(shop, bulk_days=14, poll_seconds=0.01) as api:
        with pytest.raises(ShopifyError, match=r"ended orders created 2026-05-01..2026-05-20 .* FAILED \(INTERNAL_"):
            list(api.iter_days([date(2026, 5, 1) + timedelta(days=i) for i in range(20)]))
