"""The investigation's reads (a mixin of core.db.Database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from ..core.db import bigint, cents
from ..metrics.queries import base_amount
from ..metrics.tables import classified_orders
from .tables import (
    account_daily,
    aov_why,
    b2b_accounts_30d,
    b2b_cohorts_30d,
    b2b_companies,
    b2b_currency_daily,
    company_credit_history,
)


class InvestigationQueries:
    """Reads of B2B orders, accounts per day and the investigation's tables."""

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
            t.c.payment_method,
            cents(t.c.order_value).label("value_cents"),
            sa.func.coalesce(cents(t.c.refunded), 0).label("refunded_cents"),
            sa.cast(sa.func.round(base_amount(basis) * 10_000), sa.BigInteger).label("base_units"),
        ).where(self.mine(t), t.c.segment == "b2b", t.c.order_date.between(first, last))
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
            sa.func.coalesce(t.c.on_account_orders, 0).label("on_account_orders"),  # none before it was kept
        ).where(self.mine(t), t.c.order_date.between(first, last))
        return self._frame(query)

    def account_lifetime_before(self, day: date) -> pd.DataFrame:
        """Per account: counted orders, revenue and first order day of everything before `day`."""
        t = account_daily
        query = (
            sa.select(
                t.c.account,
                bigint(sa.func.sum(t.c.orders)).label("orders"),
                bigint(sa.func.sum(cents(t.c.revenue))).label("revenue_cents"),
                sa.func.min(sa.case((t.c.orders > 0, t.c.order_date))).label("first_order_date"),
            )
            .where(self.mine(t), t.c.order_date < day)
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
        ).where(self.mine(t), t.c.order_date.between(first, last))
        return self._frame(query)

    def account_count(self, last: date) -> int:
        """Accounts in account_daily up to `last` (sizes the investigation's accounts x days arrays)."""
        with self.connect() as connection:
            query = sa.select(sa.func.count(sa.distinct(account_daily.c.account))).where(
                self.mine(account_daily), account_daily.c.order_date <= last
            )
            return connection.scalar(query) or 0

    def read_investigation(self, first: date, last: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(b2b_cohorts_30d, aov_why, the gone-quiet rows of b2b_accounts_30d) of as-of days first..last."""
        cohorts = self.read_cohorts(first, last)
        why = self._frame(
            self.select_mine(aov_why)
            .where(aov_why.c.as_of.between(first, last))
            .order_by(aov_why.c.as_of, aov_why.c.rank)
        )
        a = b2b_accounts_30d
        quiet = self._frame(
            sa.select(a.c.as_of, a.c.account, a.c.name, a.c.prior_orders, a.c.prior_revenue, a.c.cohort)
            .where(self.mine(a), a.c.as_of.between(first, last), a.c.status == "gone_quiet")
            .order_by(a.c.as_of, a.c.prior_revenue.desc(), a.c.account)
        )
        return cohorts, why, quiet

    def read_cohorts(self, first: date, last: date) -> pd.DataFrame:
        """b2b_cohorts_30d of as-of days first..last, by day."""
        c = b2b_cohorts_30d
        return self._frame(self.select_mine(c).where(c.c.as_of.between(first, last)).order_by(c.c.as_of, c.c.cohort))

    def cohorts_as_of(self, as_of: date) -> pd.DataFrame:
        """account, name and LTV cohort of the B2B accounts in b2b_accounts_30d as of a day."""
        a = b2b_accounts_30d
        return self._frame(sa.select(a.c.account, a.c.name, a.c.cohort).where(self.mine(a), a.c.as_of == as_of))

    def top_cause(self, as_of: date) -> str | None:
        """The first-ranked cause of the day's B2B AOV move (None without an investigation or a cause)."""
        t = aov_why
        query = sa.select(t.c.cause).where(self.mine(t), t.c.as_of == as_of, t.c.role == "why", t.c.rank == 1)
        with self.connect() as connection:
            return connection.scalar(query)

    def has_credit(self) -> bool:
        """Whether the store's Company Credit gave any limit or operation (else credit causes are "not
        available": no B2B module, credit switched off, or a Shopify shop)."""
        c, h = b2b_companies, company_credit_history
        with self.connect() as connection:
            limits = sa.select(sa.literal(1)).where(self.mine(c), c.c.credit_limit.is_not(None)).limit(1)
            operations = sa.select(sa.literal(1)).where(self.mine(h)).limit(1)
            return connection.scalar(limits) is not None or connection.scalar(operations) is not None

    def latest_credit_operation(self) -> datetime | None:
        """When the latest stored credit operation happened (UTC), or None before the first refresh."""
        h = company_credit_history
        with self.connect() as connection:
            return connection.scalar(sa.select(sa.func.max(h.c.at)).where(self.mine(h)))

    def read_credit_history(self, last: date) -> pd.DataFrame:
        """Each Company's credit operations up to the end of `last` (UTC): balance and limit after each, in
        cents, by company and time (`investigation.credit.CreditUtilization` reads this)."""
        t = company_credit_history
        query = (
            sa.select(
                t.c.history_id,
                t.c.company_id,
                t.c.at,
                t.c.type,
                cents(t.c.balance).label("balance_cents"),
                cents(t.c.credit_limit).label("credit_limit_cents"),
            )
            .where(self.mine(t), t.c.at < last + timedelta(days=1))
            .order_by(t.c.company_id, t.c.at, t.c.history_id)
        )
        frame = self._frame(query)
        return frame.assign(
            at=pd.to_datetime(frame["at"], utc=True), credit_limit_cents=frame["credit_limit_cents"].astype("Int64")
        )
