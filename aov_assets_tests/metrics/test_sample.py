"""The sample merchant reproduces CONTRACT.md's worked example through the production parsing code."""

from datetime import date, timedelta
from decimal import Decimal

import msgspec
import numpy as np
import pandas as pd
import pytest

from aov_assets.ingest.sources import segment_rule
from aov_assets.ingest.sources.sample import FIRST_DAY, SampleMerchant, sample_scale
from aov_assets.investigation import accounts as investigation_accounts
from aov_assets.investigation import causes as investigation_causes
from aov_assets.manifest import load_manifest
from aov_assets.metrics.segments import SegmentRule, classify_orders
from aov_assets.metrics.windows import AlertRule, card_rows, window_sums

from ..conftest import EXAMPLE_DAY, EXAMPLE_FIRST_DAY, REPO

WORKED_EXAMPLE = {  # CONTRACT.md: orders, revenue, AOV, prior orders, prior revenue, prior AOV, change %
    "b2b": (1420, "912800.00", "642.82", 1380, "1062600.00", "770.00", "-16.5"),
    "b2c": (4650, "317540.00", "68.29", 4710, "322100.00", "68.39", "-0.1"),
    "all": (6070, "1230340.00", "202.69", 6090, "1384700.00", "227.37", None),
}
COHORTS = {"top 20%": (1180, 1210), "middle 60%": (480, 560), "bottom 20%": (190, 310)}


@pytest.fixture(scope="module")
def example_orders(sample) -> pd.DataFrame:
    days = [EXAMPLE_FIRST_DAY + timedelta(days=i) for i in range(60)]
    orders, rejected = classify_orders(sample.iter_days(days), "grand_total", segment_rule_of(sample))
    assert rejected.empty
    return orders


def segment_rule_of(sample) -> SegmentRule:
    return segment_rule(load_manifest(REPO / "aov.yaml"), sample)


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


def test_the_investigation_of_the_full_history_tells_the_story(sample):
    """Cohorts by lifetime value over the whole history, 8 mid-tier accounts gone quiet against a
    typical 0-3, and the cause the sample injects: smaller baskets (mid-tier accounts downgrade, lines
    x0.7) and order share moving to small accounts, which place far more small orders."""
    b2b = sample.orders[sample.orders["cohort"] != "b2c"]
    lines = np.bincount(sample._lines["order_row"], minlength=len(sample.orders))[b2b.index]
    orders = pd.DataFrame(
        {
            "order_date": [FIRST_DAY + timedelta(days=int(d)) for d in b2b["day"]],
            "created_at": b2b["day"] * 86_400 + b2b["second"],
            "entity_id": b2b["entity_id"],
            "increment_id": b2b["entity_id"].astype(str),
            "company_id": b2b["company_id"],
            "customer_id": b2b["customer_id"],
            "company_name": None,
            "value_cents": b2b["value_cents"],
            "line_items": lines,
            "refunded_cents": 0,
            "payment_method": None,
            "counted": b2b["counted"],
        }
    )
    daily = investigation_accounts.account_daily_rows(orders)
    empty = pd.DataFrame(columns=["account", "orders", "revenue_cents", "first_order_date"])
    windows = investigation_accounts.build_windows(daily, empty, FIRST_DAY, EXAMPLE_DAY)
    rows = investigation_accounts.account_rows(windows, [EXAMPLE_DAY]).assign(name=lambda f: f["account"])
    typical = investigation_accounts.typical_gone_quiet(windows, EXAMPLE_DAY, FIRST_DAY)
    cohorts = investigation_accounts.cohort_rows(rows, windows, {EXAMPLE_DAY: typical}).set_index("cohort")
    assert cohorts["accounts"].to_dict() == {"top 20%": 36, "middle 60%": 108, "bottom 20%": 36, "all": 180}
    for cohort, (aov, prior_aov) in COHORTS.items():
        assert float(cohorts.at[cohort, "aov"]) == pytest.approx(aov, rel=0.03), cohort
        assert float(cohorts.at[cohort, "prior_aov"]) == pytest.approx(prior_aov, rel=0.03), cohort
    assert cohorts["gone_quiet"].to_dict() == {"top 20%": 0, "middle 60%": 8, "bottom 20%": 0, "all": 8}
    assert (typical.windows, typical.median, typical.low, typical.high) == (11, 2, 0, 3)
    causes = investigation_causes.explain(rows, investigation_causes.Context(typical=typical))
    why = [(c.cause, c.contribution) for c in causes if c.role == "why"]
    assert [cause for cause, _ in why] == ["basket_shrink", "account_mix"]
    assert round(float(why[0][1]), 2) == -71.71
    quiet = next(c for c in causes if c.cause == "accounts_gone_quiet")
    assert quiet.role == "ruled_out" and quiet.contribution > 0  # the 8 had below-average AOV


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
    from aov_assets.ingest.sources.sample import SampleMerchant

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


def test_a_scaled_merchant_keeps_the_worked_example_with_every_count_multiplied(sample, example_orders):
    """AOV_SAMPLE_SCALE=3: three times the orders, companies and consumers under ids of their own, and the
    same AOVs and percentages as of the last day."""
    scaled = SampleMerchant(scale=3)
    days = [EXAMPLE_FIRST_DAY + timedelta(days=i) for i in range(60)]
    orders, rejected = classify_orders(scaled.iter_days(days), "grand_total", segment_rule_of(sample))
    assert rejected.empty and len(orders) == 3 * len(example_orders)
    assert orders["entity_id"].is_unique
    for column in ("company_id", "customer_key"):
        assert orders[column].nunique() == 3 * example_orders[column].nunique(), column
    one, three = (
        card_rows(window_sums(sums_by_day(frame), EXAMPLE_DAY, EXAMPLE_DAY), AlertRule(Decimal(15))).set_index(
            "segment"
        )
        for frame in (example_orders, orders)
    )
    assert (three["orders"] == 3 * one["orders"]).all() and (three["revenue"] == 3 * one["revenue"]).all()
    for column in ("aov", "prior_aov", "aov_change_pct", "multiplier", "alert"):
        assert three[column].tolist() == one[column].tolist(), column
    assert scaled.orders_created_on(EXAMPLE_DAY) == SampleMerchant(scale=3).orders_created_on(EXAMPLE_DAY)


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "ten", "²"])
def test_a_bad_sample_scale_is_one_clear_error(value):
    with pytest.raises(ValueError, match=rf"AOV_SAMPLE_SCALE must be a whole number of 1 or more .*{value}"):
        sample_scale({"AOV_SAMPLE_SCALE": value})
    assert sample_scale({}) == sample_scale({"AOV_SAMPLE_SCALE": " "}) == 1


@pytest.mark.parametrize(
    ("story", "b2b_aov", "verdict", "quiet"),
    [("steady", "777.89", "ok", 0), ("key_accounts_lost", "642.65", "alert", 20)],
)
def test_the_other_stories_tell_their_own(story, b2b_aov, verdict, quiet):
    merchant = SampleMerchant(story=story)
    days = [EXAMPLE_FIRST_DAY + timedelta(days=i) for i in range(60)]
    orders, rejected = classify_orders(merchant.iter_days(days), "grand_total", segment_rule_of(merchant))
    assert rejected.empty
    card = card_rows(window_sums(sums_by_day(orders), EXAMPLE_DAY, EXAMPLE_DAY), AlertRule(Decimal(15)))
    b2b = card.set_index("segment").loc["b2b"]
    assert (b2b["prior_aov"], b2b["aov"], b2b["verdict"]) == (Decimal("770.00"), Decimal(b2b_aov), verdict)
    quiet_top = merchant.company_table[merchant.company_table["quiet"]]
    assert len(quiet_top) == quiet and set(quiet_top["cohort"]) <= {"top"}
