"""Agency mode at scale: many small stores in one deployment, timed on this machine (issue 26).

Every store is the embedded sample merchant (about 190 orders a day, the same orders in each: the
work per store is real, only the numbers repeat), so nothing here reaches a network. In one run:

1. definitions load time with 1, 10 and N stores: what a code server does when it loads the location
   (import, `defs`, the repository and its snapshot, in one process), and `dg check defs` (the same
   plus the CLI's own start-up, a temporary instance and its YAML checks), each as wall time;
2. a 30-day backfill of every store: `aov backfill --from D-29 --to D` (the stores one after the
   other in one process, as an agency would heal a gap everywhere);
3. the daily run of every store: `aov backfill --from D-3 --to D`, which runs what each store's
   `aov_daily_schedule` launches (yesterday and the lookback days) and its data-health checks;
4. the first backfill of one store over the sample's two years, the unit an agency multiplies by N.

Each command's wall time and peak memory (the largest resident set of the command's processes).

    .venv/bin/python bench/agency.py [--stores 100] [--skip-first] [--load-only] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LAST_DAY = "2026-05-03"


def manifest(path: Path, stores: int) -> Path:
    data = yaml.safe_load((REPO / "aov.yaml").read_text())
    data["stores"] = [{"key": f"s{number:03d}", "name": f"Store {number}"} for number in range(stores)]
    path.write_text(yaml.safe_dump(data))
    return path


# What a code server does when it loads the location (dagster's gRPC server: the definitions and the
# snapshot it serves to the webserver and the daemon).
LOAD = (
    "from aov_assets.definitions import defs; "
    "from dagster._core.remote_representation.external_data import RepositorySnap; "
    "RepositorySnap.from_def(defs().get_repository_def())"
)

# Runs a command and prints the peak resident set of its processes (a fresh parent per command, so
# each command's peak is its own).
PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak MiB of the command's processes); a failed command ends the benchmark."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PEAK, *command], env=env, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return seconds, int(result.stderr.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--skip-first", action="store_true", help="leave out the one store's 2-year backfill")
    parser.add_argument("--load-only", action="store_true", help="only the definitions load times")
    parser.add_argument("--rounds", type=int, default=1, help="load times: the median of this many runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AOV_", "DAGSTER_"))}
        env |= {"AOV_DATA_DIR": str(root / "data"), "AOV_WAREHOUSE_URL": f"sqlite:///{root / 'warehouse.db'}"}
        rows = []
        for count in sorted({1, 10, args.stores}):
            path = manifest(root / f"stores_{count}.yaml", count)
            loads = [timed([sys.executable, "-c", LOAD], env | {"AOV_MANIFEST": str(path)}) for _ in range(args.rounds)]
            rows.append((f"code location load, {count} store(s)", *map(statistics.median, zip(*loads))))
            checks = [
                timed([str(BIN / "dg"), "check", "defs"], env | {"AOV_MANIFEST": str(path)}) for _ in range(args.rounds)
            ]
            rows.append((f"dg check defs, {count} store(s)", *map(statistics.median, zip(*checks))))
        if args.load_only:
            report(rows)
            return
        env["AOV_MANIFEST"] = str(manifest(root / "aov.yaml", args.stores))
        aov = str(BIN / "aov")
        month = ["backfill", "--from", "2026-04-04", "--to", LAST_DAY]
        seconds, peak = timed([aov, *month], env)
        rows.append((f"30-day backfill of {args.stores} stores", seconds, peak))
        seconds, peak = timed([aov, "backfill", "--from", "2026-04-30", "--to", LAST_DAY], env)
        rows.append((f"daily run of {args.stores} stores (4 days each: yesterday + lookback)", seconds, peak))
        if not args.skip_first:
            first = ["backfill", "--store", "s000", "--from", "2024-05-01", "--to", LAST_DAY]
            seconds, peak = timed([aov, *first], env)
            rows.append(("2-year first backfill of one store (733 days)", seconds, peak))
    report(rows)


def report(rows: list[tuple[str, float, float]]) -> None:
    width = max(len(what) for what, _, _ in rows)
    print(f"{'what':<{width}}  {'seconds':>8}  {'peak MiB':>8}")
    for what, seconds, peak in rows:
        print(f"{what:<{width}}  {seconds:8.1f}  {peak:8.0f}")


if __name__ == "__main__":
    main()
