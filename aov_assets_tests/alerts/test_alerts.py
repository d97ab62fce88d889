"""aov_alert_slack_sensor against a real Dagster instance and a real webhook on 127.0.0.1."""

import json
import time
from datetime import date

import dagster as dg
import pytest

from aov_assets.alerts.ledger import AlertLedger
from aov_assets.alerts.sensors import aov_alert_slack_sensor
from aov_assets.alerts.slack import check_message
from aov_assets.ingest.lake import RawOrderLake
from aov_assets.metrics import tables as metrics_tables
from aov_assets.resources import SlackResource, WarehouseResource

from ..conftest import EXAMPLE_DAY, aov_30d, classified_orders, copy_of
from ..slack_receiver import SECRET_PATH, SlackReceiver

DAGSTER_URL = "http://dagster.example:3000"


@pytest.fixture
def receiver():
    webhook = SlackReceiver()
    yield webhook
    webhook.close()


@pytest.fixture
def alerting(example_pipeline, tmp_path):
    """A copy of the example warehouse, an instance, and a run whose contraction check failed."""
    pipeline = copy_of(example_pipeline, tmp_path / "pipeline")
    with dg.instance_for_test() as instance:
        assert pipeline.materialize([aov_30d], str(EXAMPLE_DAY), instance=instance).success
        pipeline.instance = instance
        yield pipeline


def tick(pipeline, webhook: str | None = None, cursor: str | None = None, timeout: float = 10.0) -> tuple[str, str]:
    """One sensor tick: (the tick's message, the cursor it leaves)."""
    slack = SlackResource(
        webhook_url=webhook, data_dir=str(pipeline.root), dagster_url=DAGSTER_URL, timeout_seconds=timeout
    )
    context = dg.build_sensor_context(
        instance=pipeline.instance,
        cursor=cursor,
        resources={
            "warehouse": WarehouseResource(url=pipeline.warehouse_url),
            "slack": slack,
            "stores": pipeline.resources["stores"],
        },
    )
    return aov_alert_slack_sensor(context).skip_reason.skip_message, context.cursor


def ledger(pipeline) -> dict[tuple[str, date], dict]:
    return {(row["check_key"], row["as_of"]): row for row in AlertLedger(pipeline.warehouse()).rows()}


def test_the_contraction_alert_reaches_slack_once(alerting, receiver):
    message, cursor = tick(alerting, receiver.url)
    assert message == "delivered to Slack: aov_30d:b2b_aov_contraction 2026-05-03"
    [post] = receiver.accepted
    assert "642.82" in post["text"] and "16.5%" in post["text"] and "9.4x" in post["text"]
    assert post["text"].endswith(f"{DAGSTER_URL}/assets/aov_30d?partition=2026-05-03")
    assert post["blocks"][0]["text"]["text"] == "B2B AOV down 16.5% vs the prior 30 days (as of 2026-05-03)"
    sections = [block for block in post["blocks"] if block["type"] == "section"]
    assert all(len(block["fields"]) <= 10 for block in sections)  # Block Kit's limit (the receiver checks it too)
    fields = [field["text"] for block in sections for field in block["fields"]]
    assert any("B2C AOV* 68.29 (-0.1%)" in field for field in fields)
    # it ends with the call list, by sales rep: at most 5 accounts each, then how many more
    calls = [field for field in fields if field.startswith("*Call (")]
    assert calls and fields[-len(calls) :] == calls
    assert any(field.startswith("*Call (Dana Whitfield (@dana)):* ") for field in calls)
    assert all(len(field.split(":* ", 1)[1].split("; ")) <= 6 for field in calls)  # 5 accounts, "and N more"
    assert tick(alerting, receiver.url, cursor)[0] == "no new alerts"
    # The same day again (a re-materialization, a backfill), and a sensor that lost its cursor:
    assert alerting.materialize([aov_30d], str(EXAMPLE_DAY), instance=alerting.instance).success
    assert tick(alerting, receiver.url, cursor)[0] == "no new alerts"
    assert tick(alerting, receiver.url, None)[0] == "no new alerts"
    assert len(receiver.posts) == 1
    row = ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)


def test_each_delivery_is_an_observation_of_the_checked_day_with_the_ledger(alerting, receiver):
    slack = SlackResource(webhook_url=receiver.url, data_dir=str(alerting.root), dagster_url=DAGSTER_URL)
    resources = {
        "warehouse": WarehouseResource(url=alerting.warehouse_url),
        "slack": slack,
        "stores": alerting.resources["stores"],
    }
    first = aov_alert_slack_sensor(dg.build_sensor_context(instance=alerting.instance, resources=resources))
    [observation] = first.asset_events
    assert (observation.asset_key, observation.partition) == (dg.AssetKey("aov_30d"), "2026-05-03")
    assert observation.metadata["status"].value == "delivered"
    assert observation.description.startswith("alert delivered: ALERT: B2B AOV 642.82 vs 770.00")
    ledger_table = observation.metadata["alert_deliveries"].value
    assert "| 2026-05-03 | aov_30d:b2b_aov_contraction | delivered | 1 | 20" in ledger_table
    second = aov_alert_slack_sensor(dg.build_sensor_context(instance=alerting.instance, resources=resources))
    assert second.asset_events == [] and second.skip_reason.skip_message == "no new alerts"


def test_a_500_leaves_the_alert_pending_and_the_next_tick_delivers_it(alerting, receiver):
    receiver.statuses = [500]
    message, cursor = tick(alerting, receiver.url)
    assert message.startswith(
        "still pending, retried on the next tick: aov_30d:b2b_aov_contraction 2026-05-03 "
        "(Slack webhook answered HTTP 500"
    )
    assert ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]["status"] == "pending"
    assert tick(alerting, receiver.url, cursor)[0] == "delivered to Slack: aov_30d:b2b_aov_contraction 2026-05-03"
    assert [post["status"] for post in receiver.posts] == [500, 200]
    assert len(receiver.accepted) == 1
    assert ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]["attempts"] == 2


def test_a_refused_connection_is_retried_later(alerting, receiver):
    closed = "http://127.0.0.1:9" + SECRET_PATH
    message, cursor = tick(alerting, closed)
    assert "Slack webhook unreachable (ConnectError)" in message
    assert ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]["status"] == "pending"
    assert tick(alerting, receiver.url, cursor)[0].startswith("delivered to Slack")
    assert len(receiver.accepted) == 1


def wait_for_posts(receiver, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(receiver.posts) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_no_answer_in_time_is_an_unknown_outcome_re_sent_once(alerting, receiver):
    """The webhook took the post but answered after the timeout: Slack may have posted it. It is re-sent
    once (it may arrive twice, which the README says), never lost."""
    receiver.delay_seconds = 1.0
    message, cursor = tick(alerting, receiver.url, timeout=0.2)
    assert message == (
        "outcome unknown: aov_30d:b2b_aov_contraction 2026-05-03 (Slack webhook did not answer within 0.2s "
        "(ReadTimeout); it may have posted; re-sent once)"
    )
    assert ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]["status"] == "unknown"
    receiver.delay_seconds = 0
    assert tick(alerting, receiver.url, cursor)[0].startswith("delivered to Slack")
    wait_for_posts(receiver, 2)
    assert len(receiver.accepted) == 2  # the late first post arrived too: the documented duplicate
    assert tick(alerting, receiver.url, cursor)[0] == "no new alerts"


def test_two_unknown_outcomes_end_as_maybe_sent_and_are_not_sent_a_third_time(alerting, receiver):
    receiver.delay_seconds = 1.0
    _, cursor = tick(alerting, receiver.url, timeout=0.2)
    message, cursor = tick(alerting, receiver.url, cursor, timeout=0.2)
    assert message.endswith("(ReadTimeout); it may have posted; not sent again)")
    row = ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]
    assert (row["status"], row["attempts"]) == ("maybe_sent", 2)
    receiver.delay_seconds = 0
    assert tick(alerting, receiver.url, cursor)[0] == "no new alerts"
    wait_for_posts(receiver, 2)
    assert len(receiver.posts) == 2


def test_without_a_webhook_the_alert_goes_to_the_outbox_once(alerting):
    message, cursor = tick(alerting, None)
    outbox = alerting.root / "outbox" / "2026-05-03_aov_30d.b2b_aov_contraction.json"
    assert message == f"written to the outbox (SLACK_WEBHOOK_URL is not set): {outbox}"
    assert "642.82" in json.loads(outbox.read_text())["text"]
    assert ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]["status"] == "outbox"
    outbox.unlink()
    assert tick(alerting, None, None)[0] == "no new alerts" and not outbox.exists()


def test_alerts_for_days_older_than_the_latest_are_history_not_sent(alerting, receiver):
    # The warehouse already holds a later as-of day, as when a backfill re-judges old history.
    warehouse, later = alerting.warehouse(), date(2026, 5, 4)
    with warehouse.replacing([metrics_tables.aov_30d], later, later) as write:
        write(metrics_tables.aov_30d, warehouse.read_card(EXAMPLE_DAY).assign(as_of=later, alert=False, verdict="ok"))
    message, _ = tick(alerting, receiver.url)
    assert message == "recorded as history, not sent (older than the latest as-of day): 1"
    assert receiver.posts == []
    assert ledger(alerting)[("aov_30d:b2b_aov_contraction", EXAMPLE_DAY)]["status"] == "history"


def test_the_webhook_url_is_never_shown(alerting, receiver, capsys):
    receiver.statuses = [500, 503]
    outputs = [tick(alerting, receiver.url)[0], tick(alerting, receiver.url)[0], tick(alerting, receiver.url)[0]]
    stored = json.dumps(AlertLedger(alerting.warehouse()).rows(), default=str)
    seen = "\n".join(outputs) + stored + "".join(capsys.readouterr())
    assert "sekrit" not in seen and SECRET_PATH not in seen
    assert receiver.posts[-1]["path"] == SECRET_PATH  # it was used, just never shown


def test_other_error_checks_reach_slack_too(example_pipeline, tmp_path, receiver, sample):
    pipeline = copy_of(example_pipeline, tmp_path / "pipeline")
    lake = RawOrderLake(pipeline.root / "lake" / "raw_orders")
    [(_, payloads)] = sample.iter_days([EXAMPLE_DAY])
    lake.write_day(EXAMPLE_DAY, [*payloads, b'{"entity_id": 99, "state": "complete"}'], source="test")
    with dg.instance_for_test() as instance:
        pipeline.instance = instance
        assert pipeline.materialize([classified_orders], str(EXAMPLE_DAY), instance=instance).success
        message, _ = tick(pipeline, receiver.url)
    assert message == "delivered to Slack: classified_orders:no_rejected_orders 2026-05-03"
    [post] = receiver.accepted
    assert post["text"].startswith("classified_orders check no_rejected_orders failed (as of 2026-05-03).")
    assert "entity_ids 99" in post["text"]


def test_slack_reads_names_with_ampersands_and_angle_brackets_as_text():
    message = check_message("aov_30d:x", EXAMPLE_DAY, "A&B <Group>", {"company": "Smith & Sons <West>"}, DAGSTER_URL)
    assert message["blocks"][1]["fields"][0]["text"] == "*company* Smith &amp; Sons &lt;West&gt;"
    assert message["text"].startswith(
        "aov_30d check x failed (as of 2026-05-03). company Smith &amp; Sons &lt;West&gt;"
    )
