"""The neighbours' reads (a mixin of core.db.Database)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from ..core.db import bigint, cents
from ..metrics.queries import order_currency_amount
from ..metrics.tables import classified_orders
from .tables import currency_aov_30d, segment_metrics_30d


class AroundQueries:
    """Reads of customers, first orders and per-currency sums."""

    def customer_presence(self, first: date, last: date) -> pd.DataFrame:
        """Each day's customers per segment (counted orders), for the neighbours' distinct counts; day and
        segment as categoricals (a big merchant's 90 days are a million rows, not a million date objects)."""
        t = classified_orders
        query = (
            sa.select(t.c.order_date, t.c.segment, t.c.customer_key)
            .distinct()
            .where(self.mine(t), t.c.counted, t.c.order_date.between(first, last), t.c.customer_key.is_not(None))
        )
        return self._frame(query, categorical=["order_date", "segment"])

    def first_order_days(self, first: date, last: date) -> pd.DataFrame:
        """The first counted order day ever (all history) of every customer with a counted order in first..last
        (the day as a categorical)."""
        t = classified_orders
        active = (
            sa.select(t.c.customer_key)
            .where(self.mine(t), t.c.counted, t.c.order_date.between(first, last), t.c.customer_key.is_not(None))
            .distinct()
        )
        query = (
            sa.select(t.c.customer_key, sa.func.min(t.c.order_date).label("first_order_date"))
            .where(self.mine(t), t.c.counted, t.c.order_date <= last, t.c.customer_key.in_(active.scalar_subquery()))
            .group_by(t.c.customer_key)
        )
        return self._frame(query, categorical=["first_order_date"])

    def currency_sums(self, first: date, last: date, basis: str) -> pd.DataFrame:
        """Counted orders per day, segment and order currency: the basis amount in that currency
        (1/10,000 units) and the order value in global cents."""
        t = classified_orders
        amount = order_currency_amount(basis)
        query = (
            sa.select(
                t.c.order_date,
                t.c.segment,
                t.c.order_currency_code.label("currency"),
                sa.func.count().label("orders"),
                bigint(sa.func.sum(sa.cast(sa.func.round(amount * 10_000), sa.BigInteger))).label("units"),
                bigint(sa.func.sum(cents(t.c.order_value))).label("revenue_cents"),
            )
            .where(self.mine(t), t.c.counted, t.c.order_date.between(first, last))
            .group_by(t.c.order_date, t.c.segment, t.c.order_currency_code)
        )
        frame = self._frame(query)
        return frame.assign(currency=frame["currency"].fillna("?"))

    def read_neighbours(self, first: date, last: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """segment_metrics_30d, currency_aov_30d and b2b_category_mix_30d rows of as-of days first..last."""
        m, c = segment_metrics_30d, currency_aov_30d
        return (
            self._frame(self.select_mine(m).where(m.c.as_of.between(first, last))),
            self._frame(
                self.select_mine(c).where(c.c.as_of.between(first, last)).order_by(c.c.as_of, c.c.segment, c.c.currency)
            ),
            self.read_category_mix(first, last),
        )
