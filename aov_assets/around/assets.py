"""segment_metrics_30d and currency_aov_30d: what moved around B2B AOV."""

import dagster as dg

from ..core.glue import Partitioned, Progress, as_money, plottable_numbers
from ..core.partitions import day_key, days_of
from ..core.scope import Scope
from ..core.windows import WINDOW_DAYS
from ..manifest import Stores
from ..resources import WarehouseResource
from . import tables
from .neighbours import Neighbours
from .rules import MEASURES, currency_rows, segment_rows, span_start

NEIGHBOUR_ORDERS = 500_000  # orders whose customers are in memory at once: as-of days computed together


def segment_metrics_30d(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Around B2B AOV, per as-of day and segment (b2b, b2c, all), now and in the prior 30 days: revenue
    share, active and new customers, orders per customer, repeat rate, lines per order, value per line,
    refund rate. Repeat and new customers read each customer's first order in all history."""
    days, store = days_of(context.partition_time_window), Scope.of(context).store
    db = warehouse.open(store)
    unkeyed = db.days_without_customer_keys(days[-1])
    if unkeyed:
        context.log.warning(
            f"segment_metrics_30d: classified_orders has orders without a customer_key on {len(unkeyed)} day(s) "
            f"({unkeyed[0]}..{unkeyed[-1]}, classified by an older version): customer counts that include them "
            f"are left empty. Re-classify them: aov backfill --from {unkeyed[0]} --to {unkeyed[-1]}"
        )
    progress = Progress(context.log, "segment_metrics_30d", len(days))
    daily = db.read_daily(span_start(days[0]), days[-1])
    per_day = max(int(daily["orders"].sum()) // max(daily["order_date"].nunique(), 1), 1)
    chunk_days = max(WINDOW_DAYS, NEIGHBOUR_ORDERS // per_day - 2 * WINDOW_DAYS)
    with warehouse.replacing(store, [tables.segment_metrics_30d], days[0], days[-1]) as write:
        for start in range(0, len(days), chunk_days):
            chunk = days[start : start + chunk_days]
            first = span_start(chunk[0])
            rows = segment_rows(
                db.daily_sums_from_orders(first, chunk[-1]),
                daily.loc[daily["order_date"].between(first, chunk[-1]), "order_date"].unique(),
                db.customer_presence(first, chunk[-1]),
                db.first_order_days(first, chunk[-1]),
                chunk[0],
                chunk[-1],
                unkeyed,
            )
            rows = as_money(rows, "revenue", "refunded", "prior_revenue", "prior_refunded")
            write(tables.segment_metrics_30d, rows)
            for as_of, found in Neighbours.by_day(rows).items():
                numbers = {
                    f"{segment}_{name}": row[name] for segment, row in found.segments.items() for name in MEASURES
                }
                card = dg.MetadataValue.md(found.markdown())
                context.add_asset_metadata(plottable_numbers(numbers) | {"card": card}, partition_key=day_key(as_of))
                progress.step(as_of)
    return dg.MaterializeResult()


def currency_aov_30d(
    context: dg.AssetExecutionContext, stores: dg.ResourceParam[Stores], warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per as-of day, segment and order currency: AOV in that currency (no exchange rate in it) and in
    the global currency, now and in the prior 30 days."""
    days, store = days_of(context.partition_time_window), Scope.of(context).store
    db = warehouse.open(store)
    sums = db.currency_sums(span_start(days[0]), days[-1], stores[store].manifest.metric.basis)
    rows = currency_rows(sums, days[0], days[-1])
    with warehouse.replacing(store, [tables.currency_aov_30d], days[0], days[-1]) as write:
        write(tables.currency_aov_30d, rows)
    for as_of, day_rows in rows.groupby("as_of"):
        numbers = {}
        for row in day_rows.itertuples(index=False):
            numbers |= {
                f"{row.segment}_{row.currency}_aov": row.aov,
                f"{row.segment}_{row.currency}_orders": row.orders,
            }
        context.add_asset_metadata(plottable_numbers(numbers), partition_key=day_key(as_of))
    return dg.MaterializeResult()


def asset_definitions(partitioned: Partitioned) -> list[dg.AssetsDefinition]:
    window = [partitioned.trailing("classified_orders", 2 * WINDOW_DAYS)]
    # repeat and new customers also read each customer's first order in all history
    segment_deps = [*window, partitioned.trailing("daily_aov", 2 * WINDOW_DAYS)]
    return [
        dg.asset(deps=segment_deps, kinds={"sql"}, **partitioned.daily)(segment_metrics_30d),
        dg.asset(deps=window, kinds={"sql"}, **partitioned.daily)(currency_aov_30d),
    ]
