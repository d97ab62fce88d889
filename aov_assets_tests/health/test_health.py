"""Each data-health check, passing and failing, on real lakes and warehouses in temp dirs."""

import json
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest

from aov_assets.core.db import DEFAULT_STORE
from aov_assets.definitions import build_defs
from aov_assets.health.checks import freshness_checks, health_checks
from aov_assets.ingest.lake import RawOrderLake
from aov_assets.manifest import ManifestError, load_manifest, load_stores
from aov_assets.metrics import tables as metrics_tables
from aov_assets.metrics.segments import SegmentRule, classify_orders

from ..conftest import DEFS, EXAMPLE_DAY, copy_of, raw_orders, write_manifest

LAST_PARTITION = date(2026, 5, 3)  # the repo manifest's end_date


def lake(pipeline) -> RawOrderLake:
    return RawOrderLake(pipeline.root / "lake" / "raw_orders")


def order(entity_id: int, day: date, **fields) -> bytes:
    body = {
        "entity_id": entity_id,
        "created_at": f"{day} 12:00:00",
        "state": "complete",
        "customer_group_id": 2,
        "base_to_global_rate": 1,
        "base_grand_total": 500,
        "grand_total": 500,
        "base_subtotal": 500,
        "items": [{"item_id": 1}],
    }
    return json.dumps(body | fields).encode()


def run(name: str, pipeline) -> dg.AssetCheckResult:
    """The pipeline's store's data-health check `name`, invoked directly with the pipeline's resources."""
    [store] = load_stores(pipeline.manifest_path)
    [check] = [check for check in health_checks(store) if check.check_key.name == name]
    resources = {name: pipeline.resources[name] for name in ("lake", "warehouse")}
    wanted = {name: value for name, value in resources.items() if name in check.required_resource_keys}
    return check(**wanted)


FRESHNESS_KEY = dg.AssetCheckKey(dg.AssetKey("raw_orders"), "freshness_check")


def freshness(pipeline, instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    """Dagster's partition freshness check on raw_orders, evaluated on its own against `instance`."""
    result = dg.materialize(
        [raw_orders, *freshness_checks(list(load_stores(pipeline.manifest_path)))[0][DEFAULT_STORE]],
        selection=dg.AssetSelection.checks(FRESHNESS_KEY),
        resources=pipeline.resources,
        instance=instance,
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_freshness_passes_once_the_last_partition_is_materialized(pipeline):
    with dg.instance_for_test() as instance:
        assert not freshness(pipeline, instance).passed  # never materialized
        pipeline.materialize([raw_orders], "2026-04-29", instance=instance)
        overdue = freshness(pipeline, instance)
        assert not overdue.passed and overdue.severity == dg.AssetCheckSeverity.WARN
        assert "We expected partition 2026-05-03 to have arrived" in overdue.description
        pipeline.materialize([raw_orders], str(LAST_PARTITION), instance=instance)
        assert freshness(pipeline, instance).passed


def test_freshness_sensor_asks_for_a_never_evaluated_check():
    sensor = DEFS.resolve_sensor_def("freshness_checks_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        request = sensor(dg.build_sensor_context(instance=instance, definitions=DEFS))
    assert request.asset_check_keys == [FRESHNESS_KEY]


def test_a_bad_freshness_deadline_fails_at_load_in_one_line(tmp_path):
    bad = load_manifest(write_manifest(tmp_path / "aov.yaml", health="{freshness_deadline: '61 6 * * *'}"))
    with pytest.raises(ManifestError, match=r"^health.freshness_deadline: '61 6 \* \* \*' is not a valid cron"):
        build_defs(bad)


def test_duplicate_entity_ids_within_and_across_days(pipeline):
    days = [date(2026, 5, 1), date(2026, 5, 2)]
    lake(pipeline).write_day(days[0], [order(1, days[0]), order(2, days[0])], "test")
    lake(pipeline).write_day(days[1], [order(3, days[1])], "test")
    assert run("raw_orders_unique_entity_ids", pipeline).passed
    lake(pipeline).write_day(days[1], [order(3, days[1]), order(3, days[1]), order(2, days[1])], "test")
    result = run("raw_orders_unique_entity_ids", pipeline)
    assert not result.passed
    assert (result.metadata["duplicates"].value, result.metadata["entity_ids"].value) == (2, "2, 3")
    assert result.metadata["days"].value == "2026-05-01, 2026-05-02"


def write_daily(pipeline, orders_per_day: dict[date, int]) -> None:
    days = sorted(orders_per_day)
    rows = [
        {
            "order_date": day,
            "segment": segment,
            "orders": count if segment == "b2c" else 0,
            "revenue": Decimal(count * 50),
            "line_items": count,
        }
        for day, count in orders_per_day.items()
        for segment in ("b2b", "b2c")
    ]
    with pipeline.warehouse().replacing([metrics_tables.daily_aov], days[0], days[-1]) as write:
        write(metrics_tables.daily_aov, pd.DataFrame(rows))


def steady(days: int, orders: int, last: date = LAST_PARTITION) -> dict[date, int]:
    return {last - timedelta(days=i): orders for i in range(days)}


def test_no_gaps_in_an_ordinary_history(pipeline):
    write_daily(pipeline, steady(90, 40))
    assert run("daily_aov_no_gaps", pipeline).passed


def test_a_day_without_orders_or_without_a_row_is_a_gap(pipeline):
    history = steady(90, 40)
    history[date(2026, 4, 20)] = 0
    del history[date(2026, 4, 25)]
    write_daily(pipeline, history)
    result = run("daily_aov_no_gaps", pipeline)
    assert not result.passed
    assert result.metadata["gap_days"].value == "2026-04-20 (zero, median 40), 2026-04-25 (missing, median 40)"


def test_a_quiet_store_with_zero_days_is_not_a_gap(pipeline):
    history = steady(90, 2)
    history[date(2026, 4, 20)] = 0
    write_daily(pipeline, history)
    assert run("daily_aov_no_gaps", pipeline).passed


def test_the_multiplier_band(example_pipeline, tmp_path):
    pipeline = copy_of(example_pipeline, tmp_path / "copy")
    result = run("multiplier_in_band", pipeline)
    assert result.passed and result.description == "multiplier 9.4x is inside 2..20x"
    warehouse = pipeline.warehouse()
    rows = warehouse.read_card(EXAMPLE_DAY).assign(multiplier=Decimal("25.5"))
    with warehouse.replacing([metrics_tables.aov_30d], EXAMPLE_DAY, EXAMPLE_DAY) as write:
        write(metrics_tables.aov_30d, rows)
    result = run("multiplier_in_band", pipeline)
    assert not result.passed and "possible misclassification" in result.description


def write_classified(pipeline, payloads_by_day: dict[date, list[bytes]]) -> None:
    orders, rejected = classify_orders(
        payloads_by_day.items(), "grand_total", SegmentRule("company_or_group", frozenset({2}))
    )
    assert rejected.empty
    days = sorted(payloads_by_day)
    with pipeline.warehouse().replacing([metrics_tables.classified_orders], days[0], days[-1]) as write:
        write(metrics_tables.classified_orders, orders)


@pytest.mark.parametrize(("age_days", "passed"), [(45, True), (46, False)])
def test_b2b_orders_stuck_in_pending_payment(pipeline, age_days, passed):
    old = LAST_PARTITION - timedelta(days=age_days)
    write_classified(
        pipeline,
        {
            old: [order(1, old, state="pending_payment"), order(2, old, state="pending_payment", customer_group_id=1)],
            LAST_PARTITION: [order(3, LAST_PARTITION, state="pending_payment")],
        },
    )
    result = run("b2b_pending_payment_age", pipeline)
    assert result.passed is passed
    if not passed:  # order 2 is B2C (General group): not an AP problem
        assert (result.metadata["stale_orders"].value, result.metadata["entity_ids"].value) == (1, "1")


def test_an_unreadable_day_file_is_reported_by_name_and_the_other_days_are_still_judged(pipeline):
    days = [date(2026, 5, 1), date(2026, 5, 2)]
    lake(pipeline).write_day(days[0], [order(1, days[0]), order(1, days[0])], "test")
    lake(pipeline).write_day(days[1], [order(3, days[1])], "test")
    path = lake(pipeline).path_for(days[1])
    path.write_bytes(path.read_bytes()[:40])  # truncated mid-file
    result = run("raw_orders_unique_entity_ids", pipeline)
    assert not result.passed
    assert result.metadata["entity_ids"].value == "1"  # day 1 still judged
    assert result.metadata["unreadable_days"].value == "2026-05-02"
    assert "aov backfill --from 2026-05-02 --to 2026-05-02" in result.description
