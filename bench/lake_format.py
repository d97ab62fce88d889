"""The lake's Parquet options, side by side: the same days written with Parquet's defaults (a dictionary
and min/max statistics for every column) and with the lake's own options, then read as
`classified_orders` reads them, alternately, so both see the same machine.

    .venv/bin/python bench/lake_format.py DIR   (DIR: a raw_orders lake, e.g. from bench/scale.py --lake)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from aov_assets.ingest.assets import batches
from aov_assets.ingest.lake import _WRITE_OPTIONS, RawOrderLake

FORMATS = {"Parquet defaults (zstd)": {"compression": "zstd"}, "the lake's options": _WRITE_OPTIONS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    args = parser.parse_args()
    source = RawOrderLake(args.lake)
    days = source.days()
    with tempfile.TemporaryDirectory() as tmp:
        lakes = {}
        for name, options in FORMATS.items():
            lake = RawOrderLake(Path(tmp) / name.replace(" ", "_"))
            lake.root.mkdir()
            for day in days:
                pq.write_table(pq.read_table(source.path_for(day)), lake.path_for(day), **options)
            lakes[name] = lake
        seconds = dict.fromkeys(FORMATS, 0.0)
        for _ in range(3):
            for name, lake in lakes.items():
                started = time.perf_counter()
                for batch in batches(lake, days):
                    lake.payloads_of(batch)
                seconds[name] += (time.perf_counter() - started) / 3
        for name, lake in lakes.items():
            size = sum(os.path.getsize(lake.path_for(day)) for day in days) / 1e6
            print(f"{name:<26}{size:8.1f} MB{seconds[name]:8.2f} s to read every batch (mean of 3)")


if __name__ == "__main__":
    main()
