"""Jobs and schedules: the daily chain for yesterday's UTC day, and the monthly TTM rollup."""

from __future__ import annotations

import dagster as dg

from .assets import aov_30d, aov_ttm, classified_orders, daily_aov, raw_orders

daily_job = dg.define_asset_job(
    "aov_daily",
    selection=dg.AssetSelection.assets(raw_orders, classified_orders, daily_aov, aov_30d),
    description="Pull a UTC day of orders, classify them, sum the day and refresh the 30-day card.",
)

ttm_job = dg.define_asset_job(
    "aov_ttm_monthly",
    selection=dg.AssetSelection.assets(aov_ttm),
    description="Roll the trailing twelve months up for a completed month.",
)

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job, hour_of_day=1, default_status=dg.DefaultScheduleStatus.RUNNING
)

monthly_schedule = dg.build_schedule_from_partitioned_job(
    ttm_job, hour_of_day=2, day_of_month=1, default_status=dg.DefaultScheduleStatus.RUNNING
)
