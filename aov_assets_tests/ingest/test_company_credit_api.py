"""The B2B Companies and Company Credit routes of the Adobe Commerce client, against the fake store on 127.0.0.1."""

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from aov_assets.ingest.sources.adobe_commerce import (
    AdobeCommerceAuthError,
    AdobeCommerceClient,
    AdobeCommerceError,
    B2BModuleMissing,
    Credentials,
)
from aov_assets.investigation.credit import credit_rows, history_rows

from .. import fake_adobe_commerce
from ..fake_adobe_commerce import TOKEN, FakeAdobeCommerce, OrderStore

COMPANIES = [
    {"id": i, "status": 1, "company_name": f"Company {i}", "sales_representative_id": 3, "customer_group_id": 2}
    for i in range(1, 8)
]
CREDITS = [
    {"id": 10 + i, "company_id": i, "credit_limit": 5000.0, "balance": -1234.56, "currency_code": "USD"}
    | {"exceed_limit": False, "available_limit": 3765.44, "credit_comment": None}
    for i in range(1, 7)
]
HISTORY = [  # company 1's credit: allocated, then a purchase a day at 06:00 UTC from 2026-04-01
    {"id": 100 + day, "company_credit_id": 11, "user_id": 1, "user_type": 2, "currency_credit": "USD"}
    | {"currency_operation": "USD", "rate": 1, "rate_credit": None, "amount": -100.0, "balance": -100.0 * day}
    | {"credit_limit": 5000.0, "available_limit": 5000.0 - 100.0 * day, "type": 3 if day else 1}
    | {"datetime": f"2026-04-{day + 1:02d} 06:00:00", "purchase_order": None, "comment": ""}
    for day in range(8)
]


@pytest.fixture(scope="module")
def store():
    b2b = {"companies": COMPANIES, "credits": CREDITS, "history": HISTORY}
    with FakeAdobeCommerce(OrderStore.of([]), b2b=b2b) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_store(store):
    store.requests.clear()
    store.b2b_module = True
    yield


def client(store, **options) -> AdobeCommerceClient:
    options = {"page_size": 3, "retry_seconds": 2, "backoff_seconds": 0.05} | options
    credentials = options.pop("credentials", Credentials(token=TOKEN))
    return AdobeCommerceClient(store.base_url, credentials, **options)


def pages(store, path: str) -> list[tuple[str, str]]:
    return [
        (r["params"]["searchCriteria[pageSize]"], r["params"]["searchCriteria[currentPage]"])
        for r in store.requests
        if r["path"] == path
    ]


def test_each_list_arrives_whole_page_by_page_up_to_total_count(store):
    with client(store) as api:
        assert api.companies() == COMPANIES  # 7 items: pages of 3, 3 and a short one of 1
        assert api.company_credits() == CREDITS  # 6 items: total_count reached after page 2, no page 3
        assert api.credit_history() == HISTORY
    assert pages(store, "/rest/V1/company/") == [("3", "1"), ("3", "2"), ("3", "3")]
    assert pages(store, "/rest/V1/companyCredits/") == [("3", "1"), ("3", "2")]
    assert pages(store, "/rest/V1/companyCredits/history") == [("3", "1"), ("3", "2"), ("3", "3")]
    history = [r["params"] for r in store.requests if r["path"].endswith("/history")]
    assert {p["searchCriteria[sortOrders][0][field]"] for p in history} == {"entity_id"}
    assert not any("filter_groups" in key for p in history for key in p)


def test_history_since_is_a_datetime_gteq_filter_in_utc(store):
    since = datetime(2026, 4, 4, 8, 0, tzinfo=timezone(timedelta(hours=2)))  # 06:00 UTC: item 103 exactly
    with client(store) as api:
        items = api.credit_history(since=since)
        assert [item["id"] for item in items] == [103, 104, 105, 106, 107]
        assert [item["id"] for item in api.credit_history(since=datetime(2026, 4, 7, 6, 0, 1))] == [107]
    params = store.requests[0]["params"]
    assert params["searchCriteria[filter_groups][0][filters][0][field]"] == "datetime"
    assert params["searchCriteria[filter_groups][0][filters][0][value]"] == "2026-04-04 06:00:00"
    assert params["searchCriteria[filter_groups][0][filters][0][condition_type]"] == "gteq"
    assert pages(store, "/rest/V1/companyCredits/history")[:2] == [("3", "1"), ("3", "2")]


def test_money_from_the_wire_becomes_exact_cents(store):
    with client(store, page_size=300) as api:
        credits = credit_rows(api.company_credits())
        history, _ = history_rows(api.credit_history(), credits)
    assert credits["balance_cents"].tolist() == [-123456] * 6  # 1234.56 * 100 in floats is 123456.00000000001
    assert history["balance_cents"].tolist() == [-10000 * day for day in range(8)]
    assert set(history["company_id"]) == {1}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("companies", "/rest/V1/company/"),
        ("company_credits", "/rest/V1/companyCredits/"),
        ("credit_history", "/rest/V1/companyCredits/history"),
    ],
)
def test_a_store_without_the_b2b_module_says_so_naming_the_route(store, method, path):
    store.b2b_module = False
    with client(store) as api, pytest.raises(B2BModuleMissing) as error:
        getattr(api, method)()
    message = str(error.value)
    assert isinstance(error.value, AdobeCommerceError) and error.value.status == 404
    assert message.startswith(f"Adobe Commerce GET {path} answered HTTP 404: the store has no B2B Companies/")
    assert "credit causes are not available" in message and "\n" not in message
    assert TOKEN not in message
    assert len(store.requests) == 1  # a missing route is not retried


def test_the_fake_answers_magentos_404_on_exactly_the_b2b_routes(store):
    store.b2b_module = False
    status, body, _ = store.respond(
        "/rest/V1/companyCredits/?searchCriteria[pageSize]=1", {"Authorization": f"Bearer {TOKEN}"}
    )
    assert (status, body) == (404, {"message": "Request does not match any route."})
    status, _, _ = store.respond("/rest/V1/customerGroups/search", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200


def test_a_refused_token_fails_at_once_naming_the_acl_resource_never_the_token(store):
    secret = "sekrit-token-777"
    with client(store, credentials=Credentials(token=secret)) as api, pytest.raises(AdobeCommerceAuthError) as error:
        api.credit_history()
    message = str(error.value)
    assert error.value.status == 401 and "HTTP 401" in message and "ADOBE_COMMERCE_TOKEN" in message
    assert "Magento_Company::credit_history" in message
    assert secret not in message
    assert len(store.requests) == 1


def test_without_b2b_data_the_fake_makes_the_samples_lazily_per_route(monkeypatch):
    made = []
    stub = SimpleNamespace(
        companies=lambda: made.append("companies") or COMPANIES[:2],
        company_credits=lambda: made.append("credits") or [],
        credit_history=lambda: made.append("history") or [],
    )
    monkeypatch.setattr(fake_adobe_commerce, "sample_merchant", lambda: stub)
    with FakeAdobeCommerce(OrderStore.of([])) as server, client(server) as api:
        api.customer_groups()
        assert made == []
        assert api.companies() == COMPANIES[:2]
        api.companies()
        assert made == ["companies"]
