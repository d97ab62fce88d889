"""The demo's Dagster instance (`data/dagster_home`, shared by `make demo` and `make dev`).

A single-run backfill of the sample's 733 days stores about 3,000 materialization events. Dagster's
SQLite event log builds a new SQLAlchemy engine and connection for every event, which made those
writes take three times longer than the pipeline's own work (bench/pipeline.py measures both side by side).
`PooledSqliteEventLogStorage` is that same storage with one pooled engine per shard, kept for the
most recently used shards only, so a long-running webserver holds a bounded number of files open.
It is only written into a `dagster.yaml` that aov_assets creates itself; an existing instance
configuration is never touched.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData

OPEN_SHARDS = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, reusing a pooled engine per recently used shard."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            engine = self._engine_for(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def _engine_for(self, conn_string: str) -> sa.Engine:
        engine = self._engines.pop(conn_string, None) or sa.create_engine(
            conn_string, pool_size=1, max_overflow=2, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        self._engines[conn_string] = engine
        while len(self._engines) > OPEN_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def wipe(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().dispose()


INSTANCE_YAML = """\
# Written by aov_assets for the demo's own Dagster instance (make demo / make dev).
telemetry:
  enabled: false
event_log_storage:
  module: aov_assets.instance
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""


def use_dagster_home(data_dir: str | os.PathLike[str]) -> Path:
    """Point DAGSTER_HOME at `$AOV_DATA_DIR/dagster_home` unless the user chose one, and create it.

    Returns the home. Only a home that has no `dagster.yaml` yet gets ours.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or Path(data_dir, "dagster_home")).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML.format(base_dir=home / "history" / "runs"))
    return home
