"""Scale, measured side by side in one run: our parse path against DuckDB on the same lake, the
peak memory of each, and bulk-write rows/s into the warehouse.

Each measurement runs in a child process of its own, so its peak RSS is its own. DuckDB (a dev
dependency, the reference) reads the lake's Parquet, classifies with its JSON functions and sums per
day x segment; ours reads the same files with `RawOrderLake`, classifies with `rules.classify_orders`
(exact Decimals, a reason for every rejected order) and, for "+ warehouse", writes classified_orders
and sums the days in SQLite, as the `classified_orders` and `daily_aov` steps do without Dagster.
The two daily sums are compared to the cent before any time is reported.

    [AOV_SAMPLE_SCALE=N] .venv/bin/python bench/scale.py [--lake DIR] [--postgres postgresql+psycopg://...]

Without --lake, the sample's lake at AOV_SAMPLE_SCALE (1x: 145,672 orders) is written to a temporary
directory first; with `--lake DIR`, an empty DIR gets the sample's lake and keeps it for the next run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aov_assets.core.glue import one_ahead
from aov_assets.ingest.assets import batches
from aov_assets.ingest.lake import RawOrderLake
from aov_assets.ingest.sources.sample import sample_merchant
from aov_assets.metrics import tables as metrics_tables
from aov_assets.metrics.segments import SegmentRule, classify_orders
from aov_assets.warehouse import Warehouse

HUNDRED = pa.scalar(100, pa.decimal128(3, 0))
RULE = SegmentRule("company_or_group", frozenset({2, 4}))  # the sample's Wholesale and Facilities Contract


def duckdb_sums(lake: Path) -> pd.DataFrame:
    import duckdb

    query = f"""
        WITH orders AS (SELECT decode(payload) AS j FROM read_parquet('{lake}/*.parquet')),
        fields AS (
            SELECT CAST(CAST(j ->> '$.created_at' AS TIMESTAMP) AS DATE) AS order_date,
                   j ->> '$.state' AS state,
                   CAST(j ->> '$.customer_group_id' AS INTEGER) AS customer_group,
                   CAST(j ->> '$.extension_attributes.company_order_attributes.company_id' AS BIGINT) AS company,
                   ROUND(CAST(j ->> '$.base_grand_total' AS DECIMAL(20, 4))
                         * CAST(j ->> '$.base_to_global_rate' AS DECIMAL(20, 4)), 2) AS order_value
            FROM orders)
        SELECT order_date,
               CASE WHEN COALESCE(company, 0) <> 0 OR customer_group IN (2, 4) THEN 'b2b' ELSE 'b2c' END AS segment,
               COUNT(*) AS orders, CAST(SUM(order_value) * 100 AS BIGINT) AS revenue_cents
        FROM fields WHERE state <> 'canceled' GROUP BY ALL ORDER BY ALL"""
    return duckdb.sql(query).df()


def ours(lake: Path, url: str | None) -> pd.DataFrame:
    store = RawOrderLake(lake)
    days = store.days()
    warehouse = Warehouse(url) if url else None
    frames = []

    def classified(batch: list) -> tuple[pd.DataFrame, pd.DataFrame]:
        return classify_orders(store.payloads_of(batch).items(), "grand_total", RULE)

    for batch, (orders, rejected) in one_ahead(classified, batches(store, days)):  # as the classified_orders step
        if warehouse is None:
            counted = orders[orders["counted"].astype(bool)]
            cents = pc.cast(pc.multiply(pa.array(counted["order_value"]), HUNDRED), pa.int64()).to_numpy()
            frames.append(
                counted.assign(revenue_cents=cents, orders=1)
                .groupby(["order_date", "segment"], as_index=False)[["orders", "revenue_cents"]]
                .sum()
            )
        else:
            with warehouse.replacing(
                [metrics_tables.classified_orders, metrics_tables.rejected_orders], batch[0], batch[-1]
            ) as write:
                write(metrics_tables.classified_orders, orders)
                write(metrics_tables.rejected_orders, rejected)
    if warehouse is not None:
        frames = [
            warehouse.daily_sums_from_orders(days[0], days[-1])[["order_date", "segment", "orders", "revenue_cents"]]
        ]
    return pd.concat(frames, ignore_index=True)


def child(kind: str, lake: Path, url: str | None) -> None:
    """One measurement in this process: seconds, peak RSS and the daily sums, as JSON on stdout."""
    started = time.perf_counter()
    sums = duckdb_sums(lake) if kind == "duckdb" else ours(lake, url)
    seconds = time.perf_counter() - started
    sums = sums.assign(order_date=pd.to_datetime(sums["order_date"]).dt.date.astype(str))
    rss_mb = peak_rss_mb()
    print(json.dumps({"seconds": seconds, "rss_mb": rss_mb, "sums": sums.astype({"orders": int}).to_dict("records")}))


def peak_rss_mb() -> float:
    """This process's peak resident memory since exec (VmHWM; ru_maxrss would include the parent's at fork)."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


def measure(kind: str, lake: Path, url: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--lake", str(lake)] + (["--url", url] if url else [])
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_sample_lake(lake: Path) -> int:
    sample, store = sample_merchant(), RawOrderLake(lake)
    days = pd.date_range(sample.first_day, sample.last_day).date
    return sum(store.write_day(day, payloads, source="sample") for day, payloads in sample.iter_days(days))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="a raw_orders lake directory (empty: the sample's is written there)")
    parser.add_argument("--postgres", help="also write into this PostgreSQL warehouse (an empty database)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.lake, args.url)
        return
    with tempfile.TemporaryDirectory() as tmp:
        lake = args.lake or Path(tmp) / "lake"
        if not RawOrderLake(lake).days():
            started = time.perf_counter()
            written = write_sample_lake(lake)
            seconds = time.perf_counter() - started
            print(f"sample lake: {written:,} orders written to {lake} in {seconds:.1f}s ({written / seconds:,.0f}/s)")
        orders = sum(RawOrderLake(lake).order_count(day) or 0 for day in RawOrderLake(lake).days())
        runs = {
            "duckdb (reference)": measure("duckdb", lake),
            "ours: parse + classify": measure("ours", lake),
            "ours: + SQLite warehouse": measure("ours", lake, f"sqlite:///{Path(tmp) / 'warehouse.db'}"),
        }
        if args.postgres:
            runs["ours: + PostgreSQL warehouse"] = measure("ours", lake, args.postgres)
        reference = runs["duckdb (reference)"]
        expected = pd.DataFrame(reference["sums"]).sort_values(["order_date", "segment"], ignore_index=True)
        for name, run in runs.items():
            got = pd.DataFrame(run["sums"]).sort_values(["order_date", "segment"], ignore_index=True)
            pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj=name)  # the same numbers to the cent
        print(f"{orders:,} orders; daily sums identical to the cent in every run\n")
        print(f"{'run':<30}{'seconds':>9}{'orders/s':>12}{'x DuckDB':>10}{'peak RSS MB':>13}")
        for name, run in runs.items():
            print(
                f"{name:<30}{run['seconds']:>9.2f}{orders / run['seconds']:>12,.0f}"
                f"{run['seconds'] / reference['seconds']:>10.1f}{run['rss_mb']:>13,.0f}"
            )
        parse = runs["ours: parse + classify"]["seconds"]
        for name, run in runs.items():
            if "warehouse" in name:
                print(
                    f"{name}: the writes and sums add {run['seconds'] - parse:.2f}s, "
                    f"{orders / (run['seconds'] - parse):,.0f} classified_orders rows/s"
                )


if __name__ == "__main__":
    main()
