"""`aov_alert_slack_sensor`: failed ERROR checks of this project reach Slack, once each."""

import dagster as dg

from .alerts import deliver_alerts
from .assets import aov_30d, classified_orders
from .resources import SlackResource, WarehouseResource

# The checks whose failures page people (their ERROR evaluations); data-health checks only WARN.
ALERTING_CHECKS = [spec.key for asset in (aov_30d, classified_orders) for spec in asset.check_specs]


@dg.sensor(
    name="aov_alert_slack_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends failed ERROR checks (the B2B AOV contraction first) to Slack exactly once per check and "
    "as-of day; retries failed posts on later ticks; without SLACK_WEBHOOK_URL writes to the outbox.",
)
def aov_alert_slack_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, slack: SlackResource
) -> dg.SkipReason:
    outcome = deliver_alerts(
        context.instance,
        warehouse.open(),
        slack.notifier(),
        ALERTING_CHECKS,
        cursor=int(context.cursor or 0),
        dagster_url=slack.dagster_url,
        log=context.log.info,
    )
    context.update_cursor(str(outcome.cursor))
    return dg.SkipReason(outcome.summary)
