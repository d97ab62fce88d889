"""classified_orders, daily_aov, aov_30d (with its contraction check) and aov_ttm."""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from ..actions.calls import CallList, CallSettings
from ..around.neighbours import Neighbours
from ..core.db import Writer
from ..core.glue import (
    Partitioned,
    Progress,
    log_verdicts,
    one_ahead,
    plottable_numbers,
    plottable_value,
    require_the_asset,
)
from ..core.keys import CONTRACTION_CHECK, CONTRACTION_KEY, REJECTED_CHECK, REJECTED_KEY
from ..core.money import cents_to_money
from ..core.partitions import day_key, days_of, month_key, months_of
from ..core.scope import Scope
from ..core.text import plain_records
from ..core.windows import WINDOW_DAYS, add_months, month_end
from ..ingest.assets import batches, lake_failures
from ..ingest.lake import RawOrderLake
from ..ingest.parse import reject_row, storable_text
from ..ingest.shopify_orders import rest_orders
from ..ingest.sources import segment_rule
from ..investigation.assets import causes_picture, investigation_numbers
from ..investigation.findings import Findings
from ..manifest import Manifest, Stores
from ..resources import AdobeCommerceResource, LakeResource, WarehouseResource
from ..warehouse import Warehouse
from . import tables
from .card import Card, TtmCard, trend_of
from .queries import classified_elsewhere, move_to_rejected, rejected_positions
from .segments import classify_orders, cross_day_duplicates
from .tables import rejected_orders
from .windows import AlertRule, card_rows, daily_rows, ttm_rows, window_sums


def classified_orders(
    context: dg.AssetExecutionContext,
    stores: dg.ResourceParam[Stores],
    lake: LakeResource,
    warehouse: WarehouseResource,
    adobe_commerce: AdobeCommerceResource,
) -> Iterator[dg.MaterializeResult]:
    """One row per order with its B2B/B2C segment, decided by the order's own fields at order time.

    Orders that cannot be read go to `rejected_orders` with the reason, never silently dropped.
    """
    require_the_asset(context)
    scope = Scope.of(context)
    manifest = stores[scope.store].manifest
    lists = lake.store_lists(scope.store)
    if not lists.exists():  # a lake synced before the lists were kept there: fetch them once
        with adobe_commerce.open_source(stores[scope.store]) as source:
            lists.save(source)
        context.log.info(f"saved the store's customer groups and store views to {lists.path}")
    with lake_failures():
        rule = segment_rule(manifest, lists)
    store = lake.raw_orders(scope.store)
    days = days_of(context.partition_time_window)
    progress = Progress(context.log, "classified_orders", len(days))
    rejects = []

    def classified(batch: list[date]) -> tuple[dict[date, pa.BinaryArray], pd.DataFrame, pd.DataFrame]:
        payloads = store.payloads_of(batch)  # as the lake keeps them: what a rejected row shows
        basis, limit = manifest.metric.basis, manifest.validation.max_order_value
        orders, rejected = classify_orders(rest_orders(manifest, payloads).items(), basis, rule, limit)
        places = zip(rejected["order_date"], rejected["position"])
        as_sent = [storable_text(payloads[day][position].as_py()) for day, position in places]
        return payloads, orders, rejected.assign(payload=pd.Series(as_sent, index=rejected.index, dtype=object))

    with (
        lake_failures(),
        warehouse.replacing(scope.store, [tables.classified_orders, rejected_orders], days[0], days[-1]) as write,
    ):
        for batch, (payloads, orders, rejected) in one_ahead(classified, batches(store, days)):
            orders, rejected, moved = settle_cross_day_duplicates(write, store, orders, rejected, payloads)
            write(tables.classified_orders, orders)
            write(rejected_orders, rejected)
            rejects += [rejected.drop(columns="payload"), moved.drop(columns="payload")]
            if len(moved):
                changed = sorted(set(moved["order_date"]) - set(days))
                context.log.warning(
                    f"{len(moved)} order(s) of other days lost to a more recently updated copy of their entity_id "
                    f"and moved to rejected_orders; refresh those days' sums: "
                    + ", ".join(f"aov backfill --from {day} --to {day}" for day in changed)
                )
            per_day = orders.groupby(["order_date", "segment"]).size()
            rejects_per_day = rejected["order_date"].value_counts()
            for day in batch:
                b2b, b2c = (int(per_day.get((day, segment), 0)) for segment in ("b2b", "b2c"))
                metadata = {"orders": b2b + b2c, "b2b_orders": b2b, "b2c_orders": b2c}
                context.add_asset_metadata(
                    metadata | {"rejected": int(rejects_per_day.get(day, 0))}, partition_key=day_key(day)
                )
                progress.step(day, b2b + b2c)
    yield dg.MaterializeResult(asset_key=context.assets_def.key)
    log_verdicts(context, rejected_verdicts(pd.concat(rejects, ignore_index=True), days, scope.check(REJECTED_KEY)))


def settle_cross_day_duplicates(
    write: Writer,
    store: RawOrderLake,
    orders: pd.DataFrame,
    rejected: pd.DataFrame,
    payloads: Mapping[date, pa.BinaryArray],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apply `cross_day_duplicates` against the warehouse: this run's losing copies join `rejected`; the
    other days' losing copies move to their day's rejected_orders (returned as the third frame)."""
    elsewhere = classified_elsewhere(write, orders["entity_id"])
    lose, beaten = cross_day_duplicates(orders, elsewhere)
    their_day = dict(zip(elsewhere["entity_id"], elsewhere["order_date"]))
    our_day = dict(zip(orders["entity_id"], orders["order_date"]))

    def reason(entity_id: int, kept: date) -> str:
        return f"duplicate entity_id {entity_id}; kept the more recently updated copy of {kept}"

    lost = [
        reject_row(day, position, entity_id, reason(entity_id, their_day[entity_id]), payloads[day][position].as_py())
        for entity_id, day, position in orders.loc[lose, ["entity_id", "order_date", "position"]].itertuples(False)
    ]
    moved = []
    for day, ids in beaten.groupby("order_date")["entity_id"]:
        taken, day_ids, day_payloads = (
            rejected_positions(write, day),
            store.column(day, "entity_id"),
            store.read_day(day),
        )
        for entity_id in ids:  # the day's classified copy: its position that is not already rejected
            position = next(p for p, e in enumerate(day_ids) if e == entity_id and p not in taken)
            moved.append(
                reject_row(day, position, entity_id, reason(entity_id, our_day[entity_id]), day_payloads[position])
            )
    columns = list(rejected.columns)
    moved_rows = pd.DataFrame(moved, columns=columns, dtype=object)
    move_to_rejected(write, moved_rows)
    rejected = pd.concat([rejected, pd.DataFrame(lost, columns=columns, dtype=object)], ignore_index=True)
    return orders[~lose], rejected, moved_rows


def rejected_verdicts(
    rejected: pd.DataFrame, days: list[date], check: dg.AssetCheckKey = REJECTED_KEY
) -> list[dg.AssetCheckEvaluation]:
    """One verdict per day of the run: could every raw order of the day be read (and which not, why)?

    The alert is one per run, keyed by the run's last day (`as_of`), so a failing verdict also names
    the run's total and days. Rows of days outside the run (moved there by a cross-day duplicate) are
    judged with the run's last day.
    """
    last = days[-1]
    judged_on = rejected["order_date"].where(rejected["order_date"].isin(days), last).to_numpy()
    run_days = ", ".join(sorted({str(d) for d in rejected["order_date"]})[:20])
    verdicts = []
    for day in days:
        rows = rejected[judged_on == day]
        metadata: dict[str, Any] = {"as_of": last.isoformat(), "rejected": len(rows)}
        description = None
        if len(rows):
            ids = [str(i) for i in rows["entity_id"].dropna().astype(int).tolist()]
            reasons = rows["reason"].value_counts().head(5)
            description = (
                f"{len(rows)} order(s) of {day} could not be read and are not counted ({len(rejected)} in this "
                f"run, on {run_days}); see rejected_orders"
            )
            metadata |= {
                "entity_ids": ", ".join(ids[:50]) + (" ..." if len(ids) > 50 else "") or "(none readable)",
                "reasons": dg.MetadataValue.md("\n".join(f"- {n} x {reason}" for reason, n in reasons.items())),
                "run_rejected": len(rejected),
                "days": run_days,
            }
        verdicts.append(
            dg.AssetCheckEvaluation(
                asset_key=check.asset_key,
                check_name=check.name,
                passed=rows.empty,
                severity=dg.AssetCheckSeverity.ERROR,
                description=description,
                metadata=metadata,
                partition=day_key(day),
            )
        )
    return verdicts


def daily_aov(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per UTC day and segment: counted orders, revenue and line items (sums; averages are derived)."""
    days, store = days_of(context.partition_time_window), Scope.of(context).store
    db = warehouse.open(store)
    _require_every_raw_order_classified(days, lake.raw_orders(store), db)
    daily = daily_rows(db.daily_sums_from_orders(days[0], days[-1]), days)
    with warehouse.replacing(store, [tables.daily_aov], days[0], days[-1]) as write:
        write(
            tables.daily_aov,
            daily.assign(revenue=daily["revenue_cents"].map(cents_to_money)).drop(columns="revenue_cents"),
        )
    for day, rows in daily.groupby("order_date"):
        metadata: dict[str, Any] = {}
        for row in rows.itertuples(index=False):
            metadata[f"{row.segment}_orders"] = int(row.orders)
            metadata[f"{row.segment}_revenue"] = float(cents_to_money(row.revenue_cents))
        context.add_asset_metadata(metadata, partition_key=day_key(day))
    return dg.MaterializeResult()


def _require_every_raw_order_classified(days: list[date], store: RawOrderLake, db: Warehouse) -> None:
    """Refuse to sum days whose raw orders are not all classified or rejected (nothing lost)."""
    stored = db.stored_orders_per_day(days[0], days[-1])
    with lake_failures():
        behind = [
            f"{day} (raw_orders {'missing' if raw is None else raw}, classified+rejected {stored[day]})"
            for day in days
            if (raw := store.order_count(day)) != stored[day] or raw is None
        ]
    if behind:
        raise dg.Failure(
            f"classified_orders is not up to date with raw_orders for {len(behind)} day(s): "
            f"{', '.join(behind[:5])}{' ...' if len(behind) > 5 else ''}. "
            "Materialize raw_orders and classified_orders for those days first."
        )


def alert_rule(manifest: Manifest) -> AlertRule:
    alert = manifest.alert
    return AlertRule(drop_pct=alert.b2b_aov_drop_pct, direction=alert.direction, min_orders=alert.min_orders)


def check_metadata(card: Card, explained: bool) -> dict[str, Any]:
    """What a person needs to judge the alert, on the check evaluation (and in Slack). Without
    `explained`, only the verdict's own numbers: a quiet day's card already holds the rest."""
    b2b, b2c = card.segments["b2b"], card.segments["b2c"]
    findings = card.findings if explained else None
    investigation = (
        {
            "top_cause": findings.top["cause"] if findings.top else "none",
            "why": dg.MetadataValue.md("\n".join(findings.why_lines())),
            "gone_quiet": int(findings.total["gone_quiet"]),
        }
        if findings
        else {}
    )
    around = (
        {"around_it": dg.MetadataValue.md("\n".join(card.neighbours.lines()))} | card.neighbours.check_numbers()
        if card.neighbours and explained
        else {}
    )
    if explained and card.basket_lines():
        around["left_the_baskets"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in card.basket_lines()))
    if explained and card.calls is not None and not card.calls.rows.empty:
        around["call_list"] = dg.MetadataValue.md("\n".join(card.calls.markdown()))
        around["accounts_to_call"] = card.calls.accounts
    return (
        investigation
        | plottable_numbers(
            around
            | {
                "as_of": card.as_of.isoformat(),
                "verdict": card.verdict,
                "b2b_aov": b2b.aov,
                "b2b_prior_aov": b2b.prior_aov,
                "b2b_aov_change_pct": b2b.aov_change_pct,
                "b2c_aov": b2c.aov,
                "b2c_aov_change_pct": b2c.aov_change_pct,
                "multiplier": card.multiplier,
                "b2b_orders": b2b.orders,
                "b2b_prior_orders": b2b.prior_orders,
                "b2b_orders_change_pct": b2b.orders_change_pct,
                "b2b_revenue_change_pct": b2b.revenue_change_pct,
                "direction": card.rule.direction,
                "min_orders": card.rule.min_orders,
            }
        )
        | {"threshold_pct": float(card.rule.drop_pct)}
    )  # the rule as configured, not rounded (Slack rebuilds it)


def aov_30d(
    context: dg.AssetExecutionContext, stores: dg.ResourceParam[Stores], warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Per as-of day D: trailing 30 days (D-29..D) vs the prior 30 (D-59..D-30) per segment, the
    B2B/B2C multiplier and the contraction verdict."""
    require_the_asset(context)
    days, scope = days_of(context.partition_time_window), Scope.of(context)
    manifest = stores[scope.store].manifest
    rule = alert_rule(manifest)
    db = warehouse.open(scope.store)
    daily = db.read_daily(days[0] - timedelta(days=2 * WINDOW_DAYS - 1), days[-1])
    rows = card_rows(window_sums(daily, days[0], days[-1]), rule)
    with warehouse.replacing(scope.store, [tables.aov_30d], days[0], days[-1]) as write:
        write(tables.aov_30d, rows)
    findings = Findings.by_day(*db.read_investigation(days[0], days[-1]))
    neighbours = Neighbours.by_day(*db.read_neighbours(days[0], days[-1]))
    cards = {
        as_of: Card.from_rows(day_rows, rule, findings.get(as_of), neighbours.get(as_of))
        for as_of, day_rows in rows.groupby("as_of")
    }
    settings = CallSettings.of(manifest)
    cards = {  # who should call: on the days an alert explains, and the run's newest day
        as_of: replace(card, calls=CallList.stored(db, as_of, settings))
        if card.findings is not None and (card.alert or as_of == days[-1])
        else card
        for as_of, card in cards.items()
    }
    for as_of, card in cards.items():
        b2b = card.segments["b2b"]
        context.add_asset_metadata(
            plottable_numbers(
                {
                    "b2b_aov": b2b.aov,
                    "b2c_aov": card.segments["b2c"].aov,
                    "multiplier": card.multiplier,
                    "b2b_aov_change_pct": b2b.aov_change_pct,
                    "b2b_orders": b2b.orders,
                    "alert": card.alert,
                    "verdict": card.verdict,
                }
            )
            | investigation_numbers(card.findings)
            | {"card": dg.MetadataValue.md(card.markdown())}
            | (newest_card_pictures(db, card) if as_of == days[-1] else {}),
            partition_key=day_key(as_of),
        )
    severity = dg.AssetCheckSeverity.ERROR if manifest.alert.severity == "error" else dg.AssetCheckSeverity.WARN
    verdicts = [
        dg.AssetCheckEvaluation(
            asset_key=context.assets_def.key,
            check_name=CONTRACTION_KEY.name,
            passed=not card.alert,
            severity=severity,
            description=" ".join(filter(None, [card.headline, card.likely_cause])),
            metadata=check_metadata(card, explained=card.alert or as_of == days[-1]),
            partition=day_key(as_of),
        )
        for as_of, card in cards.items()
    ]
    alerting = [day_key(as_of) for as_of, card in cards.items() if card.alert]
    if len(days) > 1:
        listing = f": {', '.join(alerting)}" if alerting else ""
        context.log.info(f"aov_30d: {len(alerting)} of {len(days)} as-of days alert{listing}")
    yield dg.MaterializeResult(
        asset_key=context.assets_def.key
    )  # yielded: a multi-asset's returned value is a tuple of outputs
    log_verdicts(context, verdicts)


def newest_card_pictures(db: Warehouse, card: Card) -> dict[str, Any]:
    """The trend (a table and a chart), the causes' waterfall and credit pressure by cohort, on a run's newest
    as-of day only: a 700-day backfill draws one card's charts, not 700 (matplotlib is imported here, not at
    load)."""
    from .charts import credit_chart_of, markdown_image, trend_chart

    trend, credit = trend_of(db, card.as_of), credit_chart_of(db, card.as_of)
    return (
        {
            "trend": trend_table(trend),
            "trend_chart": dg.MetadataValue.md(markdown_image(trend_chart(trend, card.rule), "B2B AOV trend")),
        }
        | causes_picture(card.findings, card.as_of)
        | ({"credit_chart": dg.MetadataValue.md(markdown_image(credit, "Credit pressure by cohort"))} if credit else {})
    )


def trend_table(trend: pd.DataFrame) -> dg.TableMetadataValue:
    """The trend (`trend_frame`) as a dated table, newest first, on the latest partition: Dagster 1.13's
    partition plots count partitions back from today, so for a history that ends in the past they are empty."""
    numbers = ("b2b_aov", "prior_b2b_aov", "b2b_change_pct", "b2c_aov")
    records = [
        dg.TableRecord(
            {"as_of": day.isoformat()}
            | {name: plottable_value(row[name]) for name in numbers}
            | {"verdict": row["verdict"]}
        )
        for day, row in zip(trend.index[::-1], plain_records(trend.iloc[::-1]))
    ]
    columns = [dg.TableColumn("as_of", "string")] + [dg.TableColumn(name, "float") for name in numbers]
    return dg.MetadataValue.table(records, dg.TableSchema(columns + [dg.TableColumn("verdict", "string")]))


def aov_ttm(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Trailing-twelve-month AOV per segment for each calendar month (the 12 months ending with it), with a
    card against the twelve months a year earlier."""
    months, store = months_of(context.partition_time_window), Scope.of(context).store
    db = warehouse.open(store)
    daily = db.read_daily(add_months(months[0], -23), month_end(months[-1]))
    rows = ttm_rows(daily, add_months(months[0], -12), months[-1])  # and a year earlier, for the change
    first, last = (f"{m:%Y-%m}" for m in (months[0], months[-1]))
    with warehouse.replacing(store, [tables.aov_ttm], first, last) as write:
        write(tables.aov_ttm, rows[rows["month"] >= first])
    for month in months:
        card = TtmCard.from_frame(rows, month)
        context.add_asset_metadata(
            plottable_numbers(card.numbers())
            | {"card": dg.MetadataValue.md(card.markdown())}
            | (newest_ttm_picture(db, month) if month == months[-1] else {}),
            partition_key=month_key(month),
        )
    return dg.MaterializeResult()


def newest_ttm_picture(db: Warehouse, month: date) -> dict[str, dg.MarkdownMetadataValue]:
    """The TTM chart, on a run's newest month only (as the card's pictures)."""
    from .charts import markdown_image, ttm_chart_of

    return {"ttm_chart": dg.MetadataValue.md(markdown_image(ttm_chart_of(db, month), "Trailing-twelve-month AOV"))}


AROUND_IT = ("segment_metrics_30d", "currency_aov_30d", "b2b_category_mix_30d")  # read by aov_30d's card


def asset_definitions(partitioned: Partitioned) -> list[dg.AssetsDefinition]:
    daily, monthly, key, trailing = partitioned.daily, partitioned.monthly, partitioned.key, partitioned.trailing
    return [
        partitioned.judged_per_day(
            classified_orders,
            [key("raw_orders")],
            REJECTED_CHECK,
            "Every raw order of the day could be read (unreadable ones are in rejected_orders).",
        ),
        dg.asset(deps=[key("classified_orders")], kinds={"sql"}, **daily)(daily_aov),
        partitioned.judged_per_day(
            aov_30d,
            [trailing("daily_aov", 2 * WINDOW_DAYS), key("aov_why"), *map(key, AROUND_IT)],
            CONTRACTION_CHECK,
            "B2B AOV must not fall by more than the manifest's threshold vs the prior 30 days (one verdict per "
            "as-of day: the check's partitions show which days alert).",
        ),
        dg.asset(deps=[trailing("daily_aov", 24)], kinds={"sql"}, **monthly)(aov_ttm),  # and the year before
    ]
