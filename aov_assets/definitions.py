"""The one Definitions object, built from the manifest loaded once when Dagster loads the code.

Importing this module reads nothing: `defs` is a `@dg.definitions` function that Dagster calls,
and `build_defs(manifest)` is the factory that tests and the CLI call with a manifest of their own.
"""

import sys

import dagster as dg

from .actions import assets as actions
from .alerts.sensors import aov_alert_slack_sensor
from .around import assets as around
from .core.glue import Partitioned
from .health.checks import HEALTH_CHECKS, freshness_checks
from .ingest import assets as ingest
from .investigation import assets as investigation
from .manifest import Manifest, ManifestError, load_manifest
from .metrics import assets as metrics
from .operations.schedules import JOBS, build_schedules
from .operations.sensors import aov_auto_heal_sensor, aov_health_after_runs
from .resources import default_resources


def build_assets(manifest: Manifest) -> list[dg.AssetsDefinition]:
    """Every domain's assets, on the manifest's daily and monthly partitions."""
    partitioned = Partitioned.of(manifest)
    domains = (ingest, metrics, investigation, around, actions)
    return [asset for domain in domains for asset in domain.asset_definitions(partitioned)]


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
        # Every step of a run in the run's own process: a step's Python start-up (Dagster, pandas, Arrow)
        # costs more than a day of its work, and each step already overlaps its own I/O where it can.
        executor=dg.in_process_executor,
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
