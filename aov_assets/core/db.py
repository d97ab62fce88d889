"""The warehouse's machinery: engine, exact column types, partition replacement and bulk writes.

Every domain declares its tables on `metadata` and its queries as a mixin of `Database`;
`aov_assets.warehouse.Warehouse` puts them together."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from pandas.api.types import union_categoricals
from sqlalchemy.engine import Connection, Engine

metadata = sa.MetaData()

DEFAULT_STORE = "default"  # the store of a manifest without `stores:`, and of every row written before them


def store_column() -> sa.Column:
    """The store a row belongs to: the first column of every table's primary key, so two stores' rows
    (with overlapping entity_ids, days and accounts) never meet, and every index leads with it."""
    return sa.Column("store", sa.String(40), primary_key=True, server_default=DEFAULT_STORE)


class ExactDecimal(sa.types.TypeDecorator):
    """NUMERIC(p, s) as Decimal in Python on every backend.

    SQLite has no decimal type and keeps REAL, which holds any value of up to 15 significant digits
    exactly; values are sent as text and read back quantized to the column's scale.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int):
        super().__init__(precision=precision, scale=scale)
        self.quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Numeric(self.impl.precision, self.impl.scale, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(self.impl.precision, self.impl.scale))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(self.quantum, ROUND_HALF_UP)


def Money() -> ExactDecimal:  # noqa: N802 - reads like a type in the table definitions
    return ExactDecimal(20, 2)


def Amount() -> ExactDecimal:  # noqa: N802 - Magento keeps order amounts as decimal(20,4)
    return ExactDecimal(20, 4)


def Percent() -> ExactDecimal:  # noqa: N802
    return ExactDecimal(12, 4)


def window_columns() -> list[sa.Column]:
    """Orders, revenue and AOV of the current and the prior 30-day window (new Column objects per table)."""
    return [
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("revenue", Money(), nullable=False),
        sa.Column("aov", Money()),
        sa.Column("prior_orders", sa.Integer, nullable=False),
        sa.Column("prior_revenue", Money(), nullable=False),
        sa.Column("prior_aov", Money()),
    ]


def data_columns(table: sa.Table) -> list[str]:
    """A table's column names but `store` (which the warehouse fills in and filters on)."""
    return [name for name in table.c.keys() if name != "store"]


def partition_column(table: sa.Table) -> str | None:
    """The column whose range a partition write replaces, from the table's `info={"partition": ...}`;
    None: the table is replaced whole (product_catalog)."""
    return table.info.get("partition")


def cents(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """Exact integer cents of a money column, computed in the database."""
    return sa.cast(sa.func.round(column * 100), sa.BigInteger)


def bigint(total: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """SUM of integers as an integer (PostgreSQL answers NUMERIC for a SUM of BIGINT)."""
    return sa.cast(total, sa.BigInteger)


BUSY_SECONDS = 60.0  # SQLite: how long a writer retries a lock held by another (`?timeout=` in the URL)


def busy_seconds(url: str) -> float:
    return float(sa.engine.make_url(url).query.get("timeout", BUSY_SECONDS))


def create_engine(url: str) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": busy_seconds(url)})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened; one line naming AOV_WAREHOUSE_URL, what is wrong and the fix."""


def shown_url(url: str) -> str:
    """The URL as it may be printed (password hidden); the raw text when it is not a URL at all."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return repr(url) if "@" not in url else "(unparseable URL)"


def _open_error(url: str, error: Exception) -> WarehouseError:
    reason = " ".join(str(getattr(error, "orig", None) or error).split())[:200]
    where = f"AOV_WAREHOUSE_URL {shown_url(url)}"
    if isinstance(error, (sa.exc.NoSuchModuleError, ImportError)):
        fix = "Install it, e.g. pip install 'aov_assets[postgres]' for postgresql+psycopg."
        return WarehouseError(f"{where} names a dialect or driver that is not installed ({reason}). {fix}")
    if "database is locked" in reason:
        return _locked_error(url)
    if isinstance(error, sa.exc.ArgumentError):
        fix = "Set it to a SQLAlchemy URL, e.g. sqlite:///data/warehouse.db or postgresql+psycopg://user@host/db."
        return WarehouseError(f"{where} is not a database URL ({reason}). {fix}")
    return WarehouseError(
        f"{where} cannot be opened ({reason}). Check the host, port, credentials, that the database exists "
        "and that the user may create tables."
    )


def _locked_error(url: str) -> WarehouseError:
    return WarehouseError(
        f"AOV_WAREHOUSE_URL {shown_url(url)} stayed locked by another writer for {busy_seconds(url):g} s "
        "(SQLite takes one writer at a time). Re-run when the other run or `aov backfill` has finished, "
        "or wait longer with ?timeout=SECONDS in the URL."
    )


class Database:
    """An open warehouse, seen as one store's: creates missing tables and columns, replaces the store's
    partitions, reads frames of the store's rows (`for_store` gives another store's view, same engine)."""

    def __init__(self, url: str, store: str = DEFAULT_STORE):
        self.url, self.store = url, store
        try:
            self.engine = create_engine(url)
            metadata.create_all(self.engine)
            _key_by_store(self.engine)
            _add_new_columns(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError, OSError) as error:
            raise _open_error(url, error) from None

    def for_store(self, store: str) -> Self:
        view = copy.copy(self)
        view.store = store
        return view

    def mine(self, table: sa.Table) -> sa.ColumnElement[bool]:
        """The condition every read adds: the row is this store's."""
        return table.c.store == self.store

    def select_mine(self, table: sa.Table) -> sa.Select[Any]:
        """The table's columns but `store`, of this store's rows."""
        return sa.select(*(table.c[name] for name in data_columns(table))).where(self.mine(table))

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def replacing(self, tables: Iterable[sa.Table], first: Any, last: Any) -> Iterator[Writer]:
        """One transaction that first deletes this store's partitions first..last of `tables`, then takes
        new rows (for this store: `Writer` fills in the `store` column).

        Re-running a partition therefore replaces exactly its rows, never another store's, and a failure anywhere rolls
        the whole range back (nothing partial, nothing doubled). On SQLite, a write lock held by
        another writer is retried for the busy timeout, then fails in one line.
        """
        try:
            with self.engine.begin() as connection:
                for table in tables:
                    _lock_for_writing(connection, table, self.store)
                    key = partition_column(table)
                    delete = table.delete().where(self.mine(table))
                    connection.execute(delete if key is None else delete.where(table.c[key].between(first, last)))
                yield Writer(connection, self.store, first, last)
        except sa.exc.OperationalError as error:
            if "database is locked" in str(error.orig):
                raise _locked_error(self.url) from None
            raise

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def _frame(self, query: sa.Select[Any], categorical: Sequence[str] = ()) -> pd.DataFrame:
        """The query's rows as a frame, built FRAME_ROWS rows at a time: a million rows fetched as Python
        tuples at once would take gigabytes for a moment (PostgreSQL streams them from a server cursor).
        The `categorical` columns, of few distinct values (days, segments, SKUs), come as categoricals:
        one object per value, not one per row. Each part is built a column at a time: pandas unpacking
        SQLAlchemy Row objects one by one cost about three times the query itself."""
        with self.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(query)
            columns = list(result.keys())
            frames = [_columns_frame(columns, rows, categorical) for rows in result.partitions(FRAME_ROWS)]
        if len(frames) <= 1:
            return frames[0] if frames else _categorical(pd.DataFrame(columns=columns), categorical)
        shared = {name: union_categoricals([f[name] for f in frames], sort_categories=True) for name in categorical}
        return pd.concat([f.drop(columns=list(shared)) for f in frames], ignore_index=True).assign(**shared)[columns]


def _columns_frame(names: list[str], rows: Sequence[Sequence[Any]], categorical: Sequence[str]) -> pd.DataFrame:
    values = dict(zip(names, zip(*rows), strict=True))
    return pd.DataFrame({name: pd.Categorical(values[name]) if name in categorical else values[name] for name in names})


def _categorical(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    return frame.assign(**{name: pd.Categorical(frame[name]) for name in names})


def _add_new_columns(engine: Engine) -> None:
    """Add the nullable columns a newer version introduced to a warehouse created by an older one
    (`create_all` only creates missing tables); they fill in when their partitions are re-materialized."""
    inspector = sa.inspect(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            existing = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in existing and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
            for index in table.indexes:
                index.create(connection, checkfirst=True)


def _key_by_store(engine: Engine) -> None:
    """Rebuild each table a version before stores created (no `store` column) with `store` leading its
    primary key and indexes, its rows kept as the default store's: nothing re-synced, nothing lost."""
    for table in metadata.sorted_tables:
        with engine.begin() as connection:
            inspector = sa.inspect(connection)
            if not inspector.has_table(table.name):
                continue
            columns = [column["name"] for column in inspector.get_columns(table.name)]
            if "store" in columns:
                continue
            before = f"{table.name}_before_stores"
            for index in inspector.get_indexes(table.name):  # index names are per database, not per table
                connection.execute(sa.text(f'DROP INDEX "{index["name"]}"'))
            primary_key = inspector.get_pk_constraint(table.name).get("name")
            if connection.dialect.name == "postgresql" and primary_key:
                connection.execute(sa.text(f'ALTER TABLE {table.name} DROP CONSTRAINT "{primary_key}"'))
            connection.execute(sa.text(f"ALTER TABLE {table.name} RENAME TO {before}"))
            table.create(connection)
            kept = ", ".join(f'"{name}"' for name in columns if name in table.c)
            connection.execute(
                sa.text(f"INSERT INTO {table.name} (store, {kept}) SELECT :store, {kept} FROM {before}"),
                {"store": DEFAULT_STORE},
            )
            connection.execute(sa.text(f"DROP TABLE {before}"))


def _lock_for_writing(connection: Connection, table: sa.Table, store: str) -> None:
    """One writer per store's table at a time, until commit, so concurrent runs of the same partitions
    replace each other instead of interleaving (no duplicates).

    PostgreSQL: a transaction-scoped advisory lock (plain READ COMMITTED would let a second
    transaction's DELETE miss the first one's fresh rows). SQLite: its DELETE already takes the
    database write lock, and the other writer waits for it (busy timeout).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"aov_assets.{table.name}.{store}"}
        )


ID_CHUNK = 10_000  # entity_ids per IN list (SQLite's variable limit is 32,766)


FRAME_ROWS = 100_000
WRITE_ROWS = 10_000


class Writer:
    """Inserts rows into partitions that `Warehouse.replacing` has cleared, refusing any outside them.

    Bulk paths: each column goes through its SQLAlchemy type's bind processor once (the same values
    a Core insert would send), then one `executemany` on SQLite or one `COPY ... FROM STDIN` on
    PostgreSQL, instead of SQLAlchemy's per-row parameter processing."""

    def __init__(self, connection: Connection, store: str, first: Any, last: Any):
        self.connection, self.store, self.first, self.last = connection, store, first, last
        self.rows: dict[str, int] = {}

    def mine(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return table.c.store == self.store

    def __call__(self, table: sa.Table, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if "store" in frame and not (frame["store"] == self.store).all():
            raise ValueError(f"{table.name}: rows of another store than {self.store!r}")
        key = partition_column(table)
        if key is not None and not frame[key].between(self.first, self.last).all():
            raise ValueError(f"{table.name}: rows outside partitions {self.first}..{self.last}")
        names = [name for name in frame.columns if name in table.c and name != "store"]  # others are ignored
        dialect = self.connection.dialect
        slices = _bound_slices(table, frame[names], dialect, self.store)
        quoted = ", ".join(f'"{name}"' for name in ["store", *names])
        if dialect.name == "postgresql":
            with self.connection.connection.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as stream:
                    for rows in slices:
                        for row in rows:
                            stream.write_row(row)
        else:
            marks = ", ".join("?" * (len(names) + 1))
            for rows in slices:
                self.connection.exec_driver_sql(f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})", rows)
        self.rows[table.name] = self.rows.get(table.name, 0) + len(frame)


def _bound_slices(table: sa.Table, frame: pd.DataFrame, dialect: sa.Dialect, store: str) -> Iterator[list[tuple]]:
    """The frame's rows as driver values after the store, WRITE_ROWS at a time: bound values are Python
    objects, so a big frame never becomes one list of every row's tuple."""
    for start in range(0, len(frame), WRITE_ROWS):
        part = frame.iloc[start : start + WRITE_ROWS]
        columns = (_bind_values(table.c[name], part[name], dialect) for name in part.columns)
        yield list(zip(itertools.repeat(store), *columns))


def _bind_values(column: sa.Column, values: pd.Series, dialect: sa.Dialect) -> list[Any]:
    """A column's values as the driver receives them from SQLAlchemy: missing values as None, then the
    column type's bind processor (e.g. exact decimals as text on SQLite, dates as ISO strings).

    An Arrow-backed column of decimals or timestamps (`rules.TYPED_COLUMNS`) becomes text in one Arrow
    cast, which SQLite's executemany and PostgreSQL's COPY store as the processor's values would be
    (`test_warehouse` holds them equal on both)."""
    if isinstance(values.dtype, pd.ArrowDtype):
        array = pa.array(values)
        if pa.types.is_decimal(array.type) and isinstance(column.type, ExactDecimal):
            return pc.cast(array, pa.string()).to_pylist()
        if pa.types.is_timestamp(array.type) and isinstance(column.type, sa.DateTime):
            return pc.cast(array.cast(pa.timestamp("us")), pa.string()).to_pylist()  # 2026-05-03 14:02:11.000000
    if isinstance(column.type, sa.Integer) and pd.api.types.is_float_dtype(values.dtype):
        values = values.astype("Int64")  # whole numbers pandas made floats beside a missing one; 2.5 raises
    plain = values.tolist()
    if values.isna().any():
        plain = [None if missing else value for value, missing in zip(plain, values.isna().tolist())]
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return plain if process is None else [process(value) for value in plain]
