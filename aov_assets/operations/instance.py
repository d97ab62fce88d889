"""The demo's Dagster instance (`data/dagster_home`, shared by `make demo` and `make dev`).

It uses `aov_assets.operations.pooled_event_log` (about 2x faster event writes for single-run range backfills)
when the installed Dagster still has the private parts it builds on, and Dagster's stock SQLite
storage otherwise: the same data either way. Only a `dagster.yaml` that aov_assets wrote itself is
ever written or rewritten; a user's own instance configuration is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import yaml

OURS = "# Written by aov_assets for the demo's own Dagster instance (make demo / make dev).\n"
TELEMETRY = "telemetry:\n  enabled: false\n"
POOLED_CLASS = "class: PooledSqliteEventLogStorage"
POOLED_STORAGE = f"""event_log_storage:
  module: aov_assets.operations.pooled_event_log
  {POOLED_CLASS}
  config:
    base_dir: {{base_dir}}
"""
# How many materializations of one step Dagster hands the event log at once (`store_event_batch`); the pooled
# storage writes each batch in one transaction per shard, and dagster-postgres's storage in one statement
# (the 733-day range run: 56.9 -> 35.6 s on PostgreSQL, bench/dagster_runs.py). Dagster reads it where runs
# execute, so it is set in this process's environment, which `aov dev` passes on to the daemon's and the
# webserver's runs (a deployment sets it in its run workers' environment).
EVENT_BATCH_SIZE = ("DAGSTER_EVENT_BATCH_SIZE", "1000")


def pooled_available() -> bool:
    try:
        from .pooled_event_log import available
    except (ImportError, AttributeError):  # a Dagster release moved the private modules
        return False
    try:
        return available()
    except Exception:  # noqa: BLE001 - any surprise in private internals means: use the stock storage
        return False


def header() -> str:
    """The first lines of a `dagster.yaml` aov_assets wrote for the installed Dagster."""
    return OURS + f"# Event log storage chosen for dagster {dg.__version__}.\n"


def instance_yaml(home: Path) -> str:
    storage = POOLED_STORAGE.format(base_dir=home / "history" / "runs") if pooled_available() else ""
    return header() + TELEMETRY + storage


def use_dagster_home(data_dir: str | os.PathLike[str]) -> Path:
    """Point DAGSTER_HOME at `$AOV_DATA_DIR/dagster_home` unless the user chose one, and create it.

    Returns the home. A home without `dagster.yaml` gets ours; ours is written again when the installed
    Dagster is not the one it was written for (the pooled storage may have become unavailable, or
    available again; asking costs half a second, so not at every command); anything else is left alone.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or Path(data_dir, "dagster_home")).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(OURS) and not current.startswith(header())):
        current = instance_yaml(home)
        config.write_text(current)
    if POOLED_CLASS in current or _events_on_postgres(current):
        os.environ.setdefault(*EVENT_BATCH_SIZE)
    return home


def _events_on_postgres(config_text: str) -> bool:
    """Whether the instance's event log is dagster-postgres's (`storage: postgres:` or its own section)."""
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError:
        return False
    if not isinstance(config, dict):
        return False
    storage, events = config.get("storage"), config.get("event_log_storage")
    return (isinstance(storage, dict) and "postgres" in storage) or (
        isinstance(events, dict) and str(events.get("module", "")).startswith("dagster_postgres")
    )
