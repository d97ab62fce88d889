"""Shapes real Adobe Commerce stores send, through the loopback REST path: the fake store serves a day,
raw_orders fetches it over HTTP into the lake, classified_orders classifies or rejects every order.

Each case failed before its fix: one undecodable order failed the whole day; `[]` for an empty
extension-attributes object and a missing base_to_global_rate rejected good orders.
"""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest

from ..conftest import classified_orders, raw_orders, read_table, write_manifest
from ..fake_adobe_commerce import REMOVE, FakeAdobeCommerce, Faults
from ..ingest.test_adobe_commerce_pipeline import StorePipeline

DAY = date(2026, 4, 2)


@pytest.fixture(scope="module")
def store():
    with FakeAdobeCommerce() as server:
        yield server


@pytest.fixture
def shop(store):
    yield store
    store.faults = Faults()


def sync_day(store: FakeAdobeCommerce, root, basis: str = "grand_total") -> tuple[pd.DataFrame, pd.DataFrame]:
    """raw_orders and classified_orders for DAY against the store: (classified, rejected) rows."""
    pipeline = StorePipeline(root, write_manifest(root / "aov.yaml", source="adobe_commerce", metric=f"basis: {basis}"))
    pipeline.store = store
    with dg.instance_for_test() as instance:
        assert pipeline.materialize([raw_orders, classified_orders], str(DAY), instance=instance).success
    return read_table(pipeline, "classified_orders").set_index("entity_id"), read_rejected(pipeline)


def read_rejected(pipeline) -> pd.DataFrame:
    with pipeline.warehouse().connect() as connection:
        return pd.read_sql("SELECT entity_id, reason FROM rejected_orders", connection)


def served(store: FakeAdobeCommerce) -> list[dict]:
    return store.orders.between(DAY, DAY)


def first(orders: list[dict], b2b_company: bool) -> dict:
    return next(o for o in orders if ("extension_attributes" in o) == b2b_company)


@pytest.fixture(scope="module")
def clean(store, tmp_path_factory):
    """The day as the store serves it without faults."""
    return sync_day(store, tmp_path_factory.mktemp("clean"))


@pytest.mark.parametrize("where", ["status", "sku", "payment method"])
def test_an_order_with_a_lone_surrogate_escape_is_rejected_with_its_reason_and_the_day_completes(
    shop, clean, tmp_path, where
):
    order = served(shop)[5]
    lone = "\ud83d"  # json.dumps writes it as the escape \ud83d: valid JSON syntax, no character
    change = {
        "status": {"status": lone},
        "sku": {"items": [{**order["items"][0], "sku": lone}, *order["items"][1:]]},
        "payment method": {"payment": {"method": lone}},
    }[where]
    shop.faults.malformed = {order["entity_id"]: change}
    classified, rejected = sync_day(shop, tmp_path)
    assert rejected["entity_id"].tolist() == [order["entity_id"]]
    assert rejected["reason"][0].startswith("not a JSON order: JSON is malformed: unexpected end of")
    expected = clean[0].drop(index=order["entity_id"])
    pd.testing.assert_frame_equal(classified, expected, check_exact=True)


def test_empty_extension_attributes_written_as_an_empty_array_are_absent(shop, clean, tmp_path):
    orders = served(shop)
    consumer, company = first(orders, b2b_company=False), first(orders, b2b_company=True)
    shop.faults.malformed = {
        consumer["entity_id"]: {"extension_attributes": []},
        company["entity_id"]: {"extension_attributes": {"company_order_attributes": [], "company_attributes": []}},
    }
    classified, rejected = sync_day(shop, tmp_path)
    assert rejected.empty
    before = clean[0]
    pd.testing.assert_frame_equal(classified.drop(index=company["entity_id"]), before.drop(index=company["entity_id"]))
    row = classified.loc[company["entity_id"]]
    assert pd.isna(row["company_id"]) and pd.isna(row["company_name"])
    # no company on the order: its customer group decides (the sample's company buyers are in Wholesale)
    assert row["segment"] == "b2b" and row["segment_reason"] == "customer_group"
    assert row["order_value"] == before.loc[company["entity_id"], "order_value"]


def test_an_order_without_base_to_global_rate_has_rate_1_in_its_global_currency_else_is_rejected(shop, clean, tmp_path):
    orders = served(shop)
    same, other = orders[3], orders[4]
    shop.faults.malformed = {
        same["entity_id"]: {"base_to_global_rate": REMOVE},
        other["entity_id"]: {"base_to_global_rate": REMOVE, "global_currency_code": "EUR"},
    }
    classified, rejected = sync_day(shop, tmp_path)
    assert rejected.to_dict("records") == [
        {
            "entity_id": other["entity_id"],
            "reason": "base_to_global_rate is missing and global_currency_code 'EUR' is not base_currency_code 'USD'",
        }
    ]
    pd.testing.assert_frame_equal(classified, clean[0].drop(index=other["entity_id"]), check_exact=True)
    assert classified.loc[same["entity_id"], "base_to_global_rate"] == Decimal(1)


def test_pre_tax_basis_is_grand_total_minus_tax_with_discounts_and_shipping_kept(shop, clean, tmp_path):
    classified, rejected = sync_day(shop, tmp_path, basis="pre_tax")
    assert rejected.empty
    orders = {o["entity_id"]: o for o in served(shop)}
    taxed = [i for i, o in orders.items() if o["base_tax_amount"] and o["base_shipping_amount"]]
    assert taxed, "the sample day has taxed orders with shipping"
    for entity_id in taxed[:20]:
        order = orders[entity_id]
        expected = Decimal(str(order["base_grand_total"])) - Decimal(str(order["base_tax_amount"]))
        assert classified.loc[entity_id, "order_value"] == expected
        assert classified.loc[entity_id, "base_tax_amount"] == Decimal(str(order["base_tax_amount"]))
    grand = clean[0]["order_value"]
    assert (classified["order_value"] <= grand).all() and (classified["order_value"] < grand).any()


LONE_ESCAPES = [rb"\ud83d", rb"\udc00", rb"\udc00\ud83d", rb"x\ud800"]
BROKEN_ESCAPES = [rb"\u12G4", rb"\q", rb"\u00", b"\xff\xfe", b"\xc3"]
STRING_FIELDS = ["status", "increment_id", "customer_email", "sku", "method"]


def test_fuzzed_string_escapes_on_the_rest_path_never_cost_the_day(shop, clean, tmp_path):
    """Seeded: a third of the day's orders get a lone surrogate escape, a broken escape or invalid UTF-8
    in one of their strings, as exact bytes on the wire. Every order is classified or rejected with a
    reason, and no good order is lost."""
    rng = random.Random(20261203)
    orders = served(shop)
    raw = {}
    for order in rng.sample(orders, len(orders) // 3):
        text = json.dumps(order).encode()
        field = rng.choice(STRING_FIELDS)
        start = text.index(b'"%s": "' % field.encode()) + len(field) + 5
        text = text[:start] + rng.choice(LONE_ESCAPES + BROKEN_ESCAPES) + text[start:]
        raw[order["entity_id"]] = text
    shop.faults.raw = raw
    classified, rejected = sync_day(shop, tmp_path)
    assert len(classified) + len(rejected) == len(orders)
    assert (rejected["reason"].str.len() > 0).all() and len(rejected) >= len(raw) // 2
    untouched = clean[0].drop(index=list(raw))
    pd.testing.assert_frame_equal(classified.drop(index=list(raw), errors="ignore"), untouched, check_exact=True)
    assert set(rejected["entity_id"].dropna()) <= set(raw)
