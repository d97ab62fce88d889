"""The asset graph with a PostgreSQL warehouse gives the SQLite tables, cent for cent."""

import dagster as dg
import pandas as pd

from aov_assets.alerts.ledger import AlertLedger
from aov_assets.alerts.sensors import aov_alert_slack_sensor
from aov_assets.resources import SlackResource, WarehouseResource

from .conftest import (
    DAILY_CHAIN,
    EXAMPLE_DAY,
    EXAMPLE_FIRST_DAY,
    REPO,
    Pipeline,
    company_credit,
    postgres_database,
    read_table,
)


def test_the_worked_example_on_postgresql(example_pipeline, postgres_server, tmp_path):
    pipeline = Pipeline(tmp_path, REPO / "aov.yaml", url=postgres_database(postgres_server))
    chain = DAILY_CHAIN
    with dg.instance_for_test() as instance:
        assert dg.materialize([company_credit], resources=pipeline.resources, instance=instance).success
        assert pipeline.materialize(chain, str(EXAMPLE_FIRST_DAY), str(EXAMPLE_DAY), instance).success
        assert pipeline.materialize(chain, "2026-04-20", "2026-04-22", instance).success  # a repeat in the middle
        context = dg.build_sensor_context(
            instance=instance,
            resources={
                "warehouse": WarehouseResource(url=pipeline.warehouse_url),
                "slack": SlackResource(data_dir=str(tmp_path)),
                "stores": pipeline.resources["stores"],
            },
        )
        assert aov_alert_slack_sensor(context).skip_reason.skip_message.startswith("written to the outbox")
    tables = ("classified_orders", "daily_aov", "account_daily", "b2b_accounts_30d", "aov_why", "aov_30d")
    for name in (*tables, "b2b_cohorts_30d", "b2b_companies", "company_credit_history"):
        pd.testing.assert_frame_equal(read_table(pipeline, name), read_table(example_pipeline, name), check_exact=True)
    card = read_table(pipeline, "aov_30d").set_index(["as_of", "segment"]).loc[(EXAMPLE_DAY, "b2b")]
    assert str(card["aov"]) == "642.82" and card["alert"]
    [delivery] = AlertLedger(pipeline.warehouse()).rows()
    assert (delivery["check_key"], delivery["as_of"], delivery["status"]) == (
        "aov_30d:b2b_aov_contraction",
        EXAMPLE_DAY,
        "outbox",
    )
