"""Sensors: failed ERROR checks to Slack and the data-health checks after each run (on by default), and
auto-heal of missing days (off by default)."""

import json
from collections.abc import Mapping
from datetime import date, timedelta

import dagster as dg

from ..core.db import DEFAULT_STORE
from ..core.keys import range_tags
from ..core.partitions import daily_partitions, day_key
from ..core.scope import Scope
from ..manifest import Store, Stores
from ..resources import WarehouseResource
from .backfill import backfill_plan
from .schedules import StoreJobs

DAILY_CHAIN = ("raw_orders", "classified_orders", "daily_aov", "aov_30d")
HEAL_TAG = "aov/heal"


def health_after_runs(jobs: Mapping[str, StoreJobs]) -> dg.RunStatusSensorDefinition:
    """One sensor for every store: after a store's successful daily, windows or monthly run, that
    store's data-health checks, once."""

    store_of = {job.name: key for key, each in jobs.items() for job in each.watched}

    @dg.run_status_sensor(
        name="aov_health_after_runs",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[job for each in jobs.values() for job in each.watched],
        request_jobs=[each.health for each in jobs.values()],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the store's data-health checks once after each of its successful daily, windows or "
        "monthly runs.",
    )
    def aov_health_after_runs(context: dg.RunStatusSensorContext) -> dg.RunRequest:
        health = jobs[store_of[context.dagster_run.job_name]].health
        return dg.RunRequest(run_key=context.dagster_run.run_id, job_name=health.name)

    return aov_health_after_runs


def days_to_heal(
    instance: dg.DagsterInstance, days: list[date], partitions: dg.PartitionsDefinition, scope: Scope = Scope()
) -> tuple[list[date], set[date]]:
    """(days missing or failed for any asset of the store's daily chain, days with a run in progress)."""
    keys = [day_key(day) for day in days]
    missing, busy = set(), set()
    for name in DAILY_CHAIN:
        statuses = instance.get_status_by_partition(scope.key(name), keys, partitions) or {}
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


def auto_heal_sensor(jobs: Mapping[str, StoreJobs]) -> dg.SensorDefinition:
    """One sensor for every store; its cursor keeps each store's heal runs apart."""

    @dg.sensor(
        name="aov_auto_heal_sensor",
        minimum_interval_seconds=3600,
        default_status=dg.DefaultSensorStatus.STOPPED,
        jobs=[job for each in jobs.values() for job in each.all],
        description="Off by default. Finds each store's days of the last sync.heal_days that are missing or "
        "failed, backfills each gap as one run, then recomputes the 30-day windows and TTM months that include "
        "it (like aov backfill).",
    )
    def aov_auto_heal_sensor(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource, stores: dg.ResourceParam[Stores]
    ):
        cursor = json.loads(context.cursor or "{}")
        if isinstance(cursor, list):  # a cursor of the one-store days: the default store's
            cursor = {DEFAULT_STORE: cursor}
        requests, pending, quiet = [], {}, []
        for key, store in stores.items():
            asked, pending[key], window = heal(context.instance, store, jobs[key], warehouse, cursor.get(key, []))
            requests += asked
            quiet.append(window)
        context.update_cursor(json.dumps(pending))
        if requests:
            return requests
        return dg.SkipReason(f"no missing or failed days in the last {max(quiet, default=0)} day(s)")

    return aov_auto_heal_sensor


def heal(
    instance: dg.DagsterInstance, store: Store, jobs: StoreJobs, warehouse: WarehouseResource, pending: list[dict]
) -> tuple[list[dg.RunRequest], list[dict], int]:
    """One store's heal: the follow-ups of its finished heal runs and a run per new gap (the requests,
    the heal runs still pending, and how many days were looked at)."""
    scope, manifest = Scope(store.key), store.manifest
    db = warehouse.open(store.key)
    requests, still_pending = [], []
    for heal in pending:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": heal["run_key"]}), limit=1)
        status = runs[0].status if runs else None
        if status == dg.DagsterRunStatus.SUCCESS:
            first, last = date.fromisoformat(heal["first"]), date.fromisoformat(heal["last"])
            for step in backfill_plan(first, last, db.latest_as_of(), db.latest_ttm_month())[1:]:
                tags = step.tags | {HEAL_TAG: f"{first}..{last}"}
                job = scope.name(step.job)
                requests.append(dg.RunRequest(job_name=job, run_key=f"{heal['run_key']}:{step.job}", tags=tags))
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
    missing, _ = days_to_heal(instance, window, partitions, scope)
    for first, last in contiguous(missing):
        if first.isoformat() in covered:
            continue
        run_key = f"{scope.name('heal')}:{first}..{last}:{date.today()}"  # one attempt per gap and day
        tags = range_tags(first, last) | {HEAL_TAG: f"{first}..{last}"}
        requests.append(dg.RunRequest(job_name=jobs.daily.name, run_key=run_key, tags=tags))
        still_pending.append({"first": first.isoformat(), "last": last.isoformat(), "run_key": run_key})
    return requests, still_pending, len(window)
