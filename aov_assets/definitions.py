"""The one Definitions object, built from the manifest loaded once when Dagster loads the code.

Importing this module reads nothing: `defs` is a `@dg.definitions` function that Dagster calls,
and `build_defs(stores)` is the factory that tests and the CLI call with stores (or a manifest) of their own.
"""

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import dagster as dg

from .actions import assets as actions
from .alerts.sensors import aov_alert_slack_sensor
from .around import assets as around
from .core.collector import settle_long_lived
from .core.glue import Partitioned
from .core.scope import Scope
from .health.checks import freshness_checks, health_checks
from .ingest import assets as ingest
from .investigation import assets as investigation
from .manifest import Manifest, ManifestError, Store, load_stores, stores_by_key
from .metrics import assets as metrics
from .operations.schedules import StoreJobs, build_schedules
from .operations.sensors import auto_heal_sensor, health_after_runs
from .portfolio.assets import portfolio_definitions
from .resources import default_resources

# Every step of a run in the run's own process: a step's Python start-up (Dagster, pandas, Arrow) costs
# more than a day of its work, and each step already overlaps its own I/O where it can.
EXECUTOR = dg.in_process_executor


def build_assets(store: Store) -> list[dg.AssetsDefinition]:
    """Every domain's assets for one store, on its daily and monthly partitions."""
    partitioned = Partitioned.of(store.manifest, Scope(store.key))
    domains = (ingest, metrics, investigation, around, actions)
    return [asset for domain in domains for asset in domain.asset_definitions(partitioned)]


def build_defs(stores: Manifest | Iterable[Store]) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensors and resources of every store (a lone manifest: the
    default store's), one factory per store; the sensors serve every store."""
    stores = stores_by_key(stores)
    return _definitions(tuple(stores.values()), _Resources(default_resources(stores)))


@dataclass(frozen=True)
class _Resources:
    """The resources, equal when configured alike (read from the same variables): the cache's key."""

    resources: dict[str, Any] = field(compare=False)
    configured: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "configured", repr({k: v for k, v in self.resources.items() if k != "stores"}))


@lru_cache(maxsize=4)
def _definitions(stores: tuple[Store, ...], resources: _Resources) -> dg.Definitions:
    """Built once per process for the same stores and resources: Dagster calls `defs` twice when it loads
    the code location, and 100 stores' definitions take seconds to build."""
    freshness, freshness_sensor = freshness_checks(list(stores))
    jobs = {}
    assets, checks = [], []
    for store in stores:
        store_assets, store_checks = build_assets(store), [*health_checks(store), *freshness[store.key]]
        jobs[store.key] = StoreJobs.of(Scope(store.key)).resolved(store_assets, store_checks, resources.resources)
        assets += store_assets
        checks += store_checks
    portfolio, portfolio_jobs, portfolio_schedules = portfolio_definitions({store.key: store for store in stores})
    return dg.Definitions(
        assets=[*assets, *portfolio],
        asset_checks=checks,
        jobs=[*(job for each in jobs.values() for job in each.all), *portfolio_jobs],
        schedules=[
            *(schedule for store in stores for schedule in build_schedules(store, jobs[store.key])),
            *portfolio_schedules,
        ],
        sensors=[aov_alert_slack_sensor, health_after_runs(jobs), auto_heal_sensor(jobs), freshness_sensor],
        resources=resources.resources,
        executor=EXECUTOR,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """`$AOV_MANIFEST` (else ./aov.yaml), read when Dagster loads the code location.

    The definitions live as long as the process that loads them (a code server, a run's process), so they
    leave the garbage collector's generations: otherwise every full collection, and the ones at exit,
    walk them again (at 100 stores ~0.7 million objects, ~2.5 s of `dg check defs`' ~11 s)."""
    try:
        built = build_defs(load_stores())  # a bad value can also surface while building (a cron Dagster refuses)
    except ManifestError:
        _manifest_errors_in_one_line()
        raise
    settle_long_lived()
    return built


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
