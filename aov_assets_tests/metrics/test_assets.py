"""The assets, materialized with Dagster against temporary lakes and warehouses."""

import json
import threading
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from aov_assets.core.glue import Progress, one_ahead
from aov_assets.core.keys import CONTRACTION_CHECK, REJECTED_CHECK
from aov_assets.ingest.lake import RawOrderLake
from aov_assets.metrics import tables as metrics_tables
from aov_assets.metrics.assets import rejected_verdicts
from aov_assets.metrics.card import TtmCard

from ..conftest import (
    EXAMPLE_DAY,
    EXAMPLE_FIRST_DAY,
    aov_30d,
    aov_ttm,
    classified_orders,
    daily_aov,
    raw_orders,
    write_manifest,
)

DAILY_CHAIN = [raw_orders, classified_orders, daily_aov]


def check_evaluation(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    """The check's evaluation of the run's latest day (the contraction check judges every as-of day)."""
    evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return max(evaluations, key=lambda evaluation: evaluation.partition or "")


def table_rows(pipeline, table: sa.Table) -> pd.DataFrame:
    with pipeline.warehouse().connect() as connection:
        result = connection.execute(sa.select(table))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def test_the_worked_example_is_in_the_warehouse_to_the_cent(example_pipeline):
    card = example_pipeline.warehouse().read_card(EXAMPLE_DAY).set_index("segment")
    assert card.loc["b2b", ["orders", "revenue", "aov", "prior_orders", "prior_revenue", "prior_aov"]].tolist() == [
        1420,
        Decimal("912800.00"),
        Decimal("642.82"),
        1380,
        Decimal("1062600.00"),
        Decimal("770.00"),
    ]
    assert card.loc["b2c", ["orders", "revenue", "aov", "prior_aov"]].tolist() == [
        4650,
        Decimal("317540.00"),
        Decimal("68.29"),
        Decimal("68.39"),
    ]
    assert card.loc["all", ["orders", "revenue", "aov", "prior_aov"]].tolist() == [
        6070,
        Decimal("1230340.00"),
        Decimal("202.69"),
        Decimal("227.37"),
    ]
    assert card.loc["b2b", "aov_change_pct"] == Decimal("-16.5173")
    assert card["multiplier"].tolist() == [Decimal("9.4133")] * 3
    assert card["alert"].to_dict() == {"all": False, "b2b": True, "b2c": False}


def test_the_contraction_check_judges_every_as_of_day_of_a_range_run_with_no_skipped_partitions(example_pipeline):
    result = example_pipeline.result
    evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == CONTRACTION_CHECK]
    days = pd.date_range(EXAMPLE_FIRST_DAY, EXAMPLE_DAY).strftime("%Y-%m-%d").tolist()
    assert [e.partition for e in evaluations] == days  # oldest first: the latest evaluation is the last day's
    b2b = table_rows(example_pipeline, metrics_tables.aov_30d).query("segment == 'b2b'")
    alerting = {day.isoformat() for day in b2b.loc[b2b["alert"], "as_of"]}
    assert alerting and {e.partition for e in evaluations if not e.passed} == alerting
    quiet = next(e for e in evaluations if e.passed)  # its card holds the investigation; the verdict its numbers
    assert "b2b_aov" in quiet.metadata and "why" not in quiet.metadata and "around_it" not in quiet.metadata
    assert all("why" in e.metadata for e in evaluations if not e.passed)
    key = dg.AssetCheckKey(dg.AssetKey("aov_30d"), CONTRACTION_CHECK)
    records = example_pipeline.instance.event_log_storage.get_asset_check_execution_history(key, limit=1000)
    assert sorted(r.partition for r in records) == days
    assert {r.status.value for r in records} <= {"SUCCEEDED", "FAILED"}  # nothing left planned: no "Skipped" rows
    # each verdict names the materialization it judged, so the check's Partitions view counts every day
    infos = example_pipeline.instance.event_log_storage.get_asset_check_partition_info([key])
    assert len(infos) == 60 and all(info.is_current for info in infos)
    assert {info.partition_key for info in infos if info.latest_execution_status.value == "FAILED"} == alerting


def test_a_per_day_check_cannot_run_without_its_asset(pipeline):
    key = dg.AssetCheckKey(dg.AssetKey("aov_30d"), CONTRACTION_CHECK)
    result = dg.materialize(
        [aov_30d],
        selection=dg.AssetSelection.checks(key),
        tags={"dagster/partition": str(EXAMPLE_DAY)},
        resources=pipeline.resources,
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "judged while aov_30d is materialized; materialize aov_30d" in failure.step_failure_data.error.message
    assert not (pipeline.root / "warehouse.db").exists()  # it stopped before touching the warehouse


def test_the_contraction_check_fails_on_the_latest_day_with_the_numbers_a_person_needs(example_pipeline):
    evaluation = check_evaluation(example_pipeline.result, CONTRACTION_CHECK)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    assert metadata["as_of"] == "2026-05-03"
    assert (metadata["b2b_aov"], metadata["b2b_prior_aov"], metadata["multiplier"]) == (642.82, 770.0, 9.41)
    assert metadata["b2b_aov_change_pct"] == -16.52 and metadata["b2c_aov_change_pct"] == -0.14
    assert (metadata["b2b_orders_change_pct"], metadata["b2b_revenue_change_pct"]) == (2.9, -14.1)
    assert "642.82 vs 770.00" in evaluation.description
    assert (metadata["b2b_revenue_share_pct"], metadata["b2b_prior_revenue_share_pct"]) == (74.19, 76.74)
    assert (metadata["b2b_active_customers"], metadata["b2b_prior_active_customers"]) == (172, 180)
    assert "B2B share of revenue 74.2% (prior 76.7%, -2.5 pts)" in metadata["around_it"]
    assert metadata["left_the_baskets"].startswith("- Janitorial/Equipment: ")  # the B2B lines per order fell


def test_each_day_gets_its_own_metadata_for_the_ui_plots(example_pipeline):
    events = {m.partition: m.metadata for m in example_pipeline.result.asset_materializations_for_node("aov_30d")}
    assert len(events) == 60
    assert events["2026-05-03"]["b2b_aov"].value == 642.82
    assert "| b2b | 642.82 | 770.00 | -16.5% | 1,420 | 1,380 |" in events["2026-05-03"]["card"].value
    assert events["2026-03-05"]["verdict"].value == "incomplete_window"  # its prior window predates the run
    card = events["2026-05-03"]["card"].value  # counts read back from a range print as counts
    assert "active accounts 172 (prior 180, -4.4%)" in card and "\n\nRuled out:\n- " in card
    trend = events["2026-05-03"]["trend"].value  # dated, for plots that count partitions back from today
    assert len(trend.records) == 60 and "trend" not in events["2026-05-02"]
    newest, oldest = trend.records[0].data, trend.records[-1].data
    assert (newest["as_of"], newest["b2b_aov"], newest["prior_b2b_aov"], newest["b2b_change_pct"]) == (
        "2026-05-03",
        642.82,
        770.0,
        -16.52,
    )
    assert (newest["b2c_aov"], newest["verdict"], oldest["as_of"]) == (68.29, "alert", "2026-03-05")
    pictures = ("trend_chart", "causes_chart")  # on the run's newest day only
    for name, alt in zip(pictures, ("B2B AOV trend", "Why B2B AOV moved")):
        assert events["2026-05-03"][name].value.startswith(f"![{alt}](data:image/png;base64,iVBORw0KGgo")  # PNG
    assert not any(name in events["2026-05-02"] for name in pictures)
    investigation = example_pipeline.result.asset_materializations_for_node("b2b_investigation")
    why = {m.partition: m.metadata for m in investigation if m.asset_key == dg.AssetKey("aov_why")}
    assert why["2026-05-03"]["causes_chart"].value == events["2026-05-03"]["causes_chart"].value
    assert "causes_chart" not in why["2026-05-02"]
    assert "**Around it**" in events["2026-05-03"]["card"].value
    around = {
        m.partition: m.metadata for m in example_pipeline.result.asset_materializations_for_node("segment_metrics_30d")
    }
    assert len(around) == 60 and around["2026-05-03"]["b2b_revenue_share_pct"].value == 74.19
    assert "| lines per order | 4.78 (5.95) |" in around["2026-05-03"]["card"].value
    raw = {
        m.partition: m.metadata["orders"].value
        for m in example_pipeline.result.asset_materializations_for_node("raw_orders")
    }
    lake = RawOrderLake(example_pipeline.root / "lake" / "raw_orders")
    assert raw == {day: lake.order_count(date.fromisoformat(day)) for day in raw}


def test_every_raw_order_is_classified_once(example_pipeline):
    lake = RawOrderLake(example_pipeline.root / "lake" / "raw_orders")
    days = [EXAMPLE_FIRST_DAY + timedelta(days=i) for i in range(60)]
    classified = table_rows(example_pipeline, metrics_tables.classified_orders)
    assert len(classified) == sum(lake.order_count(day) for day in days)
    assert classified["entity_id"].is_unique
    assert table_rows(example_pipeline, metrics_tables.rejected_orders).empty


def test_rematerializing_replaces_exactly_its_partitions(pipeline):
    with dg.instance_for_test() as instance:
        assert pipeline.materialize(DAILY_CHAIN, "2026-04-28", "2026-04-30", instance).success
        before = {
            name: table_rows(pipeline, table)
            for name, table in (("orders", metrics_tables.classified_orders), ("daily", metrics_tables.daily_aov))
        }
        assert pipeline.materialize(DAILY_CHAIN, "2026-04-29", instance=instance).success  # one day again
        assert pipeline.materialize(DAILY_CHAIN, "2026-04-28", "2026-04-30", instance).success  # the range again
    after = {
        name: table_rows(pipeline, table)
        for name, table in (("orders", metrics_tables.classified_orders), ("daily", metrics_tables.daily_aov))
    }
    for name in before:
        pd.testing.assert_frame_equal(
            before[name].sort_values(list(before[name].columns[:2]), ignore_index=True),
            after[name].sort_values(list(after[name].columns[:2]), ignore_index=True),
        )
    assert set(after["daily"]["order_date"]) == {date(2026, 4, 28), date(2026, 4, 29), date(2026, 4, 30)}
    assert len(after["daily"]) == 3 * 2


def test_a_single_partition_key_works_too(pipeline):
    result = dg.materialize(DAILY_CHAIN, resources=pipeline.resources, partition_key="2026-05-03")
    assert result.success
    daily = pipeline.warehouse().read_daily(EXAMPLE_DAY, EXAMPLE_DAY)
    assert daily["orders"].sum() > 0


def test_unreadable_orders_land_in_rejected_orders_and_the_good_ones_still_count(pipeline):
    day = date(2026, 5, 2)
    lake = RawOrderLake(pipeline.root / "lake" / "raw_orders")
    assert dg.materialize([raw_orders], resources=pipeline.resources, partition_key=str(day)).success
    good = lake.read_day(day)
    broken = json.loads(good[0]) | {"base_grand_total": "twelve"}
    lake.write_day(day, [*good, json.dumps(broken).encode(), b'{"no": "entity"}'], source="test")
    result = dg.materialize([classified_orders, daily_aov], resources=pipeline.resources, partition_key=str(day))
    assert result.success
    rejected = table_rows(pipeline, metrics_tables.rejected_orders)
    assert rejected["reason"].str.contains("Invalid decimal string - at `\\$.base_grand_total`").tolist() == [
        True,
        False,
    ]
    assert "missing required field `entity_id`" in rejected["reason"][1]
    assert len(table_rows(pipeline, metrics_tables.classified_orders)) == len(
        good
    )  # the original of the broken copy counts
    [event] = result.asset_materializations_for_node("classified_orders")
    assert event.metadata["rejected"].value == 2
    check = check_evaluation(result, REJECTED_CHECK)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.partition == str(day)
    assert check.metadata["rejected"].value == 2 and check.metadata["as_of"].value == str(day)
    assert check.description.startswith(f"2 order(s) of {day} could not be read and are not counted (2 in this run")
    assert check.metadata["entity_ids"].value == str(json.loads(good[0])["entity_id"])
    assert "Invalid decimal string" in check.metadata["reasons"].value


def test_the_rejected_orders_check_passes_on_clean_days_one_verdict_per_day(example_pipeline):
    checks = [e for e in example_pipeline.result.get_asset_check_evaluations() if e.check_name == REJECTED_CHECK]
    assert [e.partition for e in checks] == pd.date_range(EXAMPLE_FIRST_DAY, EXAMPLE_DAY).strftime("%Y-%m-%d").tolist()
    assert all(e.passed and e.metadata["rejected"].value == 0 for e in checks)


def test_a_verdict_per_day_names_its_own_rejects_and_the_run_total():
    days = [date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)]
    rejected = pd.DataFrame(
        {
            "order_date": [date(2026, 5, 1), date(2026, 4, 20), date(2026, 5, 1)],  # 04-20: moved, outside the run
            "entity_id": [7, 8, None],
            "reason": ["bad total", "duplicate entity_id 8", "not JSON"],
        }
    )
    first, second, last = rejected_verdicts(rejected, days)
    assert (first.passed, second.passed, last.passed) == (False, True, False)
    assert first.metadata["rejected"].value == 2 and first.metadata["entity_ids"].value == "7"
    assert first.description == (
        "2 order(s) of 2026-05-01 could not be read and are not counted (3 in this run, on 2026-04-20, 2026-05-01); "
        "see rejected_orders"
    )
    assert last.metadata["rejected"].value == 1 and last.metadata["entity_ids"].value == "8"
    assert {v.metadata["as_of"].value for v in (first, second, last)} == {"2026-05-03"}  # one alert per run


def test_daily_aov_refuses_days_whose_raw_orders_are_not_all_classified(pipeline):
    day = date(2026, 5, 2)
    assert dg.materialize([raw_orders, classified_orders], resources=pipeline.resources, partition_key=str(day)).success
    lake = RawOrderLake(pipeline.root / "lake" / "raw_orders")
    lake.write_day(day, lake.read_day(day)[:-1], source="test")  # raw_orders changed, classified_orders did not
    with pytest.raises(
        dg.Failure, match=r"classified_orders is not up to date with raw_orders for 1 day\(s\): 2026-05-02"
    ):
        dg.materialize([daily_aov], resources=pipeline.resources, partition_key=str(day))


def test_check_severity_and_min_orders_come_from_the_manifest(pipeline, tmp_path):
    pipeline.manifest_path = write_manifest(
        tmp_path / "strict.yaml", alert="{b2b_aov_drop_pct: 15, min_orders: 2000, severity: warn}"
    )
    with dg.instance_for_test() as instance:
        result = pipeline.materialize([*DAILY_CHAIN, aov_30d], str(EXAMPLE_FIRST_DAY), str(EXAMPLE_DAY), instance)
    evaluation = check_evaluation(result, CONTRACTION_CHECK)
    assert evaluation.passed  # 1,420 B2B orders < 2,000: no verdict, so no alert
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["verdict"].value == "too_few_orders"
    assert evaluation.description.startswith("no verdict: too few B2B orders")


def test_aov_ttm_rolls_up_twelve_months_of_daily_aov(pipeline):
    warehouse = pipeline.warehouse()
    days = pd.date_range("2025-04-01", "2026-04-30").date
    with warehouse.replacing([metrics_tables.daily_aov], days[0], days[-1]) as write:
        write(
            metrics_tables.daily_aov,
            pd.DataFrame(
                [
                    {"order_date": d, "segment": s, "orders": n, "revenue": Decimal(r), "line_items": n}
                    for d in days
                    for s, n, r in (("b2b", 2, "1500.00"), ("b2c", 10, "700.00"))
                ]
            ),
        )
    result = pipeline.materialize([aov_ttm], "2026-02-01", "2026-04-01")
    assert result.success
    ttm = table_rows(pipeline, metrics_tables.aov_ttm).set_index(["month", "segment"])
    assert ttm.loc[("2026-04", "b2b"), ["orders", "revenue", "aov", "days"]].tolist() == [
        365 * 2,
        Decimal(365 * 1500),
        Decimal("750.00"),
        365,
    ]
    assert ttm.loc[("2026-02", "b2b"), "days"] == 365 - 31  # its window starts in March 2025, before the data
    events = {m.partition: m.metadata for m in result.asset_materializations_for_node("aov_ttm")}
    assert events["2026-04-01"]["multiplier"].value == 10.71


def test_the_ttm_card_compares_a_year_earlier_and_flags_partial_windows(pipeline):
    days = pd.date_range("2024-05-01", "2026-04-30").date  # two years: B2B AOV 750.00, then 900.00
    rows = [
        {"order_date": d, "segment": s, "orders": n, "revenue": Decimal(r), "line_items": n}
        for d in days
        for s, n, r in (("b2b", 2, "1500.00" if d < date(2025, 5, 1) else "1800.00"), ("b2c", 10, "700.00"))
    ]
    with pipeline.warehouse().replacing([metrics_tables.daily_aov], days[0], days[-1]) as write:
        write(metrics_tables.daily_aov, pd.DataFrame(rows))
    result = pipeline.materialize([aov_ttm], "2025-03-01", "2026-04-01")
    events = {m.partition: m.metadata for m in result.asset_materializations_for_node("aov_ttm")}
    young, first_full, last = events["2025-03-01"], events["2025-04-01"], events["2026-04-01"]
    assert young["partial"].value is True and young["days"].value == 335 and "b2b_aov" not in young
    assert "(2024-04..2025-03; partial: 335 of 365 days)" in young["card"].value
    assert first_full["partial"].value is False and first_full["b2b_aov"].value == 750.0
    assert "b2b_aov_yoy_pct" not in first_full  # a year earlier there was no data: nothing to compare
    assert (last["b2b_aov"].value, last["b2b_aov_yoy_pct"].value, last["b2c_aov_yoy_pct"].value) == (900.0, 20.0, 0.0)
    assert "| b2b | 900.00 | 750.00 | +20.0% | 730 |" in last["card"].value
    card = TtmCard.stored(pipeline.warehouse(), date(2026, 4, 1))
    assert card.as_json()["segments"]["b2b"]["aov_change_pct"] == 20.0 and card.comparable


def test_one_ahead_works_one_item_ahead_in_order_and_raises_when_the_failing_item_is_reached():
    started, second_started = [], threading.Event()

    def work(item: int) -> int:
        started.append(item)
        if item == 1:
            second_started.set()
        if item == 3:
            raise ValueError("item 3 is broken")
        return item * 10

    got = one_ahead(work, range(5))
    assert next(got) == (0, 0)
    assert second_started.wait(timeout=10)  # item 1 is worked on while the caller holds item 0 ...
    assert started == [0, 1]  # ... and no further
    assert next(got) == (1, 10) and next(got) == (2, 20)
    with pytest.raises(ValueError, match="item 3 is broken"):
        next(got)
    assert list(one_ahead(work, [])) == []


def test_progress_counts_orders_only_for_steps_that_read_them():
    lines: list[str] = []
    log = type("Log", (), {"info": lambda self, message: lines.append(message)})()
    reading, as_of = Progress(log, "classified_orders", 2), Progress(log, "segment_metrics_30d", 2)
    for day, orders in ((date(2026, 5, 2), 0), (date(2026, 5, 3), 7)):
        reading.step(day, orders)
        as_of.step(day)
    assert lines[2].startswith("classified_orders: 2/2 days through 2026-05-03, 7 orders in ")
    assert lines[3].startswith("segment_metrics_30d: 2/2 days through 2026-05-03 in ") and "orders" not in lines[3]
