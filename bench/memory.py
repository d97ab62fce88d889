"""Materializes assets over the sample's full range against an existing data dir; prints seconds and peak RSS.

Build a data dir once (`... memory.py DIR product_catalog raw_orders classified_orders daily_aov account_daily
order_lines`), then measure one asset per process, so the peak RSS printed is that asset's own (plus the
interpreter and Dagster). Each job runs its selected assets over all its partitions as one run, on an
in-memory Dagster instance; `b2b_investigation` names the three assets of that step.

    [AOV_SAMPLE_SCALE=N] .venv/bin/python bench/memory.py DIR ASSET [ASSET ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import dagster as dg
from pipeline import DAYS, DEFS, MONTHS, resources  # bench/ is on the path when this script runs
from scale import peak_rss_mb

from aov_assets.core.keys import CATALOG_JOB, DAILY_JOB, TTM_JOB, range_tags
from aov_assets.operations.demo import QUIET_LOGS
from aov_assets.operations.schedules import INVESTIGATION


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the data dir: lake/ and warehouse.db")
    parser.add_argument("assets", nargs="+", help="asset keys; b2b_investigation stands for its three assets")
    args = parser.parse_args()
    wanted = {
        dg.AssetKey(key) for name in args.assets for key in (INVESTIGATION if name == "b2b_investigation" else [name])
    }
    args.root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        for name, keys in ((CATALOG_JOB, None), (DAILY_JOB, DAYS), (TTM_JOB, MONTHS)):
            job = DEFS.resolve_job_def(name)
            selected = wanted & job.asset_layer.executable_asset_keys
            if not selected:
                continue
            result = job.get_subset(asset_selection=selected).execute_in_process(
                resources=resources(args.root),
                instance=instance,
                tags=range_tags(keys[0], keys[-1]) if keys else {},
                run_config=QUIET_LOGS,
            )
            for event in result.get_step_success_events():
                print(f"{event.step_key:<22}{event.event_specific_data.duration_ms / 1000:>9.2f}s", flush=True)
    print(f"all {time.perf_counter() - started:.1f}s; peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
