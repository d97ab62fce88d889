"""The metrics' warehouse tables: classified orders, daily sums, the 30-day card, the TTM rollup."""

from __future__ import annotations

import sqlalchemy as sa

from ..core.db import Amount, Money, Percent, metadata, store_column, window_columns

classified_orders = sa.Table(
    "classified_orders",
    metadata,
    store_column(),
    sa.Column("entity_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("increment_id", sa.String(50)),
    sa.Column("order_date", sa.Date, nullable=False),
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
    sa.Column("customer_key", sa.String(270)),  # rules.customer_keys: who placed it, at order time
    sa.Column("payment_method", sa.String(128)),  # payment.method; `companycredit`: Payment on Account
    # A customer's orders by day, answered from the index alone (first orders, presence in windows).
    sa.Index("ix_classified_orders_customer_days", "store", "customer_key", "order_date", "counted"),
    sa.Index("ix_classified_orders_order_date", "store", "order_date"),
    info={"partition": "order_date"},
)

rejected_orders = sa.Table(
    "rejected_orders",
    metadata,
    store_column(),
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("entity_id", sa.BigInteger),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    info={"partition": "order_date"},
)

daily_aov = sa.Table(
    "daily_aov",
    metadata,
    store_column(),
    sa.Column("order_date", sa.Date, primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("revenue", Money(), nullable=False),
    sa.Column("line_items", sa.Integer, nullable=False),
    info={"partition": "order_date"},
)

aov_30d = sa.Table(
    "aov_30d",
    metadata,
    store_column(),
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
    info={"partition": "as_of"},
)

aov_ttm = sa.Table(
    "aov_ttm",
    metadata,
    store_column(),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("revenue", Money(), nullable=False),
    sa.Column("aov", Money()),
    sa.Column("line_items", sa.Integer, nullable=False),
    sa.Column("multiplier", Percent()),
    sa.Column("days", sa.Integer, nullable=False),
    info={"partition": "month"},
)
