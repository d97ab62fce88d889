"""A Shopify store through the asset graph: the fake shop on loopback -> raw_orders (Shopify's bytes in
the lake) -> classified_orders, daily_aov and order_lines (read as REST orders), numbers by hand."""

import json
from datetime import date
from decimal import Decimal

import dagster as dg
import pytest

from aov_assets.ingest.lake import RawOrderLake

from ..conftest import (
    Pipeline,
    classified_orders,
    daily_aov,
    order_lines,
    product_catalog,
    raw_orders,
    read_table,
    write_manifest,
)
from ..fake_shopify import PRODUCTS, TOKEN, FakeShopify, line_item, shopify_order

FIRST, LAST = date(2026, 5, 1), date(2026, 5, 2)
ACME, BETA = (42, "Acme Tools"), (43, "Beta Supply")
ORDERS = [
    shopify_order(1, "2026-05-01T08:00:00Z", total="300.00", tax="20.00", company=ACME, customer_id=10),
    shopify_order(  # another contact of the same company; a discount code took 20.00 off its line
        2,
        "2026-05-01T09:30:00Z",
        total="480.00",
        company=ACME,
        customer_id=11,
        lines=[line_item("BOLT", quantity=4, price="125.00", discounts=["15.00", "5.00"])],
    ),
    shopify_order(3, "2026-05-01T10:00:00Z", total="200.00", customer_id=20, tags=["Wholesale"]),
    shopify_order(4, "2026-05-01T11:00:00Z", total="50.00", customer_id=30, presentment=("EUR", "0.92")),
    shopify_order(5, "2026-05-01T12:00:00Z", total="70.00", customer_id=31, test=True),
    shopify_order(6, "2026-05-01T13:00:00Z", total="90.00", customer_id=32, cancelled=True),
    shopify_order(7, "2026-04-30T23:59:59Z", total="999.00", customer_id=33),  # the day before: not synced
    shopify_order(8, "2026-05-02T00:00:00Z", total="1000.00", company=BETA, customer_id=40),
    shopify_order(9, "2026-05-02T23:59:59Z", total="30.00", customer_id=None),  # a guest
]


@pytest.fixture
def shop(monkeypatch):
    with FakeShopify(ORDERS) as server:
        monkeypatch.setenv("SHOPIFY_BASE_URL", server.base_url)
        monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", TOKEN)
        yield server


def shopify_pipeline(root) -> Pipeline:
    manifest = write_manifest(root / "aov.yaml", source="shopify", segments="{b2b_customer_tags: [wholesale]}")
    return Pipeline(root, manifest)


def test_a_shopify_store_gives_the_card_its_numbers(shop, tmp_path):
    pipeline = shopify_pipeline(tmp_path)
    with dg.instance_for_test() as instance:
        assert dg.materialize([product_catalog], resources=pipeline.resources, instance=instance).success
        chain = [raw_orders, classified_orders, daily_aov, order_lines]
        assert pipeline.materialize(chain, str(FIRST), str(LAST), instance).success

    lake = RawOrderLake(tmp_path / "lake" / "raw_orders")
    kept = [json.loads(payload) for payload in lake.read_day(FIRST)]
    assert kept[0]["id"] == "gid://shopify/Order/1" and "lineItems" in kept[0]  # Shopify's own node
    assert lake.column(FIRST, "entity_id") == [1, 2, 3, 4, 5, 6]

    orders = read_table(pipeline, "classified_orders").set_index("entity_id")
    assert list(orders.index) == [1, 2, 3, 4, 6, 8, 9]
    assert orders.loc[[1, 2, 3, 8], "segment"].tolist() == ["b2b"] * 4
    assert orders.loc[[1, 2, 3], "segment_reason"].tolist() == ["company", "company", "customer_group"]
    assert orders.loc[[1, 2], "customer_key"].tolist() == ["company:42", "company:42"]  # one account
    assert orders.loc[3, "customer_key"] == "customer:20" and orders.loc[4, "segment"] == "b2c"
    assert orders.loc[4, ["order_currency_code", "base_currency_code"]].tolist() == ["EUR", "USD"]
    assert (orders.loc[4, "order_value"], orders.loc[4, "grand_total"]) == (Decimal("50.00"), Decimal("46.00"))
    assert orders.loc[9, "customer_key"] == "order:9"  # a guest: no e-mail is read
    assert orders.loc[6, "counted"] == False  # noqa: E712 - numpy bool
    assert orders.loc[1, "order_value"] == Decimal("300.00") and orders.loc[1, "increment_id"] == "#1001"

    rejected = read_table(pipeline, "rejected_orders")
    assert rejected["reason"].tolist() == ["a test order (test: true), not a sale"]
    assert json.loads(rejected["payload"][0])["id"] == "gid://shopify/Order/5"  # as the lake keeps it

    days = read_table(pipeline, "daily_aov").set_index(["order_date", "segment"])
    assert days.loc[(FIRST, "b2b"), ["orders", "revenue"]].tolist() == [3, Decimal("980.00")]
    assert days.loc[(FIRST, "b2c"), ["orders", "revenue"]].tolist() == [1, Decimal("50.00")]
    assert days.loc[(LAST, "b2b"), ["orders", "revenue"]].tolist() == [1, Decimal("1000.00")]

    lines = read_table(pipeline, "order_lines").set_index("entity_id")
    assert lines.loc[1, ["sku", "line_value"]].tolist() == ["SKU-1", Decimal("280.00")]  # 300.00 less 20.00 tax
    assert lines.loc[2, ["sku", "qty", "line_value"]].tolist() == ["BOLT", 4, Decimal("480.00")]  # 500 - 20
    assert 6 not in lines.index and 5 not in lines.index  # cancelled and rejected orders have no lines

    catalog = read_table(pipeline, "product_catalog").set_index("sku")
    assert catalog.loc["GLV-M", "category"] == PRODUCTS[0]["productType"]


def test_old_days_without_read_all_orders_fail_in_one_line_naming_the_scope(shop, tmp_path):
    shop.scopes = ("read_orders", "read_products")
    pipeline = shopify_pipeline(tmp_path)
    with dg.instance_for_test() as instance:
        result = pipeline.materialize([raw_orders], str(FIRST), str(LAST), instance, raise_on_error=False)
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    error = failure.step_failure_data.error.cause  # the client's own one line, under Dagster's step error
    assert error.cls_name == "ShopifyError" and "\n" not in error.message.strip()
    assert "older than 60 days" in error.message and "read_all_orders" in error.message
    assert TOKEN not in error.to_string()
