"""Each store's jobs and schedules.

Every day at 00:30 UTC the product catalog and the Companies' credit are refreshed; at 01:00 UTC the
daily chain runs for yesterday and, in the same run, re-syncs the `sync.lookback_days` days before it,
so late changes (cancellations, pending_payment -> complete) reach the tables and their 30-day windows. The
monthly TTM rollup runs once those re-syncs have settled the previous month (on day
`lookback_days + 1`). Store `acme`'s are named `acme__aov_daily` and so on, and tag their runs
`aov/store: acme`, so the run queue can limit each store on its own.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.execution.build_resources import wrap_resources_for_execution

from ..core.keys import ALERTING_CHECKS, CATALOG_JOB, DAILY_JOB, HEALTH_JOB, TTM_JOB, WINDOWS_JOB, range_tags
from ..core.scope import Scope
from ..manifest import Store

INVESTIGATION = ("b2b_accounts_30d", "b2b_cohorts_30d", "aov_why")  # one step: b2b_investigation
WINDOWS = (*INVESTIGATION, "segment_metrics_30d", "currency_aov_30d", "b2b_category_mix_30d", "aov_30d")  # per as-of
DAILY_ASSETS = ("raw_orders", "classified_orders", "daily_aov", "account_daily", "order_lines", *WINDOWS)
MONTHLY_ASSETS = ("aov_ttm", "basket_pairs", "account_whitespace")
Job = Any  # what dg.define_asset_job returns (its class is not exported)
REFERENCE_ASSETS = ("product_catalog", "company_credit")  # what the store holds now, refreshed whole daily
EVERY_ASSET = (*DAILY_ASSETS, *MONTHLY_ASSETS, *REFERENCE_ASSETS)  # a store's whole graph


def partitioned(scope: Scope, *assets: str) -> dg.AssetSelection:
    """The store's assets and only the checks judged per day inside their steps. A separate check in a
    range run would be planned for every partition and judged once, leaving the rest "Skipped" in the UI;
    the data-health checks judge the latest data anyway, so they run in `aov_health` after the run."""
    in_step = [scope.check(key) for key in ALERTING_CHECKS if key.asset_key.path[-1] in assets]
    return dg.AssetSelection.assets(*map(scope.key, assets)).without_checks() | dg.AssetSelection.checks(*in_step)


@dataclass(frozen=True)
class StoreJobs:
    """One store's jobs: the daily chain, the 30-day windows, the monthly rollups, the catalog, health."""

    daily: Job
    windows: Job
    ttm: Job
    catalog: Job
    health: Job

    @classmethod
    def of(cls, scope: Scope) -> "StoreJobs":
        def job(name: str, selection: dg.AssetSelection, description: str) -> Job:
            return dg.define_asset_job(scope.name(name), selection=selection, description=description, tags=scope.tags)

        alerting = dg.AssetSelection.checks(*(scope.check(key) for key in ALERTING_CHECKS))
        return cls(
            daily=job(
                DAILY_JOB,
                partitioned(scope, *DAILY_ASSETS),
                "Pull UTC days of orders, classify them, sum the days and accounts, investigate, measure the "
                "neighbours and refresh their 30-day cards.",
            ),
            windows=job(
                WINDOWS_JOB,
                partitioned(scope, *WINDOWS),
                "Recompute the investigation, the neighbours and the 30-day cards (after a backfill changed days "
                "they include).",
            ),
            ttm=job(
                TTM_JOB,
                partitioned(scope, *MONTHLY_ASSETS),
                "Roll the trailing twelve months up for completed months; bought-together pairs and whitespace.",
            ),
            catalog=job(
                CATALOG_JOB,
                dg.AssetSelection.assets(*map(scope.key, REFERENCE_ASSETS)),
                "Refresh SKU -> name and category from the store's catalog, and its Companies' credit.",
            ),
            health=job(
                HEALTH_JOB,
                dg.AssetSelection.checks_for_assets(*map(scope.key, EVERY_ASSET)) - alerting,
                "The data-health checks (fresh, complete, plausible), on the latest data; run after each daily, "
                "windows or monthly run by aov_health_after_runs.",
            ),
        )

    def resolved(self, assets: list[dg.AssetsDefinition], checks: list, resources: Mapping[str, Any]) -> "StoreJobs":
        """The jobs resolved against the store's own graph. Dagster resolves a job against every asset of
        the Definitions, so N stores' jobs cost N x N (at 100 stores most of the load time); a store's jobs
        select only its own assets, so its graph gives the same jobs. (Dagster 1.13 has no public call for
        this; `resolve` is what Definitions itself calls.)"""
        graph = AssetGraph.from_assets([*assets, *checks])
        bound = wrap_resources_for_execution(resources)
        return StoreJobs(*(job.resolve(asset_graph=graph, resource_defs=bound) for job in self.all))

    @property
    def all(self) -> list[Job]:
        return [self.daily, self.windows, self.ttm, self.catalog, self.health]

    @property
    def watched(self) -> list[Job]:
        """The runs after which the data-health checks run."""
        return [self.daily, self.windows, self.ttm]


def build_schedules(store: Store, jobs: StoreJobs) -> list:
    """The catalog and daily schedules, and the monthly one on the day the store's lookback has settled."""
    scope, manifest = Scope(store.key), store.manifest
    running = {"default_status": dg.DefaultScheduleStatus.RUNNING}
    utc = {"execution_timezone": "UTC"} | running
    catalog = dg.ScheduleDefinition(
        name=scope.name("aov_catalog_schedule"),
        job=jobs.catalog,
        cron_schedule="30 0 * * *",
        description="The catalog, refreshed before the daily run reads it.",
        **utc,
    )

    @dg.schedule(
        name=scope.name("aov_daily_schedule"),
        job=jobs.daily,
        cron_schedule="0 1 * * *",
        description="Yesterday's UTC day plus the lookback days before it, as one run.",
        **utc,
    )
    def daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        return daily_request(store, context.scheduled_execution_time.date())

    monthly = dg.build_schedule_from_partitioned_job(
        jobs.ttm,
        name=scope.name("aov_ttm_monthly_schedule"),
        day_of_month=manifest.sync.lookback_days + 1,
        hour_of_day=2,
        **running,
    )
    return [catalog, daily, monthly]


def daily_request(store: Store, when: date) -> dg.RunRequest | dg.SkipReason:
    """The daily run due on `when`: yesterday and the lookback days before it, within the store's dates."""
    manifest = store.manifest
    yesterday = when - timedelta(days=1)
    if manifest.end_date is not None and yesterday > manifest.end_date:
        return dg.SkipReason(f"the manifest's end_date {manifest.end_date} has passed: no new days to sync")
    if yesterday < manifest.start_date:
        return dg.SkipReason(f"the first partition is {manifest.start_date}")
    first = max(yesterday - timedelta(days=manifest.sync.lookback_days), manifest.start_date)
    return dg.RunRequest(run_key=f"daily:{yesterday}", tags=range_tags(first, yesterday))
