"""The neighbours' warehouse tables."""

from __future__ import annotations

import sqlalchemy as sa

from ..core.db import Money, Percent, metadata, store_column
from .rules import MEASURES


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
    store_column(),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("segment", sa.String(3), primary_key=True),
    *_measure_columns(),
    *(sa.Column(f"{prefix}{name}", Money()) for prefix in ("", "prior_") for name in ("revenue", "refunded")),
    *(sa.Column(f"{prefix}{name}", sa.Integer) for prefix in ("", "prior_") for name in ("orders", "line_items")),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("prior_days", sa.Integer, nullable=False),
    info={"partition": "as_of"},
)

currency_aov_30d = sa.Table(
    "currency_aov_30d",
    metadata,
    store_column(),
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
    info={"partition": "as_of"},
)
