"""product_catalog, order_lines, b2b_category_mix_30d, basket_pairs and account_whitespace."""

import functools
import itertools
import operator
from datetime import date, timedelta
from fractions import Fraction

import dagster as dg
import numpy as np
import pandas as pd

from ..around.rules import span_start
from ..core.glue import Partitioned, Progress, as_money, plottable_numbers
from ..core.partitions import day_key, days_of, month_key, months_of
from ..core.scope import Scope
from ..core.windows import WINDOW_DAYS, add_months, month_end, month_start
from ..ingest.assets import batches, lake_failures
from ..ingest.shopify_orders import rest_orders
from ..manifest import Stores
from ..resources import AdobeCommerceResource, LakeResource, WarehouseResource
from . import tables
from .baskets import MIN_SKU_SUPPORT, PAIR_DAYS, BasketCounts, whitespace_rows
from .lines import UNCATEGORIZED, category_rows, line_rows


def product_catalog(
    context: dg.AssetExecutionContext,
    stores: dg.ResourceParam[Stores],
    warehouse: WarehouseResource,
    adobe_commerce: AdobeCommerceResource,
) -> dg.MaterializeResult:
    """SKU -> product name and category path, from the source's catalog (replaced whole)."""
    store = Scope.of(context).store
    with adobe_commerce.open_source(stores[store]) as source:
        catalog = pd.DataFrame(source.catalog(), columns=["sku", "name", "product_id", "category"])
    catalog = catalog.dropna(subset=["sku"]).drop_duplicates("sku", keep="first")
    catalog["category"] = catalog["category"].fillna(UNCATEGORIZED).replace("", UNCATEGORIZED)
    with warehouse.replacing(store, [tables.product_catalog], None, None) as write:
        write(tables.product_catalog, catalog.astype(object))
    uncategorized = int((catalog["category"] == UNCATEGORIZED).sum())
    context.log.info(f"product_catalog: {len(catalog):,} SKUs in {catalog['category'].nunique()} categories")
    return dg.MaterializeResult(
        metadata={
            "skus": len(catalog),
            "categories": int(catalog["category"].nunique()),
            "uncategorized_skus": uncategorized,
        }
    )


def order_lines(
    context: dg.AssetExecutionContext,
    stores: dg.ResourceParam[Stores],
    lake: LakeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """One row per counted order line (configurables as their parent, bundles by the rows that carry
    the price), valued in exact cents that add up to each order's lines, from the lake."""
    days, key = days_of(context.partition_time_window), Scope.of(context).store
    files, db, manifest = lake.raw_orders(key), warehouse.open(key), stores[key].manifest
    progress = Progress(context.log, "order_lines", len(days))
    with lake_failures(), warehouse.replacing(key, [tables.order_lines], days[0], days[-1]) as write:
        for batch in batches(files, days):
            counted = db.counted_orders_of(batch[0], batch[-1]).set_index("entity_id")
            rejected = db.rejected_between(batch[0], batch[-1])
            lines, unreadable = line_rows(
                ((day, array.to_pylist()) for day, array in rest_orders(manifest, files.payloads_of(batch)).items()),
                set(counted.index),
                rejected,
            )
            if unreadable:
                context.log.warning(
                    f"order_lines: {len(unreadable)} counted order(s) have items that cannot be read and no lines "
                    f"(entity_ids {', '.join(map(str, unreadable[:10]))}{' ...' if len(unreadable) > 10 else ''})"
                )
            lines = lines.astype({"entity_id": "int64"}).join(counted, on="entity_id")
            lines = lines.rename(columns={"customer_key": "account", "line_cents": "line_value_cents"})
            write(tables.order_lines, as_money(lines, "line_value"))
            per_day = lines.groupby("order_date")["entity_id"].agg(["size", "nunique"])
            for day in batch:
                count, orders = per_day.loc[day] if day in per_day.index else (0, 0)
                context.add_asset_metadata({"lines": int(count), "orders": int(orders)}, partition_key=day_key(day))
                progress.step(day, int(orders))
    return dg.MaterializeResult()


def b2b_category_mix_30d(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per as-of day and category: B2B line value per order now and in the prior 30 days; the
    categories that left the baskets are the ones whose value per order fell most."""
    days, store = days_of(context.partition_time_window), Scope.of(context).store
    db = warehouse.open(store)
    sums, orders = db.b2b_category_sums(span_start(days[0]), days[-1])
    rows = category_rows(sums, orders, days[0], days[-1])
    with warehouse.replacing(store, [tables.b2b_category_mix_30d], days[0], days[-1]) as write:
        write(tables.b2b_category_mix_30d, rows)
    for as_of, day_rows in rows.groupby("as_of"):
        numbers = {f"{row.category}_per_order": row.per_order for row in day_rows.itertuples(index=False)}
        context.add_asset_metadata(plottable_numbers(numbers), partition_key=day_key(as_of))
    return dg.MaterializeResult()


def basket_pairs(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per month (the trailing 90 days up to its end) and segment: category pairs, and SKU pairs in at
    least 1% of orders, bought together in one order, with support, confidence and lift.

    A window's counts are the sum of its pieces' (spans of days cut at month starts and at windows'
    first days), and each month's lines are read once and counted piece by piece, so a month of lines
    is in memory at a time, not a window's three."""
    months, store = months_of(context.partition_time_window), Scope.of(context).store
    db = warehouse.open(store)
    windows = [(month_end(m) - timedelta(days=PAIR_DAYS - 1), month_end(m)) for m in months]
    pieces = _pieces(windows)
    counted: dict[tuple[date, date], dict[tuple[str, str], BasketCounts]] = {}
    with warehouse.replacing(store, [tables.basket_pairs], f"{months[0]:%Y-%m}", f"{months[-1]:%Y-%m}") as write:
        for month, (first, last) in zip(months, windows):
            needed = [piece for piece in pieces if first <= piece[0] and piece[1] <= last]
            counted = {piece: counts for piece, counts in counted.items() if piece in needed}
            missing = [piece for piece in needed if piece not in counted]
            for _, same_month in itertools.groupby(missing, key=lambda piece: month_start(piece[0])):
                same_month = list(same_month)
                counted |= _basket_counts(db.basket_lines(same_month[0][0], same_month[-1][1]), same_month)
            pairs = _pairs_of([counted[piece] for piece in needed]).assign(month=f"{month:%Y-%m}")
            write(tables.basket_pairs, pairs)
            context.add_asset_metadata(
                {"pairs": len(pairs), "bundle_candidates": dg.MetadataValue.md(_bundle_card(pairs))},
                partition_key=month_key(month),
            )
    return dg.MaterializeResult()


def _pieces(windows: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """first..last of consecutive spans covering the windows, none crossing a month's start or a window's
    first day: every window is exactly a run of them."""
    first, last = windows[0][0], windows[-1][1]
    starts, month = {start for start, _ in windows}, add_months(month_start(first), 1)
    while month <= last:
        starts.add(month)
        month = add_months(month, 1)
    cuts = sorted(starts)
    return [(a, b - timedelta(days=1)) for a, b in zip(cuts, [*cuts[1:], last + timedelta(days=1)])]


def _basket_counts(
    lines: pd.DataFrame, pieces: list[tuple[date, date]]
) -> dict[tuple[date, date], dict[tuple[str, str], BasketCounts]]:
    """Per piece of the lines' days, per (segment, kind): the counts of its orders' distinct items."""
    day = pd.to_datetime(lines["order_date"].astype(str)).to_numpy()
    which = np.searchsorted(np.array([a for a, _ in pieces], dtype="datetime64[ns]"), day, side="right") - 1
    counted = {}
    for number, piece in enumerate(pieces):
        counts = {}
        for segment, part in lines[which == number].groupby("segment", observed=True):
            orders = part["entity_id"].nunique()
            for kind in ("category", "sku"):
                items = part[["entity_id", kind]].drop_duplicates().rename(columns={kind: "item"})
                counts[(segment, kind)] = BasketCounts.of(items, orders)
        counted[piece] = counts
    return counted


def _pairs_of(parts: list[dict[tuple[str, str], BasketCounts]]) -> pd.DataFrame:
    """The window's rules per segment and kind from its pieces' counts."""
    frames = []
    for segment, kind in sorted({key for counts in parts for key in counts}):  # as before: category, then sku
        total = functools.reduce(operator.add, (counts[segment, kind] for counts in parts if (segment, kind) in counts))
        floor = MIN_SKU_SUPPORT if kind == "sku" else Fraction(0)
        frames.append(total.rules(floor).assign(segment=segment, kind=kind))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["segment", "kind"])


def _bundle_card(pairs: pd.DataFrame) -> str:
    """The B2B category pairs with the highest lift: the bundle candidates, as Markdown."""
    top = pairs[(pairs["segment"] == "b2b") & (pairs["kind"] == "category")]
    top = top.sort_values(["lift", "antecedent"], ascending=[False, True]).head(10)
    return "\n".join(
        ["| B2B: bought | also bought | orders | support | confidence | lift |", "| --- | --- |" + " ---: |" * 4]
        + [
            f"| {r.antecedent} | {r.consequent} | {r.orders:,} | {r.support_pct:.1f}% | {r.confidence_pct:.1f}% | "
            f"{r.lift:.2f} |"
            for r in top.itertuples(index=False)
        ]
    )


WHITESPACE_SHOWN = 20


def account_whitespace(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per month (the trailing 12 months up to its end): each B2B account's categories that at least
    half of its LTV-cohort peers buy and it does not, sized by the peers' median spend."""
    months, store = months_of(context.partition_time_window), Scope.of(context).store
    db = warehouse.open(store)
    keys = [f"{m:%Y-%m}" for m in months]
    spend_in: dict[date, pd.DataFrame] = {}  # per month: each month's B2B spend is read once, not 12 times
    with warehouse.replacing(store, [tables.account_whitespace], keys[0], keys[-1]) as write:
        for month, key in zip(months, keys):
            last = month_end(month)
            accounts = db.cohorts_as_of(last)
            if accounts.empty:
                context.log.warning(f"account_whitespace {key}: no b2b_accounts_30d rows as of {last} (no cohorts)")
            cohort_of = accounts.set_index("account")["cohort"]
            window = [add_months(month, -back) for back in range(11, -1, -1)]
            spend_in = {m: spend_in[m] if m in spend_in else db.b2b_spend(m, month_end(m)) for m in window}
            spend = pd.concat(spend_in.values(), ignore_index=True).groupby(["account", "category"], as_index=False)
            rows = whitespace_rows(spend[["line_cents", "lines"]].sum(), cohort_of)
            rows = rows.assign(month=key, name=rows["account"].map(accounts.set_index("account")["name"]))
            write(tables.account_whitespace, rows)
            top = rows.sort_values(["peer_median_spend", "account"], ascending=[False, True]).head(WHITESPACE_SHOWN)
            card = [
                "| account | category | cohort | peers buying | peer median spend |",
                "| --- | --- | --- | ---: | ---: |",
            ]
            card += [
                f"| {r.name} ({r.account}) | {r.category} | {r.cohort} | {r.peers_buying}/{r.peers} | "
                f"{r.peer_median_spend:,.2f} |"
                for r in top.itertuples(index=False)
            ]
            context.add_asset_metadata(
                {"opportunities": len(rows), "top_opportunities": dg.MetadataValue.md("\n".join(card))},
                partition_key=month_key(month),
            )
    return dg.MaterializeResult()


def asset_definitions(partitioned: Partitioned) -> list[dg.AssetsDefinition]:
    daily, monthly, key, trailing = partitioned.daily, partitioned.monthly, partitioned.key, partitioned.trailing
    catalog, api = key("product_catalog"), partitioned.api
    return [
        dg.asset(kinds={"sql"}, **api, **partitioned.unpartitioned)(product_catalog),
        dg.asset(deps=[key("raw_orders"), key("classified_orders")], kinds={"sql"}, **daily)(order_lines),
        dg.asset(deps=[trailing("order_lines", 2 * WINDOW_DAYS), catalog], kinds={"sql"}, **daily)(
            b2b_category_mix_30d
        ),
        dg.asset(deps=[trailing("order_lines", 3), catalog], kinds={"sql"}, **monthly)(basket_pairs),
        dg.asset(deps=[trailing("order_lines", 12), catalog, key("b2b_accounts_30d")], kinds={"sql"}, **monthly)(
            account_whitespace
        ),
    ]
