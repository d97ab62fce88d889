import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from aov_assets.definitions import defs as load_defs

from .conftest import DEFS as defs
from .conftest import REPO

CONTRACT_ASSETS = {"raw_orders", "classified_orders", "daily_aov", "aov_30d", "aov_ttm"}
CONTRACT_ASSETS |= {"account_daily", "b2b_accounts_30d", "b2b_cohorts_30d", "aov_why"}
CONTRACT_ASSETS |= {"segment_metrics_30d", "currency_aov_30d", "order_lines", "product_catalog", "b2b_category_mix_30d"}
CONTRACT_ASSETS |= {"basket_pairs", "account_whitespace", "company_credit"}


def test_the_definitions_load():
    dg.Definitions.validate_loadable(load_defs())
    repository = defs.get_repository_def()
    assert {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()} == CONTRACT_ASSETS


def test_every_partitioned_asset_backfills_a_range_in_one_run():
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key in (dg.AssetKey("product_catalog"), dg.AssetKey("company_credit")):  # unpartitioned: replaced whole
            assert node.partitions_def is None
            continue
        assert node.partitions_def is not None, key
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key


def test_range_runs_carry_only_the_per_day_checks_and_the_health_checks_run_unpartitioned_after_them():
    checks = {job.name: {key.name for key in job.asset_layer.asset_graph.asset_check_keys} for job in defs.jobs}
    assert checks["aov_daily"] == {"b2b_aov_contraction", "no_rejected_orders"}
    assert checks["aov_windows"] == {"b2b_aov_contraction"} and checks["aov_ttm_monthly"] == set()
    health = {"freshness_check", "raw_orders_unique_entity_ids", "daily_aov_no_gaps", "multiplier_in_band"}
    assert checks["aov_health"] == health | {"b2b_pending_payment_age"}
    assert defs.resolve_job_def("aov_health").partitions_def is None
    sensor = defs.resolve_sensor_def("aov_health_after_runs")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    run = dg.DagsterRun(job_name="aov_daily", run_id="a-daily-run")
    event = dg.DagsterEvent(event_type_value="PIPELINE_SUCCESS", job_name="aov_daily")
    with dg.instance_for_test() as instance:
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=event, dagster_instance=instance, dagster_run=run
        )
        request = sensor(context)
    assert request.run_key == "a-daily-run" and request.job_name in (None, "aov_health")


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


IMPORT_EVERYTHING = (
    "import aov_assets.metrics.assets, aov_assets.operations.schedules, aov_assets.alerts.sensors, "
    "aov_assets.definitions"
)


def run(command: list[str], cwd, **env: str) -> subprocess.CompletedProcess:
    """A command in `cwd` with none of our or Dagster's variables but `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AOV_", "DAGSTER_"))}
    return subprocess.run(command, cwd=cwd, env=clean | env, capture_output=True, text=True, timeout=120)


def run_python(code: str, cwd, **env: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", code], cwd, **env)


def test_importing_reads_nothing_and_loading_reads_the_manifest_once(tmp_path):
    imported = run_python(IMPORT_EVERYTHING, tmp_path)  # no aov.yaml here, no AOV_MANIFEST
    assert imported.returncode == 0, imported.stderr
    loaded = run_python(
        "import gc\n"
        "from aov_assets.definitions import defs\n"
        "d = defs()\n"
        "print(d.get_assets_def('daily_aov').partitions_def.get_last_partition_key(), gc.get_freeze_count() > 0)",
        tmp_path,
        AOV_MANIFEST=str(REPO / "aov.yaml"),
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["2026-05-03", "True"]  # and the definitions left the collector's walks


def test_a_missing_manifest_fails_at_load_in_one_line(tmp_path):
    result = run_python("from aov_assets.definitions import defs\ndefs()", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"aov: manifest not found: {tmp_path.resolve() / 'aov.yaml'} (set AOV_MANIFEST or create aov.yaml)"
    )


def test_a_bad_manifest_ends_a_dagster_cli_command_with_its_line_not_a_traceback(tmp_path):
    (tmp_path / "aov.yaml").write_text("source: sample\nstart_date: '2026-01-01'\nmetric: {basis: nonsense}\n")
    command = "asset materialize -m aov_assets.definitions --select raw_orders --partition 2026-05-03".split()
    result = run([str(Path(sys.executable).parent / "dagster"), *command], tmp_path, DAGSTER_HOME=str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"aov: {tmp_path.resolve() / 'aov.yaml'}: metric.basis: 'nonsense' is not allowed "
        "(allowed: grand_total, pre_tax, subtotal)"
    )
