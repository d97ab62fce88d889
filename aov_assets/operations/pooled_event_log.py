"""The demo's faster event log: Dagster's SQLite event log storage with pooled engines (private Dagster API).

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine and connection for every event,
and another one for every `has_table` question it asks while storing an asset event. A single-run
backfill of the sample's 733 days stores about 6,000 events, so that overhead made `make demo`
about twice as slow (bench/pipeline.py part B measures stock vs pooled side by side).
`PooledSqliteEventLogStorage` is that same storage with one pooled engine per shard (kept for the
most recently used shards only, so a long-running webserver holds a bounded number of files open),
it remembers tables that exist, and it does not sync the file at every commit (see
`_no_sync_per_commit`). It subclasses private Dagster internals (`_connect`, `_db_lock`,
`_initialized_dbs`, `_initdb`); `aov_assets.operations.instance` only uses it when `available()` says they are
all there, and falls back to Dagster's stock storage otherwise (tests pin both).
"""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData

PRIVATE_API = ("_connect", "_initdb", "conn_string_for_shard", "has_table", "wipe", "dispose")

OPEN_SHARDS = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, reusing a pooled engine per recently used shard."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._tables: set[str] = set()  # tables known to exist in the index shard (they are never dropped)
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
        engine = self._engines.pop(conn_string, None)
        if engine is None:
            engine = sa.create_engine(
                conn_string, pool_size=1, max_overflow=2, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            sa.event.listen(engine, "connect", _no_sync_per_commit)
        self._engines[conn_string] = engine
        while len(self._engines) > OPEN_SHARDS:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def has_table(self, table_name: str) -> bool:
        """Asked for every asset event, and the stock answer opens a new engine each time: a table that
        exists is remembered (tables are only ever added, by migrations)."""
        if table_name not in self._tables:
            if not super().has_table(table_name):
                return False
            self._tables.add(table_name)
        return True

    def wipe(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
            self._tables.clear()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().dispose()


def _no_sync_per_commit(connection: Any, _record: Any) -> None:
    """Dagster keeps its shards in WAL mode; synchronous=NORMAL then syncs at checkpoints rather than
    at every commit (3 per event). Durable across a crash of the process; on power loss the demo's
    event log may lose its last events."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def available() -> bool:
    """The private parts this subclass relies on still exist in the installed Dagster (checked on a
    throwaway storage, since some are set per instance)."""
    if not all(hasattr(SqliteEventLogStorage, name) for name in PRIVATE_API):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        storage = PooledSqliteEventLogStorage(tmp)
        try:
            return all(hasattr(storage, name) for name in ("_db_lock", "_initialized_dbs"))
        finally:
            storage.dispose()
