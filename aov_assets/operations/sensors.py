"""Sensors: failed ERROR checks to Slack and the data-health checks after each run (on by default), and
auto-heal of missing days (off by default)."""

import json
from datetime import date, timedelta

import dagster as dg

from ..core.keys import DAILY_JOB, range_tags
from ..core.partitions import daily_partitions, day_key
from ..manifest import Manifest
from ..resources import WarehouseResource
from .backfill import backfill_plan
from .schedules import JOBS, daily_job, health_job, ttm_job, windows_job

DAILY_CHAIN = [dg.AssetKey(name) for name in ("raw_orders", "classified_orders", "daily_aov", "aov_30d")]
HEAL_TAG = "aov/heal"


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_job, windows_job, ttm_job],
    request_job=health_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the data-health checks once after each successful daily, windows or monthly run.",
)
def aov_health_after_runs(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=context.dagster_run.run_id)


def days_to_heal(
    instance: dg.DagsterInstance, days: list[date], partitions: dg.PartitionsDefinition
) -> tuple[list[date], set[date]]:
    """(days missing or failed for any asset of the daily chain, days with a run in progress)."""
    keys = [day_key(day) for day in days]
    missing, busy = set(), set()
    for asset_key in DAILY_CHAIN:
        statuses = instance.get_status_by_partition(asset_key, keys, partitions) or {}
        for day, key in zip(days, keys):
            status = statuses.get(key)
            if status == dg.AssetPartitionStatus.IN_PROGRESS:
                busy.add(day)
            elif status in (None, dg.AssetPartitionStatus.FAILED):
                missing.add(day)
    return sorted(missing - busy), busy


def contiguous(days: list[date]) -> list[tuple[date, date]]:
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


@dg.sensor(
    name="aov_auto_heal_sensor",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    jobs=JOBS,
    description="Off by default. Finds days of the last sync.heal_days that are missing or failed, backfills "
    "each gap as one run, then recomputes the 30-day windows and TTM months that include it (like aov backfill).",
)
def aov_auto_heal_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, manifest: dg.ResourceParam[Manifest]
):
    db = warehouse.open()
    pending = json.loads(context.cursor or "[]")  # heal runs requested, whose follow-ups are not yet requested
    requests, still_pending = [], []
    for heal in pending:
        runs = context.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": heal["run_key"]}), limit=1)
        status = runs[0].status if runs else None
        if status == dg.DagsterRunStatus.SUCCESS:
            first, last = date.fromisoformat(heal["first"]), date.fromisoformat(heal["last"])
            for step in backfill_plan(first, last, db.latest_as_of(), db.latest_ttm_month())[1:]:
                tags = step.tags | {HEAL_TAG: f"{first}..{last}"}
                requests.append(dg.RunRequest(job_name=step.job, run_key=f"{heal['run_key']}:{step.job}", tags=tags))
        elif status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            still_pending.append(heal)  # not started or still running; a failed heal is retried tomorrow
    partitions = daily_partitions(manifest)
    last_day = date.fromisoformat(partitions.get_last_partition_key())
    window = [
        day
        for day in (last_day - timedelta(days=i) for i in reversed(range(manifest.sync.heal_days)))
        if day >= manifest.start_date
    ]
    covered = {heal["first"] for heal in still_pending}
    missing, _ = days_to_heal(context.instance, window, partitions)
    for first, last in contiguous(missing):
        if first.isoformat() in covered:
            continue
        run_key = f"heal:{first}..{last}:{date.today()}"  # one attempt per gap and day
        tags = range_tags(first, last) | {HEAL_TAG: f"{first}..{last}"}
        requests.append(dg.RunRequest(job_name=DAILY_JOB, run_key=run_key, tags=tags))
        still_pending.append({"first": first.isoformat(), "last": last.isoformat(), "run_key": run_key})
    context.update_cursor(json.dumps(still_pending))
    if requests:
        return requests
    return dg.SkipReason(f"no missing or failed days in the last {len(window)} day(s)")
