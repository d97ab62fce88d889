"""Heal a sync gap in one command: the days, then everything whose inputs include them.

`aov backfill --from D1 --to D2` (and the optional auto-heal sensor) runs, each as one run:

1. `aov_daily` over D1..D2: fetch, classify and sum the days again, and their own 30-day cards;
2. `aov_windows` (the investigation, the neighbours and aov_30d) over D2+1 .. the latest as-of day the
   warehouse has: every later as-of day whose windows, lifetime values or first orders include a healed
   day (nothing is created that was not there);
3. `aov_ttm_monthly` (aov_ttm, basket_pairs, account_whitespace) over the months whose trailing
   twelve months include a healed day, capped at the latest month the warehouse has.

Every step replaces exactly its partitions, so the whole thing is safe to repeat, and after it the
tables are what a clean run would have produced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from ..core.keys import DAILY_JOB, HEALTH_JOB, TTM_JOB, WINDOWS_JOB, range_tags
from ..core.scope import Scope
from ..core.windows import add_months, month_start

BACKFILL_TAG = "aov/backfill"


@dataclass(frozen=True)
class Step:
    job: str  # the default store's name: Scope.name gives another store's
    first: str  # partition keys
    last: str
    what: str

    @property
    def tags(self) -> dict[str, str]:
        return range_tags(self.first, self.last)


def backfill_plan(first: date, last: date, latest_as_of: date | None, latest_month: date | None) -> list[Step]:
    """The runs that make first..last and everything downstream of it as a clean run would be."""
    steps = [
        Step(
            DAILY_JOB,
            first.isoformat(),
            last.isoformat(),
            f"the daily chain, the investigation, the neighbours and aov_30d for {first}..{last} "
            f"({(last - first).days + 1} days)",
        )
    ]
    windows_end = latest_as_of or last  # lifetime values (LTV cohorts) of every later day include those days
    if windows_end > last:
        windows_start = last + timedelta(days=1)
        steps.append(
            Step(
                WINDOWS_JOB,
                windows_start.isoformat(),
                windows_end.isoformat(),
                f"the investigation, the neighbours and aov_30d for {windows_start}..{windows_end}: later as-of days "
                f"whose windows, lifetime values, first orders or typical gone-quiet counts include those days "
                f"(up to the latest as-of day in the warehouse, {latest_as_of})",
            )
        )
    if latest_month is not None and latest_month >= month_start(first):
        months_end = min(add_months(month_start(last), 11), latest_month)
        steps.append(
            Step(
                TTM_JOB,
                month_start(first).isoformat(),
                months_end.isoformat(),
                f"aov_ttm, basket_pairs and account_whitespace for {month_start(first):%Y-%m}..{months_end:%Y-%m}: "
                f"months whose trailing twelve months include those days (capped at the latest month in the "
                f"warehouse, {latest_month:%Y-%m})",
            )
        )
    return steps


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first step failure's own message (e.g. the store's HTTP error), in one line."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            while error.cause is not None and "DagsterExecutionStepExecutionError" in error.cls_name:
                error = error.cause
            message = re.sub(rf"^[\w.]*\b{re.escape(error.cls_name)}: ", "", error.message)
            return f"{event.step_key}: {' '.join(message.split())}"
    return f"run {result.run_id} failed"


class BackfillFailed(RuntimeError):
    """A step failed; the message says which, why, and that repeating the command is safe."""


def run_backfill(
    first: date,
    last: date,
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    latest_as_of: date | None,
    latest_month: date | None,
    run_config: dict,
    say: Callable[[str], None] = print,
    scope: Scope = Scope(),
) -> list[Step]:
    """The plan's runs one after the other, then the store's data-health checks."""
    plan = backfill_plan(first, last, latest_as_of, latest_month)
    say(f"aov backfill {first}..{last}: {len(plan)} run(s), each replacing exactly its partitions")
    for number, step in enumerate(plan, 1):
        say(f"  {number}. {scope.name(step.job)}: {step.what}")
    for number, step in enumerate(plan, 1):
        say(f"[{number}/{len(plan)}] {scope.name(step.job)} {step.first}..{step.last} ...")
        result = defs.resolve_job_def(scope.name(step.job)).execute_in_process(
            instance=instance,
            tags=step.tags | {BACKFILL_TAG: f"{first}..{last}"},
            run_config=run_config,
            raise_on_error=False,
        )
        if not result.success:
            raise BackfillFailed(
                f"step {number} ({scope.name(step.job)} {step.first}..{step.last}) failed: {failure_message(result)}. "
                "Nothing after it ran. Fix the cause and run the same command again; it is safe to repeat."
            )
        say(f"[{number}/{len(plan)}] done (run {result.run_id})")
    health = defs.resolve_job_def(scope.name(HEALTH_JOB)).execute_in_process(
        instance=instance, tags={BACKFILL_TAG: f"{first}..{last}"}, run_config=run_config, raise_on_error=False
    )
    say(
        f"data-health checks: run {health.run_id}"
        if health.success
        else f"warning: the data-health checks did not finish ({failure_message(health)}); the backfill itself is done"
    )
    return plan
