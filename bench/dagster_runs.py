"""What Dagster's bookkeeping costs the runs users start, measured side by side in one run.

On the sample's lake (written once to a temporary directory, or `--data DIR` kept between runs):

- DuckDB summing the lake per day and segment (the reference: parsing and sums, no bookkeeping);
- `dagster asset materialize --select classified_orders,daily_aov` over all 733 days, a fresh
  warehouse each time, with a stock Dagster home (an empty DAGSTER_HOME: what a user's own
  `dagster` command gets), the same with Dagster's one-planned-event-per-asset switch
  (`DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS`, a deployment's choice), with the home `aov`
  commands use (pooled event log, batched events) and, with `--postgres URL` (a server;
  `pip install -e '.[postgres]'`), with the instance on PostgreSQL (dagster-postgres: run, event
  log and schedule storage; a fresh database each round), without and with Dagster's batched event
  writes (what `aov` commands set for such an instance);
- one day's `aov backfill --from D --to D` (what the daily schedule runs) on the demo's data, after
  one `aov demo` has filled it.

Each is a child process timed from the outside (start-up included), `--rounds` times, alternating;
medians are reported with their ratios to DuckDB.

    [AOV_SAMPLE_SCALE=N] .venv/bin/python bench/dagster_runs.py [--rounds 2] [--data DIR] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aov_assets.operations.instance import EVENT_BATCH_SIZE, instance_yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FIRST, LAST = "2024-05-01", "2026-05-03"
# Dagster's opt-in: a range run records one planned event per asset (with the partition range) instead
# of one per partition; the UI then cannot show that run's partitions as failed or in progress.
SUBSET_PLANNED = ("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
DUCKDB = """
import sys
sys.path.insert(0, {bench!r})
from pathlib import Path
from scale import duckdb_sums
duckdb_sums(Path({lake!r}))
"""


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", type=Path, help="a data dir to keep between runs (the demo's is built once)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server (postgresql://user@host:port)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = (args.data or Path(tmp) / "data").resolve()
        base = {key: value for key, value in os.environ.items() if not key.startswith(("AOV_", "DAGSTER_"))}
        base |= {"AOV_SAMPLE_SCALE": os.environ.get("AOV_SAMPLE_SCALE", "1"), "AOV_DATA_DIR": str(data)}
        base |= {"AOV_MANIFEST": str(REPO / "aov.yaml"), "AOV_WAREHOUSE_URL": f"sqlite:///{data / 'warehouse.db'}"}
        if not (data / "warehouse.db").exists():
            print(f"aov demo into {data} (once) ...", flush=True)
            timed([str(BIN / "aov"), "demo"], base, REPO)
        lake = data / "lake" / "raw_orders"
        runs = {
            "duckdb over the lake (reference)": lambda: timed(
                [sys.executable, "-c", DUCKDB.format(bench=str(REPO / "bench"), lake=str(lake))], base, REPO
            ),
            "classified_orders+daily_aov, stock home": lambda: range_run(base, Path(tmp), "stock"),
            "the same, one planned event per asset": lambda: range_run(
                base | dict([SUBSET_PLANNED]), Path(tmp), "stock"
            ),
            "classified_orders+daily_aov, aov's home": lambda: range_run(base, Path(tmp), "aov"),
            **(
                {
                    "classified_orders+daily_aov, PostgreSQL instance": lambda: range_run(
                        base, Path(tmp), args.postgres
                    ),
                    "the same, DAGSTER_EVENT_BATCH_SIZE=1000": lambda: range_run(
                        base | dict([EVENT_BATCH_SIZE]), Path(tmp), args.postgres
                    ),
                }
                if args.postgres
                else {}
            ),
            f"aov backfill --from {LAST} --to {LAST}": lambda: timed(
                [str(BIN / "aov"), "backfill", "--from", LAST, "--to", LAST], base, REPO
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for round_ in range(1, args.rounds + 1):
            for name, run in runs.items():
                times[name].append(run())
                print(f"round {round_}: {name:<44}{times[name][-1]:7.1f}s", flush=True)
        reference = statistics.median(times["duckdb over the lake (reference)"])
        print(f"\n{'median of ' + str(args.rounds):<52}{'seconds':>9}{'x DuckDB':>10}")
        for name, values in times.items():
            print(f"{name:<52}{statistics.median(values):>9.1f}{statistics.median(values) / reference:>10.1f}")


def range_run(base: dict[str, str], tmp: Path, home_kind: str) -> float:
    """The two assets over every day into a fresh warehouse, from the demo's lake, on a fresh home:
    `stock` (no dagster.yaml), `aov` (the home `aov` commands write) or a PostgreSQL server's URL."""
    home, warehouse = tmp / "home", tmp / "range.db"
    shutil.rmtree(home, ignore_errors=True)
    warehouse.unlink(missing_ok=True)
    home.mkdir()
    env = base | {"DAGSTER_HOME": str(home), "AOV_WAREHOUSE_URL": f"sqlite:///{warehouse}"}
    if home_kind == "aov":  # the home `aov` commands write, and the environment they run in
        (home / "dagster.yaml").write_text(instance_yaml(home))
        env[EVENT_BATCH_SIZE[0]] = EVENT_BATCH_SIZE[1]
    elif home_kind != "stock":
        (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {fresh_database(home_kind)}\n")
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "aov_assets.definitions"]
    command += ["--select", "classified_orders,daily_aov", "--partition-range", f"{FIRST}...{LAST}"]
    return timed(command, env, REPO)


def fresh_database(server: str) -> str:
    """A new, empty database on the server (dagster-postgres creates its tables in it)."""
    import uuid

    import psycopg

    name = f"dagster_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


if __name__ == "__main__":
    main()
