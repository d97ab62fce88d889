"""What every domain's Dagster definitions share: single-run backfills, progress in the logs,
plottable metadata, verdicts logged per day."""

import inspect
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import dagster as dg
import pandas as pd

from ..manifest import Manifest
from .money import cents_to_money
from .partitions import daily_partitions, monthly_partitions
from .scope import Scope

# Single-run backfills, clipped partition mappings and a check partitioned by as-of day are deliberate
# choices; without this their notices repeat on every load of the code location and bury the daemon's
# own log lines.
warnings.filterwarnings(
    "ignore", r"Parameter `(backfill_policy|allow_nonexistent_upstream_partitions)`", dg.BetaWarning
)
warnings.filterwarnings("ignore", r"Specifying a partitions_def on an AssetCheckSpec", dg.PreviewWarning)


# The one private Dagster name here, fenced (README, "Private Dagster parts"): 1.13 exports no name for the
# materialization a logged check verdict judged. Without it the verdicts are still logged and alert; only
# the check's Partitions view shows their days as missing. test_assets pins that it works.
try:
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData as CheckTarget,
    )
except ImportError:  # pragma: no cover - a Dagster release moved it
    CheckTarget = None


T, R = TypeVar("T"), TypeVar("R")
SINGLE_RUN = dg.BackfillPolicy.single_run()
GROUP = "aov"


def one_ahead(work: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
    """(item, work(item)) in order, the next item's work done on a second thread meanwhile: reading the
    lake and parsing (Arrow, numpy) and writing SQLite release the GIL, so batches overlap on two
    cores. At most two items' results are held; an error is raised when its item is reached."""
    with ThreadPoolExecutor(1, thread_name_prefix="aov-one-ahead") as pool:
        pending = None
        for item in items:
            started = (item, pool.submit(work, item))
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = started
        if pending is not None:
            yield pending[0], pending[1].result()


class Progress:
    """Logs how far a long range has come, about every tenth of the way and at the end."""

    def __init__(self, log: dg.DagsterLogManager, what: str, days: int):
        self.log, self.what, self.days = log, what, days
        self.done, self.orders = 0, None  # orders: counted only by steps that read orders
        self.every = max(days // 10, 1)
        self.started = time.monotonic()

    def step(self, day: date, orders: int | None = None) -> None:
        """One more day done; `orders` for steps that read orders (as-of steps say only how far they are)."""
        self.done += 1
        if orders is not None:
            self.orders = (self.orders or 0) + orders
        if self.days > 1 and (self.done % self.every == 0 or self.done == self.days):
            elapsed = time.monotonic() - self.started
            rate = "" if self.orders is None else f" ({self.orders / max(elapsed, 1e-9):,.0f} orders/s)"
            read = "" if self.orders is None else f", {self.orders:,} orders"
            self.log.info(f"{self.what}: {self.done}/{self.days} days through {day}{read} in {elapsed:.1f}s{rate}")


def plottable_numbers(values: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata the UI can plot and read: Decimals as floats to the cent (or hundredth of a percent; the
    warehouse and `aov card --json` keep every digit), missing values left out."""
    return {key: plottable_value(value) for key, value in values.items() if value is not None}


def plottable_value(value: Any) -> Any:
    return float(round(value, 2)) if isinstance(value, Decimal) else value


def require_the_asset(context: dg.AssetExecutionContext) -> None:
    """A check judged inside its asset's step cannot run alone: say so before anything is written."""
    if not context.selected_asset_keys:
        name = next(iter(context.selected_asset_check_keys)).asset_key.to_user_string()
        raise dg.Failure(
            f"the checks on {name} are judged while {name} is materialized; materialize {name} for the days "
            "instead of executing its check alone",
            allow_retries=False,
        )


def log_verdicts(context: dg.AssetExecutionContext, verdicts: list[dg.AssetCheckEvaluation]) -> None:
    """A check's per-day verdicts into the run's events (when the run selected the check), oldest first,
    so the check's latest evaluation is the newest day's.

    Called after the step yielded its materializations: each verdict then names its partition's
    materialization of this run, which is what makes the check's Partitions view count the day as
    judged (a verdict without it shows as "Missing")."""
    chosen = [verdict for verdict in verdicts if verdict.asset_check_key in context.selected_asset_check_keys]
    if not chosen:
        return
    partitions = [verdict.partition for verdict in chosen]
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=chosen[0].asset_key, asset_partitions=partitions), limit=len(partitions)
    ).records
    ours = {record.partition_key: record for record in records if record.run_id == context.run.run_id}
    for verdict in chosen:
        context.log_event(with_target(verdict, ours.get(verdict.partition)))


def with_target(verdict: dg.AssetCheckEvaluation, record: dg.EventLogRecord | None) -> dg.AssetCheckEvaluation:
    """The verdict pointing at the materialization it judged (as it is, without `CheckTarget` or a record)."""
    if CheckTarget is None or record is None:
        return verdict
    target = CheckTarget(storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp)
    return dg.AssetCheckEvaluation(
        asset_key=verdict.asset_key,
        check_name=verdict.check_name,
        passed=verdict.passed,
        metadata=verdict.metadata,
        target_materialization_data=target,
        severity=verdict.severity,
        description=verdict.description,
        blocking=verdict.blocking,
        partition=verdict.partition,
    )


@dataclass(frozen=True)
class Partitioned:
    """One store's partitions and names as keyword arguments of Dagster's decorators, for every domain's
    `asset_definitions`: daily, monthly and unpartitioned assets, multi-assets (`multi`, with `op`) and
    their specs (`spec`); `key` and `trailing` name the store's upstream assets; `api` puts the assets
    that call the store's API in its pool (`<store>__adobe_commerce`, or `<store>__shopify`)."""

    scope: Scope
    daily: dict[str, Any]
    monthly: dict[str, Any]
    unpartitioned: dict[str, Any]
    multi: dict[str, Any]
    spec: dict[str, Any]
    api: dict[str, Any]

    @classmethod
    def of(cls, manifest: Manifest, scope: Scope = Scope()) -> "Partitioned":
        group = {"group_name": scope.name(GROUP)}
        unpartitioned = group | ({"key_prefix": scope.prefix} if scope.prefix else {})
        daily = unpartitioned | {"partitions_def": daily_partitions(manifest), "backfill_policy": SINGLE_RUN}
        multi = {key: daily[key] for key in ("partitions_def", "backfill_policy")}
        monthly = daily | {"partitions_def": monthly_partitions(manifest)}
        api = {"pool": scope.name("shopify" if manifest.source == "shopify" else "adobe_commerce")}
        return cls(scope, daily, monthly, unpartitioned, multi, group, api)

    def key(self, name: str) -> dg.AssetKey:
        return self.scope.key(name)

    def op(self, name: str) -> str:
        return self.scope.name(name)

    def trailing(self, asset: str, partitions: int) -> dg.AssetDep:
        """`asset` over the last `partitions` partitions of the downstream asset (60 days, 12 months),
        clipped at the first partition rather than failing on days before it."""
        return self.behind(asset, 1 - partitions)

    def behind(self, asset: str, offset: int) -> dg.AssetDep:
        """`asset` from `offset` (<= 0) partitions before the downstream one through the same one."""
        mapping = dg.TimeWindowPartitionMapping(start_offset=offset, allow_nonexistent_upstream_partitions=True)
        return dg.AssetDep(self.key(asset), partition_mapping=mapping)

    def judged_per_day(self, function: Any, deps: list, check: str, about: str) -> dg.AssetsDefinition:
        """A daily asset whose check judges each day of the run: its verdicts are logged per partition
        (`log_verdicts`), so the asset is a subsettable multi-asset that returns no check result."""
        name = function.__name__
        key = self.key(name)
        checked = dg.AssetCheckSpec(check, asset=key, partitions_def=self.daily["partitions_def"], description=about)
        description = inspect.cleandoc(function.__doc__)
        asset = dg.AssetSpec(key, deps=deps, kinds={"sql"}, description=description, **self.spec)
        return dg.multi_asset(specs=[asset], check_specs=[checked], can_subset=True, name=self.op(name), **self.multi)(
            function
        )


def as_money(frame: pd.DataFrame, *names: str, **renamed: str) -> pd.DataFrame:
    """Integer `<name>_cents` columns -> exact money columns `<name>` (or the given new names)."""
    columns = {f"{name}_cents": name for name in names} | {f"{k}_cents": v for k, v in renamed.items()}
    money = {new: _money_values(frame[old]) for old, new in columns.items()}
    return frame.drop(columns=list(columns)).assign(**money)


def _money_values(cents: pd.Series) -> list[Decimal | None]:
    return [None if missing else cents_to_money(c) for c, missing in zip(cents.tolist(), cents.isna().tolist())]
