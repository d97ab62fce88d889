"""The sensor that sends each failed alerting check to Slack, once, to its store's webhook."""

import json

import dagster as dg

from ..actions.calls import CallSettings
from ..core.db import DEFAULT_STORE
from ..core.keys import ALERTING_CHECKS
from ..core.scope import Scope
from ..manifest import Stores
from ..resources import SlackResource, WarehouseResource
from .ledger import AlertLedger, deliver_alerts, delivery_observations


@dg.sensor(
    name="aov_alert_slack_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends failed ERROR checks (the B2B AOV contraction first) to Slack exactly once per store, check "
    "and as-of day, each to its store's webhook; retries failed posts on later ticks; without a webhook writes to "
    "the outbox.",
)
def aov_alert_slack_sensor(
    context: dg.SensorEvaluationContext,
    stores: dg.ResourceParam[Stores],
    warehouse: WarehouseResource,
    slack: SlackResource,
) -> dg.SensorResult:
    """The tick's message and logs name each alert sent or written to the outbox; each also becomes an
    observation of the checked asset's day, with the store's delivery ledger's latest rows. The cursor
    keeps each store's place in the event log."""
    cursors = json.loads(context.cursor or "{}")
    if isinstance(cursors, int):  # the cursor of a one-store deployment: the default store's
        cursors = {DEFAULT_STORE: cursors}
    summaries, observations = [], []
    for key, store in stores.items():
        scope, db = Scope(key), warehouse.open(key)
        outcome = deliver_alerts(
            context.instance,
            db,
            slack.notifier(store),
            [scope.check(check) for check in ALERTING_CHECKS],
            cursor=int(cursors.get(key, 0)),
            dagster_url=slack.dagster_url,
            log=context.log.info,
            store=store.name if len(stores) > 1 else None,  # one store: the message needs no name
            calls=CallSettings.of(store.manifest),
        )
        cursors[key] = outcome.cursor
        observations += delivery_observations(outcome, AlertLedger(db))
        if outcome.summary != "no new alerts" or len(stores) == 1:
            summaries.append(outcome.summary if len(stores) == 1 else f"{key}: {outcome.summary}")
    context.update_cursor(json.dumps(cursors))
    return dg.SensorResult(skip_reason="; ".join(summaries) or "no new alerts", asset_events=observations)
