"""The alerts' warehouse table."""

from __future__ import annotations

import sqlalchemy as sa

from ..core.db import metadata, store_column

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    store_column(),
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
