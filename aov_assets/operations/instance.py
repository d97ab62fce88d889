"""The demo's Dagster instance (`data/dagster_home`, shared by `make demo` and `make dev`).

It uses `aov_assets.operations.pooled_event_log` (about 2x faster event writes for single-run range backfills)
when the installed Dagster still has the private parts it builds on, and Dagster's stock SQLite
storage otherwise: the same data either way. Only a `dagster.yaml` that aov_assets wrote itself is
ever written or rewritten; a user's own instance configuration is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

OURS = "# Written by aov_assets for the demo's own Dagster instance (make demo / make dev).\n"
STOCK_YAML = OURS + "telemetry:\n  enabled: false\n"
INSTANCE_YAML = (
    STOCK_YAML
    + """event_log_storage:
  module: aov_assets.operations.pooled_event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""
)


def pooled_available() -> bool:
    try:
        from .pooled_event_log import available
    except (ImportError, AttributeError):  # a Dagster release moved the private modules
        return False
    try:
        return available()
    except Exception:  # noqa: BLE001 - any surprise in private internals means: use the stock storage
        return False


def instance_yaml(home: Path) -> str:
    return INSTANCE_YAML.format(base_dir=home / "history" / "runs") if pooled_available() else STOCK_YAML


def use_dagster_home(data_dir: str | os.PathLike[str]) -> Path:
    """Point DAGSTER_HOME at `$AOV_DATA_DIR/dagster_home` unless the user chose one, and create it.

    Returns the home. A home without `dagster.yaml` gets ours; ours is rewritten when the pooled
    storage became unavailable (or available again); anything else is left alone.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or Path(data_dir, "dagster_home")).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = instance_yaml(home)
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(OURS) and current != wanted):
        config.write_text(wanted)
    return home
