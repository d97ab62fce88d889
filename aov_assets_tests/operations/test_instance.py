"""The demo's Dagster instance: the pooled event log stores what Dagster's own stores, and without the
private Dagster parts it relies on, the demo falls back to Dagster's stock storage by itself."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from aov_assets.operations import instance as operations_instance
from aov_assets.operations.pooled_event_log import PooledSqliteEventLogStorage, available

from ..conftest import DAILY_CHAIN, EXAMPLE_DAY

FIRST = "2026-04-28"


def materialized(pipeline, home, yaml: str) -> dict[str, list[str]]:
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.format(base_dir=home / "history" / "runs"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert pipeline.materialize(DAILY_CHAIN, FIRST, str(EXAMPLE_DAY), instance).success
        return {
            key.to_user_string(): sorted(instance.get_materialized_partitions(key))
            for key in (key for asset in DAILY_CHAIN for key in asset.keys)
        }


def test_the_pooled_event_log_records_what_the_stock_one_records(pipeline, tmp_path):
    stock = materialized(pipeline, tmp_path / "stock", operations_instance.STOCK_YAML)
    pooled = materialized(pipeline, tmp_path / "pooled", operations_instance.INSTANCE_YAML)
    assert pooled == stock
    assert stock["daily_aov"] == ["2026-04-28", "2026-04-29", "2026-04-30", "2026-05-01", "2026-05-02", "2026-05-03"]


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
    operations_instance.use_dagster_home(tmp_path)
    assert "PooledSqliteEventLogStorage" in (home / "dagster.yaml").read_text()

    monkeypatch.delattr(SqliteEventLogStorage, "_initdb")  # a Dagster release renamed it
    assert not available()
    operations_instance.use_dagster_home(tmp_path)
    assert (home / "dagster.yaml").read_text() == operations_instance.STOCK_YAML  # ours, rewritten

    mine = "telemetry:\n  enabled: true\n"
    (home / "dagster.yaml").write_text(mine)
    operations_instance.use_dagster_home(tmp_path)
    assert (home / "dagster.yaml").read_text() == mine  # a user's own configuration is never touched


@pytest.fixture(autouse=True)
def _no_stray_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
