"""Jobs and schedules.

Every day at 00:30 UTC the product catalog is refreshed; at 01:00 UTC the daily chain runs for
yesterday and, in the same run, re-syncs the `sync.lookback_days` days before it, so late changes
(cancellations, pending_payment -> complete) reach the tables and their 30-day windows. The
monthly TTM rollup runs once those re-syncs have settled the previous month (on day
`lookback_days + 1`).
"""

from datetime import timedelta

import dagster as dg

from ..core.keys import ALERTING_CHECKS, CATALOG_JOB, DAILY_JOB, HEALTH_JOB, TTM_JOB, WINDOWS_JOB, range_tags
from ..manifest import Manifest

INVESTIGATION = ("b2b_accounts_30d", "b2b_cohorts_30d", "aov_why")  # one step: b2b_investigation
WINDOWS = (*INVESTIGATION, "segment_metrics_30d", "currency_aov_30d", "b2b_category_mix_30d", "aov_30d")  # per as-of
DAILY_ASSETS = ("raw_orders", "classified_orders", "daily_aov", "account_daily", "order_lines", *WINDOWS)


def partitioned(*assets: str) -> dg.AssetSelection:
    """The assets and only the checks judged per day inside their steps. A separate check in a range run
    would be planned for every partition and judged once, leaving the rest "Skipped" in the UI; the
    data-health checks judge the latest data anyway, so they run in `aov_health` after the run."""
    in_step = [key for key in ALERTING_CHECKS if key.asset_key.to_user_string() in assets]
    return dg.AssetSelection.assets(*assets).without_checks() | dg.AssetSelection.checks(*in_step)


daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=partitioned(*DAILY_ASSETS),
    description="Pull UTC days of orders, classify them, sum the days and accounts, investigate, measure the "
    "neighbours and refresh their 30-day cards.",
)

windows_job = dg.define_asset_job(
    WINDOWS_JOB,
    selection=partitioned(*WINDOWS),
    description="Recompute the investigation, the neighbours and the 30-day cards (after a backfill changed days "
    "they include).",
)

ttm_job = dg.define_asset_job(
    TTM_JOB,
    selection=partitioned("aov_ttm", "basket_pairs", "account_whitespace"),
    description="Roll the trailing twelve months up for completed months; bought-together pairs and whitespace.",
)

catalog_job = dg.define_asset_job(
    CATALOG_JOB,
    selection=dg.AssetSelection.assets("product_catalog"),
    description="Refresh SKU -> name and category from the store's catalog.",
)

health_job = dg.define_asset_job(
    HEALTH_JOB,
    selection=dg.AssetSelection.all_asset_checks() - dg.AssetSelection.checks(*ALERTING_CHECKS),
    description="The data-health checks (fresh, complete, plausible), on the latest data; run after each daily, "
    "windows or monthly run by aov_health_after_runs.",
)

JOBS = [daily_job, windows_job, ttm_job, catalog_job, health_job]

catalog_schedule = dg.ScheduleDefinition(
    name="aov_catalog_schedule",
    job=catalog_job,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The catalog, refreshed before the daily run reads it.",
)


@dg.schedule(
    job=daily_job,
    cron_schedule="0 1 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Yesterday's UTC day plus the lookback days before it, as one run.",
)
def aov_daily_schedule(
    context: dg.ScheduleEvaluationContext, manifest: dg.ResourceParam[Manifest]
) -> dg.RunRequest | dg.SkipReason:
    yesterday = context.scheduled_execution_time.date() - timedelta(days=1)
    if manifest.end_date is not None and yesterday > manifest.end_date:
        return dg.SkipReason(f"the manifest's end_date {manifest.end_date} has passed: no new days to sync")
    if yesterday < manifest.start_date:
        return dg.SkipReason(f"the first partition is {manifest.start_date}")
    first = max(yesterday - timedelta(days=manifest.sync.lookback_days), manifest.start_date)
    return dg.RunRequest(run_key=f"daily:{yesterday}", tags=range_tags(first, yesterday))


def build_schedules(manifest: Manifest) -> list:
    """The daily schedule, and the monthly one on the day the manifest's lookback has settled."""
    monthly = dg.build_schedule_from_partitioned_job(
        ttm_job,
        name="aov_ttm_monthly_schedule",
        day_of_month=manifest.sync.lookback_days + 1,
        hour_of_day=2,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return [catalog_schedule, aov_daily_schedule, monthly]
