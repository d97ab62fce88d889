"""The Adobe Commerce client against a real HTTP server on 127.0.0.1 (the fake store)."""

import socket
import time
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import msgspec
import pytest

from aov_assets.ingest.parse import RejectedOrder, parse_order
from aov_assets.ingest.sources import segment_rule
from aov_assets.ingest.sources.adobe_commerce import (
    AdobeCommerceAuthError,
    AdobeCommerceClient,
    AdobeCommerceConfigError,
    AdobeCommerceError,
    Credentials,
)
from aov_assets.ingest.sources.http import retry_after
from aov_assets.manifest import parse_manifest

from ..fake_adobe_commerce import DEEP, REMOVE, TOKEN, FakeAdobeCommerce, OAuthKeys

DAY = date(2026, 4, 2)
DAYS = [date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 3)]


@pytest.fixture(scope="module")
def store():
    with FakeAdobeCommerce() as server:
        yield server


@pytest.fixture(autouse=True)
def clean_store(store):
    store.faults.__init__()
    store.requests.clear()
    store.max_in_flight = 0
    yield


def client(store, **options) -> AdobeCommerceClient:
    options = {"page_size": 50, "concurrency": 4, "retry_seconds": 5, "backoff_seconds": 0.05} | options
    credentials = options.pop("credentials", Credentials(token=TOKEN))
    return AdobeCommerceClient(store.base_url, credentials, **options)


def ids(payloads: list[bytes]) -> list[int]:
    return [msgspec.json.decode(p)["entity_id"] for p in payloads]


def expected_ids(sample, day: date) -> list[int]:
    return sorted(order["entity_id"] for order in sample.orders_created_on(day))


@pytest.mark.parametrize("paging", ["2.4", "2.3"])
def test_each_day_arrives_complete_in_order_with_no_copies(store, sample, paging):
    store.faults.paging = paging
    with client(store) as api:
        days = list(api.iter_days(DAYS))
    assert [day for day, _ in days] == DAYS
    for day, payloads in days:
        assert ids(payloads) == expected_ids(sample, day)
    pages = [-(-len(sample.orders_created_on(day)) // 50) for day in DAYS]
    assert len(store.order_requests()) == sum(pages)  # never a request past the last page


def test_the_request_filters_one_utc_day_sorted_with_a_projection_that_keeps_total_count(store):
    with client(store, page_size=300) as api:
        list(api.iter_days([DAY]))
    [request] = store.order_requests()
    params = request["params"]
    assert params["searchCriteria[filter_groups][0][filters][0][value]"] == "2026-04-02 00:00:00"
    assert params["searchCriteria[filter_groups][0][filters][0][condition_type]"] == "gteq"
    assert params["searchCriteria[filter_groups][1][filters][0][value]"] == "2026-04-03 00:00:00"
    assert params["searchCriteria[filter_groups][1][filters][0][condition_type]"] == "lt"
    assert params["searchCriteria[sortOrders][0][field]"] == "entity_id"
    assert params["searchCriteria[pageSize]"] == "300"
    assert params["fields"].startswith("items[entity_id,") and params["fields"].endswith(",total_count")


@pytest.mark.parametrize("paging", ["2.4", "2.3"])
def test_without_total_count_pages_are_followed_to_a_short_or_repeated_page(store, sample, paging):
    store.faults.drop_total_count = True
    store.faults.paging = paging
    day = date(2026, 4, 4)  # 200 orders: four full pages of 50, then an empty (2.4) or repeated (2.3) one
    assert len(sample.orders_created_on(day)) % 50 == 0
    with client(store) as api:
        [(_, payloads)] = api.iter_days([day])
    assert ids(payloads) == expected_ids(sample, day)
    assert len(store.order_requests()) == len(payloads) // 50 + 1


def test_a_total_count_that_disagrees_is_fetched_again_then_fails_loudly(store):
    store.faults.total_count_offset = 1
    with client(store, page_size=300) as api, pytest.raises(AdobeCommerceError) as error:
        list(api.iter_days([DAY]))
    assert "reported 210 orders created on 2026-04-02 but returned 209 distinct orders" in str(error.value)
    assert len(store.order_requests()) == 2


def test_pages_of_several_days_are_in_flight_together(store):
    store.faults.latency_seconds = 0.2  # long enough that all four days overlap even on a busy CI
    with client(store, page_size=300, concurrency=4) as api:
        list(api.iter_days([date(2026, 3, d) for d in range(1, 13)]))
    assert store.max_in_flight == 4
    store.max_in_flight = 0
    with client(store, page_size=300, concurrency=1) as api:
        list(api.iter_days([date(2026, 3, d) for d in range(1, 5)]))
    assert store.max_in_flight == 1


def test_429_honoursretry_after(store, sample):
    store.faults.statuses = [(429, "1")]
    started = time.monotonic()
    with client(store) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert time.monotonic() - started >= 1.0
    assert ids(payloads) == expected_ids(sample, DAY)


def test_429_honours_retry_after_given_as_an_http_date(store, sample):
    until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)  # 2..3 s away
    store.faults.statuses = [(429, format_datetime(until, usegmt=True))]
    with client(store, page_size=300) as api:  # jitter alone would wait at most 0.05 s
        [(_, payloads)] = api.iter_days([DAY])
    waited_until = datetime.now(timezone.utc)
    assert until - timedelta(milliseconds=50) <= waited_until < until + timedelta(seconds=1)
    assert ids(payloads) == expected_ids(sample, DAY)
    assert len(store.order_requests()) == 2


def test_retry_after_is_seconds_or_an_http_date_in_utc():
    def wait(value: str) -> float | None:
        return retry_after(httpx.Response(429, headers={"Retry-After": value}))

    assert wait("7") == 7.0 and wait("soon") is None and retry_after(httpx.Response(503)) is None
    in_a_minute = datetime.now(timezone.utc) + timedelta(seconds=60)
    assert 58 < wait(format_datetime(in_a_minute, usegmt=True)) <= 60
    assert 58 < wait(format_datetime(in_a_minute).replace("+0000", "-0000")) <= 60  # "-0000" is UTC too
    assert wait("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # already past: no wait


def test_when_the_budget_runs_out_the_error_says_how_many_attempts_and_the_status(store):
    store.faults.statuses = [(503, "1")] * 5  # waits of exactly 1 s: tries at 0 s and 1 s, a third would end at 2 s
    with client(store, retry_seconds=1.5) as api, pytest.raises(AdobeCommerceError) as error:
        list(api.iter_days([DAY]))
    assert error.value.status == 503 and type(error.value) is AdobeCommerceError
    assert str(error.value).endswith("HTTP 503: Service temporarily unavailable (gave up after 2 attempts in 1s)")
    assert len(store.order_requests()) == 2


def test_a_store_that_cannot_be_reached_gives_up_with_the_error_type_and_no_status():
    with socket.socket() as probe:  # a port with nobody listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = AdobeCommerceClient(
        f"http://127.0.0.1:{port}", Credentials(token=TOKEN), retry_seconds=0.5, backoff_seconds=0.05
    )
    with api, pytest.raises(AdobeCommerceError) as error:
        api.get("orders", {}, "orders")
    assert error.value.status is None and type(error.value) is AdobeCommerceError
    message = str(error.value)
    assert message.startswith("Adobe Commerce GET /rest/V1/orders failed for orders: ConnectError (gave up after ")
    assert int(message.split("gave up after ")[1].split()[0]) >= 2 and TOKEN not in message


def test_403_fails_at_once(store):
    store.faults.statuses = [(403, None)]
    with client(store) as api, pytest.raises(AdobeCommerceAuthError, match="HTTP 403") as error:
        list(api.iter_days([DAY]))
    assert error.value.status == 403
    assert len(store.order_requests()) == 1


def test_503_and_timeouts_are_retried(store, sample):
    store.faults.statuses = [(503, None), (502, None)]
    store.faults.slow_seconds, store.faults.slow_requests = 1.0, 1
    with client(store, page_size=300, concurrency=1, timeout_seconds=0.3) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert ids(payloads) == expected_ids(sample, DAY)
    assert len(store.order_requests()) == 4


def test_a_day_that_stays_down_fails_with_day_endpoint_status_and_message(store):
    store.faults.down_days = {DAY}
    with client(store, retry_seconds=1) as api:
        days = api.iter_days(DAYS)
        assert next(days)[0] == DAYS[0]
        with pytest.raises(AdobeCommerceError) as error:
            next(days)
    message = str(error.value)
    assert message.startswith(
        "Adobe Commerce GET /rest/V1/orders failed for orders created on 2026-04-02 (page 1): HTTP 503"
    )
    assert "The store is under maintenance" in message and "gave up after" in message


def test_400_shows_the_api_message_with_its_parameters(store):
    store.faults.statuses = [(400, None)]
    with client(store) as api, pytest.raises(AdobeCommerceError, match='HTTP 400: "searchCriteria" is required'):
        list(api.iter_days([DAY]))
    assert len(store.order_requests()) == 1


def test_a_page_size_above_300_is_refused_by_the_store_and_by_the_client(store):
    response = httpx.get(
        f"{store.base_url}/rest/V1/orders",
        params={"searchCriteria[pageSize]": 301},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Maximum SearchCriteria pageSize is %1", "parameters": ["300"]}
    with pytest.raises(AdobeCommerceConfigError, match="page_size must be 1..300"):
        client(store, page_size=301)


def test_a_wrong_token_fails_at_once_naming_the_variable_and_acl_but_never_the_value(store):
    secret = "sekrit-token-4242"
    with client(store, credentials=Credentials(token=secret)) as api, pytest.raises(AdobeCommerceAuthError) as error:
        list(api.iter_days([DAY]))
    message = str(error.value)
    assert "HTTP 401" in message and "ADOBE_COMMERCE_TOKEN" in message
    assert "Magento_Sales::actions_view" in message and "standalone Bearer tokens" in message
    assert secret not in message and secret not in repr(api.credentials)
    assert len(store.order_requests()) == 1


def test_oauth1_hmac_sha256_signatures_are_verified_by_the_store(store, sample):
    keys = OAuthKeys()
    good = Credentials(
        consumer_key=keys.consumer_key,
        consumer_secret=keys.consumer_secret,
        access_token=keys.access_token,
        access_token_secret=keys.access_token_secret,
    )
    with client(store, credentials=good) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert ids(payloads) == expected_ids(sample, DAY)
    assert {r["auth"] for r in store.order_requests()} == {"oauth1"}
    forged = Credentials(**{**vars(good), "consumer_secret": "not-the-secret"})
    with client(store, credentials=forged) as api, pytest.raises(AdobeCommerceAuthError) as error:
        list(api.iter_days([DAY]))
    assert "ADOBE_COMMERCE_CONSUMER_KEY" in str(error.value) and "not-the-secret" not in str(error.value)


def test_missing_or_partial_credentials_say_which_variables(store):
    with pytest.raises(AdobeCommerceConfigError, match="set ADOBE_COMMERCE_TOKEN, or the four OAuth"):
        client(store, credentials=Credentials())
    with pytest.raises(AdobeCommerceConfigError, match="ADOBE_COMMERCE_ACCESS_TOKEN_SECRET not set"):
        client(store, credentials=Credentials(consumer_key="a", consumer_secret="b", access_token="c"))
    with pytest.raises(AdobeCommerceConfigError, match="must be the store root"):
        AdobeCommerceClient("shop.example.com", Credentials(token=TOKEN))


def test_store_code_goes_into_the_path(store):
    with client(store, store_code="trade") as api:
        list(api.iter_days([DAY]))
    assert {r["path"] for r in store.order_requests()} == {"/rest/trade/V1/orders"}


def test_group_and_store_view_codes_resolve_through_the_api(store):
    with client(store) as api:
        manifest = parse_manifest(
            "source: adobe_commerce\nstart_date: '2024-05-01'\nsegments: {b2b_customer_groups: [wholesale, 4]}\n"
        )
        assert segment_rule(manifest, api).b2b_group_ids == frozenset({2, 4})
        manifest = parse_manifest(
            "source: adobe_commerce\nstart_date: '2024-05-01'\n"
            "segments: {routing: store_view, b2b_store_views: [trade]}\n"
        )
        assert segment_rule(manifest, api).b2b_store_ids == frozenset({2})
        manifest = parse_manifest(
            "source: adobe_commerce\nstart_date: '2024-05-01'\nsegments: {b2b_customer_groups: [Trade Accounts]}\n"
        )
        with pytest.raises(
            ValueError, match=r"unknown customer group 'Trade Accounts'; the store has: .*Wholesale \(2\)"
        ):
            segment_rule(manifest, api)


def test_malformed_orders_are_passed_through_untouched_for_classification_to_reject(store, sample):
    [first, second, *_] = expected_ids(sample, DAY)
    store.faults.malformed = {first: {"base_grand_total": "12,5"}, second: {"entity_id": REMOVE}}
    with client(store, page_size=300) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert len(payloads) == len(expected_ids(sample, DAY))
    assert msgspec.json.decode(payloads[0])["base_grand_total"] == "12,5"
    assert b'"entity_id"' not in payloads[1]


def test_an_order_nested_too_deep_to_decode_reaches_the_lake_and_is_rejected_not_fatal(store, sample):
    [*_, deep] = expected_ids(sample, DAY)  # the page's last item: the scan must find the items' end after it
    store.faults.malformed = {deep: {"base_grand_total": DEEP}}
    with client(store, page_size=300) as api:
        [(_, payloads)] = api.iter_days([DAY])
    assert len(payloads) == len(expected_ids(sample, DAY))
    assert b"[" * 5000 in payloads[-1] and ids(payloads[:-1]) == expected_ids(sample, DAY)[:-1]
    with pytest.raises(RejectedOrder, match="base_grand_total"):
        parse_order(payloads[-1], DAY, "grand_total")


def test_money_is_kept_exactly_as_the_store_wrote_it(store):
    with client(store, page_size=300) as api:
        [(_, payloads)] = api.iter_days([DAY])
    served = httpx.get(
        f"{store.base_url}/rest/V1/orders",
        params={
            "searchCriteria[filter_groups][0][filters][0][field]": "created_at",
            "searchCriteria[filter_groups][0][filters][0][value]": "2026-04-02 00:00:00",
            "searchCriteria[filter_groups][0][filters][0][condition_type]": "from",
            "searchCriteria[filter_groups][1][filters][0][field]": "created_at",
            "searchCriteria[filter_groups][1][filters][0][value]": "2026-04-02 23:59:59",
            "searchCriteria[filter_groups][1][filters][0][condition_type]": "to",
            "searchCriteria[filter_groups][2][filters][0][field]": "entity_id",
            "searchCriteria[filter_groups][2][filters][0][value]": f"1,{ids(payloads)[0]}",
            "searchCriteria[filter_groups][2][filters][0][condition_type]": "in",
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()["items"][0]
    assert msgspec.json.decode(payloads[0])["base_grand_total"] == served["base_grand_total"]
