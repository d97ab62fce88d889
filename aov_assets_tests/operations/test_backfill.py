"""Sync gaps and backfills: fail loudly, heal in one command, never double count."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from aov_assets.definitions import build_defs
from aov_assets.ingest.lake import RawOrderLake
from aov_assets.manifest import load_stores
from aov_assets.operations.backfill import backfill_plan, failure_message
from aov_assets.resources import AdobeCommerceResource

from ..conftest import (
    DAILY_CHAIN,
    DEFS,
    REPO,
    Pipeline,
    account_whitespace,
    aov_ttm,
    basket_pairs,
    daily_aov,
    raw_orders,
    read_table,
    write_manifest,
)
from ..fake_adobe_commerce import TOKEN, FakeAdobeCommerce

CHAIN = DAILY_CHAIN
COMPARED = ("classified_orders", "daily_aov", "account_daily", "b2b_accounts_30d", "b2b_cohorts_30d", "aov_why")
COMPARED += ("segment_metrics_30d", "currency_aov_30d", "order_lines", "b2b_category_mix_30d", "aov_30d", "aov_ttm")
COMPARED += ("basket_pairs", "account_whitespace")
MONTHLY = [aov_ttm, basket_pairs, account_whitespace]  # the aov_ttm_monthly job
BIN = Path(sys.executable).parent


def test_the_plan_covers_the_windows_and_months_that_include_the_days():
    plan = backfill_plan(date(2026, 2, 10), date(2026, 2, 14), date(2026, 5, 3), date(2026, 4, 1))
    assert [(s.job, s.first, s.last) for s in plan] == [
        ("aov_daily", "2026-02-10", "2026-02-14"),
        ("aov_windows", "2026-02-15", "2026-05-03"),  # every later as-of day: lifetime values include the days
        ("aov_ttm_monthly", "2026-02-01", "2026-04-01"),  # 2026-02 .. 2027-01, capped at the latest month
    ]


def test_the_plan_never_creates_what_was_not_there():
    plan = backfill_plan(date(2026, 4, 28), date(2026, 5, 3), date(2026, 5, 1), None)
    assert [(s.job, s.first, s.last) for s in plan] == [("aov_daily", "2026-04-28", "2026-05-03")]
    plan = backfill_plan(date(2026, 2, 10), date(2026, 2, 14), date(2026, 3, 1), date(2026, 1, 1))
    assert [s.job for s in plan] == ["aov_daily", "aov_windows"]  # aov_ttm ends before the gap


@pytest.fixture(scope="module")
def store():
    with FakeAdobeCommerce() as server:
        yield server


class StorePipeline(Pipeline):
    @property
    def resources(self):
        return super().resources | {"adobe_commerce": AdobeCommerceResource(base_url=self.base_url, token=TOKEN)}


def store_pipeline(root: Path, store) -> StorePipeline:
    root.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(
        root / "aov.yaml", source="adobe_commerce", adobe_commerce="{retry_seconds: 1, page_size: 300}"
    )
    pipeline = StorePipeline(root, manifest)
    pipeline.base_url = store.base_url
    return pipeline


def status(instance, asset, day: str):
    return instance.get_status_by_partition(asset.key, [day], asset.partitions_def)[day]


def test_a_day_that_cannot_be_fetched_fails_its_run_and_leaves_nothing_partial(store, tmp_path):
    pipeline = store_pipeline(tmp_path, store)
    store.faults.down_days = {date(2026, 4, 12)}
    try:
        with dg.instance_for_test() as instance:
            result = pipeline.materialize(CHAIN, "2026-04-10", "2026-04-14", instance, raise_on_error=False)
            assert not result.success
            assert status(instance, raw_orders, "2026-04-12") == dg.AssetPartitionStatus.FAILED
            assert (
                status(instance, daily_aov, "2026-04-12") == dg.AssetPartitionStatus.FAILED
            )  # shown as failed in the UI
    finally:
        store.faults.down_days = set()
    assert failure_message(result).startswith(
        "raw_orders: Adobe Commerce GET /rest/V1/orders failed for orders created on 2026-04-12 (page 1): HTTP 503"
    )
    assert RawOrderLake(tmp_path / "lake" / "raw_orders").days() == [date(2026, 4, 10), date(2026, 4, 11)]
    assert read_table(pipeline, "classified_orders").empty and read_table(pipeline, "daily_aov").empty


def run_schedule_tick(pipeline, instance, when: datetime) -> dg.ExecuteInProcessResult:
    """What the daily schedule would launch at `when`, executed here."""
    context = dg.build_schedule_context(scheduled_execution_time=when)
    schedule = build_defs(load_stores(pipeline.manifest_path)).resolve_schedule_def("aov_daily_schedule")
    [request] = schedule.evaluate_tick(context).run_requests
    tags = request.tags | {"dagster/run_key": request.run_key}
    return dg.materialize(CHAIN, resources=pipeline.resources, tags=tags, instance=instance, raise_on_error=False)


def test_the_daily_lookback_picks_up_a_late_cancellation(store, tmp_path):
    pipeline = store_pipeline(tmp_path, store)
    with dg.instance_for_test() as instance:
        assert pipeline.materialize(CHAIN, "2026-04-10", "2026-04-19", instance).success
        orders = read_table(pipeline, "classified_orders")
        late = orders[(orders["order_date"] == date(2026, 4, 17)) & orders["counted"] & (orders["segment"] == "b2b")]
        entity_id, value = int(late["entity_id"].iloc[0]), late["order_value"].iloc[0]
        before = read_table(pipeline, "aov_30d").set_index(["as_of", "segment"])
        store.orders.overrides[entity_id] = {"state": "canceled", "status": "canceled"}
        try:  # the run of 2026-04-21 01:00 UTC syncs 2026-04-20 and re-syncs 2026-04-17..19
            assert run_schedule_tick(pipeline, instance, datetime(2026, 4, 21, 1, tzinfo=timezone.utc)).success
        finally:
            store.orders.overrides.clear()
    after_orders = read_table(pipeline, "classified_orders").set_index("entity_id")
    assert not after_orders.at[entity_id, "counted"] and after_orders.index.is_unique
    after = read_table(pipeline, "aov_30d").set_index(["as_of", "segment"])
    for as_of in (date(2026, 4, 17), date(2026, 4, 19)):
        assert after.at[(as_of, "b2b"), "orders"] == before.at[(as_of, "b2b"), "orders"] - 1
        assert after.at[(as_of, "b2b"), "revenue"] == before.at[(as_of, "b2b"), "revenue"] - value


def test_auto_heal_backfills_a_gap_then_its_windows_and_months(tmp_path):
    pipeline = Pipeline(tmp_path, REPO / "aov.yaml")
    with dg.instance_for_test() as instance:
        assert pipeline.materialize(CHAIN, "2026-04-20", "2026-04-24", instance).success
        assert pipeline.materialize(CHAIN, "2026-04-27", "2026-05-03", instance).success
        assert pipeline.materialize([aov_ttm], "2026-04-01", instance=instance).success

        def tick(cursor):
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={name: pipeline.resources[name] for name in ("warehouse", "stores")},
            )
            return DEFS.resolve_sensor_def("aov_auto_heal_sensor").evaluate_tick(context)

        first = tick(None)
        [heal] = first.run_requests
        assert heal.job_name == "aov_daily"
        assert (heal.tags["dagster/asset_partition_range_start"], heal.tags["dagster/asset_partition_range_end"]) == (
            "2026-04-25",
            "2026-04-26",
        )
        assert tick(first.cursor).run_requests == []  # already requested: not again while it runs
        result = dg.materialize(
            CHAIN, resources=pipeline.resources, instance=instance, tags=heal.tags | {"dagster/run_key": heal.run_key}
        )
        assert result.success
        follow_ups = tick(first.cursor)
        ranges = {
            r.job_name: (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in follow_ups.run_requests
        }
        assert ranges == {"aov_windows": ("2026-04-27", "2026-05-03"), "aov_ttm_monthly": ("2026-04-01", "2026-04-01")}
        assert json.loads(follow_ups.cursor) == {"default": []}  # each store's pending heal runs
        assert tick(follow_ups.cursor).skip_message == "no missing or failed days in the last 14 day(s)"


def run_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_an_outage_then_one_backfill_command_matches_a_clean_run(store, tmp_path):
    clean = Pipeline(tmp_path / "clean", REPO / "aov.yaml")
    with dg.instance_for_test() as instance:
        assert clean.materialize(CHAIN, "2026-01-15", "2026-02-17", instance).success
        assert clean.materialize(MONTHLY, "2026-01-01", "2026-02-01", instance).success

    synced = store_pipeline(tmp_path / "synced", store)
    home = tmp_path / "synced" / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        assert synced.materialize(CHAIN, "2026-01-15", "2026-02-09", instance).success
        outcome = {}
        for day in pd.date_range("2026-02-10", "2026-02-17").date:
            store.faults.down = day <= date(2026, 2, 14)  # the API is down while these days' runs happen
            tick = datetime.combine(day + timedelta(days=1), datetime.min.time(), timezone.utc).replace(hour=1)
            outcome[day] = run_schedule_tick(synced, instance, tick).success
        store.faults.down = False
        assert synced.materialize(MONTHLY, "2026-01-01", "2026-02-01", instance).success
    assert [day for day, ok in outcome.items() if not ok] == list(pd.date_range("2026-02-10", "2026-02-14").date)

    env = synced.env() | {"ADOBE_COMMERCE_BASE_URL": store.base_url, "ADOBE_COMMERCE_TOKEN": TOKEN}
    for _ in range(2):  # safe to repeat
        out = run_cli([str(BIN / "aov"), "backfill", "--from", "2026-02-10", "--to", "2026-02-14"], env).stdout
        assert (
            "1. aov_daily: the daily chain, the investigation, the neighbours and aov_30d for 2026-02-10..2026-02-14"
            in out
        )
        assert "2. aov_windows: the investigation, the neighbours and aov_30d for 2026-02-15..2026-02-17" in out
        assert "3. aov_ttm_monthly: aov_ttm, basket_pairs and account_whitespace for 2026-02..2026-02" in out
        assert "[3/3] done" in out and TOKEN not in out
        for name in COMPARED:
            pd.testing.assert_frame_equal(read_table(synced, name), read_table(clean, name), check_exact=True)


@pytest.mark.slow
def _alive(group: int, seconds: float = 10) -> bool:
    """Whether a process of the group still exists after `seconds` (SIGKILL is delivered, not instant)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def test_sigkill_in_the_middle_of_a_range_backfill_then_a_rerun_equals_a_clean_run(tmp_path):
    first, last = "2025-01-01", "2025-04-30"
    clean = Pipeline(tmp_path / "clean", REPO / "aov.yaml")
    with dg.instance_for_test() as instance:
        assert clean.materialize(CHAIN, first, last, instance).success

    killed = Pipeline(tmp_path / "killed", REPO / "aov.yaml")
    command = [
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "aov_assets.definitions",
        "--select",
        "raw_orders,classified_orders,daily_aov,aov_30d",
        "--partition-range",
        f"{first}...{last}",
    ]
    env = killed.env() | {"PYTHONUNBUFFERED": "1"}
    # Its own session, so the kill takes every process of the run (should a release start a step worker
    # again): a crashed machine or container, not a parent that leaves an orphan writing.
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "classified_orders: 48/120 days" in line:  # mid-transaction: some days inserted, not committed
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen[-20:])
    assert not _alive(process.pid), "a process of the killed run is still running"
    assert read_table(killed, "classified_orders").empty  # the open transaction was rolled back
    run_cli(command, env)
    for name in ("classified_orders", "daily_aov", "aov_30d"):
        pd.testing.assert_frame_equal(read_table(killed, name), read_table(clean, name), check_exact=True)
    assert not list((tmp_path / "killed" / "lake" / "raw_orders").glob(".*.tmp"))
