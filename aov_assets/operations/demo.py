"""`make demo`: the whole asset graph over the sample merchant's range, then the card and the alert."""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Callable, Iterable
from datetime import date

import dagster as dg

from ..actions.calls import CallSettings
from ..alerts.ledger import AlertLedger
from ..core.keys import CATALOG_JOB, CONTRACTION_KEY, DAILY_JOB, HEALTH_JOB, TTM_JOB, range_tags
from ..core.scope import Scope
from ..ingest.sources.sample import LAST_DAY
from ..manifest import Manifest, Store, stores_by_key
from ..metrics.card import Card, TtmCard
from ..warehouse import Warehouse

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# One "materialization planned" event per asset instead of one per partition (about 8,800 fewer
# event-log writes for the sample's 733 days). Dagster's documented cost: if this one-off run
# failed, its partitions would show as missing rather than failed. Scheduled and backfill runs
# (in `make dev` or the CLI) keep Dagster's default. Set it to "false" to keep per-partition events.
PLANNED_EVENTS_SWITCH = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def run_demo(stores: Manifest | Iterable[Store], warehouse: Warehouse, say: Callable[[str], None] = print) -> Card:
    """Every store's graph over its range, then the first store's card and TTM, the portfolio (with
    several stores), the checks and one tick of the alert sensor; returns the first store's card."""
    from ..alerts.sensors import aov_alert_slack_sensor
    from ..definitions import build_defs
    from ..metrics.assets import alert_rule
    from ..portfolio.assets import PORTFOLIO_JOB, portfolio_lines
    from ..portfolio.rules import text

    stores = stores_by_key(stores)
    defs = build_defs(stores.values())
    os.environ.setdefault(PLANNED_EVENTS_SWITCH, "true")
    instance = dg.DagsterInstance.get()
    started = time.monotonic()
    for store in stores.values():
        _materialize(defs, instance, store, len(stores) > 1, say)
    first = next(iter(stores.values()))
    last = _last_day(first.manifest)
    if len(stores) > 1:
        say(f"aov_portfolio for {last} ...")
        _execute(defs.resolve_job_def(PORTFOLIO_JOB), instance, range_tags(last, last))
    say(f"materialized in {time.monotonic() - started:.1f}s\n")

    view = warehouse.for_store(first.key)
    card = Card.stored(view, last, alert_rule(first.manifest), CallSettings.of(first.manifest))
    say(card.text() if card else f"no aov_30d rows for {last}")
    ttm = TtmCard.before(view, last)
    if ttm:
        say("\n" + "\n".join(ttm.lines()))
    if len(stores) > 1:
        say("\n" + text(last, portfolio_lines(warehouse, stores.values(), last)))
    say("\nChecks of this run:")
    for line in check_lines(defs, instance):
        say(f"  {line}")
    tick = aov_alert_slack_sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    for event in tick.asset_events:  # what the daemon does with a tick's events: the UI shows the delivery
        instance.report_runless_asset_event(event)
    say(f"\nOne tick of aov_alert_slack_sensor: {tick.skip_reason.skip_message}")
    alert = Scope(first.key).check(CONTRACTION_KEY).to_user_string()
    for row in AlertLedger(view).rows():
        if (row["check_key"], row["as_of"]) == (alert, last):
            message = html.unescape(json.loads(row["message"])["text"])  # Slack shows &amp; &lt; &gt; as & < >
            say(f"\nThe alert ({row['status']} in alert_deliveries), as Slack shows it:\n{message}")
    say("\nOpen the Dagster UI on these materializations with: make dev  (http://127.0.0.1:3000)")
    return card


def _last_day(manifest: Manifest) -> date:
    return min(manifest.end_date or LAST_DAY, LAST_DAY)


def _materialize(
    defs: dg.Definitions, instance: dg.DagsterInstance, store: Store, named: bool, say: Callable[[str], None]
) -> None:
    """One store's graph: the catalog, the daily chain over its range in one run, the TTM months in
    one run, then its data-health checks (as aov_health_after_runs does in `make dev`)."""
    from ..core.partitions import monthly_partitions

    scope, manifest = Scope(store.key), store.manifest
    first, last = manifest.start_date, _last_day(manifest)
    who = f"{store.name} ({store.key}), " if named else ""
    say(
        f"aov demo: {who}sample merchant ({manifest.sample.story}), {first}..{last}; Dagster instance "
        f"{os.environ['DAGSTER_HOME']}"
    )
    say("1/3 product_catalog and company_credit ...")
    _execute(defs.resolve_job_def(scope.name(CATALOG_JOB)), instance, {})
    say("2/3 raw_orders -> classified_orders -> sums, lines, investigation, neighbours -> aov_30d, in one run ...")
    _execute(defs.resolve_job_def(scope.name(DAILY_JOB)), instance, range_tags(first, last))
    months = monthly_partitions(manifest).get_partition_keys()
    say(f"3/3 aov_ttm, basket_pairs and account_whitespace for {len(months)} months in one run ...")
    if months:
        _execute(defs.resolve_job_def(scope.name(TTM_JOB)), instance, range_tags(months[0], months[-1]))
    _execute(defs.resolve_job_def(scope.name(HEALTH_JOB)), instance, {})


def check_lines(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[str]:
    """The latest evaluation of every check of the project, one line each."""
    keys = defs.resolve_asset_graph().asset_check_keys
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(keys))
    lines = []
    for key in sorted(keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        record = latest.get(key)
        if record is None or record.event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data
        verdict = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
        lines.append(
            f"{key.asset_key.to_user_string()}.{key.name}: {verdict} - {evaluation.description or ''}".rstrip(" -")
        )
    return lines


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance, tags: dict[str, str]) -> None:
    result = job.execute_in_process(instance=instance, tags=tags, run_config=QUIET_LOGS, raise_on_error=True)
    if not result.success:  # pragma: no cover - raise_on_error raises first
        raise RuntimeError(f"run {result.run_id} failed")
