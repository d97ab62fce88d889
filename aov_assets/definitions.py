"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

from .assets import aov_30d, aov_ttm, classified_orders, daily_aov, raw_orders
from .health import HEALTH_CHECKS
from .resources import default_resources
from .schedules import aov_daily_schedule, daily_job, monthly_schedule, ttm_job, windows_job
from .sensors import aov_alert_slack_sensor, aov_auto_heal_sensor

defs = dg.Definitions(
    assets=[raw_orders, classified_orders, daily_aov, aov_30d, aov_ttm],
    asset_checks=HEALTH_CHECKS,
    jobs=[daily_job, windows_job, ttm_job],
    schedules=[aov_daily_schedule, monthly_schedule],
    sensors=[aov_alert_slack_sensor, aov_auto_heal_sensor],
    resources=default_resources(),
)
