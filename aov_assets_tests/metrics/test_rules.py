import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from aov_assets.core.money import average_cents, money_to_cents, ratio_to_money
from aov_assets.ingest.parse import RejectedOrder, parse_order
from aov_assets.metrics.segments import SegmentRule, classify, classify_orders, resolve_ids
from aov_assets.metrics.windows import AlertRule, Totals, b2b_verdict, card_rows, ttm_rows, window_sums

DAY = date(2026, 5, 3)
GROUPS = [{"id": 0, "code": "NOT LOGGED IN"}, {"id": 1, "code": "General"}, {"id": 2, "code": "Wholesale"}]


def rest_order(**fields) -> bytes:
    """A REST order as Adobe Commerce returns it; money as JSON numbers written by hand."""
    order = {
        "entity_id": 1,
        "increment_id": "000000001",
        "created_at": "2026-05-03 14:02:11",
        "updated_at": "2026-05-03 15:00:00",
        "state": "complete",
        "status": "complete",
        "store_id": 1,
        "customer_group_id": 1,
        "customer_id": 7,
        "base_currency_code": "USD",
        "order_currency_code": "USD",
        "base_to_global_rate": 1,
        "base_grand_total": 100.10,
        "grand_total": 100.10,
        "base_subtotal": 90.00,
        "items": [{"item_id": 1, "sku": "A"}],
    }
    order.update(fields)
    return json.dumps({k: v for k, v in order.items() if v is not ...}).encode()


def test_order_value_is_exact_decimal_from_the_json_text():
    rows = [parse_order(rest_order(entity_id=i, base_grand_total=0.1), DAY, "grand_total") for i in range(10)]
    assert sum(row["order_value"] for row in rows) == Decimal("1.00")  # 0.1 * 10 with floats is 0.9999999999999999
    assert rows[0]["base_grand_total"] == Decimal("0.1")


def test_order_value_applies_base_to_global_rate_and_rounds_half_up_to_the_cent():
    row = parse_order(rest_order(base_grand_total=100.25, base_to_global_rate=0.7350), DAY, "grand_total")
    assert row["order_value"] == Decimal("73.68")  # 73.68375 -> 73.68
    row = parse_order(rest_order(base_grand_total=10.10, base_to_global_rate=1.25), DAY, "grand_total")
    assert row["order_value"] == Decimal("12.63")  # 12.625 -> 12.63 (half up, not half even)


def test_subtotal_basis_uses_base_subtotal():
    row = parse_order(rest_order(base_subtotal=80.00, base_to_global_rate=1.5), DAY, "subtotal")
    assert row["order_value"] == Decimal("120.00")


def test_configurable_children_are_not_counted_as_lines():
    items = [
        {"item_id": 1, "sku": "GLOVES", "product_type": "configurable"},
        {"item_id": 2, "sku": "GLOVES-L", "parent_item_id": 1},
        {"item_id": 3, "sku": "BUNDLE", "product_type": "bundle"},
        {"item_id": 4, "sku": "PART-1", "parent_item_id": 3},
        {"item_id": 5, "sku": "PART-2", "parent_item_id": 3},
        {"item_id": 6, "sku": "SOAP", "parent_item_id": None},
    ]
    assert parse_order(rest_order(items=items), DAY, "grand_total")["line_items"] == 3


def test_canceled_is_not_counted_but_pending_payment_is():
    assert parse_order(rest_order(state="canceled"), DAY, "grand_total")["counted"] is False
    assert parse_order(rest_order(state="pending_payment"), DAY, "grand_total")["counted"] is True
    assert parse_order(rest_order(state="closed"), DAY, "grand_total")["counted"] is True  # gross: refunds stay


def test_company_id_from_order_attributes_or_the_customer_side_name():
    ext = {"company_order_attributes": {"company_id": 42, "company_name": "Harbor"}}
    assert parse_order(rest_order(extension_attributes=ext), DAY, "grand_total")["company_id"] == 42
    ext = {"company_attributes": {"company_id": "43"}}
    assert parse_order(rest_order(extension_attributes=ext), DAY, "grand_total")["company_id"] == 43
    assert parse_order(rest_order(extension_attributes={}), DAY, "grand_total")["company_id"] is None


def test_created_at_is_utc_and_an_explicit_offset_is_converted():
    row = parse_order(rest_order(created_at="2026-05-03 23:59:59"), DAY, "grand_total")
    assert row["created_at"] == datetime(2026, 5, 3, 23, 59, 59)
    row = parse_order(rest_order(created_at="2026-05-03T20:00:00-02:00"), DAY, "grand_total")
    assert row["created_at"] == datetime(2026, 5, 3, 22, 0)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"entity_id": ...}, "missing required field `entity_id`"),
        ({"base_grand_total": "12,50"}, "Invalid decimal string - at `$.base_grand_total`"),
        ({"base_grand_total": -5}, "base_grand_total is not a non-negative number"),
        ({"base_to_global_rate": ...}, "base_to_global_rate and global_currency_code are missing"),
        (
            {"base_to_global_rate": ..., "global_currency_code": "EUR"},
            "base_to_global_rate is missing and global_currency_code 'EUR' is not base_currency_code 'USD'",
        ),
        ({"extension_attributes": [1]}, "extension_attributes is a list, not an object: [1]"),
        ({"created_at": "yesterday"}, "created_at is not a timestamp"),
        ({"created_at": "2026-05-04 00:00:00"}, "is not on the requested day 2026-05-03"),
        ({"items": [1, 2]}, "Expected `object`, got `int` - at `$.items[0]`"),
        ({"items": ...}, "missing required field `items`"),
    ],
)
def test_unreadable_orders_are_rejected_with_the_reason(fields, reason):
    with pytest.raises(RejectedOrder, match=reason.replace("[", r"\[").replace("$", r"\$")):
        parse_order(rest_order(**fields), DAY, "grand_total")


def test_garbage_is_rejected_not_crashed_on():
    with pytest.raises(RejectedOrder, match="not a JSON order"):
        parse_order(b"<html>502 Bad Gateway</html>", DAY, "grand_total")


def orders_frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype=object)


def test_company_or_group_routing_reasons():
    orders = orders_frame(
        company_id=[42, None, None, None],
        customer_group_id=[1, 2, 1, 0],
        store_id=[1, 1, 1, 1],
    )
    result = classify(orders, SegmentRule("company_or_group", b2b_group_ids=frozenset({2})))
    assert result["segment"].tolist() == ["b2b", "b2b", "b2c", "b2c"]
    assert result["segment_reason"].tolist() == ["company", "customer_group", "default", "default"]


def test_store_view_routing_ignores_company_and_group():
    orders = orders_frame(company_id=[42, None], customer_group_id=[2, 1], store_id=[1, 2])
    result = classify(orders, SegmentRule("store_view", b2b_store_ids=frozenset({2})))
    assert result["segment"].tolist() == ["b2c", "b2b"]
    assert result["segment_reason"].tolist() == ["default", "store_view"]


def test_classification_uses_the_group_on_the_order_not_the_customer_today():
    # Customer 7 bought as General, then was moved to Wholesale: only the later order is B2B.
    before = rest_order(entity_id=1, customer_id=7, customer_group_id=1, created_at="2026-05-03 09:00:00")
    after = rest_order(entity_id=2, customer_id=7, customer_group_id=2, created_at="2026-05-03 17:00:00")
    orders, _ = classify_orders(
        [(DAY, [before, after])], "grand_total", SegmentRule("company_or_group", frozenset({2}))
    )
    assert orders.set_index("entity_id")["segment"].to_dict() == {1: "b2c", 2: "b2b"}


def test_classify_orders_keeps_every_payload_in_exactly_one_table():
    payloads = [
        rest_order(entity_id=1),
        rest_order(entity_id=2, base_grand_total="n/a"),
        rest_order(entity_id=3, updated_at="2026-05-03 16:00:00", base_grand_total=10),
        rest_order(entity_id=3, updated_at="2026-05-03 18:00:00", base_grand_total=12),  # same order, newer copy
    ]
    orders, rejected = classify_orders([(DAY, payloads)], "grand_total", SegmentRule("company_or_group"))
    assert len(orders) + len(rejected) == len(payloads)
    assert orders["entity_id"].tolist() == [1, 3]
    assert orders.set_index("entity_id").at[3, "order_value"] == Decimal("12.00")
    assert rejected["position"].tolist() == [1, 2]
    assert "Invalid decimal string" in rejected["reason"][0]
    assert "duplicate entity_id 3" in rejected["reason"][1]
    assert json.loads(rejected["payload"][1])["base_grand_total"] == 10


def test_codes_resolve_case_insensitively_and_numeric_ids_are_checked():
    assert resolve_ids(["wholesale", 1], GROUPS, "customer group") == frozenset({2, 1})
    with pytest.raises(
        ValueError, match=r"unknown customer group 'Trade'; the store has: NOT LOGGED IN \(0\), General"
    ):
        resolve_ids(["Trade"], GROUPS, "customer group")
    with pytest.raises(ValueError, match="unknown customer group 9"):
        resolve_ids([9], GROUPS, "customer group")


RULE = AlertRule(drop_pct=Decimal(15), direction="contraction", min_orders=30)


def totals(orders: int, aov_cents: int) -> Totals:
    return Totals(orders, orders * aov_cents)


def test_exactly_fifteen_percent_down_does_not_fire_and_fifteen_point_zero_one_does():
    prior = totals(100, 100_00)
    assert b2b_verdict(totals(100, 85_00), prior, RULE).code == "ok"  # -15.00%
    assert b2b_verdict(totals(10_000, 8_499), totals(10_000, 10_000), RULE).code == "alert"  # -15.01%
    assert b2b_verdict(totals(100, 84_99), prior, RULE).fired


def test_the_worked_example_fires():
    verdict = b2b_verdict(Totals(1420, 912_800_00), Totals(1380, 1_062_600_00), RULE)
    assert verdict.fired
    assert verdict.explanation == "B2B AOV down 16.5173% vs the prior 30 days (threshold 15%)"


def test_min_orders_gives_no_verdict_in_either_window():
    assert b2b_verdict(totals(29, 50_00), totals(100, 100_00), RULE).code == "too_few_orders"
    assert b2b_verdict(totals(100, 50_00), totals(29, 100_00), RULE).code == "too_few_orders"
    assert b2b_verdict(totals(30, 50_00), totals(30, 100_00), RULE).code == "alert"


def test_rising_aov_alerts_only_when_direction_asks():
    up, prior = totals(100, 120_00), totals(100, 100_00)
    assert b2b_verdict(up, prior, RULE).code == "ok"
    assert b2b_verdict(up, prior, AlertRule(Decimal(15), "expansion")).fired
    assert b2b_verdict(up, prior, AlertRule(Decimal(15), "both")).fired
    assert not b2b_verdict(totals(100, 80_00), prior, AlertRule(Decimal(15), "expansion")).fired


def test_an_incomplete_window_gives_no_verdict():
    assert b2b_verdict(totals(100, 50_00), totals(100, 100_00), RULE, complete=False).code == "incomplete_window"


def daily(first: date, days: int, b2b=(10, 100_000), b2c=(50, 50_000), skip=()) -> pd.DataFrame:
    rows = []
    for i in range(days):
        day = first + timedelta(days=i)
        if day in skip:
            continue
        rows += [
            {"order_date": day, "segment": "b2b", "orders": b2b[0], "revenue_cents": b2b[1], "line_items": 3 * b2b[0]},
            {"order_date": day, "segment": "b2c", "orders": b2c[0], "revenue_cents": b2c[1], "line_items": b2c[0]},
        ]
    return pd.DataFrame(rows)


def test_windows_are_d_minus_29_to_d_and_d_minus_59_to_d_minus_30():
    first = date(2026, 1, 1)
    frame = daily(first, 90)
    # One extra big B2B order exactly on D-30 (prior window) and one on D-29 (current window).
    as_of = date(2026, 3, 31)
    for offset in (30, 29):
        frame.loc[(frame.order_date == as_of - timedelta(days=offset)) & (frame.segment == "b2b"), "orders"] += 1
    sums = window_sums(frame, as_of, as_of).set_index("segment")
    assert sums.at["b2b", "orders"] == 30 * 10 + 1
    assert sums.at["b2b", "prior_orders"] == 30 * 10 + 1
    assert sums.at["all", "revenue_cents"] == 30 * 150_000
    assert (sums.at["b2b", "days"], sums.at["b2b", "prior_days"]) == (30, 30)


def test_a_missing_day_is_counted_not_hidden():
    first = date(2026, 1, 1)
    frame = daily(first, 60, skip={date(2026, 2, 10)})
    sums = window_sums(frame, date(2026, 3, 1), date(2026, 3, 1)).set_index("segment")
    assert sums.at["b2b", "days"] == 29
    rows = card_rows(window_sums(frame, date(2026, 3, 1), date(2026, 3, 1)), RULE)
    assert set(rows["verdict"]) == {"incomplete_window"}


def test_card_rows_compute_aov_change_multiplier_and_alert_from_exact_sums():
    first = date(2026, 1, 1)
    prior = daily(first, 30, b2b=(46, 3_542_000), b2c=(157, 1_073_667))
    current = daily(first + timedelta(days=30), 30, b2b=(47, 3_042_667), b2c=(155, 1_058_467))
    rows = card_rows(window_sums(pd.concat([prior, current]), date(2026, 3, 1), date(2026, 3, 1)), RULE)
    b2b = rows.set_index("segment").loc["b2b"]
    assert b2b["aov"] == Decimal("647.38")  # 3,042,667 * 30 / (47 * 30) cents
    assert b2b["prior_aov"] == Decimal("770.00")
    assert b2b["aov_change_pct"] == Decimal("-15.9252")  # (30,426.67/47) / (35,420.00/46) - 1
    assert b2b["alert"] and b2b["verdict"] == "alert"
    assert rows.set_index("segment").loc["b2c", "alert"] == False  # noqa: E712 - numpy bool
    assert rows["multiplier"].nunique() == 1


def test_ttm_covers_the_twelve_months_ending_with_the_month():
    frame = daily(date(2025, 1, 1), 365 + 31)  # 2025-01-01 .. 2026-01-31
    rows = ttm_rows(frame, date(2025, 12, 1), date(2026, 1, 1)).set_index(["month", "segment"])
    assert rows.loc[("2025-12", "b2b"), "orders"] == 365 * 10
    assert rows.loc[("2025-12", "b2b"), "days"] == 365
    assert rows.loc[("2026-01", "b2c"), "revenue"] == Decimal(365 * 500)
    assert rows.loc[("2026-01", "all"), "aov"] == Decimal("25.00")  # (1,000 + 500) / (10 + 50) per day
    assert rows.loc[("2026-01", "b2b"), "multiplier"] == Decimal("10.0000")


def test_average_cents_rounds_like_ratio_to_money():
    rng = np.random.default_rng(3)
    cents, counts = rng.integers(0, 10_000_000, 5_000), rng.integers(0, 40, 5_000)
    cents[:3], counts[:3] = (5, 15, 7), (2, 2, 0)  # ties 2.5 -> 3, 7.5 -> 8; no orders -> missing
    got = average_cents(pd.Series(cents), pd.Series(counts))
    expected = [None if n == 0 else money_to_cents(ratio_to_money(c, n)) for c, n in zip(cents, counts)]
    assert [None if pd.isna(v) else int(v) for v in got] == expected
    assert got[:3].tolist()[:2] == [3, 8]
