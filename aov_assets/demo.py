"""`make demo`: the whole asset graph over the sample merchant's range, then the card and the alert."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import dagster as dg

from .alerts import alert_message
from .card import Card
from .manifest import Manifest
from .rules import WINDOW_DAYS, company_cohorts
from .sources.sample import LAST_DAY
from .warehouse import Warehouse

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def run_demo(manifest: Manifest, warehouse: Warehouse, say: Callable[[str], None] = print) -> Card:
    from .assets import alert_rule
    from .definitions import defs
    from .partitions import MONTHLY

    instance = dg.DagsterInstance.get()
    first, last = manifest.start_date, min(manifest.end_date or LAST_DAY, LAST_DAY)
    started = time.monotonic()
    say(f"aov demo: sample merchant, {first}..{last}; Dagster instance {os.environ['DAGSTER_HOME']}")
    say("1/2 raw_orders -> classified_orders -> daily_aov -> aov_30d, all days in one run ...")
    _execute(defs.resolve_job_def("aov_daily"), instance, range_tags(str(first), str(last)))
    months = MONTHLY.get_partition_keys()
    say(f"2/2 aov_ttm for {len(months)} months in one run ...")
    if months:
        _execute(defs.resolve_job_def("aov_ttm_monthly"), instance, range_tags(months[0], months[-1]))
    say(f"materialized in {time.monotonic() - started:.1f}s\n")

    cohorts = company_cohorts(warehouse.company_windows(last, WINDOW_DAYS))
    card = Card.from_rows(warehouse.read_card(last), alert_rule(manifest), cohorts)
    say(card.text())
    if card.alert:
        message = alert_message(card, os.environ.get("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000"))
        say("\nThe alert, as Slack receives it:\n" + message["text"])
    say("\nOpen the Dagster UI on these materializations with: make dev  (http://127.0.0.1:3000)")
    return card


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance, tags: dict[str, str]) -> None:
    result = job.execute_in_process(instance=instance, tags=tags, run_config=QUIET_LOGS, raise_on_error=True)
    if not result.success:  # pragma: no cover - raise_on_error raises first
        raise RuntimeError(f"run {result.run_id} failed")

