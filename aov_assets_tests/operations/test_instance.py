"""The demo's Dagster instance: the pooled event log stores what Dagster's own stores, and without the
private Dagster parts it relies on, the demo falls back to Dagster's stock storage by itself."""

from __future__ import annotations

import os
import time
from collections import Counter

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._serdes import deserialize_value

from aov_assets.operations import instance as operations_instance
from aov_assets.operations.pooled_event_log import PooledSqliteEventLogStorage, available

from ..conftest import DAILY_CHAIN, EXAMPLE_DAY

FIRST = "2026-04-28"


def materialized(pipeline, home, yaml: str) -> dict[str, object]:
    """What the instance recorded of the daily chain: partitions per asset, the latest check verdict per
    partition, and how many events of each kind."""
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.format(base_dir=home / "history" / "runs"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = pipeline.materialize(DAILY_CHAIN, FIRST, str(EXAMPLE_DAY), instance)
        assert result.success
        keys = [key for asset in DAILY_CHAIN for key in asset.keys]
        verdicts = {
            (evaluation.asset_check_key.name, evaluation.partition): evaluation.passed
            for evaluation in result.get_asset_check_evaluations()
        }
        kinds = Counter(event.dagster_event_type for event in instance.all_logs(result.run_id) if event.dagster_event)
        latest = {key: instance.get_latest_materialization_event(key) for key in keys}
        return {
            "partitions": {key.to_user_string(): sorted(instance.get_materialized_partitions(key)) for key in keys},
            "latest": {key.to_user_string(): event.dagster_event.partition for key, event in latest.items()},
            "asset_rows": asset_rows(instance, result.run_id),
            "verdicts": verdicts,
            "events": {kind.value: count for kind, count in kinds.items()},
        }


def asset_rows(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple]:
    """Each asset's row in the index shard as stored (Dagster's reads fall back to the event log when
    its latest materialization is missing): written by this run, its last materialization's partition."""
    query = sa.text(
        "SELECT asset_key, last_run_id, last_materialization, last_materialization_timestamp FROM asset_keys"
    )
    with instance.event_log_storage.index_connection() as connection:
        rows = connection.execute(query).fetchall()
    return {
        key: (
            run == run_id,
            last and deserialize_value(last).event_log_entry.dagster_event.partition,
            stamp is not None,
        )
        for key, run, last, stamp in rows
    }


def test_the_pooled_event_log_records_what_the_stock_one_records(pipeline, tmp_path, monkeypatch):
    stock = materialized(pipeline, tmp_path / "stock", operations_instance.TELEMETRY)
    batches = []  # per batch: how many events of each (asset, kind)
    store_batch = PooledSqliteEventLogStorage.store_event_batch

    def counted(storage, events):
        batches.append(Counter((e.dagster_event.asset_key.path[0], e.dagster_event_type.value) for e in events))
        store_batch(storage, events)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event_batch", counted)
    monkeypatch.setenv(*operations_instance.EVENT_BATCH_SIZE)
    pooled = materialized(
        pipeline, tmp_path / "pooled", operations_instance.TELEMETRY + operations_instance.POOLED_STORAGE
    )
    assert pooled == stock
    assert stock["partitions"]["daily_aov"] == [
        "2026-04-28", "2026-04-29", "2026-04-30", "2026-05-01", "2026-05-02", "2026-05-03"
    ]  # fmt: skip
    assert ("b2b_aov_contraction", "2026-05-03") in stock["verdicts"]
    assert set(stock["latest"].values()) == {"2026-05-03"}
    assert set(stock["asset_rows"].values()) == {(True, "2026-05-03", True)}
    materialized_in_batches = [batch for batch in batches if "ASSET_MATERIALIZATION" in {k for _, k in batch}]
    assert sorted(asset for batch in materialized_in_batches for asset, _ in batch) == sorted(stock["partitions"])
    assert all(list(batch.values()) == [6] for batch in materialized_in_batches)  # an asset's six days each


def test_a_batch_that_fails_keeps_none_of_its_events(tmp_path, monkeypatch):
    """Dagster then stores the batch's events one by one: a half-kept batch would store some twice."""
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    events = [
        dg.EventLogEntry(
            error_info=None, level="INFO", user_message=f"event {n}", run_id="run-1", timestamp=time.time() + n
        )
        for n in range(3)
    ]
    store_event = SqliteEventLogStorage.store_event

    def fails_on_the_last(storage, event):
        if event is events[-1]:
            raise RuntimeError("disk full")
        store_event(storage, event)

    try:
        monkeypatch.setattr(SqliteEventLogStorage, "store_event", fails_on_the_last)
        with pytest.raises(RuntimeError, match="disk full"):
            storage.store_event_batch(events)
        monkeypatch.undo()
        assert storage.get_logs_for_run("run-1") == []
        storage.store_event_batch(events)
        assert [event.user_message for event in storage.get_logs_for_run("run-1")] == ["event 0", "event 1", "event 2"]
    finally:
        storage.dispose()


def test_existing_tables_are_asked_once(tmp_path, monkeypatch):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    try:
        assert storage.has_table("asset_event_tags") and not storage.has_table("no_such_table")

        def no_engine(*_args, **_kwargs):
            raise AssertionError("asked again")

        monkeypatch.setattr(SqliteEventLogStorage, "has_table", no_engine)
        assert storage.has_table("asset_event_tags")  # remembered
    finally:
        monkeypatch.undo()
        storage.dispose()


def test_without_the_private_parts_the_demo_home_uses_dagsters_stock_storage(tmp_path, monkeypatch):
    assert available()
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv(operations_instance.EVENT_BATCH_SIZE[0], raising=False)
    operations_instance.use_dagster_home(tmp_path)
    assert "PooledSqliteEventLogStorage" in (home / "dagster.yaml").read_text()
    assert os.environ[operations_instance.EVENT_BATCH_SIZE[0]] == operations_instance.EVENT_BATCH_SIZE[1]

    monkeypatch.delattr(SqliteEventLogStorage, "_initdb")  # a Dagster release renamed it
    assert not available()
    operations_instance.use_dagster_home(tmp_path)
    assert "PooledSqliteEventLogStorage" in (home / "dagster.yaml").read_text()  # asked once per Dagster release
    monkeypatch.setattr(dg, "__version__", "99.0.0")
    operations_instance.use_dagster_home(tmp_path)
    stock = operations_instance.header() + operations_instance.TELEMETRY
    assert (home / "dagster.yaml").read_text() == stock  # ours, rewritten

    mine = "telemetry:\n  enabled: true\n"
    (home / "dagster.yaml").write_text(mine)
    operations_instance.use_dagster_home(tmp_path)
    assert (home / "dagster.yaml").read_text() == mine  # a user's own configuration is never touched


@pytest.fixture(autouse=True)
def _no_stray_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def test_an_instance_on_postgresql_gets_batched_event_writes_and_a_stock_one_does_not(tmp_path, monkeypatch):
    variable, size = operations_instance.EVENT_BATCH_SIZE
    for number, (yaml_text, batched) in enumerate(
        (
            ("storage:\n  postgres:\n    postgres_url: postgresql://db.internal/dagster\n", True),
            ("event_log_storage:\n  module: dagster_postgres.event_log\n  class: PostgresEventLogStorage\n", True),
            ("telemetry:\n  enabled: false\n", False),
            ("# moved off postgres last year\nlocal_artifact_storage:\n  config: {base_dir: /srv/postgres}\n", False),
        )
    ):
        home = tmp_path / f"home_{number}"
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml_text)  # the user's own: never rewritten
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.delenv(variable, raising=False)
        operations_instance.use_dagster_home(tmp_path)
        assert (home / "dagster.yaml").read_text() == yaml_text
        assert os.environ.get(variable) == (size if batched else None)
