"""The card's neighbours: segment_metrics_30d and currency_aov_30d, by hand on a small merchant.

Nine orders, January to February 2026 (first partition 2026-01-01). As of 2026-03-01 the current
window is 01-31..03-01 and the prior one 01-01..01-30:

    prior    #1 01-05 B2B company 10 (customer 101)  100.00, 2 lines
             #2 01-10 B2C customer 201                 50.00, 1 line
             #3 01-12 B2C guest Guest@Example.com      20.00, 1 line
    current  #4 02-02 B2B company 10                  300.00, 3 lines
             #5 02-03 B2B customer 201, no company     80.00, 2 lines (moved from B2C: same key)
             #6 02-04 B2C guest guest@example.com      30.00, 1 line (the same guest, lower-cased)
             #7 02-05 B2C customer 202, sold in GBP    50.00 (GBP 40.00), 1 line, 10.00 refunded
             #8 02-06 B2C guest without an email       10.00, 1 line (its own key: order:8)
             #9 02-07 B2C canceled                    999.00 (not counted)
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from aov_assets.around import assets as around_assets
from aov_assets.around.neighbours import Neighbours
from aov_assets.around.rules import active_and_repeat
from aov_assets.metrics import tables as metrics_tables
from aov_assets.metrics.card import Card
from aov_assets.metrics.windows import AlertRule

from ..conftest import Pipeline, classified_orders, currency_aov, daily_aov, read_table, segment_metrics, write_manifest

FIRST = date(2026, 1, 1)
AS_OF = date(2026, 3, 1)
EARLY = date(2026, 1, 15)  # its prior window (2025-11-17..12-16) is before the first partition
CHAIN = [classified_orders, daily_aov, segment_metrics, currency_aov]


def order(entity_id: int, day: str, total: str, lines: int, **fields) -> bytes:
    body = {
        "entity_id": entity_id,
        "increment_id": f"{entity_id:09d}",
        "created_at": f"2026-{day} 10:00:00",
        "updated_at": f"2026-{day} 10:00:00",
        "state": "complete",
        "status": "complete",
        "store_id": 1,
        "customer_group_id": 1,
        "customer_id": None,
        "base_currency_code": "USD",
        "order_currency_code": "USD",
        "base_to_global_rate": 1,
        "base_grand_total": total,
        "grand_total": total,
        "base_subtotal": total,
        "subtotal": total,
        "items": [{"item_id": i} for i in range(lines)],
    } | fields
    return json.dumps(body).encode()


def company(company_id: int) -> dict:
    return {"extension_attributes": {"company_order_attributes": {"company_id": company_id, "company_name": "Acme"}}}


ORDERS = [
    order(1, "01-05", "100.00", 2, customer_group_id=2, customer_id=101, **company(10)),
    order(2, "01-10", "50.00", 1, customer_id=201),
    order(3, "01-12", "20.00", 1, customer_email="Guest@Example.com"),
    order(4, "02-02", "300.00", 3, customer_group_id=2, customer_id=101, **company(10)),
    order(5, "02-03", "80.00", 2, customer_group_id=2, customer_id=201),
    order(6, "02-04", "30.00", 1, customer_email="guest@example.com "),
    order(
        7,
        "02-05",
        "50.00",
        1,
        customer_id=202,
        order_currency_code="GBP",
        grand_total="40.00",
        subtotal="40.00",
        base_total_refunded="10.00",
    ),  # fmt: skip
    order(8, "02-06", "10.00", 1),
    order(9, "02-07", "999.00", 1, customer_id=203, state="canceled", status="canceled"),
]


@pytest.fixture
def merchant(tmp_path, warehouse_url) -> Pipeline:
    """The nine orders in the lake, every day 01-01..03-01 present; SQLite and PostgreSQL."""
    pipeline = Pipeline(tmp_path, write_manifest(tmp_path / "aov.yaml", start_date="'2026-01-01'"))
    pipeline.url = None if warehouse_url.startswith("sqlite") else warehouse_url
    lake = pipeline.resources["lake"].raw_orders("default")
    by_day: dict[date, list[bytes]] = {}
    for payload in ORDERS:
        by_day.setdefault(date.fromisoformat(json.loads(payload)["created_at"][:10]), []).append(payload)
    for i in range((AS_OF - FIRST).days + 1):
        day = FIRST + timedelta(days=i)
        lake.write_day(day, by_day.get(day, []), source="test")
    return pipeline


def metrics(pipeline: Pipeline, as_of: date) -> dict[str, dict]:
    table = read_table(pipeline, "segment_metrics_30d")
    table = table.astype(object).where(table.notna(), None)  # NULL as None, not NaN
    return {row["segment"]: row for row in table[table["as_of"] == as_of].to_dict("records")}


def test_every_measure_matches_the_hand_count(merchant):
    assert merchant.materialize(CHAIN, str(FIRST), str(AS_OF)).success  # one range run
    m = metrics(merchant, AS_OF)
    expected = {  # (now, prior) per measure; Decimal("...") exact as stored
        "b2b": {
            "revenue_share_pct": ("80.8511", "58.8235"),  # 380 / 470, 100 / 170
            "active_customers": (2, 1),  # company:10 and customer:201 (the mover) / company:10
            "orders_per_customer": ("1.0000", "1.0000"),
            "repeat_rate_pct": ("100.0000", "0.0000"),  # both ordered before 01-31 (201 as B2C)
            "new_customers": (0, 1),
            "lines_per_order": ("2.5000", "2.0000"),
            "value_per_line": ("76.00", "50.00"),
            "refund_rate_pct": ("0.0000", "0.0000"),
        },
        "b2c": {
            "revenue_share_pct": ("19.1489", "41.1765"),  # 90 / 470, 70 / 170
            "active_customers": (3, 2),  # the guest, customer:202, order:8 / customer:201, the guest
            "orders_per_customer": ("1.0000", "1.0000"),
            "repeat_rate_pct": ("33.3333", "0.0000"),  # only the guest came back
            "new_customers": (2, 2),
            "lines_per_order": ("1.0000", "1.0000"),
            "value_per_line": ("30.00", "35.00"),
            "refund_rate_pct": ("11.1111", "0.0000"),  # 10 / 90
        },
        "all": {
            "revenue_share_pct": ("100.0000", "100.0000"),
            "active_customers": (5, 3),  # customer:201 counts once in the union
            "orders_per_customer": ("1.0000", "1.0000"),
            "repeat_rate_pct": ("60.0000", "0.0000"),
            "new_customers": (2, 3),
            "lines_per_order": ("1.6000", "1.3333"),  # 8 / 5, 4 / 3
            "value_per_line": ("58.75", "42.50"),  # 470 / 8, 170 / 4
            "refund_rate_pct": ("2.1277", "0.0000"),  # 10 / 470
        },
    }
    for segment, measures in expected.items():
        for name, (now, prior) in measures.items():
            got = (m[segment][name], m[segment][f"prior_{name}"])
            want = tuple(Decimal(v) if isinstance(v, str) else v for v in (now, prior))
            assert got == want, (segment, name)
    assert m["b2b"]["revenue_share_pct_change"] == Decimal("22.0276")  # points
    assert m["b2b"]["active_customers_change"] == Decimal("100.0000")  # percent
    assert m["b2c"]["orders"] == 3 and m["b2c"]["refunded"] == Decimal("10.00")  # the canceled order is not counted

    currencies = read_table(merchant, "currency_aov_30d")
    rows = {(r["segment"], r["currency"]): r for r in currencies[currencies["as_of"] == AS_OF].to_dict("records")}
    gbp = rows[("b2c", "GBP")]
    assert (gbp["orders"], gbp["revenue"], gbp["aov"], gbp["prior_aov"]) == (
        1,
        Decimal("40.00"),
        Decimal("40.00"),
        None,
    )
    assert (gbp["global_aov"], gbp["aov_change_pct"]) == (Decimal("50.00"), None)  # no exchange rate in the GBP AOV
    usd = rows[("b2c", "USD")]
    assert (usd["orders"], usd["aov"], usd["prior_aov"]) == (2, Decimal("20.00"), Decimal("35.00"))
    assert usd["aov_change_pct"] == Decimal("-42.8571")
    assert (rows[("all", "USD")]["aov"], rows[("all", "USD")]["prior_aov"]) == (Decimal("105.00"), Decimal("56.67"))
    assert rows[("b2b", "USD")]["aov_change_pct"] == Decimal("90.0000")


def test_a_window_before_the_first_partition_says_not_enough_history_not_zero(merchant):
    assert merchant.materialize(CHAIN, str(FIRST), str(AS_OF)).success
    early = metrics(merchant, EARLY)["b2b"]
    assert (early["days"], early["prior_days"]) == (15, 0)
    assert early["active_customers"] == 1 and early["prior_active_customers"] is None
    assert early["prior_revenue_share_pct"] is None and early["revenue_share_pct_change"] is None
    neighbours = Neighbours.by_day(*merchant.warehouse().read_neighbours(EARLY, EARLY))[EARLY]
    assert "B2B share of revenue 58.8% (prior: not enough history)" in neighbours.lines()
    assert neighbours.as_json()["neighbours"]["b2b"]["prior_active_customers"] is None


def test_rerunning_a_range_replaces_its_rows(merchant):
    assert merchant.materialize(CHAIN, str(FIRST), str(AS_OF)).success
    before = {name: read_table(merchant, name) for name in ("segment_metrics_30d", "currency_aov_30d")}
    assert len(before["segment_metrics_30d"]) == 60 * 3
    assert merchant.materialize([segment_metrics, currency_aov], "2026-02-01", str(AS_OF)).success
    for name, frame in before.items():
        pd.testing.assert_frame_equal(read_table(merchant, name), frame)


def test_days_classified_without_customer_keys_leave_only_the_counts_they_touch_empty(merchant):
    """A warehouse classified by an older version: no run fails and no alert is held back; the counts
    that would need the missing keys are empty until `aov backfill` re-classifies those days."""
    assert merchant.materialize(CHAIN, str(FIRST), str(AS_OF)).success
    warehouse = merchant.warehouse()
    with warehouse.engine.begin() as connection:
        t = metrics_tables.classified_orders
        connection.execute(t.update().where(t.c.order_date == date(2026, 2, 2)).values(customer_key=None))
    with dg.instance_for_test() as instance:
        result = merchant.materialize([segment_metrics], str(FIRST), str(AS_OF), instance)
        assert result.success
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("Re-classify them: aov backfill --from 2026-02-02 --to 2026-02-02" in line for line in logged)
    now = metrics(merchant, AS_OF)["b2b"]
    assert now["revenue_share_pct"] == Decimal("80.8511")  # sums do not need keys
    assert (now["active_customers"], now["repeat_rate_pct"], now["new_customers"]) == (None, None, None)
    assert now["prior_active_customers"] == 1  # the prior window (01-01..01-30) holds no such day
    assert metrics(merchant, EARLY)["b2b"]["repeat_rate_pct"] == Decimal("0.0000")  # before the first such day


def test_as_of_days_read_in_chunks_give_the_same_rows(merchant, monkeypatch):
    assert merchant.materialize(CHAIN, str(FIRST), str(AS_OF)).success
    whole = read_table(merchant, "segment_metrics_30d")
    monkeypatch.setattr(around_assets, "NEIGHBOUR_ORDERS", 1)  # 30 as-of days per chunk: two chunks here
    assert merchant.materialize([segment_metrics], str(FIRST), str(AS_OF)).success
    pd.testing.assert_frame_equal(read_table(merchant, "segment_metrics_30d"), whole)


def test_the_card_shows_the_neighbours_in_text_json_and_markdown(merchant):
    assert merchant.materialize(CHAIN, str(FIRST), str(AS_OF)).success
    warehouse = merchant.warehouse()
    neighbours = Neighbours.by_day(*warehouse.read_neighbours(AS_OF, AS_OF))[AS_OF]
    lines = neighbours.lines()
    assert lines[0] == "B2B share of revenue 80.9% (prior 58.8%, +22.0 pts)"
    assert not any(line.startswith("B2B in GBP") for line in lines)  # GBP is sold to B2C only
    assert any(line.startswith("B2B in USD: AOV 190.00 USD (prior 100.00, +90.0%)") for line in lines)
    payload = neighbours.as_json()
    assert payload["neighbours"]["b2c"]["repeat_rate_pct"] == pytest.approx(33.3333)
    assert {c["currency"] for c in payload["currencies"]} == {"USD", "GBP"}
    assert "| repeat rate pct | 100.0% (0.0%) | 33.3% (0.0%) | 60.0% (0.0%) |" in neighbours.markdown()
    card = Card.stored(warehouse, AS_OF, AlertRule(Decimal(15)))
    assert card is None  # aov_30d was not materialized: no card, rather than a card without its numbers


def test_distinct_customers_over_every_window_match_a_brute_force_count():
    rng = random.Random(7)
    days, keys = 120, 40
    pairs = [(rng.randrange(days), rng.randrange(keys)) for _ in range(300)]
    day = np.array([d for d, _ in pairs])
    key = np.array([k for _, k in pairs])
    first = np.array([min([d for d, k in pairs if k == j], default=days) - rng.choice([0, 0, 45]) for j in range(keys)])
    active, repeat = active_and_repeat(day, key, first, days)
    for end in range(days):
        window = {k for d, k in pairs if end - 29 <= d <= end}
        assert active[end] == len(window), end
        assert repeat[end] == sum(1 for k in window if first[k] < end - 29), end
