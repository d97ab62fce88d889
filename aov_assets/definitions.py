"""The one Definitions object, built from the manifest loaded once when Dagster loads the code.

Importing this module reads nothing: `defs` is a `@dg.definitions` function that Dagster calls,
and `build_defs(manifest)` is the factory that tests and the CLI call with a manifest of their own.
"""

import dagster as dg

from .assets import build_assets
from .health import HEALTH_CHECKS
from .manifest import Manifest, load_manifest
from .resources import default_resources
from .schedules import JOBS, build_schedules
from .sensors import aov_alert_slack_sensor, aov_auto_heal_sensor


def build_defs(manifest: Manifest) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensors and resources, all from this one manifest."""
    return dg.Definitions(
        assets=build_assets(manifest),
        asset_checks=HEALTH_CHECKS,
        jobs=JOBS,
        schedules=build_schedules(manifest),
        sensors=[aov_alert_slack_sensor, aov_auto_heal_sensor],
        resources=default_resources(manifest),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """`$AOV_MANIFEST` (else ./aov.yaml), read when Dagster loads the code location."""
    return build_defs(load_manifest())
