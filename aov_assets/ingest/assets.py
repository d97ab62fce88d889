"""raw_orders: each UTC day's orders as the source returned them, kept in the Parquet lake."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import dagster as dg

from ..core.glue import Partitioned, Progress
from ..core.partitions import day_key, days_of
from ..core.scope import Scope
from ..manifest import Stores
from ..resources import AdobeCommerceResource, LakeResource
from .lake import LakeFileError, RawOrderLake

BATCH_ORDERS = 25_000  # raw orders read together: enough to amortize Arrow and pandas, few to bound memory


def batches(store: RawOrderLake, days: list[date]) -> Iterator[list[date]]:
    """Consecutive days holding up to BATCH_ORDERS raw orders together (a bigger day alone), counted from
    the lake's Parquet footers: memory stays flat whatever the store's size."""
    batch, orders = [], 0
    for day in days:
        count = store.order_count(day) or 0
        if batch and orders + count > BATCH_ORDERS:
            yield batch
            batch, orders = [], 0
        batch.append(day)
        orders += count
    if batch:
        yield batch


def raw_orders(
    context: dg.AssetExecutionContext,
    stores: dg.ResourceParam[Stores],
    lake: LakeResource,
    adobe_commerce: AdobeCommerceResource,
) -> dg.MaterializeResult:
    """Every order created on the UTC day, exactly as the source returned it (Parquet lake)."""
    store = Scope.of(context).store
    files = lake.raw_orders(store)
    days = days_of(context.partition_time_window)
    progress = Progress(context.log, "raw_orders", len(days))
    with adobe_commerce.open_source(stores[store]) as source:
        lake.store_lists(store).save(source)  # what the manifest's codes resolve against, for replays without the store
        for day, payloads in source.iter_days(days):
            count = files.write_day(day, payloads, source=source.name)
            context.add_asset_metadata(
                {"orders": count, "path": dg.MetadataValue.path(str(files.path_for(day)))}, partition_key=day_key(day)
            )
            progress.step(day, count)
    return dg.MaterializeResult()


@contextmanager
def lake_failures() -> Iterator[None]:
    """A lake file that cannot be read fails the step with its one line (file and fix), not a traceback."""
    try:
        yield
    except LakeFileError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None


def asset_definitions(partitioned: Partitioned) -> list[dg.AssetsDefinition]:
    # one pool per store's API (limited in dagster.yaml): a slow store queues its own syncs, never another's
    return [dg.asset(kinds={"parquet"}, **partitioned.api, **partitioned.daily)(raw_orders)]
