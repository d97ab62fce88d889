"""The health checks' reads (a mixin of core.db.Database)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from ..core.db import bigint
from ..metrics.tables import classified_orders, daily_aov


class HealthQueries:
    """Reads the data-health checks judge."""

    def counted_orders_per_day(self, first: date, last: date) -> pd.Series:
        """Counted orders per calendar day first..last (both segments), NaN where daily_aov has no row."""
        t = daily_aov
        query = (
            sa.select(t.c.order_date, bigint(sa.func.sum(t.c.orders)).label("orders"))
            .where(self.mine(t), t.c.order_date.between(first, last))
            .group_by(t.c.order_date)
        )
        frame = self._frame(query)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return frame.set_index("order_date")["orders"].astype(float).reindex(days)

    def stale_pending_b2b(self, created_before: date) -> pd.DataFrame:
        """B2B orders still in pending_payment that were created before the given day."""
        t = classified_orders
        query = sa.select(t.c.entity_id, t.c.order_date, t.c.company_id).where(
            self.mine(t), t.c.segment == "b2b", t.c.state == "pending_payment", t.c.order_date < created_before
        )
        return self._frame(query.order_by(t.c.order_date))
