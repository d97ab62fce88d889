"""The warehouse: SQLAlchemy Core tables, partition-replacing writes and exact reads.

Portable constructs only (SQLite by default, PostgreSQL too). Money is NUMERIC in the schema;
sums are always computed as integer cents (`ROUND(x * 100)` cast to BIGINT, exact on both
backends), so no float ever enters a total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from pandas.api.types import union_categoricals
from sqlalchemy.engine import Connection, Engine

from .basket import UNCATEGORIZED
from .neighbours import MEASURES

metadata = sa.MetaData()


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


classified_orders = sa.Table(
    "classified_orders",
    metadata,
    sa.Column("entity_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("increment_id", sa.String(50)),
    sa.Column("order_date", sa.Date, nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32)),
    sa.Column("segment", sa.String(3), nullable=False),
    sa.Column("segment_reason", sa.String(16), nullable=False),
    sa.Column("company_id", sa.BigInteger),
    sa.Column("customer_id", sa.BigInteger),
    sa.Column("customer_group_id", sa.Integer),
    sa.Column("store_id", sa.Integer),
    sa.Column("base_currency_code", sa.String(3)),
    sa.Column("order_currency_code", sa.String(3)),
    sa.Column("base_to_global_rate", Amount(), nullable=False),
    sa.Column("base_grand_total", Amount(), nullable=False),
    sa.Column("grand_total", Amount(), nullable=False),
    sa.Column("base_subtotal", Amount(), nullable=False),
    sa.Column("order_value", Money(), nullable=False),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("counted", sa.Boolean, nullable=False),
    sa.Column("company_name", sa.String(255)),
    sa.Column("refunded", Money()),  # base_total_refunded x base_to_global_rate (context; AOV stays gross)
    sa.Column("subtotal", Amount()),  # in the order currency, like grand_total
    sa.Column("base_tax_amount", Amount()),  # basis pre_tax: base_grand_total - base_tax_amount
    sa.Column("customer_key", sa.String(270), index=True),  # rules.customer_keys: who placed it, at order time
)

rejected_orders = sa.Table(
    "rejected_orders",
    metadata,
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("entity_id", sa.BigInteger),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
)

daily_aov = sa.Table(
    "daily_aov",
    metadata,
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("revenue", Money(), nullable=False),
    sa.Column("line_items", sa.Integer, nullable=False),
)

aov_30d = sa.Table(
    "aov_30d",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    *window_columns(),
    sa.Column("aov_change_pct", Percent()),
    sa.Column("orders_change_pct", Percent()),
    sa.Column("revenue_change_pct", Percent()),
    sa.Column("multiplier", Percent()),
    sa.Column("alert", sa.Boolean, nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("prior_line_items", sa.Integer, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("prior_days", sa.Integer, nullable=False),
)

aov_ttm = sa.Table(
    "aov_ttm",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("revenue", Money(), nullable=False),
    sa.Column("aov", Money()),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("multiplier", Percent()),
    sa.Column("days", sa.Integer, nullable=False),
)

account_daily = sa.Table(
    "account_daily",
    metadata,
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("account", sa.String(40), primary_key=True),  # company:<id> | customer:<id> | guests
    sa.Column("name", sa.String(255)),  # the latest company_name seen that day
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("revenue", Money(), nullable=False),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("refunded", Money(), nullable=False),
    sa.Column("largest_order", Money()),
    sa.Column("largest_order_id", sa.String(50)),  # its increment_id
)

b2b_currency_daily = sa.Table(
    "b2b_currency_daily",
    metadata,
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("base_currency_code", sa.String(3), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("base_revenue", Amount(), nullable=False),  # in the base currency
    sa.Column("revenue", Money(), nullable=False),  # in the global currency
)

b2b_accounts_30d = sa.Table(
    "b2b_accounts_30d",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("account", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # continuing | gone_quiet | new | returning
    *window_columns(),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("prior_line_items", sa.Integer, nullable=False),
    sa.Column("lifetime_revenue", Money(), nullable=False),
    sa.Column("cohort", sa.String(12), nullable=False),
)

b2b_cohorts_30d = sa.Table(
    "b2b_cohorts_30d",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("cohort", sa.String(12), primary_key=True),  # top 20% | middle 60% | bottom 20% | all
    sa.Column("accounts", sa.Integer, nullable=False),  # ranked into the cohort (ordered up to as-of)
    sa.Column("active_accounts", sa.Integer, nullable=False),  # with orders in the current window
    sa.Column("prior_active_accounts", sa.Integer, nullable=False),
    *window_columns(),
    sa.Column("aov_change_pct", Percent()),
    sa.Column("gone_quiet", sa.Integer, nullable=False),
    sa.Column("typical_gone_quiet_median", Percent()),  # as of D-30, D-60 .. D-330 (fully covered windows)
    sa.Column("typical_gone_quiet_min", sa.Integer),
    sa.Column("typical_gone_quiet_max", sa.Integer),
    sa.Column("typical_windows", sa.Integer, nullable=False),
)

aov_why = sa.Table(
    "aov_why",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("cause", sa.String(30), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),  # why | ruled_out
    sa.Column("rank", sa.Integer, nullable=False),  # order within its role, 1 first
    sa.Column("part", sa.Boolean, nullable=False),  # one of the additive parts of the B2B AOV change
    sa.Column("contribution", Money()),  # to the B2B AOV change, in money
    sa.Column("share_pct", Percent()),  # of the change
    sa.Column("summary", sa.Text, nullable=False),
)


def _measure_columns() -> list[sa.Column]:
    """segment_metrics_30d's measures: each now, prior, and its change (points for *_pct, else percent)."""
    kinds = {"active_customers": sa.Integer, "new_customers": sa.Integer, "value_per_line": Money}
    return [
        sa.Column(f"{prefix}{name}{suffix}", (Percent if suffix else kinds.get(name, Percent))())
        for name in MEASURES
        for prefix, suffix in (("", ""), ("prior_", ""), ("", "_change"))
    ]


segment_metrics_30d = sa.Table(
    "segment_metrics_30d",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    *_measure_columns(),
    *(sa.Column(f"{prefix}{name}", Money()) for prefix in ("", "prior_") for name in ("revenue", "refunded")),
    *(sa.Column(f"{prefix}{name}", sa.Integer) for prefix in ("", "prior_") for name in ("orders", "line_items")),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("prior_days", sa.Integer, nullable=False),
)

currency_aov_30d = sa.Table(
    "currency_aov_30d",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),  # order_currency_code
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("revenue", Money(), nullable=False),  # in the order currency
    sa.Column("aov", Money()),
    sa.Column("prior_orders", sa.Integer, nullable=False),
    sa.Column("prior_revenue", Money(), nullable=False),
    sa.Column("prior_aov", Money()),
    sa.Column("aov_change_pct", Percent()),
    sa.Column("global_revenue", Money(), nullable=False),  # the same orders in the global currency
    sa.Column("global_aov", Money()),
    sa.Column("global_prior_aov", Money()),
    sa.Column("global_aov_change_pct", Percent()),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("entity_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),  # 1.. in the order's item order
    sa.Column("order_date", sa.Date, nullable=False, index=True),
    sa.Column("segment", sa.String(3), nullable=False),
    sa.Column("account", sa.String(270), nullable=False),  # the order's customer_key
    sa.Column("sku", sa.String(64)),
    sa.Column("variant_sku", sa.String(64)),  # a configurable's chosen child
    sa.Column("name", sa.String(255)),
    sa.Column("product_id", sa.BigInteger),
    sa.Column("product_type", sa.String(32)),
    sa.Column("qty", Amount()),
    sa.Column("line_value", Money(), nullable=False),  # (base_row_total - base_discount_amount) x rate
)

product_catalog = sa.Table(  # not partitioned: replaced whole on each refresh
    "product_catalog",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("product_id", sa.BigInteger),
    sa.Column("category", sa.String(255), nullable=False),  # Parent/Child path, or `uncategorized`
)

b2b_category_mix_30d = sa.Table(
    "b2b_category_mix_30d",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("category", sa.String(255), primary_key=True),
    sa.Column("line_value", Money(), nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("prior_line_value", Money(), nullable=False),
    sa.Column("prior_lines", sa.Integer, nullable=False),
    sa.Column("per_order", Money()),  # the category's line value per B2B order of the window
    sa.Column("prior_per_order", Money()),
    sa.Column("per_order_change", Money()),
)

basket_pairs = sa.Table(
    "basket_pairs",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),  # the trailing 90 days up to the month's end
    sa.Column("segment", sa.String(3), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),  # category | sku
    sa.Column("antecedent", sa.String(255), primary_key=True),
    sa.Column("consequent", sa.String(255), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),  # orders with both
    sa.Column("support_pct", Percent(), nullable=False),
    sa.Column("confidence_pct", Percent(), nullable=False),
    sa.Column("lift", Percent(), nullable=False),
)

account_whitespace = sa.Table(
    "account_whitespace",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),  # the trailing 12 months up to the month's end
    sa.Column("account", sa.String(270), primary_key=True),
    sa.Column("category", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("cohort", sa.String(12), nullable=False),
    sa.Column("peers", sa.Integer, nullable=False),  # the other accounts of its LTV cohort
    sa.Column("peers_buying", sa.Integer, nullable=False),
    sa.Column("peer_median_spend", Money(), nullable=False),  # the size of the opportunity
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("check_key", sa.String(200), primary_key=True),  # e.g. aov_30d:b2b_aov_contraction
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column(
        "status", sa.String(12), nullable=False
    ),  # pending | sending | delivered | outbox | history | unknown | maybe_sent
    sa.Column("headline", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),  # the Slack payload, JSON
    sa.Column("run_id", sa.String(64)),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("delivered_at", sa.DateTime),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
)

PARTITION_COLUMN = {
    "classified_orders": "order_date",
    "rejected_orders": "order_date",
    "daily_aov": "order_date",
    "aov_30d": "as_of",
    "aov_ttm": "month",
    "account_daily": "order_date",
    "b2b_currency_daily": "order_date",
    "b2b_accounts_30d": "as_of",
    "b2b_cohorts_30d": "as_of",
    "aov_why": "as_of",
    "segment_metrics_30d": "as_of",
    "currency_aov_30d": "as_of",
    "order_lines": "order_date",
    "b2b_category_mix_30d": "as_of",
    "basket_pairs": "month",
    "account_whitespace": "month",
}  # a table not listed here (product_catalog) is replaced whole


def cents(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """Exact integer cents of a money column, computed in the database."""
    return sa.cast(sa.func.round(column * 100), sa.BigInteger)


def _bigint(total: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
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


class Warehouse:
    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = create_engine(url)
            metadata.create_all(self.engine)
            _add_new_columns(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError, OSError) as error:
            raise _open_error(url, error) from None

    def dispose(self) -> None:
        self.engine.dispose()

    # ----------------------------------------------------------------- writes

    @contextmanager
    def replacing(self, tables: Iterable[sa.Table], first: Any, last: Any) -> Iterator[Writer]:
        """One transaction that first deletes partitions first..last of `tables`, then takes new rows.

        Re-running a partition therefore replaces exactly its rows, and a failure anywhere rolls
        the whole range back (nothing partial, nothing doubled). On SQLite, a write lock held by
        another writer is retried for the busy timeout, then fails in one line.
        """
        try:
            with self.engine.begin() as connection:
                for table in tables:
                    _lock_for_writing(connection, table)
                    key = PARTITION_COLUMN.get(table.name)
                    delete = table.delete()
                    connection.execute(delete if key is None else delete.where(table.c[key].between(first, last)))
                yield Writer(connection, first, last)
        except sa.exc.OperationalError as error:
            if "database is locked" in str(error.orig):
                raise _locked_error(self.url) from None
            raise

    # ----------------------------------------------------------------- reads

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def daily_sums_from_orders(self, first: date, last: date) -> pd.DataFrame:
        """Counted orders per day and segment, summed exactly in the database."""
        t = classified_orders
        query = (
            sa.select(
                t.c.order_date,
                t.c.segment,
                sa.func.count().label("orders"),
                _bigint(sa.func.sum(cents(t.c.order_value))).label("revenue_cents"),
                _bigint(sa.func.sum(t.c.line_items)).label("line_items"),
                _bigint(sa.func.sum(sa.func.coalesce(cents(t.c.refunded), 0))).label("refunded_cents"),
            )
            .where(t.c.counted, t.c.order_date.between(first, last))
            .group_by(t.c.order_date, t.c.segment)
        )
        return self._frame(query)

    def customer_presence(self, first: date, last: date) -> pd.DataFrame:
        """Each day's customers per segment (counted orders), for the neighbours' distinct counts; day and
        segment as categoricals (a big merchant's 90 days are a million rows, not a million date objects)."""
        t = classified_orders
        query = (
            sa.select(t.c.order_date, t.c.segment, t.c.customer_key)
            .distinct()
            .where(t.c.counted, t.c.order_date.between(first, last), t.c.customer_key.is_not(None))
        )
        return self._frame(query, categorical=["order_date", "segment"])

    def first_order_days(self, first: date, last: date) -> pd.DataFrame:
        """The first counted order day ever (all history) of every customer with a counted order in first..last
        (the day as a categorical)."""
        t = classified_orders
        active = (
            sa.select(t.c.customer_key)
            .where(t.c.counted, t.c.order_date.between(first, last), t.c.customer_key.is_not(None))
            .distinct()
        )
        query = (
            sa.select(t.c.customer_key, sa.func.min(t.c.order_date).label("first_order_date"))
            .where(t.c.counted, t.c.order_date <= last, t.c.customer_key.in_(active.scalar_subquery()))
            .group_by(t.c.customer_key)
        )
        return self._frame(query, categorical=["first_order_date"])

    def currency_sums(self, first: date, last: date, basis: str) -> pd.DataFrame:
        """Counted orders per day, segment and order currency: the basis amount in that currency
        (1/10,000 units) and the order value in global cents."""
        t = classified_orders
        amount = _order_currency_amount(basis)
        query = (
            sa.select(
                t.c.order_date,
                t.c.segment,
                t.c.order_currency_code.label("currency"),
                sa.func.count().label("orders"),
                _bigint(sa.func.sum(sa.cast(sa.func.round(amount * 10_000), sa.BigInteger))).label("units"),
                _bigint(sa.func.sum(cents(t.c.order_value))).label("revenue_cents"),
            )
            .where(t.c.counted, t.c.order_date.between(first, last))
            .group_by(t.c.order_date, t.c.segment, t.c.order_currency_code)
        )
        frame = self._frame(query)
        return frame.assign(currency=frame["currency"].fillna("?"))

    def days_without_customer_keys(self, last: date) -> list[date]:
        """Days up to `last` classified by a version that had no customer_key (re-classify them)."""
        t = classified_orders
        query = sa.select(t.c.order_date).distinct().where(t.c.order_date <= last, t.c.customer_key.is_(None))
        with self.connect() as connection:
            return sorted(connection.scalars(query))

    def rejected_between(self, first: date, last: date) -> set[tuple[date, int]]:
        """(order_date, position) of the lake payloads that classification rejected."""
        t = rejected_orders
        with self.connect() as connection:
            query = sa.select(t.c.order_date, t.c.position).where(t.c.order_date.between(first, last))
            return {(day, position) for day, position in connection.execute(query)}

    def counted_orders_of(self, first: date, last: date) -> pd.DataFrame:
        """entity_id, segment and customer_key of the counted orders of first..last (for their lines)."""
        t = classified_orders
        query = sa.select(t.c.entity_id, t.c.segment, t.c.customer_key).where(
            t.c.counted, t.c.order_date.between(first, last)
        )
        return self._frame(query)

    def b2b_category_sums(self, first: date, last: date) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per day and category: B2B line cents and lines; and per day the B2B orders that have lines."""
        lines = order_lines
        orders = (
            sa.select(lines.c.order_date, sa.func.count(sa.distinct(lines.c.entity_id)).label("orders"))
            .where(lines.c.segment == "b2b", lines.c.order_date.between(first, last))
            .group_by(lines.c.order_date)
        )
        return self._b2b_lines_by_category(lines.c.order_date, first, last), self._frame(orders)

    def b2b_spend(self, first: date, last: date) -> pd.DataFrame:
        """Per B2B account and category: line cents (and lines) over first..last."""
        return self._b2b_lines_by_category(order_lines.c.account, first, last)

    def _b2b_lines_by_category(self, key: sa.Column, first: date, last: date) -> pd.DataFrame:
        """B2B line cents and lines per `key` and category (a SKU missing from the catalog is uncategorized)."""
        lines, catalog = order_lines, product_catalog
        query = (
            sa.select(
                key,
                catalog.c.category,
                _bigint(sa.func.sum(cents(lines.c.line_value))).label("line_cents"),
                sa.func.count().label("lines"),
            )
            .select_from(lines.outerjoin(catalog, catalog.c.sku == lines.c.sku))
            .where(lines.c.segment == "b2b", lines.c.order_date.between(first, last))
            .group_by(key, catalog.c.category)
        )
        frame = self._frame(query)
        return frame.assign(category=frame["category"].fillna(UNCATEGORIZED))

    def line_matcher(self, text: str) -> tuple[str, sa.ColumnElement[bool]] | None:
        """What `text` names in order_lines: a SKU (or a configurable's variant SKU), else a category of
        product_catalog (its whole path, or its last part, case-insensitively); None if neither."""
        lines, catalog = order_lines, product_catalog
        with self.connect() as connection:
            sku = sa.or_(lines.c.sku == text, lines.c.variant_sku == text)
            if connection.scalar(sa.select(sa.literal(1)).where(sku).limit(1)):
                return f"SKU {text}", sku
            categories = connection.scalars(sa.select(catalog.c.category).distinct()).all()
        wanted = text.casefold().strip("/")
        named = sorted(c for c in categories if wanted in (c.casefold(), c.casefold().rsplit("/", 1)[-1]))
        if not named:
            return None
        skus = sa.select(catalog.c.sku).where(catalog.c.category.in_(named)).scalar_subquery()
        return f"category {', '.join(named)}", sa.or_(lines.c.sku.in_(skus), lines.c.variant_sku.in_(skus))

    def accounts_buying(self, match: sa.ColumnElement[bool], since: date, segments: Sequence[str]) -> set[str]:
        """Accounts with a counted order line matching `match` since `since`, in these segments."""
        lines = order_lines
        query = (
            sa.select(lines.c.account)
            .distinct()
            .where(match, lines.c.order_date >= since, lines.c.segment.in_(list(segments)))
        )
        with self.connect() as connection:
            return set(connection.scalars(query))

    def account_orders(self, accounts: Iterable[str], since: date, segments: Sequence[str]) -> pd.DataFrame:
        """Per account: counted orders of these segments since `since`: revenue (cents), orders, last order
        day and latest company name (a customer who ordered in both segments has both kinds of orders)."""
        t, keys, frames = classified_orders, sorted(accounts), []
        for start in range(0, len(keys), ID_CHUNK):
            query = sa.select(
                t.c.customer_key.label("account"),
                t.c.order_date,
                t.c.created_at,
                t.c.company_name,
                cents(t.c.order_value).label("revenue_cents"),
            ).where(
                t.c.counted,
                t.c.order_date >= since,
                t.c.segment.in_(list(segments)),
                t.c.customer_key.in_(keys[start : start + ID_CHUNK]),
            )
            frames.append(self._frame(query))
        orders = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if orders.empty:
            return pd.DataFrame(columns=["account", "name", "revenue_cents", "orders", "last_order"])
        names = orders.sort_values("created_at").groupby("account")["company_name"].last()
        sums = orders.groupby("account").agg(
            revenue_cents=("revenue_cents", "sum"), orders=("order_date", "size"), last_order=("order_date", "max")
        )
        return sums.join(names.rename("name")).reset_index()

    def basket_lines(self, first: date, last: date) -> pd.DataFrame:
        """order_date, segment, entity_id, sku and category (a SKU missing from product_catalog is
        uncategorized) of the lines of first..last; as categoricals: a big merchant's 90 days are millions
        of lines."""
        lines, catalog = order_lines, product_catalog
        category = sa.func.coalesce(catalog.c.category, UNCATEGORIZED).label("category")
        query = (
            sa.select(lines.c.order_date, lines.c.segment, lines.c.entity_id, lines.c.sku, category)
            .select_from(lines.outerjoin(catalog, catalog.c.sku == lines.c.sku))
            .where(lines.c.order_date.between(first, last))
        )
        return self._frame(query, categorical=["order_date", "segment", "sku", "category"])

    def cohorts_as_of(self, as_of: date) -> pd.DataFrame:
        """account, name and LTV cohort of the B2B accounts in b2b_accounts_30d as of a day."""
        a = b2b_accounts_30d
        return self._frame(sa.select(a.c.account, a.c.name, a.c.cohort).where(a.c.as_of == as_of))

    def read_whitespace(self, month: str | None, account: str | None) -> pd.DataFrame:
        """account_whitespace of a month (the latest when None), one account's or all, largest first."""
        w = account_whitespace
        with self.connect() as connection:
            month = month or connection.scalar(sa.select(sa.func.max(w.c.month)))
        query = sa.select(w).where(w.c.month == month)
        if account is not None:
            query = query.where(w.c.account == account)
        return self._frame(query.order_by(w.c.peer_median_spend.desc(), w.c.account, w.c.category))

    def read_category_mix(self, first: date, last: date) -> pd.DataFrame:
        m = b2b_category_mix_30d
        return self._frame(sa.select(m).where(m.c.as_of.between(first, last)).order_by(m.c.as_of, m.c.category))

    def read_neighbours(self, first: date, last: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """segment_metrics_30d, currency_aov_30d and b2b_category_mix_30d rows of as-of days first..last."""
        m, c = segment_metrics_30d, currency_aov_30d
        return (
            self._frame(sa.select(m).where(m.c.as_of.between(first, last))),
            self._frame(
                sa.select(c).where(c.c.as_of.between(first, last)).order_by(c.c.as_of, c.c.segment, c.c.currency)
            ),
            self.read_category_mix(first, last),
        )

    def stored_orders_per_day(self, first: date, last: date) -> Counter[date]:
        """Orders classified or rejected per day; next to the lake's counts it proves nothing was lost."""
        counts: Counter[date] = Counter()
        with self.connect() as connection:
            for table in (classified_orders, rejected_orders):
                key = table.c.order_date
                query = sa.select(key, sa.func.count()).where(key.between(first, last)).group_by(key)
                for day, orders in connection.execute(query):
                    counts[day] += orders
        return counts

    def read_daily(self, first: date, last: date) -> pd.DataFrame:
        t = daily_aov
        query = sa.select(
            t.c.order_date, t.c.segment, t.c.orders, cents(t.c.revenue).label("revenue_cents"), t.c.line_items
        ).where(t.c.order_date.between(first, last))
        return self._frame(query)

    def read_card(self, as_of: date) -> pd.DataFrame:
        return self._frame(sa.select(aov_30d).where(aov_30d.c.as_of == as_of))

    def read_aov_30d(self, first: date, last: date) -> pd.DataFrame:
        return self._frame(sa.select(aov_30d).where(aov_30d.c.as_of.between(first, last)).order_by(aov_30d.c.as_of))

    def latest_as_of(self) -> date | None:
        with self.connect() as connection:
            return connection.scalar(sa.select(sa.func.max(aov_30d.c.as_of)))

    def read_ttm(self, months: Sequence[date]) -> pd.DataFrame:
        keys = [f"{month:%Y-%m}" for month in months]
        return self._frame(sa.select(aov_ttm).where(aov_ttm.c.month.in_(keys)).order_by(aov_ttm.c.month))

    def latest_ttm_month(self) -> date | None:
        with self.connect() as connection:
            month = connection.scalar(sa.select(sa.func.max(aov_ttm.c.month)))
        return date.fromisoformat(f"{month}-01") if month else None

    def latest_order_day(self, table: sa.Table = daily_aov) -> date | None:
        with self.connect() as connection:
            return connection.scalar(sa.select(sa.func.max(table.c.order_date)))

    def counted_orders_per_day(self, first: date, last: date) -> pd.Series:
        """Counted orders per calendar day first..last (both segments), NaN where daily_aov has no row."""
        t = daily_aov
        query = (
            sa.select(t.c.order_date, _bigint(sa.func.sum(t.c.orders)).label("orders"))
            .where(t.c.order_date.between(first, last))
            .group_by(t.c.order_date)
        )
        frame = self._frame(query)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return frame.set_index("order_date")["orders"].astype(float).reindex(days)

    def stale_pending_b2b(self, created_before: date) -> pd.DataFrame:
        """B2B orders still in pending_payment that were created before the given day."""
        t = classified_orders
        query = sa.select(t.c.entity_id, t.c.order_date, t.c.company_id).where(
            t.c.segment == "b2b", t.c.state == "pending_payment", t.c.order_date < created_before
        )
        return self._frame(query.order_by(t.c.order_date))

    def b2b_orders(self, first: date, last: date, basis: str) -> pd.DataFrame:
        """B2B orders of first..last with exact integer amounts, for account_daily."""
        t = classified_orders
        query = sa.select(
            t.c.entity_id,
            t.c.increment_id,
            t.c.order_date,
            t.c.created_at,
            t.c.company_id,
            t.c.customer_id,
            t.c.company_name,
            t.c.base_currency_code,
            t.c.counted,
            t.c.line_items,
            cents(t.c.order_value).label("value_cents"),
            sa.func.coalesce(cents(t.c.refunded), 0).label("refunded_cents"),
            sa.cast(sa.func.round(_base_amount(basis) * 10_000), sa.BigInteger).label("base_units"),
        ).where(t.c.segment == "b2b", t.c.order_date.between(first, last))
        return self._frame(query)

    def read_account_daily(self, first: date, last: date) -> pd.DataFrame:
        t = account_daily
        query = sa.select(
            t.c.order_date,
            t.c.account,
            t.c.name,
            t.c.orders,
            cents(t.c.revenue).label("revenue_cents"),
            t.c.line_items,
            cents(t.c.refunded).label("refunded_cents"),
            cents(t.c.largest_order).label("largest_cents"),
            t.c.largest_order_id,
        ).where(t.c.order_date.between(first, last))
        return self._frame(query)

    def account_lifetime_before(self, day: date) -> pd.DataFrame:
        """Per account: counted orders, revenue and first order day of everything before `day`."""
        t = account_daily
        query = (
            sa.select(
                t.c.account,
                _bigint(sa.func.sum(t.c.orders)).label("orders"),
                _bigint(sa.func.sum(cents(t.c.revenue))).label("revenue_cents"),
                sa.func.min(sa.case((t.c.orders > 0, t.c.order_date))).label("first_order_date"),
            )
            .where(t.c.order_date < day)
            .group_by(t.c.account)
        )
        frame = self._frame(query)
        return frame.assign(first_order_date=pd.to_datetime(frame["first_order_date"]))

    def read_currency_daily(self, first: date, last: date) -> pd.DataFrame:
        t = b2b_currency_daily
        query = sa.select(
            t.c.order_date,
            t.c.base_currency_code,
            t.c.orders,
            sa.cast(sa.func.round(t.c.base_revenue * 10_000), sa.BigInteger).label("base_units"),
            cents(t.c.revenue).label("revenue_cents"),
        ).where(t.c.order_date.between(first, last))
        return self._frame(query)

    def account_count(self, last: date) -> int:
        """Accounts in account_daily up to `last` (sizes the investigation's accounts x days arrays)."""
        with self.connect() as connection:
            query = sa.select(sa.func.count(sa.distinct(account_daily.c.account))).where(
                account_daily.c.order_date <= last
            )
            return connection.scalar(query) or 0

    def first_order_day(self) -> date | None:
        with self.connect() as connection:
            return connection.scalar(sa.select(sa.func.min(daily_aov.c.order_date)))

    def read_investigation(self, first: date, last: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(b2b_cohorts_30d, aov_why, the gone-quiet rows of b2b_accounts_30d) of as-of days first..last."""
        cohorts = self._frame(sa.select(b2b_cohorts_30d).where(b2b_cohorts_30d.c.as_of.between(first, last)))
        why = self._frame(
            sa.select(aov_why).where(aov_why.c.as_of.between(first, last)).order_by(aov_why.c.as_of, aov_why.c.rank)
        )
        a = b2b_accounts_30d
        quiet = self._frame(
            sa.select(a.c.as_of, a.c.account, a.c.name, a.c.prior_orders, a.c.prior_revenue, a.c.cohort)
            .where(a.c.as_of.between(first, last), a.c.status == "gone_quiet")
            .order_by(a.c.as_of, a.c.prior_revenue.desc(), a.c.account)
        )
        return cohorts, why, quiet

    def _frame(self, query: sa.Select[Any], categorical: Sequence[str] = ()) -> pd.DataFrame:
        """The query's rows as a frame, built FRAME_ROWS rows at a time: a million rows fetched as Python
        tuples at once would take gigabytes for a moment (PostgreSQL streams them from a server cursor).
        The `categorical` columns, of few distinct values (days, segments, SKUs), come as categoricals:
        one object per value, not one per row."""
        with self.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(query)
            columns = list(result.keys())
            frames = [
                _categorical(pd.DataFrame(rows, columns=columns), categorical) for rows in result.partitions(FRAME_ROWS)
            ]
        if len(frames) <= 1:
            return frames[0] if frames else _categorical(pd.DataFrame(columns=columns), categorical)
        shared = {name: union_categoricals([f[name] for f in frames], sort_categories=True) for name in categorical}
        return pd.concat([f.drop(columns=list(shared)) for f in frames], ignore_index=True).assign(**shared)[columns]


def _base_amount(basis: str) -> sa.ColumnElement:
    """The metric.basis amount of an order in its base currency (rules.basis_amount)."""
    t = classified_orders
    if basis == "subtotal":
        return t.c.base_subtotal
    if basis == "pre_tax":
        return t.c.base_grand_total - sa.func.coalesce(t.c.base_tax_amount, 0)
    return t.c.base_grand_total


def _order_currency_amount(basis: str) -> sa.ColumnElement:
    """The metric.basis amount in the order currency: grand_total, or the base amount at the order's own
    base-to-order rate where the order has no such field (pre_tax; a store without `subtotal`)."""
    t = classified_orders
    if basis == "grand_total":
        return t.c.grand_total
    at_order_rate = _base_amount(basis) * t.c.grand_total / sa.func.nullif(t.c.base_grand_total, 0)
    if basis == "subtotal":
        return sa.func.coalesce(t.c.subtotal, at_order_rate, t.c.base_subtotal)
    return sa.func.coalesce(at_order_rate, t.c.grand_total)


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


def _lock_for_writing(connection: Connection, table: sa.Table) -> None:
    """One writer per table at a time, until commit, so concurrent runs of the same partitions
    replace each other instead of interleaving (no duplicates).

    PostgreSQL: a transaction-scoped advisory lock (plain READ COMMITTED would let a second
    transaction's DELETE miss the first one's fresh rows). SQLite: its DELETE already takes the
    database write lock, and the other writer waits for it (busy timeout).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"aov_assets.{table.name}"}
        )


ID_CHUNK = 10_000  # entity_ids per IN list (SQLite's variable limit is 32,766)


FRAME_ROWS = 100_000
WRITE_ROWS = 10_000


class Writer:
    """Inserts rows into partitions that `Warehouse.replacing` has cleared, refusing any outside them.

    Bulk paths: each column goes through its SQLAlchemy type's bind processor once (the same values
    a Core insert would send), then one `executemany` on SQLite or one `COPY ... FROM STDIN` on
    PostgreSQL, instead of SQLAlchemy's per-row parameter processing."""

    def __init__(self, connection: Connection, first: Any, last: Any):
        self.connection, self.first, self.last = connection, first, last
        self.rows: dict[str, int] = {}

    def __call__(self, table: sa.Table, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        key = PARTITION_COLUMN.get(table.name)
        if key is not None and not frame[key].between(self.first, self.last).all():
            raise ValueError(f"{table.name}: rows outside partitions {self.first}..{self.last}")
        names = [name for name in frame.columns if name in table.c]  # like a Core insert: other columns are ignored
        dialect = self.connection.dialect
        slices = _bound_slices(table, frame[names], dialect)
        quoted = ", ".join(f'"{name}"' for name in names)
        if dialect.name == "postgresql":
            with self.connection.connection.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
                    for rows in slices:
                        for row in rows:
                            copy.write_row(row)
        else:
            marks = ", ".join("?" * len(names))
            for rows in slices:
                self.connection.exec_driver_sql(f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})", rows)
        self.rows[table.name] = self.rows.get(table.name, 0) + len(frame)

    def classified_elsewhere(self, entity_ids: Iterable[int]) -> pd.DataFrame:
        """entity_id, order_date and updated_at of classified orders with these ids on days outside the
        partitions being replaced (the run's own days were cleared when the transaction began)."""
        t, ids, frames = classified_orders, sorted(set(entity_ids)), []
        for start in range(0, len(ids), ID_CHUNK):
            query = sa.select(t.c.entity_id, t.c.order_date, t.c.updated_at).where(
                t.c.entity_id.in_(ids[start : start + ID_CHUNK])
            )
            frames.append(
                pd.DataFrame(self.connection.execute(query).fetchall(), columns=list(query.selected_columns.keys()))
            )
        return (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["entity_id", "order_date", "updated_at"])
        )

    def rejected_positions(self, day: date) -> set[int]:
        query = sa.select(rejected_orders.c.position).where(rejected_orders.c.order_date == day)
        return set(self.connection.execute(query).scalars())

    def move_to_rejected(self, rows: pd.DataFrame) -> None:
        """Move classified orders of other days to their day's rejected_orders (a newer copy of the same
        entity_id won); `rows` are rejected_orders rows. That day's raw = classified + rejected still holds."""
        for row in rows.itertuples(index=False):
            self.connection.execute(
                sa.delete(classified_orders).where(
                    classified_orders.c.entity_id == row.entity_id, classified_orders.c.order_date == row.order_date
                )
            )
        if len(rows):
            self.connection.execute(rejected_orders.insert(), rows.to_dict("records"))


def _bound_slices(table: sa.Table, frame: pd.DataFrame, dialect: sa.Dialect) -> Iterator[list[tuple]]:
    """The frame's rows as driver values, WRITE_ROWS at a time: bound values are Python objects, so a
    big frame never becomes one list of every row's tuple."""
    for start in range(0, len(frame), WRITE_ROWS):
        part = frame.iloc[start : start + WRITE_ROWS]
        yield list(zip(*(_bind_values(table.c[name], part[name], dialect) for name in part.columns)))


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
