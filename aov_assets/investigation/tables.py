"""The investigation's warehouse tables."""

from __future__ import annotations

import sqlalchemy as sa

from ..core.db import Amount, Money, Percent, metadata, store_column, window_columns

account_daily = sa.Table(
    "account_daily",
    metadata,
    store_column(),
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("account", sa.String(40), primary_key=True),  # company:<id> | customer:<id> | guests
    sa.Column("name", sa.String(255)),  # the latest company_name seen that day
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("revenue", Money(), nullable=False),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("refunded", Money(), nullable=False),
    sa.Column("largest_order", Money()),
    sa.Column("largest_order_id", sa.String(50)),  # its increment_id
    sa.Column("on_account_orders", sa.Integer),  # paid by Payment on Account (payment.method companycredit)
    info={"partition": "order_date"},
)

b2b_currency_daily = sa.Table(
    "b2b_currency_daily",
    metadata,
    store_column(),
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("base_currency_code", sa.String(3), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("base_revenue", Amount(), nullable=False),  # in the base currency
    sa.Column("revenue", Money(), nullable=False),  # in the global currency
    info={"partition": "order_date"},
)

b2b_accounts_30d = sa.Table(
    "b2b_accounts_30d",
    metadata,
    store_column(),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("account", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # continuing | gone_quiet | new | returning
    *window_columns(),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("prior_line_items", sa.Integer, nullable=False),
    sa.Column("order_days", sa.Integer),  # days with orders: orders - order_days were same-day second POs
    sa.Column("prior_order_days", sa.Integer),
    sa.Column("credit_utilization_pct", Percent()),  # peak owed / credit limit in the current window
    sa.Column("credit_pressed", sa.Boolean),  # continuing, at investigation.credit_utilization (null: no credit data)
    sa.Column("lifetime_revenue", Money(), nullable=False),
    sa.Column("cohort", sa.String(12), nullable=False),
    info={"partition": "as_of"},
)

b2b_cohorts_30d = sa.Table(
    "b2b_cohorts_30d",
    metadata,
    store_column(),
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
    sa.Column("order_days", sa.Integer),  # account-days with orders: orders - order_days were same-day second POs
    sa.Column("prior_order_days", sa.Integer),
    sa.Column("credit_pressed", sa.Integer),  # continuing accounts at investigation.credit_utilization or above
    info={"partition": "as_of"},
)

aov_why = sa.Table(
    "aov_why",
    metadata,
    store_column(),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("cause", sa.String(30), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),  # why | ruled_out
    sa.Column("rank", sa.Integer, nullable=False),  # order within its role, 1 first
    sa.Column("part", sa.Boolean, nullable=False),  # one of the additive parts of the B2B AOV change
    sa.Column("contribution", Money()),  # to the B2B AOV change, in money
    sa.Column("share_pct", Percent()),  # of the change
    sa.Column("summary", sa.Text, nullable=False),
    info={"partition": "as_of"},
)

# Adobe Commerce's B2B module (Companies, Company Credit), refreshed whole with the catalog (not partitioned)
b2b_companies = sa.Table(
    "b2b_companies",
    metadata,
    store_column(),
    sa.Column("company_id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("status", sa.Integer),
    sa.Column("sales_rep_id", sa.BigInteger),  # the Company's sales representative (an admin user id)
    sa.Column("customer_group_id", sa.BigInteger),
    sa.Column("credit_limit", Money()),  # null: no credit limit
    sa.Column("balance", Money()),  # negative: the Company owes
    sa.Column("currency_code", sa.String(3)),
)

company_credit_history = sa.Table(
    "company_credit_history",
    metadata,
    store_column(),
    sa.Column("history_id", sa.BigInteger, primary_key=True),
    sa.Column("company_id", sa.BigInteger, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),  # UTC
    sa.Column("type", sa.Integer, nullable=False),  # 1 allocated, 2 updated, 3 purchased, 4 reimbursed, ...
    sa.Column("amount", Money()),
    sa.Column("balance", Money(), nullable=False),  # after the operation
    sa.Column("credit_limit", Money()),  # after the operation; null: no limit
    sa.Index("ix_company_credit_history_company", "store", "company_id", "at"),
    info={"partition": "at"},  # each refresh replaces the operations from its overlap on
)
