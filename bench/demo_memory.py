"""`aov demo` in this process with its resident memory sampled every half second; prints each Dagster
step's peak and end RSS, the process's peak (VmHWM) and wall time. Point it at a fresh data dir:

    AOV_SAMPLE_SCALE=70 AOV_DATA_DIR=DIR [AOV_WAREHOUSE_URL=postgresql+psycopg://...] \\
        .venv/bin/python bench/demo_memory.py
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg

from aov_assets.cli import main as aov

SAMPLE_SECONDS = 0.5


def status_mb(field: str) -> float:
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith(f"{field}:")) / 1024


def step_spans(instance: dg.DagsterInstance) -> list[tuple[float, float, str]]:
    """(start, end, step key) of every step of every run on the instance, from its event log."""
    spans = []
    for record in instance.get_run_records():
        started = {}
        for entry in instance.all_logs(record.dagster_run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                started[event.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                spans.append((started.get(event.step_key, entry.timestamp), entry.timestamp, event.step_key))
    return sorted(spans)


def main() -> None:
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            samples.append((time.time(), status_mb("VmRSS")))

    started = time.time()
    threading.Thread(target=sample, daemon=True).start()
    try:
        aov(["demo"])
    finally:
        done.set()
        with dg.DagsterInstance.get() as instance:  # aov demo pointed DAGSTER_HOME at its instance
            for first, last, key in step_spans(instance):
                during = [mb for moment, mb in samples if first <= moment <= last]
                if during:
                    print(f"{key:<44}{last - first:8.1f} s  peak {max(during):6,.0f} MB  end {during[-1]:6,.0f} MB")
        print(f"process peak RSS {status_mb('VmHWM'):,.0f} MB (VmHWM), wall {time.time() - started:,.0f} s")


if __name__ == "__main__":
    main()
