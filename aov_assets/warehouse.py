"""The warehouse: `core.db.Database` with every domain's queries, on every domain's tables."""

from __future__ import annotations

from .actions.queries import ActionsQueries
from .alerts import tables as alert_tables  # noqa: F401 - the ledger's table: created and migrated with the rest
from .around.queries import AroundQueries
from .core.db import Database
from .health.queries import HealthQueries
from .investigation.queries import InvestigationQueries
from .metrics.queries import MetricsQueries


class Warehouse(MetricsQueries, InvestigationQueries, AroundQueries, ActionsQueries, HealthQueries, Database):
    """An open warehouse (SQLite or PostgreSQL) with every domain's reads and tables."""
