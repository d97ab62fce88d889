"""The sample merchant reproduces CONTRACT.md's worked example through the production parsing code."""

from datetime import date, timedelta
from decimal import Decimal

import msgspec
import pandas as pd
import pytest

from aov_assets.manifest import load_manifest
from aov_assets.rules import AlertRule, SegmentRule, card_rows, classify_orders, company_cohorts, window_sums
from aov_assets.sources import segment_rule

from .conftest import EXAMPLE_DAY, EXAMPLE_FIRST_DAY, REPO

WORKED_EXAMPLE = {  # CONTRACT.md: orders, revenue, AOV, prior orders, prior revenue, prior AOV, change %
    "b2b": (1420, "912800.00", "642.82", 1380, "1062600.00", "770.00", "-16.5"),
    "b2c": (4650, "317540.00", "68.29", 4710, "322100.00", "68.39", "-0.1"),
    "all": (6070, "1230340.00", "202.69", 6090, "1384700.00", "227.37", None),
}
COHORTS = {"top 20%": (1180, 1210), "middle 60%": (480, 560), "bottom 20%": (190, 310)}


@pytest.fixture(scope="module")
def example_orders(sample) -> pd.DataFrame:
    days = [EXAMPLE_FIRST_DAY + timedelta(days=i) for i in range(60)]
    rule = segment_rule(load_manifest(REPO / "aov.yaml").segments, sample)
    orders, rejected = classify_orders(sample.iter_days(days), "grand_total", rule)
    assert rejected.empty
    return orders


def sums_by_day(orders: pd.DataFrame) -> pd.DataFrame:
    counted = orders[orders["counted"]].assign(
        revenue_cents=lambda f: f["order_value"].map(lambda v: int(v * 100)), orders=1
    )
    return counted.groupby(["order_date", "segment"], as_index=False)[["orders", "revenue_cents", "line_items"]].sum()


def test_the_sample_reproduces_the_worked_example_to_the_cent(example_orders):
    rows = card_rows(window_sums(sums_by_day(example_orders), EXAMPLE_DAY, EXAMPLE_DAY), AlertRule(Decimal(15)))
    table = rows.set_index("segment")
    for segment, (orders, revenue, aov, prior_orders, prior_revenue, prior_aov, change) in WORKED_EXAMPLE.items():
        row = table.loc[segment]
        assert (row["orders"], row["prior_orders"]) == (orders, prior_orders), segment
        assert (row["revenue"], row["prior_revenue"]) == (Decimal(revenue), Decimal(prior_revenue)), segment
        assert (row["aov"], row["prior_aov"]) == (Decimal(aov), Decimal(prior_aov)), segment
        if change is not None:
            assert round(row["aov_change_pct"], 1) == Decimal(change), segment
    assert round(table.at["b2b", "multiplier"], 1) == Decimal("9.4")
    assert table.at["b2b", "alert"]


def test_cohorts_by_company_lifetime_value_match_the_story(sample, example_orders):
    b2b = example_orders[(example_orders["segment"] == "b2b") & example_orders["counted"]]
    history = sample.orders[sample.orders["counted"] & (sample.orders["cohort"] != "b2c")]
    lifetime = history.groupby("company_id")["value_cents"].sum()
    value = b2b.assign(cents=b2b["order_value"].map(lambda v: int(v * 100)))
    current = value[value["order_date"] >= EXAMPLE_DAY - timedelta(days=29)].groupby("company_id")["cents"]
    prior = value[value["order_date"] < EXAMPLE_DAY - timedelta(days=29)].groupby("company_id")["cents"]
    companies = (
        pd.DataFrame(
            {
                "lifetime_cents": lifetime,
                "orders": current.size(),
                "revenue_cents": current.sum(),
                "prior_orders": prior.size(),
                "prior_revenue_cents": prior.sum(),
            }
        )
        .fillna(0)
        .rename_axis("company_id")
        .reset_index()
    )
    cohorts = company_cohorts(companies).set_index("cohort")
    assert cohorts["companies"].to_dict() == {"top 20%": 36, "middle 60%": 108, "bottom 20%": 36}
    for cohort, (aov, prior_aov) in COHORTS.items():
        row = cohorts.loc[cohort]
        assert row["revenue_cents"] / row["orders"] / 100 == pytest.approx(aov, rel=0.03), cohort
        assert row["prior_revenue_cents"] / row["prior_orders"] / 100 == pytest.approx(prior_aov, rel=0.03), cohort
    assert cohorts["quiet"].to_dict() == {"top 20%": 0, "middle 60%": 8, "bottom 20%": 0}


def test_the_merchant_has_180_companies_and_about_3400_consumers(sample):
    orders = sample.orders
    assert orders.loc[orders["cohort"] != "b2c", "company_id"].nunique() == 180
    consumers = orders.loc[(orders["cohort"] == "b2c") & (orders["customer_id"] > 0), "customer_id"].nunique()
    assert 3000 <= consumers <= 3400


def test_orders_come_in_the_rest_shape_with_the_edge_cases_a_real_store_has(sample):
    orders = [msgspec.json.decode(o) for _, day in sample.iter_days([date(2026, 4, 30)]) for o in day]
    states = {o["state"] for o in orders}
    assert {"canceled", "pending_payment", "complete"} <= states
    assert any(o["customer_group_id"] == 0 and "customer_id" not in o for o in orders), "guest orders"
    company = next(o for o in orders if "extension_attributes" in o)
    assert set(company["extension_attributes"]["company_order_attributes"]) == {
        "order_id",
        "company_id",
        "company_name",
    }
    assert any("parent_item_id" in item for o in orders for item in o["items"]), "configurable children"
    for order in orders:
        assert order["created_at"].startswith("2026-04-30 ")
        total = (
            Decimal(str(order[k]))
            for k in ("base_subtotal", "base_discount_amount", "base_shipping_amount", "base_tax_amount")
        )
        assert sum(total) == Decimal(str(order["base_grand_total"])), order["entity_id"]
        lines = sum(Decimal(str(i["row_total"])) for i in order["items"])
        assert lines == Decimal(str(order["base_subtotal"])), order["entity_id"]


def test_the_sample_is_deterministic(sample):
    from aov_assets.sources.sample import SampleMerchant

    again = SampleMerchant()
    day = date(2025, 8, 14)
    assert again.orders_created_on(day) == sample.orders_created_on(day)


def test_group_and_store_view_routing_agree_on_the_sample(sample, example_orders):
    day = [(EXAMPLE_DAY, next(sample.iter_days([EXAMPLE_DAY]))[1])]
    by_store, _ = classify_orders(day, "grand_total", SegmentRule("store_view", b2b_store_ids=frozenset({2})))
    by_company, _ = classify_orders(day, "grand_total", SegmentRule("company_or_group", frozenset({2})))
    assert by_store["segment"].tolist() == by_company["segment"].tolist()
    assert set(by_company["segment_reason"]) == {"company", "default"}


def test_days_outside_the_sample_have_no_orders(sample):
    assert sample.orders_created_on(date(2024, 4, 30)) == []
    assert sample.orders_created_on(date(2026, 5, 4)) == []
