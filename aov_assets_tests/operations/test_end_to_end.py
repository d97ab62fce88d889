"""The real CLIs in subprocesses: Dagster's `asset materialize` and the whole `aov demo`."""

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from aov_assets.actions import tables as actions_tables
from aov_assets.around import tables as around_tables
from aov_assets.core import db as core_db
from aov_assets.core.keys import CONTRACTION_KEY
from aov_assets.metrics import tables as metrics_tables
from aov_assets.warehouse import Warehouse

from ..conftest import DEFS, REPO, demo_env
from ..slack_receiver import SlackReceiver

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def run(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def counts(pipeline) -> dict[str, int]:
    with pipeline.warehouse().connect() as connection:
        return {
            t.name: connection.scalar(sa.select(sa.func.count()).select_from(t)) for t in core_db.metadata.sorted_tables
        }


def test_dagster_asset_materialize_partition_range_is_one_run_and_repeatable(pipeline):
    materialize = [str(BIN / "dagster"), "asset", "materialize", "-m", "aov_assets.definitions"]
    chain = [
        *materialize,
        "--select",
        "raw_orders,classified_orders,daily_aov",
        "--partition-range",
        "2026-04-26...2026-05-03",
    ]
    run(chain, pipeline.env())
    first = counts(pipeline)
    run(chain, pipeline.env())
    assert counts(pipeline) == first
    assert first["daily_aov"] == 8 * 2
    run([*materialize, "--select", "aov_30d", "--partition", "2026-05-03"], pipeline.env())
    card = pipeline.warehouse().read_card(date(2026, 5, 3)).set_index("segment")
    assert card.at["b2b", "days"] == 8 and card.at["b2b", "verdict"] == "incomplete_window"


def test_make_demo_end_to_end_twice_delivers_the_alert_once(tmp_path):
    receiver = SlackReceiver()
    receiver.statuses = [500]  # the first post fails: the alert stays pending until the next tick
    env = demo_env(tmp_path) | {"SLACK_WEBHOOK_URL": receiver.url}
    try:
        first = run([str(BIN / "aov"), "demo"], env, cwd=tmp_path)
        second = run([str(BIN / "aov"), "demo"], env, cwd=tmp_path)
    finally:
        receiver.close()
    out = first.stdout
    assert "b2b             1,420    912,800.00  642.82         1,380   1,062,600.00     770.00  -16.5%" in out
    assert "Multiplier (B2B AOV / B2C AOV): 9.4x" in out
    assert "aov_30d.b2b_aov_contraction: FAILED (ERROR)" in out
    assert "still pending, retried on the next tick" in out and "Slack webhook answered HTTP 500" in out
    assert "delivered to Slack: aov_30d:b2b_aov_contraction 2026-05-03" in second.stdout
    # the investigation of the worked example: cohorts and gone quiet as in the contract, and the cause
    assert "top 20%           36           484   1,180.00   1,210.00   -2.5%           0" in out
    assert "middle 60%       108           565     480.00     560.00  -14.3%           8" in out
    assert "bottom 20%        36           371     189.97     310.35  -38.8%           0" in out
    assert "Accounts gone quiet (ordered in the prior 30 days, not since): 8 vs typical" in out
    assert "1. basket_shrink -71.71 (56.4% of the move)" in out
    assert "2. account_mix -63.67 (50.1% of the move)" in out
    # the categories that left the B2B baskets (README's worked example)
    assert "Janitorial/Equipment: 99.63 per B2B order (prior 202.57, -102.94); 1,030 lines (prior 2,248)" in out
    # around it, over the full history (README's worked example)
    assert "  B2B share of revenue 74.2% (prior 76.7%, -2.5 pts)" in out
    assert "  Orders per B2B account 8.26 (prior 7.67, +7.7%); active accounts 172 (prior 180, -4.4%)" in out
    assert "  Lines per B2B order 4.78 (prior 5.95, -19.6%); value per line 134.37 (prior 129.40, +3.8%)" in out
    # the trailing twelve months to the last complete month, against the twelve before them
    assert "Trailing twelve months to 2026-04 (2025-05..2026-04)" in out
    assert "b2b       757.25          766.12   -1.2%  16,396" in out
    [alert] = receiver.accepted
    assert "642.82" in alert["text"] and "16.5" in alert["text"]
    assert "Likely cause: basket_shrink (-71.71, 56.4% of the move)" in alert["text"]
    assert "Gone quiet (8 vs typical" in alert["text"]
    assert "Around it: B2B share of revenue 74.2% (prior 76.7%, -2.5 pts)" in alert["text"]
    assert "Left the baskets: Janitorial/Equipment: 99.63 per B2B order (prior 202.57, -102.94)" in alert["text"]
    for result in (first, second):
        assert "sekrit" not in result.stdout + result.stderr
    assert (tmp_path / "data" / "dagster_home" / "dagster.yaml").exists()
    # every check's history holds verdicts only: nothing planned for a partition and then left "Skipped"
    with dg.DagsterInstance.from_config(str(tmp_path / "data" / "dagster_home")) as instance:
        for key in DEFS.resolve_asset_graph().asset_check_keys:
            records = instance.event_log_storage.get_asset_check_execution_history(key, limit=10_000)
            assert records and {r.status.value for r in records} <= {"SUCCEEDED", "FAILED"}, key
        contraction = instance.event_log_storage.get_asset_check_execution_history(CONTRACTION_KEY, limit=10_000)
    failed = sorted(r.partition for r in contraction if r.status.value == "FAILED")
    assert len(contraction) == 2 * 733 and failed[-1] == "2026-05-03"  # two demos, one verdict per as-of day
    calls = run(
        [str(BIN / "aov"), "cross-sell", "--bought", "Paper", "--not", "Equipment", "--since", "2026-04-04"], env
    )
    assert calls.stdout.startswith("123 b2b account(s) bought category Janitorial/Paper but not category Janitorial/")
    card = json.loads(run([str(BIN / "aov"), "card", "--as-of", "2026-05-03", "--json"], env, cwd=tmp_path).stdout)
    assert card["ttm"]["month"] == "2026-04" and card["ttm"]["comparable"]
    assert card["ttm"]["segments"]["b2b"]["aov_change_pct"] == -1.157
    white = run([str(BIN / "aov"), "whitespace", "--account", "company:115"], env, cwd=tmp_path).stdout
    assert "Pioneer Medical District (company:115), top 20%: Janitorial/Equipment, bought by 31 of 35 peers" in white

    warehouse = Warehouse(env["AOV_WAREHOUSE_URL"])
    with warehouse.connect() as connection:
        result = connection.execute(sa.select(metrics_tables.aov_30d).where(metrics_tables.aov_30d.c.segment == "b2b"))
        b2b = pd.DataFrame(result.fetchall(), columns=list(result.keys())).set_index("as_of")
        ttm = connection.scalar(sa.select(sa.func.count()).select_from(metrics_tables.aov_ttm))
        b2c_repeat = connection.execute(
            sa.select(
                around_tables.segment_metrics_30d.c.repeat_rate_pct, around_tables.segment_metrics_30d.c.new_customers
            ).where(
                around_tables.segment_metrics_30d.c.as_of == date(2026, 5, 3),
                around_tables.segment_metrics_30d.c.segment == "b2c",
            )
        ).one()
        around = connection.scalar(sa.select(sa.func.count()).select_from(around_tables.segment_metrics_30d))
        whitespace = connection.scalar(
            sa.select(sa.func.count()).where(actions_tables.account_whitespace.c.month == "2026-04")
        )
    assert len(b2b) == 733 and ttm == 24 * 3 and around == 733 * 3
    assert tuple(b2c_repeat) == (Decimal("59.2995"), 1162)
    assert whitespace == 44  # README: a third of the companies never buy one category
    assert b2b.at[date(2026, 5, 3), "aov"] == Decimal("642.82")
    alerts = b2b.index[b2b["alert"]]
    assert len(alerts) > 0 and alerts.min() > date(2026, 4, 4), "ordinary history must not alert"
    judged = b2b[b2b["verdict"] != "incomplete_window"]
    assert judged.index.min() == date(2024, 6, 29)  # the first day with 60 days of history
    assert judged["multiplier"].between(2, 20).all()
