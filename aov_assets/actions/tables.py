"""The cross-sell levers' warehouse tables."""

from __future__ import annotations

import sqlalchemy as sa

from ..core.db import Amount, Money, Percent, metadata, store_column

order_lines = sa.Table(
    "order_lines",
    metadata,
    store_column(),
    sa.Column("entity_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),  # 1.. in the order's item order
    sa.Column("order_date", sa.Date, nullable=False),
    sa.Column("segment", sa.String(3), nullable=False),
    sa.Column("account", sa.String(270), nullable=False),  # the order's customer_key
    sa.Column("sku", sa.String(64)),
    sa.Column("variant_sku", sa.String(64)),  # a configurable's chosen child
    sa.Column("name", sa.String(255)),
    sa.Column("product_id", sa.BigInteger),
    sa.Column("product_type", sa.String(32)),
    sa.Column("qty", Amount()),
    sa.Column("line_value", Money(), nullable=False),  # (base_row_total - base_discount_amount) x rate
    sa.Index("ix_order_lines_order_date", "store", "order_date"),
    info={"partition": "order_date"},
)

product_catalog = sa.Table(  # not partitioned: replaced whole on each refresh
    "product_catalog",
    metadata,
    store_column(),
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("product_id", sa.BigInteger),
    sa.Column("category", sa.String(255), nullable=False),  # Parent/Child path, or `uncategorized`
)

b2b_category_mix_30d = sa.Table(
    "b2b_category_mix_30d",
    metadata,
    store_column(),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("category", sa.String(255), primary_key=True),
    sa.Column("line_value", Money(), nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("prior_line_value", Money(), nullable=False),
    sa.Column("prior_lines", sa.Integer, nullable=False),
    sa.Column("per_order", Money()),  # the category's line value per B2B order of the window
    sa.Column("prior_per_order", Money()),
    sa.Column("per_order_change", Money()),
    info={"partition": "as_of"},
)

basket_pairs = sa.Table(
    "basket_pairs",
    metadata,
    store_column(),
    sa.Column("month", sa.String(7), primary_key=True),  # the trailing 90 days up to the month's end
    sa.Column("segment", sa.String(3), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),  # category | sku
    sa.Column("antecedent", sa.String(255), primary_key=True),
    sa.Column("consequent", sa.String(255), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),  # orders with both
    sa.Column("support_pct", Percent(), nullable=False),
    sa.Column("confidence_pct", Percent(), nullable=False),
    sa.Column("lift", Percent(), nullable=False),
    info={"partition": "month"},
)

account_whitespace = sa.Table(
    "account_whitespace",
    metadata,
    store_column(),
    sa.Column("month", sa.String(7), primary_key=True),  # the trailing 12 months up to the month's end
    sa.Column("account", sa.String(270), primary_key=True),
    sa.Column("category", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("cohort", sa.String(12), nullable=False),
    sa.Column("peers", sa.Integer, nullable=False),  # the other accounts of its LTV cohort
    sa.Column("peers_buying", sa.Integer, nullable=False),
    sa.Column("peer_median_spend", Money(), nullable=False),  # the size of the opportunity
    info={"partition": "month"},
)
