"""The demo's faster event log: Dagster's SQLite event log storage with pooled engines (private Dagster API).

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine and connection for every event,
and another one for every `has_table` question it asks while storing an asset event. A single-run
backfill of the sample's 733 days stores over 10,000 events, so that overhead made `make demo`
about twice as slow (bench/pipeline.py part B measures stock vs pooled side by side).
`PooledSqliteEventLogStorage` is that same storage with one pooled engine per shard (kept for the
most recently used shards only, so a long-running webserver holds a bounded number of files open),
it remembers tables that exist, it does not sync the file at every commit (see
`_no_sync_per_commit`), and it stores a batch of materializations in one transaction per shard
(`store_event_batch`, used when DAGSTER_EVENT_BATCH_SIZE is set, as `aov` commands set it).
It subclasses private Dagster internals (`_connect`, `_db_lock`, `_initialized_dbs`, `_initdb`);
`aov_assets.operations.instance` only uses it when `available()` says they are all there, and falls
back to Dagster's stock storage otherwise (tests pin both).
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

import dagster as dg
import sqlalchemy as sa
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData

PRIVATE_API = (
    "_connect",
    "_initdb",
    "_store_asset_event",
    "_has_asset_key_index_cols_on_connection",
    "conn_string_for_shard",
    "has_table",
    "wipe",
    "dispose",
)

OPEN_SHARDS = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, reusing a pooled engine per recently used shard."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._tables: set[str] = set()  # tables (and columns) known to exist in the index shard: never dropped
        self._batch = threading.local()  # `transactions` while this thread stores a batch
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        batch = getattr(self._batch, "transactions", None)
        if batch is not None:  # inside store_event_batch on this thread, which holds the lock
            if shard not in batch.connections:
                batch.connections[shard] = batch.stack.enter_context(self._transaction(shard))
            yield batch.connections[shard]
            return
        with self._db_lock, self._transaction(shard) as connection:
            yield connection

    @contextmanager
    def _transaction(self, shard: str) -> Iterator[sa.Connection]:
        engine = self._engine_for(self.conn_string_for_shard(shard))
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        with engine.connect() as connection, connection.begin():
            yield connection

    def store_event_batch(self, events: Sequence[dg.EventLogEntry]) -> None:
        """A single-run backfill's materializations of one asset (Dagster batches them when
        DAGSTER_EVENT_BATCH_SIZE is set): each stored exactly as `store_event` stores it, in one
        transaction per shard instead of two per event. On an error nothing of the batch is
        kept, and Dagster stores the events one by one."""
        with self._db_lock, ExitStack() as stack:
            batch = self._batch.transactions = _Batch(stack, {}, {})
            try:
                for event in events:
                    self.store_event(event)
                for connection, event, event_id in batch.asset_entries.values():
                    super()._store_asset_event(connection, event, event_id)
            finally:
                del self._batch.transactions

    def _store_asset_event(self, connection: sa.Connection, event: dg.EventLogEntry, event_id: int) -> None:
        """An asset's row in the index (its latest materialization, run and timestamp), rewritten by every
        event of it. In a batch only the last event of each asset and kind writes it, when the batch
        ends: each write replaces the same columns with constants, so the row ends the same."""
        batch = getattr(self._batch, "transactions", None)
        if batch is None or event.dagster_event is None:
            super()._store_asset_event(connection, event, event_id)
            return
        key = (event.dagster_event.asset_key, event.dagster_event_type)
        batch.asset_entries.pop(key, None)  # applied in the order of each key's last event
        batch.asset_entries[key] = (connection, event, event_id)

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

    def _has_asset_key_index_cols_on_connection(self, connection: sa.Connection) -> bool:
        """Asked for every asset event too; a column a migration added stays."""
        if "asset_keys.last_materialization_timestamp" not in self._tables:
            if not super()._has_asset_key_index_cols_on_connection(connection):
                return False
            self._tables.add("asset_keys.last_materialization_timestamp")
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


class _Batch(NamedTuple):
    stack: ExitStack  # commits (or rolls back) every shard's transaction when the batch ends
    connections: dict[str, sa.Connection]
    asset_entries: dict[tuple[Any, Any], tuple[sa.Connection, dg.EventLogEntry, int]]  # (asset, kind) -> last


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
