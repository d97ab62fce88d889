"""Names shared by assets, jobs, schedules and sensors."""

from __future__ import annotations

import dagster as dg

CONTRACTION_CHECK = "b2b_aov_contraction"
REJECTED_CHECK = "no_rejected_orders"
CONTRACTION_KEY = dg.AssetCheckKey(dg.AssetKey("aov_30d"), CONTRACTION_CHECK)
REJECTED_KEY = dg.AssetCheckKey(dg.AssetKey("classified_orders"), REJECTED_CHECK)
# Their ERROR evaluations page people. Both are judged per day inside their asset's step; every other
# check is a data-health check that runs in HEALTH_JOB, after the runs, unpartitioned.
ALERTING_CHECKS = (CONTRACTION_KEY, REJECTED_KEY)

DAILY_JOB, WINDOWS_JOB, TTM_JOB, CATALOG_JOB = "aov_daily", "aov_windows", "aov_ttm_monthly", "aov_catalog"
HEALTH_JOB = "aov_health"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def range_tags(first: object, last: object) -> dict[str, str]:
    """Run tags that make one run cover partitions first..last (a single-run range backfill)."""
    return {RANGE_START: str(first), RANGE_END: str(last)}
