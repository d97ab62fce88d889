"""A year of orders from the fake Adobe Commerce store with a fixed per-page latency: sequential vs
concurrent page fetching, side by side in one run.

The store runs in its own process (its CPU does not compete with the client's), serving the sample
merchant with `--latency` seconds added to every orders request; an untimed warm-up pass fills its
response cache, so both timed runs measure the client and the latency, not the fake's rendering
of JSON. The latency bound is
pages x latency / concurrency; a pipeline that keeps `concurrency` pages in flight, across day
boundaries too, comes close to it.

    .venv/bin/python bench/adobe_fetch.py [--latency 0.1] [--days 365] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aov_assets.ingest.sources.adobe_commerce import AdobeCommerceClient, Credentials  # noqa: E402
from aov_assets.ingest.sources.sample import LAST_DAY  # noqa: E402
from aov_assets_tests.fake_adobe_commerce import TOKEN  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(base_url: str, days: list[date], concurrency: int) -> tuple[float, int]:
    with AdobeCommerceClient(base_url, Credentials(token=TOKEN), concurrency=concurrency) as client:
        started = time.perf_counter()
        orders = sum(len(payloads) for _, payloads in client.iter_days(days))
        return time.perf_counter() - started, orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per orders request (default 0.1)")
    parser.add_argument("--days", type=int, default=365, help="days ending with the sample's last day")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    days = [LAST_DAY - timedelta(days=i) for i in reversed(range(args.days))]
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aov_assets_tests.fake_adobe_commerce",
            "--port",
            str(port),
            "--latency",
            str(args.latency),
            "--cache",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        server.stdout.readline()  # "fake Adobe Commerce on ..." once it listens
        base_url = f"http://127.0.0.1:{port}"
        httpx.get(
            f"{base_url}/rest/V1/store/storeViews", headers={"Authorization": f"Bearer {TOKEN}"}
        ).raise_for_status()
        fetch(base_url, days, 8)  # warm-up: fills the store's response cache
        sequential, orders = fetch(base_url, days, 1)
        concurrent, same = fetch(base_url, days, args.concurrency)
        assert orders == same, (orders, same)
    finally:
        server.terminate()
        server.wait()
    pages = len(days)  # every sample day fits one page of 300
    bound = pages * args.latency / args.concurrency
    print(f"{args.days} days, {orders:,} orders, {pages} pages of up to 300, {args.latency * 1000:.0f} ms per page")
    print(f"sequential (concurrency 1)       {sequential:7.2f}s   bound {pages * args.latency:6.2f}s")
    print(
        f"concurrent (concurrency {args.concurrency})       {concurrent:7.2f}s   bound {bound:6.2f}s "
        f"({(concurrent / bound - 1) * 100:+.1f}% vs bound)"
    )
    print(f"speed-up                         {sequential / concurrent:7.2f}x")


if __name__ == "__main__":
    main()
