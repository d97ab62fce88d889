"""The Dagster UI on the demo's instance, in a real browser: Debian's `chromium`, driven by Playwright.

One `aov demo` and one `dagster-webserver` serve every test in this file. Each test asserts on what a
person sees (the asset graph, the `aov_30d` card, the check's verdict, the cause) and saves a
screenshot: to `$AOV_SCREENSHOT_DIR` when set (`AOV_SCREENSHOT_DIR=docs/screenshots` refreshes the
README's pictures), else to the test's tmp dir. Playwright never downloads a browser here: it
launches `/usr/bin/chromium` (`.ci/run` installs Debian's package), and without it the tests skip.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..conftest import EXAMPLE_DAY, REPO, demo_env

try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError:  # the test extras are not installed
    sync_playwright = None

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (CI runs as root); no background networking, updates or sync: nothing leaves 127.0.0.1.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
TIMEOUT_MS = 60_000  # the UI is slow on two cores
LOCATION, GROUP = "aov_assets.definitions", "aov"  # workspace.yaml's code location, the assets' group
DAY = EXAMPLE_DAY.isoformat()  # aov.yaml's end_date: the latest aov_30d partition, the card the UI shows
# Before any page script runs: the "Join the Dagster community" dialog counts as seen (Dagster shows it once
# per browser on 127.0.0.1, over everything), and the lineage is laid out top-down, which fits the whole
# graph on one screen (the UI's own setting: the gear under the zoom slider, "vertical orientation").
UI_SETTINGS = """
window.localStorage.setItem("communityNux", '"1"');
window.localStorage.setItem("asset-graph-direction", '"vertical"');
"""

if sync_playwright is None:
    SKIP = "playwright is not installed (pip install -e '.[test]'): browser tests skipped"
elif not CHROMIUM.exists():
    SKIP = f"no browser at {CHROMIUM} (on Debian: apt-get install chromium; .ci/run does): browser tests skipped"
else:
    SKIP = None
pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """`aov demo` on a fresh data dir; its root and the environment that points at it."""
    root = tmp_path_factory.mktemp("browser")
    # what `make demo` runs: demo.yaml's three stores; no SLACK_WEBHOOK_URL: the alerts go to the outbox
    env = demo_env(root) | {"AOV_MANIFEST": str(REPO / "demo.yaml")}
    run = subprocess.run([str(BIN / "aov"), "demo"], env=env, cwd=root, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return root, env


@pytest.fixture(scope="module")
def ui(demo: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """The Dagster UI on the demo's instance; yields the UI's base URL."""
    root, env = demo
    port = free_port()
    log = root / "webserver.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            env={**env, "DAGSTER_HOME": str(root / "data" / "dagster_home")},
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the code server it starts goes down with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not answers(f"{base}/server_info"):
            assert server.poll() is None, f"dagster-webserver exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"dagster-webserver did not answer: {log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield base
    finally:
        stop_group(server)


def stop_group(server: subprocess.Popen) -> None:
    """Stop a server started in its own process group (with the code server it started): TERM, then KILL."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(ui: str, browser: Browser) -> Iterator[Page]:
    """A fresh browser context on the UI; any request that is not for the UI is refused."""
    context = browser.new_context(viewport=VIEWPORT, base_url=ui)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(UI_SETTINGS)
    context.route(lambda url: not url.startswith(f"{ui}/"), lambda route: route.abort())
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    folder = Path(os.environ.get("AOV_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")  # dialogs fully faded in
        return path

    return take


def expect_drawn(image: Locator, width: int = 900) -> None:
    """The chart is on screen and its PNG decoded at the size it was drawn (a broken image is 0 wide)."""
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == width


def metadata_row(page: Page, key: str) -> Locator:
    """The row of a metadata table (the asset's Overview, a check evaluation) whose key is `key`."""
    return page.locator("tr").filter(has=page.get_by_role("cell", name=key, exact=True))  # not a table's header


def show_markdown(page: Page, key: str) -> Locator:
    """Opens a Markdown metadata value (shown in the table as "[Show Markdown]"); returns its dialog."""
    metadata_row(page, key).get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_asset_graph_shows_the_whole_pipeline(page: Page, screenshot) -> None:
    page.goto(f"/locations/{LOCATION}/asset-groups/{GROUP}/lineage")
    # At the zoom that fits the graph, the two longest names are middle-truncated on their nodes.
    for asset in (
        "raw_orders",
        "classified_orders",
        "daily_aov",
        "account_daily",
        "order_lines",
        "product_catalog",
        "aov_why",
        "b2b_accounts_30d",
        "b2b_cohorts_30d",
        "currency_aov_30d",
        "aov_30d",
        "aov_ttm",
        "basket_pairs",
        "account_whitespace",
    ):
        name = page.get_by_text(asset, exact=True)
        expect(name).to_be_visible()
        # a node takes its colour once the asset's status has loaded (the name's parent is the node's box)
        expect(name.locator("..")).to_have_attribute("style", re.compile("accent-(green|red)"))
    # aov_30d is red (its contraction check failed), everything upstream green (materialized)
    expect(page.get_by_text("aov_30d", exact=True).locator("..")).to_have_attribute("style", re.compile("accent-red"))
    expect(page.get_by_text("daily_aov", exact=True).locator("..")).to_have_attribute(
        "style", re.compile("accent-green")
    )
    screenshot(page, "asset-graph")


def test_aov_30d_overview_shows_the_card_with_its_numbers(page: Page, screenshot) -> None:
    page.goto("/assets/aov_30d")
    expect(page.get_by_text(DAY, exact=True).first).to_be_visible()  # the latest materialization's partition
    expect(metadata_row(page, "b2b_aov")).to_contain_text("642.82")
    expect(metadata_row(page, "verdict")).to_contain_text("alert")
    card = show_markdown(page, "card")
    heading = card.get_by_text(f"B2B AOV vs B2C AOV as of {DAY}")
    expect(heading).to_be_visible()
    b2b = card.locator("tr").filter(has=page.get_by_role("cell", name="b2b", exact=True))
    for number in ("1,420", "642.82", "770.00", "-16.5%"):
        expect(b2b).to_contain_text(number)
    expect(card.get_by_text("ALERT: B2B AOV 642.82 vs 770.00 in the prior 30 days (-16.5%)")).to_be_visible()
    expect(card).to_contain_text("active accounts 172 (prior 180, -4.4%)")  # counts print as counts
    expect(card).to_contain_text("vs typical 0-3 (median 2 of 11)")
    heading.scroll_into_view_if_needed()  # the card is taller than the screen: show its top
    screenshot(page, "aov_30d-card")


def test_aov_30d_overview_has_the_dated_trend(page: Page, screenshot) -> None:
    """Partition plots count back from today (empty for the sample, whose days end in May 2026): the
    latest partition carries the last 90 as-of days as a dated table instead."""
    page.goto("/assets/aov_30d")
    trend = metadata_row(page, "trend").first
    newest = trend.locator("tr").filter(has=page.get_by_text(DAY, exact=True))
    for value in ("642.82", "770", "-16.52", "68.29", "alert"):
        expect(newest).to_contain_text(value)
    expect(trend).to_contain_text("2026-02-03")  # 90 days back
    page.mouse.wheel(0, 1200)  # the top of the table: the newest days
    newest.scroll_into_view_if_needed()
    screenshot(page, "aov_30d-trend")


@pytest.mark.parametrize(
    ("asset", "key", "alt", "text"),
    [
        ("aov_30d", "trend_chart", "B2B AOV trend", None),
        ("aov_30d", "causes_chart", "Why B2B AOV moved", None),
        ("aov_why", "causes_chart", "Why B2B AOV moved", None),
        ("aov_ttm", "ttm_chart", "Trailing-twelve-month AOV", "Trailing twelve months to 2026-04"),
    ],
)
def test_the_charts_are_next_to_the_tables(page: Page, screenshot, asset: str, key: str, alt: str, text) -> None:
    page.goto(f"/assets/{asset}")
    expect(page.get_by_text(text or DAY, exact=False).first).to_be_visible()  # the latest partition's metadata
    chart = show_markdown(page, key)
    expect_drawn(chart.get_by_role("img", name=alt))
    screenshot(page, f"{asset}-{key.replace('_', '-')}")


def test_the_card_as_one_page_opens_offline_with_every_chart(demo, browser: Browser, screenshot) -> None:
    root, env = demo
    page_file = root / "card.html"
    written = subprocess.run(
        [str(BIN / "aov"), "card", "--store", "default", "--as-of", DAY, "--html", str(page_file)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    context = browser.new_context(viewport={"width": 1000, "height": 1000}, offline=True)
    refused = []

    def only_the_page(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_page)
    page = context.new_page()
    page.goto(page_file.as_uri())
    for alt in ("B2B AOV trend", "Why B2B AOV moved", "Trailing-twelve-month AOV"):
        expect_drawn(page.get_by_role("img", name=alt))
    expect(page.get_by_text("ALERT: B2B AOV 642.82 vs 770.00 in the prior 30 days (-16.5%)")).to_be_visible()
    assert refused == []  # the page asked for nothing beyond itself
    screenshot(page, "card-html")
    context.close()


def test_the_checks_verdict_is_failed_with_error_severity(page: Page, screenshot) -> None:
    page.goto("/assets/aov_30d?view=checks&checkDetail=b2b_aov_contraction")
    # the asset's list of checks: each name (its title attribute) with its latest status below it
    expect(page.get_by_title("b2b_aov_contraction").first.locator("..")).to_contain_text("Failed")
    expect(page.get_by_title("multiplier_in_band").first.locator("..")).to_contain_text("Succeeded")
    result = page.get_by_text("Evaluation result", exact=True).locator("..")
    expect(result).to_contain_text("Failed")
    # The UI names no severity: ERROR draws the red "cancel" icon, WARN a "warning_outline" one.
    expect(result.get_by_role("img", name="cancel")).to_be_visible()
    expect(result.get_by_role("img", name="warning_outline")).to_have_count(0)
    expect(page.get_by_text("ALERT: B2B AOV 642.82 vs 770.00 in the prior 30 days (-16.5%)")).to_be_visible()
    expect(metadata_row(page, "verdict")).to_contain_text("alert")
    expect(metadata_row(page, "as_of")).to_contain_text(DAY)
    screenshot(page, "check-verdict")


def test_the_cause_is_on_the_check(page: Page, screenshot) -> None:
    page.goto("/assets/aov_30d?view=checks&checkDetail=b2b_aov_contraction")
    expect(page.get_by_text("Likely cause: basket_shrink (-71.71, 56.4% of the move)")).to_be_visible()
    expect(metadata_row(page, "top_cause")).to_contain_text("basket_shrink")
    why = show_markdown(page, "why")
    expect(why.get_by_text("basket_shrink -71.71 (56.4% of the move)")).to_be_visible()
    expect(why.get_by_text("account_mix -63.67 (50.1% of the move)")).to_be_visible()
    screenshot(page, "check-cause")


def test_the_checks_partitions_show_which_days_alert(page: Page, screenshot) -> None:
    page.goto("/assets/aov_30d?view=checks&checkDetail=b2b_aov_contraction")
    tabs = page.get_by_text("Partitions", exact=True)
    expect(tabs).to_have_count(2)  # the asset's tab, then (once the check's detail loaded) the check's own
    tabs.nth(1).click()
    # one verdict per as-of day of the demo's range run: three alerting days, nothing missing or skipped
    for status in ("Failed (3)", "Passed (730)", "Missing (0)", "Skipped (0)"):
        expect(page.get_by_text(status, exact=True)).to_be_visible()
    screenshot(page, "check-partitions")


def test_aov_ttm_has_a_card_against_a_year_earlier(page: Page, screenshot) -> None:
    page.goto("/assets/aov_ttm")
    title = page.get_by_text("Trailing twelve months to 2026-04 (2025-05..2026-04)")
    expect(title).to_be_visible()
    title.scroll_into_view_if_needed()
    b2b = page.locator("tr").filter(has=page.get_by_role("cell", name="b2b", exact=True)).last
    for value in ("757.25", "766.12", "-1.2%", "16,396"):
        expect(b2b).to_contain_text(value)
    expect(metadata_row(page, "b2b_aov_yoy_pct")).to_contain_text("-1.16")
    expect(metadata_row(page, "partial")).to_contain_text("false")
    screenshot(page, "aov_ttm-card")


def test_the_alert_delivery_is_on_the_assets_events(page: Page, screenshot) -> None:
    page.goto("/assets/aov_30d?view=events")
    expect(page.get_by_text("alert outbox: ALERT: B2B AOV 642.82 vs 770.00", exact=False).first).to_be_visible()
    ledger = metadata_row(page, "alert_deliveries").first
    expect(ledger).to_contain_text("aov_30d:b2b_aov_contraction")
    expect(ledger.locator("tr").filter(has=page.get_by_text(DAY, exact=True))).to_contain_text("outbox")
    screenshot(page, "alert-delivery")


def test_the_portfolio_ranks_the_stores_alerting_first(page: Page, screenshot) -> None:
    page.goto("/assets/aov_portfolio")
    expect(page.get_by_text(DAY, exact=True).first).to_be_visible()
    expect(metadata_row(page, "alerting")).to_contain_text("2")
    rows = metadata_row(page, "portfolio").locator("tbody tr")  # short enough to show in place
    expect(rows).to_have_count(3)
    for number, (store, verdict) in enumerate([("lost", "alert"), ("default", "alert"), ("steady", "ok")]):
        expect(rows.nth(number)).to_contain_text(f"({store})")
        expect(rows.nth(number)).to_contain_text(verdict)
    expect(rows.nth(0)).to_contain_text("accounts_gone_quiet")
    screenshot(page, "portfolio")
    expect_drawn(show_markdown(page, "portfolio_chart").get_by_role("img", name="Portfolio"))
    screenshot(page, "portfolio-chart")


def test_one_stores_lineage_is_its_own_group(page: Page, screenshot) -> None:
    page.goto(f"/locations/{LOCATION}/asset-groups/lost__aov/lineage")
    for asset in ("raw_orders", "classified_orders", "daily_aov", "aov_why", "aov_30d", "aov_ttm"):
        expect(page.get_by_text(asset, exact=True)).to_be_visible()
    # the store whose largest accounts went quiet alerts; its upstream is materialized
    expect(page.get_by_text("aov_30d", exact=True).locator("..")).to_have_attribute("style", re.compile("accent-red"))
    expect(page.get_by_text("daily_aov", exact=True).locator("..")).to_have_attribute(
        "style", re.compile("accent-green")
    )
    screenshot(page, "store-lineage")
