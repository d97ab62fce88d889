"""The one Definitions object, built from the manifest loaded once when Dagster loads the code.

Importing this module reads nothing: `defs` is a `@dg.definitions` function that Dagster calls,
and `build_defs(manifest)` is the factory that tests and the CLI call with a manifest of their own.
"""

import inspect
import sys
from typing import Any

import dagster as dg

from .actions.assets import account_whitespace, b2b_category_mix_30d, basket_pairs, order_lines, product_catalog
from .alerts.sensors import aov_alert_slack_sensor
from .around.assets import AROUND_IT, currency_aov_30d, segment_metrics_30d
from .core.glue import GROUP, SINGLE_RUN, trailing
from .core.keys import CONTRACTION_CHECK, REJECTED_CHECK
from .core.partitions import daily_partitions, monthly_partitions
from .core.windows import WINDOW_DAYS
from .health.checks import HEALTH_CHECKS, freshness_checks
from .ingest.assets import raw_orders
from .investigation.accounts import LOOKBACK_DAYS
from .investigation.assets import account_daily, b2b_investigation
from .manifest import Manifest, ManifestError, load_manifest
from .metrics.assets import aov_30d, aov_ttm, classified_orders, daily_aov
from .operations.schedules import JOBS, build_schedules
from .operations.sensors import aov_auto_heal_sensor, aov_health_after_runs
from .resources import default_resources


def build_assets(manifest: Manifest) -> list[dg.AssetsDefinition]:
    """The asset graph on the manifest's daily and monthly partitions."""
    daily = {"partitions_def": daily_partitions(manifest), "backfill_policy": SINGLE_RUN, "group_name": GROUP}
    monthly = daily | {"partitions_def": monthly_partitions(manifest)}
    multi = {key: daily[key] for key in ("partitions_def", "backfill_policy")}
    spec = {"group_name": GROUP}
    lookback = dg.TimeWindowPartitionMapping(
        start_offset=-LOOKBACK_DAYS, allow_nonexistent_upstream_partitions=True
    )  # the windows, and the gone-quiet counts as of D-30 .. D-330; lifetime value reads all history
    investigation_deps = [
        dg.AssetDep("account_daily", partition_mapping=lookback),
        trailing("daily_aov", 2 * WINDOW_DAYS),
    ]
    around_deps = [  # repeat and new customers also read each customer's first order in all history
        trailing("classified_orders", 2 * WINDOW_DAYS),
        trailing("daily_aov", 2 * WINDOW_DAYS),
    ]

    def judged_per_day(function: Any, deps: list, check: str, about: str) -> dg.AssetsDefinition:
        """A daily asset whose check judges each day of the run: its verdicts are logged per partition
        (`log_verdicts`), so the asset is a subsettable multi-asset that returns no check result."""
        name = function.__name__
        checked = dg.AssetCheckSpec(check, asset=name, partitions_def=daily["partitions_def"], description=about)
        asset = dg.AssetSpec(name, deps=deps, kinds={"sql"}, description=inspect.cleandoc(function.__doc__), **spec)
        return dg.multi_asset(specs=[asset], check_specs=[checked], can_subset=True, **multi)(function)

    return [
        dg.asset(kinds={"parquet"}, **daily)(raw_orders),
        judged_per_day(
            classified_orders,
            ["raw_orders"],
            REJECTED_CHECK,
            "Every raw order of the day could be read (unreadable ones are in rejected_orders).",
        ),
        dg.asset(deps=["classified_orders"], kinds={"sql"}, **daily)(daily_aov),
        dg.asset(deps=["classified_orders"], kinds={"sql"}, **daily)(account_daily),
        dg.multi_asset(
            specs=[
                dg.AssetSpec(name, deps=investigation_deps, kinds={"sql"}, description=text, **spec)
                for name, text in (
                    (
                        "b2b_accounts_30d",
                        "Per as-of day and B2B account: status, both windows, lifetime value, cohort.",
                    ),
                    (
                        "b2b_cohorts_30d",
                        "Per as-of day and LTV cohort: AOV now and prior, gone quiet, the typical count.",
                    ),
                    (
                        "aov_why",
                        "Per as-of day: the B2B AOV change decomposed into ranked causes, and what was ruled out.",
                    ),
                )
            ],
            name="b2b_investigation",
            can_subset=False,
            **multi,
        )(b2b_investigation),
        dg.asset(deps=around_deps, kinds={"sql"}, **daily)(segment_metrics_30d),
        dg.asset(kinds={"sql"}, **spec)(product_catalog),
        dg.asset(deps=["raw_orders", "classified_orders"], kinds={"sql"}, **daily)(order_lines),
        dg.asset(deps=[trailing("order_lines", 2 * WINDOW_DAYS), "product_catalog"], kinds={"sql"}, **daily)(
            b2b_category_mix_30d
        ),
        dg.asset(deps=[trailing("classified_orders", 2 * WINDOW_DAYS)], kinds={"sql"}, **daily)(currency_aov_30d),
        judged_per_day(
            aov_30d,
            [trailing("daily_aov", 2 * WINDOW_DAYS), "aov_why", *AROUND_IT],
            CONTRACTION_CHECK,
            "B2B AOV must not fall by more than the manifest's threshold vs the prior 30 days (one verdict per "
            "as-of day: the check's partitions show which days alert).",
        ),
        dg.asset(deps=[trailing("daily_aov", 24)], kinds={"sql"}, **monthly)(aov_ttm),  # and the year before
        dg.asset(deps=[trailing("order_lines", 3), "product_catalog"], kinds={"sql"}, **monthly)(basket_pairs),
        dg.asset(deps=[trailing("order_lines", 12), "product_catalog", "b2b_accounts_30d"], kinds={"sql"}, **monthly)(
            account_whitespace
        ),
    ]


def build_defs(manifest: Manifest) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensors and resources, all from this one manifest."""
    freshness, freshness_sensor = freshness_checks(manifest)
    return dg.Definitions(
        assets=build_assets(manifest),
        asset_checks=[*HEALTH_CHECKS, *freshness],
        jobs=JOBS,
        schedules=build_schedules(manifest),
        sensors=[aov_alert_slack_sensor, aov_health_after_runs, aov_auto_heal_sensor, freshness_sensor],
        resources=default_resources(manifest),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """`$AOV_MANIFEST` (else ./aov.yaml), read when Dagster loads the code location."""
    try:
        return build_defs(load_manifest())  # a bad value can also surface while building (a cron Dagster refuses)
    except ManifestError:
        _manifest_errors_in_one_line()
        raise


def _manifest_errors_in_one_line() -> None:
    """A command that loads this code (`dagster asset materialize ...`) then ends with the manifest's
    one line instead of a traceback through Dagster's loader; any other error prints as before."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, trace: object) -> None:
        if issubclass(kind, ManifestError):
            print(f"aov: {error}", file=sys.stderr)
        else:
            previous(kind, error, trace)

    sys.excepthook = hook
