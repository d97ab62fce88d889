"""Agency mode in the Dagster UI: 1 store against N stores in one deployment, in a real browser (issue 26).

Every store is the embedded sample merchant; only store s000 gets data (a 3-day backfill), so its pages
have something to show. For each store count, on a fresh data dir, warehouse and Dagster instance:

1. webserver ready: from starting `dagster-webserver -w workspace.yaml` until it answers HTTP (it answers
   once the code server it starts has loaded every store's definitions);
2. three pages in Debian's `chromium` (headless, driven by Playwright, nothing beyond 127.0.0.1), each
   opened 3 times in a fresh browser context (no cache), timed from `goto` until its content shows; the
   median: s000's `aov_30d` page (its name, the Partitions tab and its latest partition's metadata), the
   lineage of s000's group `s000__aov` (every node drawn, their status answered) and the asset catalog
   `/assets` (s000's assets, which sort first, with their status);
3. the peak resident set (VmHWM) of the webserver and of the code server it started.

Screenshots of each page's last load go to /tmp/agency_ui_{N}_{page}.png.

    .venv/bin/python bench/agency_ui.py [--stores 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agency import manifest  # bench/agency.py: N stores, each the sample merchant
from playwright.sync_api import Browser, Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the browser tests' Chromium settings and helpers, shared

from aov_assets_tests.operations.test_browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    UI_SETTINGS,
    VIEWPORT,
    answers,
    free_port,
    stop_group,
)

BIN = Path(sys.executable).parent
TIMEOUT_MS = 180_000  # 100 stores on two cores
LOCATION = "aov_assets.definitions"
DAYS = ("2026-05-01", "2026-05-03")  # s000's backfill; the last day is aov.yaml's end_date
LOADS = 3
# The assets of one store's group: every node of its lineage (at the zoom that fits, two names are truncated).
GROUP = (
    "raw_orders",
    "classified_orders",
    "account_daily",
    "daily_aov",
    "product_catalog",
    "order_lines",
    "aov_why",
    "currency_aov_30d",
    "b2b_accounts_30d",
    "aov_ttm",
    "b2b_cohorts_30d",
    "basket_pairs",
    "aov_30d",
    "account_whitespace",
)


def backfill_s000(env: dict[str, str]) -> float:
    started = time.perf_counter()
    command = [str(BIN / "aov"), "backfill", "--store", "s000", "--from", DAYS[0], "--to", DAYS[1]]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


@contextmanager
def webserver(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen, str, float]]:
    """`dagster-webserver` on a free port: (its process, its base URL, seconds until it answered)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            env=env,
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the code server it starts goes down with it
        )
    try:
        deadline = time.monotonic() + 600
        while not answers(f"{base}/server_info"):
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"dagster-webserver did not answer: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server, base, time.perf_counter() - started
    finally:
        stop_group(server)


def peaks(group: int) -> tuple[float, float]:
    """Peak MiB (VmHWM) of the process group's leader (the webserver) and of its largest other process
    (the code server)."""
    leader, others = 0.0, [0.0]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            stat = (status.parent / "stat").read_text()
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except OSError:  # the process is gone
            continue
        if int(stat.rsplit(")", 1)[1].split()[2]) != group or "VmHWM" not in fields:
            continue
        mib = int(fields["VmHWM"].split()[0]) / 1024
        if int(status.parent.name) == group:
            leader = mib
        else:
            others.append(mib)
    return leader, max(others)


def asset_page(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.get_by_role("listitem").filter(has_text="aov_30d")).to_be_visible()  # the key's last breadcrumb
    expect(page.get_by_role("tab", name="Partitions")).to_be_visible()
    expect(page.get_by_role("link", name=DAYS[1], exact=True)).to_be_visible()  # the latest materialization
    expect(page.get_by_role("cell", name="b2b_aov", exact=True).first).to_be_visible()  # and its metadata


def group_lineage(page: Page, path: str) -> None:
    # s000's nodes are grey whether or not their status has loaded (730 of 733 partitions missing): the
    # graph is shown once every node is drawn and the UI's query for their status has answered.
    with page.expect_response(lambda response: "op=AssetGraphLiveQuery" in response.url):
        page.goto(path)
    for asset in GROUP:
        expect(page.get_by_text(asset, exact=True)).to_be_visible()


def asset_catalog(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.get_by_role("link", name="s000 / aov_30d")).to_be_visible()  # s000's assets sort first
    expect(page.get_by_text("733 partitions").first).to_be_visible()  # the status column has loaded


PAGES: dict[str, tuple[str, Callable[[Page, str], None]]] = {
    "asset": ("/assets/s000/aov_30d", asset_page),
    "lineage": (f"/locations/{LOCATION}/asset-groups/s000__aov/lineage", group_lineage),
    "catalog": ("/assets", asset_catalog),
}


def median_load(browser: Browser, base: str, path: str, shows: Callable[[Page, str], None], screenshot: Path) -> float:
    """Median seconds of `shows` (from `goto` until the page's content shows), each load in a fresh context;
    the last load's screenshot."""
    seconds = []
    for _ in range(LOADS):
        context = browser.new_context(viewport=VIEWPORT, base_url=base)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(UI_SETTINGS)
        context.route(lambda url: not url.startswith(f"{base}/"), lambda route: route.abort())
        page = context.new_page()
        started = time.perf_counter()
        shows(page, path)
        seconds.append(time.perf_counter() - started)
        page.screenshot(path=screenshot, full_page=True, animations="disabled")
        context.close()
    return statistics.median(seconds)


def measure(browser: Browser, root: Path, stores: int) -> list[float]:
    """[webserver ready, asset page, group lineage, asset catalog seconds; webserver and code server MiB]."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AOV_", "DAGSTER_"))}
    env |= {
        "AOV_MANIFEST": str(manifest(root / "aov.yaml", stores)),
        "AOV_DATA_DIR": str(root / "data"),
        "AOV_WAREHOUSE_URL": f"sqlite:///{root / 'warehouse.db'}",
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    print(f"{stores} store(s): backfill of s000 {DAYS[0]}..{DAYS[1]}", file=sys.stderr, flush=True)
    print(f"  {backfill_s000(env):.1f} s", file=sys.stderr, flush=True)
    with webserver(env, root / "webserver.log") as (server, base, ready):
        print(f"  webserver ready in {ready:.1f} s", file=sys.stderr, flush=True)
        row = [ready]
        for name, (path, shows) in PAGES.items():
            screenshot = Path(tempfile.gettempdir()) / f"agency_ui_{stores}_{name}.png"
            row.append(median_load(browser, base, path, shows, screenshot))
            print(f"  {name} {row[-1]:.1f} s ({screenshot})", file=sys.stderr, flush=True)
        row.extend(peaks(server.pid))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100)
    args = parser.parse_args()
    expect.set_options(timeout=TIMEOUT_MS)
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for stores in sorted({1, args.stores}):
                with tempfile.TemporaryDirectory() as tmp:
                    rows.append((stores, measure(browser, Path(tmp), stores)))
        finally:
            browser.close()
    header = ("stores", "webserver ready s", "asset page s", "group lineage s", "asset catalog s")
    header += ("webserver MiB", "code server MiB")
    print("  ".join(header))
    for stores, row in rows:
        cells = [f"{stores:>{len(header[0])}}"]
        cells += [f"{value:>{len(title)}.1f}" for title, value in zip(header[1:5], row[:4])]
        cells += [f"{value:>{len(title)}.0f}" for title, value in zip(header[5:], row[4:])]
        print("  ".join(cells))


if __name__ == "__main__":
    main()
