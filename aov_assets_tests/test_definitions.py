from datetime import datetime, timezone

import dagster as dg

from aov_assets.definitions import defs

CONTRACT_ASSETS = {"raw_orders", "classified_orders", "daily_aov", "aov_30d", "aov_ttm"}


def test_the_definitions_load():
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()} == CONTRACT_ASSETS


def test_every_partitioned_asset_backfills_a_range_in_one_run():
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.partitions_def is not None, key
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key


def test_partitions_follow_the_manifest():
    graph = defs.get_repository_def().asset_graph
    daily = graph.get(dg.AssetKey("daily_aov")).partitions_def
    assert (daily.get_first_partition_key(), daily.get_last_partition_key()) == ("2024-05-01", "2026-05-03")
    monthly = graph.get(dg.AssetKey("aov_ttm")).partitions_def
    assert (monthly.get_first_partition_key(), monthly.get_last_partition_key()) == ("2024-05-01", "2026-04-01")


def test_the_daily_schedule_runs_yesterday_and_the_lookback_days_as_one_run():
    daily = defs.resolve_schedule_def("aov_daily_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 4, 20, 1, tzinfo=timezone.utc))
    [request] = daily.evaluate_tick(context).run_requests
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) == (
        "2026-04-16",
        "2026-04-19",
    )
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 1, tzinfo=timezone.utc))
    [skip] = daily.evaluate_tick(context).skip_message.splitlines()
    assert skip == "the manifest's end_date 2026-05-03 has passed: no new days to sync"


def test_the_ttm_schedule_runs_once_the_lookback_has_settled_last_month():
    monthly = defs.resolve_schedule_def("aov_ttm_monthly_schedule")
    assert monthly.cron_schedule == "0 2 4 * *"  # day lookback_days + 1
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 4, 4, 2, tzinfo=timezone.utc))
    [request] = monthly.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-03-01"
