"""The sensor that sends each failed alerting check to Slack, once."""

import dagster as dg

from ..core.keys import ALERTING_CHECKS
from ..resources import SlackResource, WarehouseResource
from .ledger import AlertLedger, deliver_alerts, delivery_observations


@dg.sensor(
    name="aov_alert_slack_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends failed ERROR checks (the B2B AOV contraction first) to Slack exactly once per check and "
    "as-of day; retries failed posts on later ticks; without SLACK_WEBHOOK_URL writes to the outbox.",
)
def aov_alert_slack_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, slack: SlackResource
) -> dg.SensorResult:
    """The tick's message and logs name each alert sent or written to the outbox; each also becomes an
    observation of the checked asset's day, with the delivery ledger's latest rows."""
    db = warehouse.open()
    outcome = deliver_alerts(
        context.instance,
        db,
        slack.notifier(),
        ALERTING_CHECKS,
        cursor=int(context.cursor or 0),
        dagster_url=slack.dagster_url,
        log=context.log.info,
    )
    context.update_cursor(str(outcome.cursor))
    return dg.SensorResult(skip_reason=outcome.summary, asset_events=delivery_observations(outcome, AlertLedger(db)))
