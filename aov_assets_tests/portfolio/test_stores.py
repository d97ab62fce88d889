"""Agency mode in Dagster: each store's assets, jobs and alerts on their own, in one deployment."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from aov_assets.alerts.slack import alert_message
from aov_assets.core.scope import Scope
from aov_assets.definitions import build_defs
from aov_assets.manifest import Store, load_stores, parse_manifest
from aov_assets.metrics.card import Card
from aov_assets.metrics.windows import AlertRule
from aov_assets.resources import SlackResource

from ..conftest import EXAMPLE_DAY, REPO, Pipeline, read_table, write_manifest
from ..slack_receiver import SlackReceiver

DAYS = ("2026-04-20", "2026-04-22")
CHAIN = ("raw_orders", "classified_orders", "daily_aov")
# Two stores on the same sample merchant: the same entity_ids, different rules (basis, threshold).
TWO_STORES = """
- {key: acme, name: Acme Wholesale}
- {key: beta, name: Beta Supply, metric: {basis: subtotal}, alert: {min_orders: 10}}
"""


def materialize(pipeline: Pipeline, defs: dg.Definitions, store: str, names=CHAIN) -> dg.ExecuteInProcessResult:
    scope = Scope(store)
    assets = [defs.get_assets_def(scope.key(name)) for name in names]
    return pipeline.materialize(assets, *DAYS)


def by_store(pipeline: Pipeline, name: str) -> dict[str, pd.DataFrame]:
    frame = read_table(pipeline, name)
    return {store: rows.drop(columns="store").reset_index(drop=True) for store, rows in frame.groupby("store")}


def test_two_stores_with_the_same_entity_ids_and_other_rules_never_mix(tmp_path, warehouse_url):
    agency = Pipeline(tmp_path / "agency", write_manifest(tmp_path / "agency.yaml", stores=TWO_STORES), warehouse_url)
    defs = build_defs(load_stores(agency.manifest_path))
    for store in ("acme", "beta", "acme"):  # acme twice: re-running its days replaces its rows only
        assert materialize(agency, defs, store).success
    lake = agency.root / "lake"
    assert (lake / "stores" / "acme" / "raw_orders").is_dir() and (lake / "stores" / "beta" / "raw_orders").is_dir()
    assert not (lake / "raw_orders").exists()  # no default store here
    # each store equals the same manifest run alone as the default store in a warehouse of its own
    for key, basis in (("acme", "grand_total"), ("beta", "subtotal")):
        alone = Pipeline(tmp_path / key, write_manifest(tmp_path / f"{key}.yaml", metric=f"{{basis: {basis}}}"))
        assert materialize(alone, build_defs(load_stores(alone.manifest_path)), "default").success
        for table in ("classified_orders", "daily_aov"):
            pd.testing.assert_frame_equal(by_store(agency, table)[key], by_store(alone, table)["default"])
    acme, beta = (by_store(agency, "daily_aov")[key] for key in ("acme", "beta"))
    assert len(acme) == 6 and acme["revenue"].tolist() != beta["revenue"].tolist()  # the bases differ


def test_each_store_has_its_own_jobs_schedules_pools_and_groups(tmp_path):
    defs = build_defs(load_stores(write_manifest(tmp_path / "aov.yaml", stores=TWO_STORES)))
    graph = defs.resolve_asset_graph()
    raw = graph.get(dg.AssetKey(["beta", "raw_orders"]))
    assert raw.group_name == "beta__aov" and raw.pools == {"beta__adobe_commerce"}
    assert graph.get(dg.AssetKey(["acme", "classified_orders"])).parent_keys == {dg.AssetKey(["acme", "raw_orders"])}
    daily = defs.resolve_job_def("beta__aov_daily")
    assert daily.tags["aov/store"] == "beta"
    assert {key.path[0] for key in daily.asset_layer.executable_asset_keys} == {"beta"}
    assert defs.resolve_schedule_def("acme__aov_daily_schedule").job_name == "acme__aov_daily"
    portfolio = graph.get(dg.AssetKey("aov_portfolio"))
    assert dg.AssetKey(["beta", "aov_30d"]) in portfolio.parent_keys
    # after one of beta's runs, beta's data-health checks (and not acme's)
    sensor = defs.resolve_sensor_def("aov_health_after_runs")
    run = dg.DagsterRun(job_name="beta__aov_windows", run_id="a-windows-run")
    event = dg.DagsterEvent(event_type_value="PIPELINE_SUCCESS", job_name="beta__aov_windows")
    with dg.instance_for_test() as instance:
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=event, dagster_instance=instance, dagster_run=run
        )
        assert sensor(context).job_name == "beta__aov_health"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_one_store_down_fails_its_own_backfill_and_the_other_completes(tmp_path):
    stores = f"""
- {{key: down, name: Down Store, source: adobe_commerce, base_url: "http://127.0.0.1:{_closed_port()}",
   adobe_commerce: {{retry_seconds: 0}}}}
- {{key: up, name: Up Store}}
"""
    pipeline = Pipeline(tmp_path, write_manifest(tmp_path / "aov.yaml", stores=stores))
    env = pipeline.env() | {"DOWN_ADOBE_COMMERCE_TOKEN": "tok-secret-123"}
    command = [str(Path(sys.executable).parent / "aov"), "backfill", "--from", DAYS[0], "--to", DAYS[1]]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "aov: store down: step 1 (down__aov_daily 2026-04-20..2026-04-22) failed" in result.stderr
    assert "1 of 2 stores failed (down); 1 finished" in result.stderr
    assert "tok-secret-123" not in result.stdout + result.stderr
    daily = by_store(pipeline, "daily_aov")
    assert set(daily) == {"up"}
    assert sorted(map(str, set(daily["up"]["order_date"]))) == ["2026-04-20", "2026-04-21", "2026-04-22"]


def test_each_alert_names_its_store_and_goes_to_its_own_webhook(example_pipeline, tmp_path, monkeypatch):
    card = Card.stored(example_pipeline.warehouse(), EXAMPLE_DAY, AlertRule(Decimal(15)))
    message = alert_message(card, "http://ui:3000", "acme/aov_30d", "Acme Wholesale")
    assert message["blocks"][0]["text"]["text"].startswith("Acme Wholesale: B2B AOV down 16.5%")
    assert message["blocks"][-1]["elements"][0]["url"] == "http://ui:3000/assets/acme/aov_30d?partition=2026-05-03"
    manifest = parse_manifest((REPO / "aov.yaml").read_text())
    acme, beta = Store("acme", "Acme Wholesale", manifest), Store("beta", "Beta Supply", manifest)
    slack = SlackResource(webhook_url=None, data_dir=str(tmp_path))
    receiver = SlackReceiver()
    try:
        monkeypatch.setenv("ACME_SLACK_WEBHOOK_URL", receiver.url)
        assert slack.notifier(acme).send("acme/aov_30d:b2b_aov_contraction", EXAMPLE_DAY, message) is None
        assert [body["text"] for body in receiver.accepted] == [message["text"]]
        written = slack.notifier(beta).send("beta/aov_30d:b2b_aov_contraction", date(2026, 5, 3), message)
    finally:
        receiver.close()
    assert written == tmp_path / "outbox" / "beta" / "2026-05-03_beta.aov_30d.b2b_aov_contraction.json"
    assert json.loads(written.read_text())["text"] == message["text"]
