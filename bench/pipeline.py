"""Times the demo pipeline: each stage's own code, then the whole Dagster run, side by side.

Part A runs the stages over the sample's full range on an in-memory Dagster instance, so step
times are essentially our code: orders per second per stage, the neighbours' cost as a ratio to
aov_30d's own step, the rows written and this process's peak RSS. `AOV_SAMPLE_SCALE=10` runs it on
a merchant ten times the sample (1.46M orders). Part B runs what `make demo` runs (the daily chain
and the TTM rollup as single-run backfills) three times in this one process: as `make demo` does, without the
investigation's assets (what the demo cost before them), and on Dagster's stock SQLite event log instead of
aov_assets.pooled_event_log.PooledSqliteEventLogStorage; it prints the two ratios.
Absolute times drift on a shared machine; compare the numbers printed by one run.

    [AOV_SAMPLE_SCALE=N] .venv/bin/python bench/pipeline.py [--skip-dagster]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from scale import peak_rss_mb  # bench/ is on the path when this script runs

from aov_assets.actions.tables import order_lines
from aov_assets.core.keys import CATALOG_JOB, DAILY_JOB, TTM_JOB, range_tags
from aov_assets.core.partitions import daily_partitions, monthly_partitions
from aov_assets.definitions import build_defs
from aov_assets.ingest.sources.sample import sample_merchant
from aov_assets.manifest import load_manifest, stores_by_key
from aov_assets.metrics.tables import classified_orders
from aov_assets.operations.demo import PLANNED_EVENTS_SWITCH, QUIET_LOGS
from aov_assets.operations.instance import POOLED_STORAGE, TELEMETRY
from aov_assets.operations.schedules import DAILY_ASSETS, INVESTIGATION
from aov_assets.resources import AdobeCommerceResource, LakeResource, WarehouseResource
from aov_assets.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
MANIFEST = load_manifest(REPO / "aov.yaml")
DEFS = build_defs(MANIFEST)
INVESTIGATION_STEPS = ("account_daily", "b2b_investigation")
NEIGHBOUR_STEPS = ("segment_metrics_30d", "currency_aov_30d")
INVESTIGATION_ASSETS = ("account_daily", *INVESTIGATION)
DAYS, MONTHS = daily_partitions(MANIFEST).get_partition_keys(), monthly_partitions(MANIFEST).get_partition_keys()


def resources(root: Path) -> dict:
    return {
        "stores": stores_by_key(MANIFEST),
        "lake": LakeResource(data_dir=str(root)),
        "warehouse": WarehouseResource(url=f"sqlite:///{root / 'warehouse.db'}"),
        "adobe_commerce": AdobeCommerceResource(),
    }


def stages(root: Path) -> None:
    started = time.perf_counter()
    merchant = sample_merchant()
    orders = len(merchant.orders) * merchant.scale
    print(
        f"sample merchant x{merchant.scale} generated in {time.perf_counter() - started:.2f}s: "
        f"{orders:,} orders, {len(DAYS)} days"
    )
    print(f"{'stage':<18}{'seconds':>9}{'orders/s':>12}")
    step_seconds: dict[str, float] = {}
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:  # in-memory event log: the steps' own time
        for job, keys in ((CATALOG_JOB, None), (DAILY_JOB, DAYS), (TTM_JOB, MONTHS)):
            result = DEFS.resolve_job_def(job).execute_in_process(
                resources=resources(root),
                instance=instance,
                tags=range_tags(keys[0], keys[-1]) if keys else {},
                run_config=QUIET_LOGS,
            )
            for event in result.get_step_success_events():
                seconds = event.event_specific_data.duration_ms / 1000
                step_seconds[event.step_key] = seconds
                print(f"{event.step_key:<18}{seconds:>9.2f}{orders / seconds:>12,.0f}")
    new = sum(step_seconds[key] for key in INVESTIGATION_STEPS)
    print(
        f"the investigation's steps ({', '.join(INVESTIGATION_STEPS)}) take {new:.2f}s, "
        f"{new / (sum(step_seconds.values()) - new):.2f}x the other steps' time in the same run"
    )
    around, card = {key: step_seconds[key] for key in NEIGHBOUR_STEPS}, step_seconds["aov_30d"]
    steps = ", ".join(f"{key} {seconds:.2f}s" for key, seconds in around.items())
    print(f"the neighbours' steps ({steps}) take {sum(around.values()) / card:.2f}x aov_30d's own step ({card:.2f}s)")
    warehouse = Warehouse(resources(root)["warehouse"].url)
    with warehouse.engine.connect() as connection:
        rows = {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (classified_orders, order_lines)
        }
    print(
        f"all steps {time.perf_counter() - started:.1f}s; "
        + ", ".join(f"{name} {count:,} rows" for name, count in rows.items())
        + f"; peak RSS {peak_rss_mb():,.0f} MB"
    )


def demo_runs(root: Path, pooled: bool = True, investigation: bool = True) -> tuple[float, float]:
    """The demo's runs: wall seconds, and the seconds its steps report themselves (our code)."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    yaml = TELEMETRY + (POOLED_STORAGE.format(base_dir=home / "history" / "runs") if pooled else "")
    (home / "dagster.yaml").write_text(yaml)
    os.environ["DAGSTER_HOME"] = str(home)
    daily = DEFS.resolve_job_def(DAILY_JOB)
    if not investigation:
        kept = {dg.AssetKey(key) for key in DAILY_ASSETS if key not in INVESTIGATION_ASSETS}
        daily = daily.get_subset(asset_selection=kept)
    steps = 0.0
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        for job, keys in ((daily, DAYS), (DEFS.resolve_job_def(TTM_JOB), MONTHS)):
            result = job.execute_in_process(
                instance=instance, tags=range_tags(keys[0], keys[-1]), run_config=QUIET_LOGS, resources=resources(root)
            )
            assert result.success
            steps += sum(event.event_specific_data.duration_ms / 1000 for event in result.get_step_success_events())
        return time.perf_counter() - started, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-dagster", action="store_true", help="only part A (the stages' own code)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("A. each stage over the full sample range (in-memory event log: the steps' own time)")
        stages(Path(tmp) / "stages")
        if args.skip_dagster:
            return
        print("\nB. the demo's Dagster runs (daily chain + TTM), side by side in this process")
        os.environ.setdefault(PLANNED_EVENTS_SWITCH, "true")  # as make demo sets it
        demo, steps = demo_runs(Path(tmp) / "demo")
        before, _ = demo_runs(Path(tmp) / "before", investigation=False)
        stock, _ = demo_runs(Path(tmp) / "stock", pooled=False)
        print(f"make demo's runs                          {demo:7.1f}s")
        print(
            f"  of which the steps' own code            {steps:7.1f}s   Dagster's run, step and event-log overhead "
            f"{demo - steps:.1f}s ({(demo - steps) / demo:.0%})"
        )
        print(f"  without the investigation's assets      {before:7.1f}s   demo / without  {demo / before:5.2f}x")
        print(f"  on the stock SqliteEventLogStorage      {stock:7.1f}s   stock / demo    {stock / demo:5.2f}x")


if __name__ == "__main__":
    sys.exit(main())
