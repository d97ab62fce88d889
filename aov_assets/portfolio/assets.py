"""aov_portfolio: every store's card on one as-of day in one table, for a deployment of several stores."""

from collections.abc import Iterable
from datetime import date
from typing import Any

import dagster as dg

from ..core.db import DEFAULT_STORE
from ..core.glue import SINGLE_RUN, Progress, plottable_numbers
from ..core.partitions import daily_partitions, day_key, days_of
from ..core.scope import Scope
from ..manifest import Store, Stores
from ..resources import WarehouseResource
from ..warehouse import Warehouse
from .rules import StoreLine, markdown, ranked

PORTFOLIO_JOB = "aov_portfolio_daily"
PORTFOLIO_GROUP = "portfolio"  # apart from every store's group: one store's lineage stays that store's


def portfolio_lines(warehouse: Warehouse, stores: Iterable[Store], as_of: date) -> list[StoreLine]:
    """Each store's line from its own rows of the one warehouse, in the portfolio's order."""
    lines = []
    for store in stores:
        view = warehouse.for_store(store.key)
        lines.append(StoreLine.of(store.key, store.name, view.read_card(as_of), view.top_cause(as_of)))
    return ranked(lines)


def aov_portfolio(
    context: dg.AssetExecutionContext, stores: dg.ResourceParam[Stores], warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per as-of day: one row per store (B2B AOV now and prior, the change, B2C AOV, the multiplier, B2B
    orders, the verdict and the top cause), alerting stores first, then by change; each store's money in
    its own global currency, so compare the changes."""
    days = days_of(context.partition_time_window)
    db = warehouse.open(DEFAULT_STORE)  # each store's rows are read through its own view
    progress = Progress(context.log, "aov_portfolio", len(days))
    for day in days:
        lines = portfolio_lines(db, stores.values(), day)
        context.add_asset_metadata(portfolio_metadata(day, lines, newest=day == days[-1]), partition_key=day_key(day))
        progress.step(day)
    return dg.MaterializeResult()


def portfolio_metadata(as_of: date, lines: list[StoreLine], newest: bool) -> dict[str, Any]:
    """The table as Markdown, each store's change as a plottable number, and on a run's newest day the chart."""
    verdicts = [line.verdict for line in lines]
    metadata = plottable_numbers(
        {f"{line.store}_b2b_aov_change_pct": line.b2b_aov_change_pct for line in lines}
        | {"stores": len(lines), "alerting": verdicts.count("alert"), "missing": verdicts.count("missing")}
    ) | {"portfolio": dg.MetadataValue.md(markdown(as_of, lines))}
    if newest:
        from ..metrics.charts import markdown_image, portfolio_chart

        metadata["portfolio_chart"] = dg.MetadataValue.md(markdown_image(portfolio_chart(as_of, lines), "Portfolio"))
    return metadata


def portfolio_definitions(stores: Stores) -> tuple[list[dg.AssetsDefinition], list, list]:
    """The asset over every store's aov_30d and aov_why, its job and its daily schedule (03:00 UTC, after
    the stores' daily runs); none for a deployment of one store, whose card is the portfolio."""
    if len(stores) < 2:
        return [], [], []
    manifests = [store.manifest for store in stores.values()]
    ends = [manifest.end_date for manifest in manifests]
    span = manifests[0].model_copy(
        update={
            "start_date": min(manifest.start_date for manifest in manifests),
            "end_date": None if None in ends else max(ends),
        }
    )
    clipped = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)  # stores start apart
    read = [Scope(key).key(name) for key in stores for name in ("aov_30d", "aov_why")]
    deps = [dg.AssetDep(key, partition_mapping=clipped) for key in read]
    asset = dg.asset(
        deps=deps,
        partitions_def=daily_partitions(span),
        backfill_policy=SINGLE_RUN,
        group_name=PORTFOLIO_GROUP,
        kinds={"sql"},
    )(aov_portfolio)
    job = dg.define_asset_job(PORTFOLIO_JOB, selection=[asset.key], description="Every store's card on one page.")
    schedule = dg.build_schedule_from_partitioned_job(
        job, name="aov_portfolio_schedule", hour_of_day=3, default_status=dg.DefaultScheduleStatus.RUNNING
    )
    return [asset], [job], [schedule]
