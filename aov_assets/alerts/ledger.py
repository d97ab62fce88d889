"""Each failed alerting check delivered exactly once: the alert_deliveries ledger and its cursor."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

from ..actions.calls import CallSettings
from ..core.keys import CONTRACTION_KEY
from ..metrics.card import Card
from ..metrics.windows import AlertRule
from ..warehouse import Warehouse
from .slack import DeliveryError, DeliveryUnknown, Notifier, alert_message, check_message
from .tables import alert_deliveries

STALE_CLAIM = timedelta(minutes=10)
PAGE = 50


@dataclass(frozen=True)
class Alert:
    check_key: str
    as_of: date
    headline: str
    message: dict[str, Any]
    run_id: str | None = None
    resend: bool = False  # a re-send after an unknown outcome: the last try


@dataclass
class Outcome:
    """What one pass of `deliver_alerts` did, for the sensor's tick message and the demo."""

    cursor: int
    recorded: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    outbox: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    finished: list[tuple[Alert, str]] = field(default_factory=list)  # each alert tried, with its new status

    @property
    def summary(self) -> str:
        parts = []
        if self.delivered:
            parts.append(f"delivered to Slack: {', '.join(self.delivered)}")
        if self.outbox:
            parts.append(f"written to the outbox (SLACK_WEBHOOK_URL is not set): {', '.join(map(str, self.outbox))}")
        if self.failed:
            parts.append(f"still pending, retried on the next tick: {'; '.join(self.failed)}")
        if self.unknown:
            parts.append(f"outcome unknown: {'; '.join(self.unknown)}")
        if self.history:
            parts.append(f"recorded as history, not sent (older than the latest as-of day): {len(self.history)}")
        return "; ".join(parts) or "no new alerts"


class AlertLedger:
    """The `alert_deliveries` table: one row per (store, check, as-of day), whatever happens to the runs."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse, self.engine, self.store = warehouse, warehouse.engine, warehouse.store

    def _one(self, check_key: str, as_of: date) -> sa.ColumnElement[bool]:
        t = alert_deliveries
        return self.warehouse.mine(t) & (t.c.check_key == check_key) & (t.c.as_of == as_of)

    def record(self, alert: Alert, status: str) -> bool:
        """Insert the alert unless it is already there; True when it is new."""
        with self.engine.begin() as connection:
            exists = connection.scalar(sa.select(sa.func.count()).where(self._one(alert.check_key, alert.as_of)))
            if exists:
                return False
            try:
                connection.execute(
                    alert_deliveries.insert().values(
                        store=self.store,
                        check_key=alert.check_key,
                        as_of=alert.as_of,
                        status=status,
                        headline=alert.headline,
                        message=json.dumps(alert.message),
                        run_id=alert.run_id,
                        recorded_at=_now(),
                        attempts=0,
                    )
                )
            except sa.exc.IntegrityError:  # another tick recorded it first
                return False
        return True

    def claim_pending(self) -> Iterator[Alert]:
        """Pending alerts, each claimed (status 'sending') by this caller alone."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                self.warehouse.select_mine(alert_deliveries).where(
                    alert_deliveries.c.status.in_(("pending", "sending", "unknown"))
                )
            ).fetchall()
        for row in rows:
            claimable = alert_deliveries.c.status.in_(("pending", "unknown")) | (
                (alert_deliveries.c.status == "sending") & (alert_deliveries.c.claimed_at < _now() - STALE_CLAIM)
            )
            with self.engine.begin() as connection:
                claimed = connection.execute(
                    alert_deliveries.update()
                    .where(self._one(row.check_key, row.as_of), claimable)
                    .values(status="sending", claimed_at=_now(), attempts=alert_deliveries.c.attempts + 1)
                ).rowcount
            if claimed == 1:
                message = json.loads(row.message)
                yield Alert(row.check_key, row.as_of, row.headline, message, row.run_id, row.status == "unknown")

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            result = connection.execute(self.warehouse.select_mine(alert_deliveries).order_by(alert_deliveries.c.as_of))
            return [dict(row._mapping) for row in result]

    def finish(self, alert: Alert, status: str, error: str | None = None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                alert_deliveries.update()
                .where(self._one(alert.check_key, alert.as_of))
                .values(
                    status=status,
                    last_error=error,
                    claimed_at=None,
                    delivered_at=_now() if status in ("delivered", "outbox") else None,
                )
            )


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def failed_evaluations(
    instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey], after: int
) -> tuple[list[tuple[int, str, dg.AssetCheckEvaluation]], int]:
    """(record id, run id, evaluation) of failed evaluations newer than `after`, oldest first, and the
    cursor to keep: the newest record id below which no verdict can still arrive.

    Dagster creates a check's record when its run is planned and fills in the verdict later under the
    same id, so a record still planned in a live run holds the cursor back (its verdict may fail
    after newer records did); planned records of finished runs never get one and do not.
    """
    found, settled, waiting = [], after, []
    finished: dict[str, bool] = {}
    for key in check_keys:
        page_cursor = None
        while True:
            records = instance.event_log_storage.get_asset_check_execution_history(key, limit=PAGE, cursor=page_cursor)
            fresh = [r for r in records if r.id > after]
            for record in fresh:
                evaluation = _evaluation(record)
                if evaluation is None and not _run_finished(instance, record.run_id, finished):
                    waiting.append(record.id)
                    continue
                settled = max(settled, record.id)
                if evaluation is not None and not evaluation.passed:
                    found.append((record.id, record.run_id, evaluation))
            if len(records) < PAGE or len(fresh) < len(records):
                break
            page_cursor = records[-1].id
    cursor = min(settled, min(waiting) - 1) if waiting else settled
    return sorted(found, key=lambda item: item[0]), cursor


def _run_finished(instance: dg.DagsterInstance, run_id: str, known: dict[str, bool]) -> bool:
    if run_id not in known:
        run = instance.get_run_by_id(run_id)
        known[run_id] = run is None or run.is_finished
    return known[run_id]


def _evaluation(record: Any) -> dg.AssetCheckEvaluation | None:
    """The evaluation of a check execution record (None while it is only planned)."""
    data = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
    return data if isinstance(data, dg.AssetCheckEvaluation) else None


def _as_of(evaluation: dg.AssetCheckEvaluation) -> date | None:
    value = evaluation.metadata.get("as_of")
    return date.fromisoformat(value.value) if value is not None else None


def _alert_for(
    evaluation: dg.AssetCheckEvaluation,
    run_id: str,
    warehouse: Warehouse,
    dagster_url: str,
    store: str | None,
    calls: CallSettings | None,
) -> Alert:
    asset = evaluation.asset_key.to_user_string()
    check_key = f"{asset}:{evaluation.check_name}"
    as_of = _as_of(evaluation) or date.today()
    metadata = {name: value.value for name, value in evaluation.metadata.items()}
    card = None
    if evaluation.check_name == CONTRACTION_KEY.name:
        rule = AlertRule(
            drop_pct=Decimal(str(metadata["threshold_pct"])).normalize(),
            direction=metadata["direction"],
            min_orders=int(metadata["min_orders"]),
        )
        card = Card.stored(warehouse, as_of, rule, calls)
    if card is not None:
        return Alert(check_key, as_of, card.headline, alert_message(card, dagster_url, asset, store), run_id)
    description = evaluation.description or f"{check_key} failed"
    return Alert(
        check_key,
        as_of,
        description,
        check_message(check_key, as_of, description, metadata, dagster_url, store),
        run_id,
    )


def deliver_alerts(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    notifier: Notifier,
    check_keys: Sequence[dg.AssetCheckKey],
    cursor: int,
    dagster_url: str,
    log: Callable[[str], None] = lambda _: None,
    store: str | None = None,
    calls: CallSettings | None = None,
) -> Outcome:
    """Record new failed ERROR evaluations in the ledger, then send every pending alert once (`store`:
    the name that starts each message, when the deployment has several; `calls`: the store's sales reps
    and credit threshold, for the call list that ends an alert)."""
    outcome = Outcome(cursor)
    ledger = AlertLedger(warehouse)
    latest = warehouse.latest_as_of()
    failed, outcome.cursor = failed_evaluations(instance, check_keys, cursor)
    for _, run_id, evaluation in failed:
        if evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        alert = _alert_for(evaluation, run_id, warehouse, dagster_url, store, calls)
        status = "history" if latest is not None and alert.as_of < latest else "pending"
        if ledger.record(alert, status):
            (outcome.history if status == "history" else outcome.recorded).append(f"{alert.check_key} {alert.as_of}")
    for alert in ledger.claim_pending():
        label = f"{alert.check_key} {alert.as_of}"
        try:
            outbox_file = notifier.send(alert.check_key, alert.as_of, alert.message)
        except DeliveryUnknown as error:
            status, then = ("maybe_sent", "not sent again") if alert.resend else ("unknown", "re-sent once")
            ledger.finish(alert, status, str(error))
            outcome.finished.append((alert, status))
            outcome.unknown.append(f"{label} ({error}; {then})")
            log(f"alert {label}: {error}; {then}")
            continue
        except DeliveryError as error:
            ledger.finish(alert, "pending", str(error))
            outcome.finished.append((alert, "pending"))
            outcome.failed.append(f"{label} ({error})")
            log(f"alert {label} not delivered: {error}; it stays pending")
            continue
        if outbox_file is not None:
            ledger.finish(alert, "outbox")
            outcome.finished.append((alert, "outbox"))
            outcome.outbox.append(outbox_file)
            log(f"alert {label} (no SLACK_WEBHOOK_URL): {alert.message['text']}")
        else:
            ledger.finish(alert, "delivered")
            outcome.finished.append((alert, "delivered"))
            outcome.delivered.append(label)
            log(f"alert {label} delivered to Slack")
    return outcome


LEDGER_SHOWN = 10


def delivery_observations(outcome: Outcome, ledger: AlertLedger) -> list[dg.AssetObservation]:
    """Each alert a tick tried to deliver, as an observation of the checked asset's day: the asset's
    Events in the UI then say what went out, where, and show the ledger's latest rows."""
    if not any(status != "pending" for _, status in outcome.finished):
        return []
    rows = sorted(ledger.rows(), key=lambda row: (row["as_of"], row["check_key"]))[-LEDGER_SHOWN:]
    table = "\n".join(
        [
            "| as of | check | status | attempts | delivered at (UTC) |",
            "| --- | --- | --- | ---: | --- |",
            *(
                f"| {row['as_of']} | {row['check_key']} | {row['status']} | {row['attempts']} | "
                f"{row['delivered_at'] or '-'} |"
                for row in rows
            ),
        ]
    )
    return [
        dg.AssetObservation(
            asset_key=dg.AssetCheckKey.from_user_string(alert.check_key).asset_key,
            partition=alert.as_of.isoformat(),
            description=f"alert {status}: {alert.headline}",
            metadata={
                "alert": alert.check_key,
                "status": status,
                "alert_deliveries": dg.MetadataValue.md(f"Latest {len(rows)} rows of alert_deliveries:\n\n{table}"),
            },
        )
        for alert, status in outcome.finished
        if status != "pending"  # a failed post is retried every tick; its outcome is observed once settled
    ]
