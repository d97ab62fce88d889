"""The cross-sell levers' reads (a mixin of core.db.Database)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa

from ..core.db import ID_CHUNK, bigint, cents, data_columns
from ..investigation.tables import aov_why, b2b_accounts_30d, b2b_companies
from ..metrics.tables import classified_orders
from .lines import UNCATEGORIZED
from .tables import account_whitespace, b2b_category_mix_30d, order_lines, product_catalog


class ActionsQueries:
    """Reads of order lines, categories, baskets and whitespace."""

    def counted_orders_of(self, first: date, last: date) -> pd.DataFrame:
        """entity_id, segment and customer_key of the counted orders of first..last (for their lines)."""
        t = classified_orders
        query = sa.select(t.c.entity_id, t.c.segment, t.c.customer_key).where(
            self.mine(t), t.c.counted, t.c.order_date.between(first, last)
        )
        return self._frame(query)

    def b2b_category_sums(self, first: date, last: date) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per day and category: B2B line cents and lines; and per day the B2B orders that have lines."""
        lines = order_lines
        orders = (
            sa.select(lines.c.order_date, sa.func.count(sa.distinct(lines.c.entity_id)).label("orders"))
            .where(self.mine(lines), lines.c.segment == "b2b", lines.c.order_date.between(first, last))
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
                bigint(sa.func.sum(cents(lines.c.line_value))).label("line_cents"),
                sa.func.count().label("lines"),
            )
            .select_from(
                lines.outerjoin(catalog, sa.and_(catalog.c.store == lines.c.store, catalog.c.sku == lines.c.sku))
            )
            .where(self.mine(lines), lines.c.segment == "b2b", lines.c.order_date.between(first, last))
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
            if connection.scalar(sa.select(sa.literal(1)).where(self.mine(lines), sku).limit(1)):
                return f"SKU {text}", sku
            categories = connection.scalars(sa.select(catalog.c.category).distinct().where(self.mine(catalog))).all()
        wanted = text.casefold().strip("/")
        named = sorted(c for c in categories if wanted in (c.casefold(), c.casefold().rsplit("/", 1)[-1]))
        if not named:
            return None
        skus = sa.select(catalog.c.sku).where(self.mine(catalog), catalog.c.category.in_(named)).scalar_subquery()
        return f"category {', '.join(named)}", sa.or_(lines.c.sku.in_(skus), lines.c.variant_sku.in_(skus))

    def accounts_buying(self, match: sa.ColumnElement[bool], since: date, segments: Sequence[str]) -> set[str]:
        """Accounts with a counted order line matching `match` since `since`, in these segments."""
        lines = order_lines
        query = (
            sa.select(lines.c.account)
            .distinct()
            .where(self.mine(lines), match, lines.c.order_date >= since, lines.c.segment.in_(list(segments)))
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
                self.mine(t),
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
        query = sa.select(lines.c.order_date, lines.c.segment, lines.c.entity_id, lines.c.sku).where(
            self.mine(lines), lines.c.order_date.between(first, last)
        )
        frame = self._frame(query, categorical=["order_date", "segment", "sku"])
        with self.connect() as connection:  # joined here, per SKU: SQLite joining per line took as long as the read
            categories = dict(
                connection.execute(sa.select(catalog.c.sku, catalog.c.category).where(self.mine(catalog))).all()
            )
        category = frame["sku"].map(categories).astype(object).fillna(UNCATEGORIZED)
        return frame.assign(category=pd.Categorical(category))

    def read_whitespace(self, month: str | None, account: str | None) -> pd.DataFrame:
        """account_whitespace of a month (the latest when None), one account's or all, largest first."""
        w = account_whitespace
        with self.connect() as connection:
            month = month or connection.scalar(sa.select(sa.func.max(w.c.month)).where(self.mine(w)))
        query = self.select_mine(w).where(w.c.month == month)
        if account is not None:
            query = query.where(w.c.account == account)
        return self._frame(query.order_by(w.c.peer_median_spend.desc(), w.c.account, w.c.category))

    def read_category_mix(self, first: date, last: date) -> pd.DataFrame:
        m = b2b_category_mix_30d
        query = self.select_mine(m).where(m.c.as_of.between(first, last))
        return self._frame(query.order_by(m.c.as_of, m.c.category))

    def call_inputs(self, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, frozenset[str]]:
        """What a call list reads: the day's b2b_accounts_30d rows, each Company's sales rep, the whitespace
        of the latest month up to the day's (largest opportunity first), and the day's causes (role why)."""
        a, c, w, y = b2b_accounts_30d, b2b_companies, account_whitespace, aov_why
        accounts = self._frame(
            sa.select(
                *(a.c[name] for name in ("account", "name", "status", "cohort", "orders", "prior_orders")),
                *(a.c[name] for name in ("order_days", "prior_order_days", "revenue", "prior_revenue")),
                a.c.aov,
                a.c.prior_aov,
                a.c.credit_utilization_pct,
                a.c.credit_pressed,
            ).where(self.mine(a), a.c.as_of == as_of)
        )
        companies = self._frame(sa.select(c.c.company_id, c.c.sales_rep_id).where(self.mine(c)))
        with self.connect() as connection:
            month = connection.scalar(
                sa.select(sa.func.max(w.c.month)).where(self.mine(w), w.c.month <= f"{as_of:%Y-%m}")
            )
            why = frozenset(
                connection.scalars(sa.select(y.c.cause).where(self.mine(y), y.c.as_of == as_of, y.c.role == "why"))
            )
        whitespace = self.read_whitespace(month, None) if month else pd.DataFrame(columns=data_columns(w))
        return accounts, companies, whitespace, why
