"""Bad input never stops a run: every payload is classified or rejected with a reason, on SQLite and PostgreSQL.

The fuzz test mutates good REST orders in 1,200 seeded ways (values at and beyond every limit the
warehouse has, wrong types, broken bytes, deep nesting) and puts them in one real day with good
orders, through the pipeline's own path: lake file -> classify_orders -> warehouse partition write.
"""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa

from aov_assets.health import doctor as health_doctor
from aov_assets.ingest.lake import RawOrderLake
from aov_assets.ingest.parse import RejectedOrder, parse_order
from aov_assets.metrics import tables as metrics_tables
from aov_assets.metrics.segments import SegmentRule, classify_orders
from aov_assets.warehouse import Warehouse

from ..conftest import classified_orders, raw_orders
from ..metrics.test_rules import DAY, rest_order

RULE = SegmentRule("company_or_group", frozenset({2}))
HUGE = 2**63
BAD_VALUES = [
    HUGE,
    -1,
    "1e3",
    "12abc",
    1e26,
    "1e26",
    1e16,
    "NaN",
    "Infinity",
    "-0",
    -0.0,
    0,
    1e12,
    12.34567,
    "x" * 300,
    "a\u0000b",
    "\ud800",
    True,
    None,
    [],
    {"nested": 1},
    "2026-05-03T10:00:00+14:00",
    "9999-12-31T23:59:59-05:00",
    "",
]
FIELDS = [
    "entity_id",
    "increment_id",
    "created_at",
    "updated_at",
    "state",
    "status",
    "store_id",
    "customer_group_id",
    "customer_id",
    "base_currency_code",
    "order_currency_code",
    "base_to_global_rate",
    "base_grand_total",
    "grand_total",
    "base_subtotal",
    "base_total_refunded",
    "company_id",
    "company_name",
]


def mutated(rng: random.Random, entity_id: int) -> bytes:
    """One good order with one to three fields set to bad values, or its bytes broken."""
    kind = rng.random()
    good = rest_order(entity_id=entity_id, customer_group_id=2)
    if kind < 0.06:
        return good[: rng.randrange(1, len(good))]  # truncated
    if kind < 0.09:
        return good.replace(b'"complete"', b'"compl\xff\xfete"', 1)  # invalid UTF-8
    if kind < 0.11:
        return b'{"entity_id": %d, "deep": %s%s}' % (entity_id, b"[" * 5000, b"]" * 5000)
    order = json.loads(good)
    for _ in range(rng.randint(1, 3)):
        field, value = rng.choice(FIELDS), rng.choice(BAD_VALUES)
        if field in ("company_id", "company_name"):
            attributes = {"company_id": 5, "company_name": "Acme"} | {field: value}
            order["extension_attributes"] = {"company_order_attributes": attributes}
        else:
            order[field] = value
    return json.dumps(order).encode("utf-8", errors="surrogatepass")


def test_every_mutated_order_is_classified_or_rejected_with_a_reason(tmp_path, warehouse_url):
    rng = random.Random(20261123)
    good = [rest_order(entity_id=i, customer_group_id=2) for i in range(1, 208)]
    bad = [mutated(rng, 10_000 + i) for i in range(1_200)]
    payloads = good + bad
    lake = RawOrderLake(tmp_path / "lake")
    lake.write_day(DAY, payloads, source="fuzz")
    assert lake.read_day(DAY) == payloads  # the lake keeps every byte, valid UTF-8 or not

    orders, rejected = classify_orders([(DAY, lake.read_day(DAY))], "grand_total", RULE)
    with Warehouse(warehouse_url).replacing(
        [metrics_tables.classified_orders, metrics_tables.rejected_orders], DAY, DAY
    ) as write:
        write(metrics_tables.classified_orders, orders)
        write(metrics_tables.rejected_orders, rejected)

    assert len(orders) + len(rejected) == len(payloads)
    assert rejected["reason"].str.len().min() > 0
    assert set(range(1, 208)) <= set(orders["entity_id"])  # no good order was lost to a bad one
    assert len(rejected) > 600  # the mutations are mostly bad: the test exercises the reject paths
    assert orders["order_value"].max() <= Decimal(10_000_000)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"entity_id": HUGE}, "entity_id is out of range (0..2^63-1): 9223372036854775808"),
        ({"customer_id": -1}, "customer_id is out of range"),
        ({"store_id": "1e3"}, "store_id is not an integer id: '1e3'"),
        ({"base_grand_total": 1e26}, "base_grand_total has more than 16 integer digits"),
        ({"base_grand_total": "NaN"}, "base_grand_total is not a non-negative number: NaN"),
        ({"base_grand_total": 12.34567}, "base_grand_total has more than 4 decimal places"),
        ({"base_to_global_rate": "-0"}, "base_to_global_rate must be above 0"),
        (
            {"base_grand_total": 1e12},
            "order value 1000000000000.00 (global currency) is above validation.max_order_value",
        ),
        ({"increment_id": "x" * 51}, "increment_id is longer than 50 characters"),
        ({"status": "a\u0000b"}, "status contains a NUL character: 'a\\x00b'"),
        ({"state": "\ud800"}, "not a JSON order: JSON is malformed: unexpected end of escaped utf-16 surrogate"),
        ({"created_at": "9999-12-31T23:59:59-05:00"}, "created_at is not a timestamp"),
        ({"extension_attributes": {"company_order_attributes": {"company_id": -1}}}, "company_id is out of range"),
    ],
)
def test_each_kind_of_bad_value_is_rejected_with_a_reason_naming_the_field(fields, reason):
    payload = json.dumps(json.loads(rest_order()) | fields).encode("utf-8", errors="surrogatepass")
    with pytest.raises(RejectedOrder) as error:
        parse_order(payload, DAY, "grand_total")
    assert str(error.value).startswith(reason)


def test_the_plausibility_limit_comes_from_the_manifest():
    payload = rest_order(base_grand_total=20_000_000)
    assert parse_order(payload, DAY, "grand_total", max_order_value=Decimal(50_000_000))["order_value"] == Decimal(
        "20000000.00"
    )
    with pytest.raises(RejectedOrder, match="above validation.max_order_value 10000000"):
        parse_order(payload, DAY, "grand_total")


def test_one_absurd_order_no_longer_hides_the_contraction(sample):
    """The issue's case: one B2B order of 1e12 in the worked example's last day used to be counted."""
    absurd = rest_order(entity_id=99_999_999, customer_group_id=2, created_at="2026-05-03 12:00:00")
    absurd = json.loads(absurd) | {"base_grand_total": 1e12, "grand_total": 1e12}
    day = date(2026, 5, 3)
    payloads = [*next(iter(sample.iter_days([day])))[1], json.dumps(absurd).encode()]
    orders, rejected = classify_orders([(day, payloads)], "grand_total", RULE)
    assert 99_999_999 not in set(orders["entity_id"])
    assert rejected["reason"].tolist() == [
        "order value 1000000000000.00 (global currency) is above validation.max_order_value 10000000"
    ]


def test_a_truncated_lake_file_fails_the_run_with_one_line_naming_the_file_and_the_fix(pipeline):
    day = "2026-05-03"
    assert dg.materialize([raw_orders], resources=pipeline.resources, partition_key=day).success
    path = RawOrderLake(pipeline.root / "lake" / "raw_orders").path_for(date.fromisoformat(day))
    path.write_bytes(path.read_bytes()[:1000])
    result = dg.materialize([classified_orders], resources=pipeline.resources, partition_key=day, raise_on_error=False)
    failure = next(event for event in result.all_events if event.is_step_failure).step_failure_data
    line = failure.user_failure_data.description
    assert line.startswith(f"raw_orders file {path} cannot be read (")
    assert line.endswith(f"fetch the day again with: aov backfill --from {day} --to {day}") and "\n" not in line

    finding = health_doctor._lake(pipeline.root)
    assert not finding.ok and str(finding).startswith(f"FAIL  raw_orders file {path} cannot be read")


def test_an_entity_id_reused_on_another_day_is_a_duplicate_in_separate_runs_too(pipeline):
    """MySQL can reuse an entity_id after test orders are deleted: the more recently updated copy wins,
    whichever run meets the other, and no day loses its other orders."""
    days = [date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)]

    def copy(entity_id: int, day: date, hour: int) -> bytes:
        return rest_order(entity_id=entity_id, created_at=f"{day} 08:00:00", updated_at=f"{day} {hour:02d}:00:00")

    lake = RawOrderLake(pipeline.root / "lake" / "raw_orders")
    lake.write_day(days[0], [copy(1, days[0], 9), copy(2, days[0], 9)], "test")
    lake.write_day(days[1], [copy(3, days[1], 9), copy(1, days[1], 9)], "test")  # newer copy of 1
    lake.write_day(days[2], [copy(4, days[2], 9), copy(3, days[2], 9)], "test")  # updated later than day 2's 3

    def classify(day: date) -> None:
        assert dg.materialize([classified_orders], resources=pipeline.resources, partition_key=str(day)).success

    def state() -> tuple[dict, dict]:
        with pipeline.warehouse().connect() as connection:
            kept = connection.execute(sa.select(metrics_tables.classified_orders.c["entity_id", "order_date"])).all()
            lost = connection.execute(
                sa.select(metrics_tables.rejected_orders.c["order_date", "entity_id", "reason"])
            ).all()
        return dict(kept), {(day, entity_id): reason for day, entity_id, reason in lost}

    for day in days:
        classify(day)
    kept, lost = state()
    assert kept == {1: days[1], 2: days[0], 3: days[2], 4: days[2]}
    assert lost == {
        (days[0], 1): "duplicate entity_id 1; kept the more recently updated copy of 2026-05-02",  # lost on arrival
        (days[1], 3): "duplicate entity_id 3; kept the more recently updated copy of 2026-05-03",  # moved later
    }
    classify(days[0])  # again, alone: its copy of 1 still loses, the rest of the day stays
    classify(days[1])
    assert state() == (kept, lost)
    counts = pipeline.warehouse().stored_orders_per_day(days[0], days[-1])
    assert [counts[day] for day in days] == [2, 2, 2]  # raw = classified + rejected on every day
