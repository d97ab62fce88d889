"""Data-health checks on the assets: is the data fresh, complete and plausible?

They judge the latest data in the lake and the warehouse (not a run's range), so they mean the
same thing after a daily run, a backfill or a click in the UI, and they WARN: the numbers may be
off, nothing was lost. (Rejected orders, where data is lost, is an ERROR check on classified_orders.)
"""

import warnings
from collections import Counter
from datetime import date, timedelta

import dagster as dg

from ..core.db import DEFAULT_STORE
from ..core.scope import Scope
from ..ingest.lake import LakeFileError, RawOrderLake
from ..manifest import Manifest, ManifestError, Store
from ..metrics.tables import classified_orders as classified_orders_table
from ..resources import LakeResource, WarehouseResource
from ..warehouse import Warehouse
from .gaps import GAP_WINDOW_DAYS, gap_days

DUPLICATE_SCAN_DAYS = 35
GAP_SCAN_DAYS = 60
WARN = dg.AssetCheckSeverity.WARN
RUNNING = dg.DefaultSensorStatus.RUNNING
FRESHNESS_SENSOR_SECONDS = 15 * 60


def _result(passed: bool, description: str, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=passed,
        severity=WARN,
        description=description,
        metadata={key: value for key, value in metadata.items() if value is not None},
    )


def _listing(values: list, limit: int = 20) -> str:
    return ", ".join(str(v) for v in values[:limit]) + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def freshness_checks(stores: list[Store]) -> tuple[dict[str, list[dg.AssetChecksDefinition]], dg.SensorDefinition]:
    """Dagster's partition freshness check on each store's raw_orders (the previous day's partition must
    exist by the store's `health.freshness_deadline`, UTC), by store, and the one sensor that evaluates
    them when no run does.

    Dagster marks these builders superseded by `FreshnessPolicy`, but that policy judges an asset's
    latest materialization of any partition (a backfill of an old day would look fresh), so the
    partition-aware builders are the right tool for daily data; their notice is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        checks = {store.key: _freshness_check(store) for store in stores}
        sensor = dg.build_sensor_for_freshness_checks(
            freshness_checks=[check for each in checks.values() for check in each],
            minimum_interval_seconds=FRESHNESS_SENSOR_SECONDS,
            default_status=RUNNING,
        )
    return checks, sensor


def _freshness_check(store: Store) -> list[dg.AssetChecksDefinition]:
    deadline = store.manifest.health.freshness_deadline
    try:
        return list(
            dg.build_time_partition_freshness_checks(
                assets=[Scope(store.key).key("raw_orders")], deadline_cron=deadline, timezone="UTC", severity=WARN
            )
        )
    except Exception as error:  # Dagster's own cron validation (a CheckError, not public)
        where = "" if store.key == DEFAULT_STORE else f"stores[{store.key}]: "
        raise ManifestError(
            f'{where}health.freshness_deadline: {deadline!r} is not a valid cron string (e.g. "0 6 * * *")'
        ) from error


def health_checks(store: Store) -> list[dg.AssetChecksDefinition]:
    """The store's data-health checks, each judging its own lake files or warehouse rows."""
    scope, manifest = Scope(store.key), store.manifest

    @dg.asset_check(
        asset=scope.key("raw_orders"), description="No entity_id appears twice in the lake's latest 35 days."
    )
    def raw_orders_unique_entity_ids(lake: LakeResource) -> dg.AssetCheckResult:
        return unique_entity_ids(lake.raw_orders(store.key))

    @dg.asset_check(
        asset=scope.key("daily_aov"),
        description="No day is missing or empty where the trailing 28-day median says orders.",
    )
    def daily_aov_no_gaps(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return no_gaps(warehouse.open(store.key), manifest)

    @dg.asset_check(asset=scope.key("aov_30d"), description="B2B AOV / B2C AOV stays inside the manifest's band.")
    def multiplier_in_band(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return multiplier_inside(warehouse.open(store.key), manifest)

    @dg.asset_check(
        asset=scope.key("classified_orders"), description="No B2B order waits in pending_payment for too long."
    )
    def b2b_pending_payment_age(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return pending_payment_age(warehouse.open(store.key), manifest)

    return [raw_orders_unique_entity_ids, daily_aov_no_gaps, multiplier_in_band, b2b_pending_payment_age]


def unique_entity_ids(store: RawOrderLake) -> dg.AssetCheckResult:
    days = store.days()[-DUPLICATE_SCAN_DAYS:]
    seen: Counter[int] = Counter()
    where: dict[int, set[date]] = {}
    unreadable = []
    for day in days:
        try:
            entity_ids = store.column(day, "entity_id")
        except LakeFileError:
            unreadable.append(day)  # reported below; the other days are still judged
            continue
        for entity_id in entity_ids:
            if entity_id is not None:
                seen[entity_id] += 1
                where.setdefault(entity_id, set()).add(day)
    duplicates = sorted(entity_id for entity_id, count in seen.items() if count > 1)
    found = []
    if duplicates:
        found.append(
            f"{len(duplicates)} entity_id(s) appear more than once; classified_orders keeps the most recently "
            "updated copy and rejects the others"
        )
    if unreadable:
        found.append(
            f"{len(unreadable)} day file(s) cannot be read ({_listing(unreadable, 5)}); fetch them again with "
            f"aov backfill --from {unreadable[0]} --to {unreadable[-1]}"
        )
    return _result(
        not found,
        "; ".join(found) or f"no duplicate entity_ids in {len(days)} day(s)",
        as_of=str(days[-1]) if days else None,
        duplicates=len(duplicates),
        entity_ids=_listing(duplicates) or None,
        days=_listing(sorted({str(d) for e in duplicates for d in where[e]})) or None,
        unreadable_days=_listing(unreadable) or None,
    )


def no_gaps(db: Warehouse, manifest: Manifest) -> dg.AssetCheckResult:
    latest = db.latest_order_day()
    if latest is None:
        return _result(True, "daily_aov is empty: nothing to judge yet")
    first = max(latest - timedelta(days=GAP_SCAN_DAYS - 1), manifest.start_date)
    series = db.counted_orders_per_day(first - timedelta(days=GAP_WINDOW_DAYS), latest)
    gaps = [gap for gap in gap_days(series, manifest.health.gap_median_orders) if gap[0] >= first]
    return _result(
        not gaps,
        f"{len(gaps)} day(s) look like sync gaps; backfill them (see README, 'Backfills')"
        if gaps
        else f"no gaps {first}..{latest}",
        as_of=str(latest),
        gap_days=_listing([f"{day} ({kind}, median {median:g})" for day, median, kind in gaps]) or None,
    )


def multiplier_inside(db: Warehouse, manifest: Manifest) -> dg.AssetCheckResult:
    as_of = db.latest_as_of()
    low, high = manifest.health.multiplier_band
    rows = db.read_card(as_of) if as_of else None
    multiplier = rows.set_index("segment").at["b2b", "multiplier"] if rows is not None and len(rows) else None
    if multiplier is None:
        return _result(True, "no multiplier to judge (no B2B or B2C orders in the window)", as_of=str(as_of))
    inside = low <= multiplier <= high
    return _result(
        inside,
        f"multiplier {multiplier:.1f}x is inside {low}..{high}x"
        if inside
        else f"multiplier {multiplier:.1f}x is outside {low}..{high}x: possible misclassification "
        "(check segments.b2b_customer_groups / b2b_store_views)",
        as_of=str(as_of),
        multiplier=float(multiplier),
        band=f"{low}..{high}",
    )


def pending_payment_age(db: Warehouse, manifest: Manifest) -> dg.AssetCheckResult:
    latest = db.latest_order_day(classified_orders_table)
    if latest is None:
        return _result(True, "no orders classified yet")
    limit = manifest.health.pending_payment_days
    stale = db.stale_pending_b2b(latest - timedelta(days=limit))
    return _result(
        stale.empty,
        f"{len(stale)} B2B order(s) in pending_payment for more than {limit} days: is the AP / ERP integration "
        "posting payments?"
        if len(stale)
        else f"no B2B order in pending_payment for more than {limit} days",
        as_of=str(latest),
        stale_orders=len(stale),
        oldest=str(stale["order_date"].min()) if len(stale) else None,
        entity_ids=_listing(stale["entity_id"].tolist()) or None,
    )
