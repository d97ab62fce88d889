"""Alerts that reach people: failed ERROR checks -> a delivery ledger -> Slack (or the outbox), once.

Open-source Dagster has no sensor for failed asset checks, so `deliver_alerts` (run by
`aov_alert_slack_sensor`) reads new failed evaluations of this project's checks, records one alert
per (check, as-of day) in the warehouse's `alert_deliveries` ledger, then sends what is pending:

- exactly once per check and as-of day: re-materializing or backfilling the same day finds the
  ledger row and sends nothing; a sender claims a row before posting, so two ticks never both send;
- nothing lost: a failed post (5xx, refused connection) leaves the row pending for the next tick;
- an unknown outcome is said so: a webhook that takes the request but does not answer within the
  timeout may have posted (Slack has no idempotency key). The row becomes `unknown`, is re-sent once
  on a later tick, and if that too gets no answer it ends as `maybe_sent`: such an alert can
  arrive twice, never zero times, and never three times;
- no flood: an alert for a day older than the warehouse's latest as-of day is recorded as history;
- no webhook: the message is logged and written as JSON to `$AOV_DATA_DIR/outbox/`.

The one window left is a crash between Slack accepting a post and the ledger recording it; the
alert is then sent again after the claim goes stale (10 minutes): at least once, never lost.
The webhook URL is a secret: it is never logged, stored, or put into an error message.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dagster as dg
import httpx
import sqlalchemy as sa

from .card import Card, money_text, pct_text, times_text
from .keys import CONTRACTION_KEY
from .rules import AlertRule
from .warehouse import Warehouse, alert_deliveries

STALE_CLAIM = timedelta(minutes=10)
PAGE = 50


def asset_url(dagster_url: str, asset: str, partition: str | None = None) -> str:
    url = f"{dagster_url.rstrip('/')}/assets/{quote(asset)}"
    return f"{url}?partition={quote(partition)}" if partition else url


def alert_message(card: Card, dagster_url: str) -> dict[str, Any]:
    """The contraction alert: Block Kit blocks plus a plain-text fallback (`text`)."""
    b2b, b2c = card.segments["b2b"], card.segments["b2c"]
    link = asset_url(dagster_url, "aov_30d", card.as_of.isoformat())
    direction = "down" if (b2b.aov_change_pct or 0) < 0 else "up"
    title = f"B2B AOV {direction} {abs(b2b.aov_change_pct or 0):.1f}% vs the prior 30 days (as of {card.as_of})"
    facts = [
        f"*B2B AOV* {money_text(b2b.aov)} (prior {money_text(b2b.prior_aov)}, {pct_text(b2b.aov_change_pct)})",
        f"*B2C AOV* {money_text(b2c.aov)} ({pct_text(b2c.aov_change_pct)})",
        f"*Multiplier* {times_text(card.multiplier)} (prior {times_text(card.prior_multiplier)})",
        f"*B2B orders* {b2b.orders:,} ({pct_text(b2b.orders_change_pct)}), *revenue* {money_text(b2b.revenue)} "
        f"({pct_text(b2b.revenue_change_pct)})",
    ]
    findings = card.findings
    if findings and findings.top:
        facts.append(f"*{card.likely_cause}*")
        facts += [f"Also: {line}" for line in findings.cause_lines(3)[1:]]
        facts.append("*Ruled out:* " + " ".join(row["summary"] for row in findings.ruled_out[:3]))
    if findings and findings.gone_quiet:
        names = ", ".join(row["name"] for row in findings.gone_quiet[:5])
        more = f" and {len(findings.gone_quiet) - 5} more" if len(findings.gone_quiet) > 5 else ""
        facts.append(f"*Gone quiet ({findings.total['gone_quiet']} vs {findings.typical_text}):* {names}{more}")
    if card.basket_lines():
        facts.append("*Left the baskets:* " + "; ".join(card.basket_lines()))
    if card.neighbours:
        facts.append("*Around it:* " + "; ".join(card.neighbours.lines()[:3]))
    rule = f"Rule: alert when B2B AOV moves more than {card.rule.drop_pct}% ({card.rule.direction})."
    return _message(title, facts, rule, link, "Open aov_30d in Dagster")


def check_message(check_key: str, as_of: date, description: str, metadata: Mapping[str, Any], dagster_url: str) -> dict:
    """Any other failed ERROR check: its description and metadata, with a link to the asset."""
    asset, check = check_key.split(":", 1)
    facts = [f"*{name}* {value}" for name, value in metadata.items() if name != "as_of"][:10]
    title = f"{asset} check {check} failed (as of {as_of})"
    return _message(
        title, facts or [description], description, asset_url(dagster_url, asset), f"Open {asset} in Dagster"
    )


def _message(title: str, facts: Sequence[str], note: str, link: str, button: str) -> dict[str, Any]:
    text = f"{title}. " + "; ".join(fact.replace("*", "") for fact in facts) + f". {note} {link}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": fact} for fact in facts]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": button}, "url": link}],
            },
        ],
    }


class DeliveryError(RuntimeError):
    """A post that did not go through; the message never contains the webhook URL."""


class DeliveryUnknown(DeliveryError):
    """The request was sent but no answer came in time: Slack may or may not have posted it."""


class Notifier:
    """Where alerts go: the Slack incoming webhook, or, without one, JSON files in the outbox."""

    def __init__(self, webhook_url: str | None, outbox: Path, timeout_seconds: float = 10.0):
        self._webhook_url = webhook_url or None
        self.outbox = outbox
        self.timeout_seconds = timeout_seconds

    @property
    def channel(self) -> str:
        return "slack" if self._webhook_url else "outbox"

    def send(self, check_key: str, as_of: date, message: Mapping[str, Any]) -> Path | None:
        """Deliver one message: to Slack (returns None) or, without a webhook, to an outbox file (its path)."""
        if self._webhook_url is None:
            self.outbox.mkdir(parents=True, exist_ok=True)
            target = self.outbox / f"{as_of}_{check_key.replace(':', '.')}.json"
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            temporary.write_text(json.dumps(message, indent=2))
            os.replace(temporary, target)
            return target
        try:
            response = httpx.post(self._webhook_url, json=message, timeout=self.timeout_seconds)
        except (httpx.ReadTimeout, httpx.WriteTimeout) as error:
            raise DeliveryUnknown(
                f"Slack webhook did not answer within {self.timeout_seconds:g}s ({type(error).__name__}); "
                "it may have posted"
            ) from None
        except httpx.HTTPError as error:
            raise DeliveryError(f"Slack webhook unreachable ({type(error).__name__})") from None
        if response.status_code >= 300:
            raise DeliveryError(f"Slack webhook answered HTTP {response.status_code}: {response.text[:100]}")
        return None


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
    """The `alert_deliveries` table: one row per (check, as-of day), whatever happens to the runs."""

    def __init__(self, warehouse: Warehouse):
        self.engine = warehouse.engine

    def record(self, alert: Alert, status: str) -> bool:
        """Insert the alert unless it is already there; True when it is new."""
        with self.engine.begin() as connection:
            exists = connection.scalar(
                sa.select(sa.func.count()).where(
                    alert_deliveries.c.check_key == alert.check_key, alert_deliveries.c.as_of == alert.as_of
                )
            )
            if exists:
                return False
            try:
                connection.execute(
                    alert_deliveries.insert().values(
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
                sa.select(alert_deliveries).where(alert_deliveries.c.status.in_(("pending", "sending", "unknown")))
            ).fetchall()
        for row in rows:
            claimable = alert_deliveries.c.status.in_(("pending", "unknown")) | (
                (alert_deliveries.c.status == "sending") & (alert_deliveries.c.claimed_at < _now() - STALE_CLAIM)
            )
            with self.engine.begin() as connection:
                claimed = connection.execute(
                    alert_deliveries.update()
                    .where(
                        alert_deliveries.c.check_key == row.check_key, alert_deliveries.c.as_of == row.as_of, claimable
                    )
                    .values(status="sending", claimed_at=_now(), attempts=alert_deliveries.c.attempts + 1)
                ).rowcount
            if claimed == 1:
                message = json.loads(row.message)
                yield Alert(row.check_key, row.as_of, row.headline, message, row.run_id, row.status == "unknown")

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            result = connection.execute(sa.select(alert_deliveries).order_by(alert_deliveries.c.as_of))
            return [dict(row._mapping) for row in result]

    def finish(self, alert: Alert, status: str, error: str | None = None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                alert_deliveries.update()
                .where(alert_deliveries.c.check_key == alert.check_key, alert_deliveries.c.as_of == alert.as_of)
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


def _alert_for(evaluation: dg.AssetCheckEvaluation, run_id: str, warehouse: Warehouse, dagster_url: str) -> Alert:
    check_key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
    as_of = _as_of(evaluation) or date.today()
    metadata = {name: value.value for name, value in evaluation.metadata.items()}
    card = None
    if check_key == CONTRACTION_KEY.to_user_string():
        rule = AlertRule(
            drop_pct=Decimal(str(metadata["threshold_pct"])).normalize(),
            direction=metadata["direction"],
            min_orders=int(metadata["min_orders"]),
        )
        card = Card.stored(warehouse, as_of, rule)
    if card is not None:
        return Alert(check_key, as_of, card.headline, alert_message(card, dagster_url), run_id)
    description = evaluation.description or f"{check_key} failed"
    return Alert(
        check_key, as_of, description, check_message(check_key, as_of, description, metadata, dagster_url), run_id
    )


def deliver_alerts(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    notifier: Notifier,
    check_keys: Sequence[dg.AssetCheckKey],
    cursor: int,
    dagster_url: str,
    log: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Record new failed ERROR evaluations in the ledger, then send every pending alert once."""
    outcome = Outcome(cursor)
    ledger = AlertLedger(warehouse)
    latest = warehouse.latest_as_of()
    failed, outcome.cursor = failed_evaluations(instance, check_keys, cursor)
    for _, run_id, evaluation in failed:
        if evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        alert = _alert_for(evaluation, run_id, warehouse, dagster_url)
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
