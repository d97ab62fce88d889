"""The metrics' reads (a mixin of core.db.Database, assembled in aov_assets.warehouse)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa

from ..core.db import ID_CHUNK, Writer, bigint, cents
from .tables import aov_30d, aov_ttm, classified_orders, daily_aov, rejected_orders


class MetricsQueries:
    """Reads of classified orders, daily sums and the cards."""

    def daily_sums_from_orders(self, first: date, last: date) -> pd.DataFrame:
        """Counted orders per day and segment, summed exactly in the database."""
        t = classified_orders
        query = (
            sa.select(
                t.c.order_date,
                t.c.segment,
                sa.func.count().label("orders"),
                bigint(sa.func.sum(cents(t.c.order_value))).label("revenue_cents"),
                bigint(sa.func.sum(t.c.line_items)).label("line_items"),
                bigint(sa.func.sum(sa.func.coalesce(cents(t.c.refunded), 0))).label("refunded_cents"),
            )
            .where(self.mine(t), t.c.counted, t.c.order_date.between(first, last))
            .group_by(t.c.order_date, t.c.segment)
        )
        return self._frame(query)

    def days_without_customer_keys(self, last: date) -> list[date]:
        """Days up to `last` classified by a version that had no customer_key (re-classify them)."""
        t = classified_orders
        query = (
            sa.select(t.c.order_date).distinct().where(self.mine(t), t.c.order_date <= last, t.c.customer_key.is_(None))
        )
        with self.connect() as connection:
            return sorted(connection.scalars(query))

    def rejected_between(self, first: date, last: date) -> set[tuple[date, int]]:
        """(order_date, position) of the lake payloads that classification rejected."""
        t = rejected_orders
        with self.connect() as connection:
            query = sa.select(t.c.order_date, t.c.position).where(self.mine(t), t.c.order_date.between(first, last))
            return {(day, position) for day, position in connection.execute(query)}

    def stored_orders_per_day(self, first: date, last: date) -> Counter[date]:
        """Orders classified or rejected per day; next to the lake's counts it proves nothing was lost."""
        counts: Counter[date] = Counter()
        with self.connect() as connection:
            for table in (classified_orders, rejected_orders):
                key = table.c.order_date
                query = sa.select(key, sa.func.count()).where(self.mine(table), key.between(first, last)).group_by(key)
                for day, orders in connection.execute(query):
                    counts[day] += orders
        return counts

    def read_daily(self, first: date, last: date) -> pd.DataFrame:
        t = daily_aov
        query = sa.select(
            t.c.order_date, t.c.segment, t.c.orders, cents(t.c.revenue).label("revenue_cents"), t.c.line_items
        ).where(self.mine(t), t.c.order_date.between(first, last))
        return self._frame(query)

    def read_card(self, as_of: date) -> pd.DataFrame:
        return self._frame(self.select_mine(aov_30d).where(aov_30d.c.as_of == as_of))

    def read_aov_30d(self, first: date, last: date) -> pd.DataFrame:
        query = self.select_mine(aov_30d).where(aov_30d.c.as_of.between(first, last))
        return self._frame(query.order_by(aov_30d.c.as_of))

    def latest_as_of(self) -> date | None:
        with self.connect() as connection:
            return connection.scalar(sa.select(sa.func.max(aov_30d.c.as_of)).where(self.mine(aov_30d)))

    def read_ttm(self, months: Sequence[date]) -> pd.DataFrame:
        keys = [f"{month:%Y-%m}" for month in months]
        return self._frame(self.select_mine(aov_ttm).where(aov_ttm.c.month.in_(keys)).order_by(aov_ttm.c.month))

    def latest_ttm_month(self) -> date | None:
        with self.connect() as connection:
            month = connection.scalar(sa.select(sa.func.max(aov_ttm.c.month)).where(self.mine(aov_ttm)))
        return date.fromisoformat(f"{month}-01") if month else None

    def latest_order_day(self, table: sa.Table = daily_aov) -> date | None:
        with self.connect() as connection:
            return connection.scalar(sa.select(sa.func.max(table.c.order_date)).where(self.mine(table)))

    def first_order_day(self) -> date | None:
        with self.connect() as connection:
            return connection.scalar(sa.select(sa.func.min(daily_aov.c.order_date)).where(self.mine(daily_aov)))


def base_amount(basis: str) -> sa.ColumnElement:
    """The metric.basis amount of an order in its base currency (rules.basis_amount)."""
    t = classified_orders
    if basis == "subtotal":
        return t.c.base_subtotal
    if basis == "pre_tax":
        return t.c.base_grand_total - sa.func.coalesce(t.c.base_tax_amount, 0)
    return t.c.base_grand_total


def order_currency_amount(basis: str) -> sa.ColumnElement:
    """The metric.basis amount in the order currency: grand_total, or the base amount at the order's own
    base-to-order rate where the order has no such field (pre_tax; a store without `subtotal`)."""
    t = classified_orders
    if basis == "grand_total":
        return t.c.grand_total
    at_order_rate = base_amount(basis) * t.c.grand_total / sa.func.nullif(t.c.base_grand_total, 0)
    if basis == "subtotal":
        return sa.func.coalesce(t.c.subtotal, at_order_rate, t.c.base_subtotal)
    return sa.func.coalesce(at_order_rate, t.c.grand_total)


# Inside a run's replacing transaction (its Writer): duplicates across days


def classified_elsewhere(write: Writer, entity_ids: Iterable[int]) -> pd.DataFrame:
    """entity_id, order_date and updated_at of classified orders with these ids on days outside the
    partitions being replaced (the run's own days were cleared when the transaction began)."""
    t, ids, frames = classified_orders, sorted(set(entity_ids)), []
    for start in range(0, len(ids), ID_CHUNK):
        query = sa.select(t.c.entity_id, t.c.order_date, t.c.updated_at).where(
            write.mine(t), t.c.entity_id.in_(ids[start : start + ID_CHUNK])
        )
        frames.append(
            pd.DataFrame(write.connection.execute(query).fetchall(), columns=list(query.selected_columns.keys()))
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["entity_id", "order_date", "updated_at"])
    )


def rejected_positions(write: Writer, day: date) -> set[int]:
    t = rejected_orders
    query = sa.select(t.c.position).where(write.mine(t), t.c.order_date == day)
    return set(write.connection.execute(query).scalars())


def move_to_rejected(write: Writer, rows: pd.DataFrame) -> None:
    """Move classified orders of other days to their day's rejected_orders (a newer copy of the same
    entity_id won); `rows` are rejected_orders rows. That day's raw = classified + rejected still holds."""
    for row in rows.itertuples(index=False):
        write.connection.execute(
            sa.delete(classified_orders).where(
                write.mine(classified_orders),
                classified_orders.c.entity_id == row.entity_id,
                classified_orders.c.order_date == row.order_date,
            )
        )
    if len(rows):
        write.connection.execute(rejected_orders.insert(), rows.assign(store=write.store).to_dict("records"))
