"""`make demo`'s wall time here against an earlier commit's, measured alternately in one run.

Exports the commit's tree with `git archive`, then runs `aov demo` from each tree in turn, each time
on a fresh data directory, with this checkout's virtualenv (so the same library versions). The
ratio of medians is the number to report: absolute times drift on a shared machine.

    .venv/bin/python bench/demo_versus.py b2ad19a [--rounds 2]
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

REPO = Path(__file__).resolve().parents[1]
# `aov demo` as the console script runs it (`entry` since the collector is tuned there; `main` before)
DEMO = "import sys; sys.argv = ['aov', 'demo']; import aov_assets.cli as c; sys.exit(getattr(c, 'entry', c.main)())"


def demo_seconds(tree: Path) -> float:
    shutil.rmtree(tree / "data", ignore_errors=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AOV_", "DAGSTER_"))}
    env["PYTHONPATH"] = str(tree)
    if (tree / "demo.yaml").exists():  # what `make demo` runs since agency mode: demo.yaml's stores
        env["AOV_MANIFEST"] = str(tree / "demo.yaml")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", DEMO],
        cwd=tree,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="the earlier commit, e.g. b2ad19a")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", args.ref], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        now = Path(tmp) / "now"
        shutil.copytree(REPO, now, ignore=shutil.ignore_patterns(".venv", ".git", "data", "__pycache__"))
        times: dict[str, list[float]] = {args.ref: [], "working tree": []}
        for round_ in range(1, args.rounds + 1):
            for label, tree in ((args.ref, before), ("working tree", now)):
                times[label].append(demo_seconds(tree))
                print(f"round {round_}: {label:<14}{times[label][-1]:7.1f}s", flush=True)
        old, new = (statistics.median(values) for values in times.values())
        print(f"median: {args.ref} {old:.1f}s, working tree {new:.1f}s; working tree / {args.ref} = {new / old:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
