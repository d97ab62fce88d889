"""What the card's charts cost, and the library choice behind them, measured side by side.

Each round starts fresh Pythons (imports are part of the cost a run pays): one imports matplotlib and
draws the newest card's three charts from a demo's warehouse; if `vl-convert-python` is installed (it is
not a dependency: `pip install vl-convert-python` to compare), another draws the trend's B2B line as
Vega-Lite. Prints medians: import, each chart, PNG bytes.

    .venv/bin/aov demo && .venv/bin/python bench/charts.py [--data data] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

MATPLOTLIB = """
import json, sys, time
from datetime import date
from aov_assets.metrics.assets import alert_rule
from aov_assets.manifest import load_manifest
from aov_assets.metrics.card import Card, TtmCard, trend_of
from aov_assets.warehouse import Warehouse
db = Warehouse(sys.argv[1]); as_of = date.fromisoformat(sys.argv[2])
card = Card.stored(db, as_of, alert_rule(load_manifest())); trend = trend_of(db, as_of)
seconds, sizes = {}, {}
started = time.perf_counter()
from aov_assets.metrics import charts
seconds["import"] = time.perf_counter() - started
for name, draw in (
    ("trend", lambda: charts.trend_chart(trend, card.rule)),
    ("causes", lambda: charts.causes_chart(card.findings, as_of)),
    ("ttm", lambda: charts.ttm_chart_of(db, TtmCard.before(db, as_of).month)),
):
    started = time.perf_counter()
    image = charts.png(draw())
    seconds[name], sizes[name] = time.perf_counter() - started, len(image)
print(json.dumps({"seconds": seconds, "bytes": sizes}))
"""

VEGA_LITE = """
import json, sys, time
from datetime import date
from aov_assets.metrics.card import trend_of
from aov_assets.warehouse import Warehouse
trend = trend_of(Warehouse(sys.argv[1]), date.fromisoformat(sys.argv[2]))
values = [{"as_of": d.isoformat(), "b2b_aov": float(v)} for d, v in trend["b2b_aov"].items() if v is not None]
spec = {"width": 900, "height": 300, "data": {"values": values}, "mark": "line",
        "encoding": {"x": {"field": "as_of", "type": "temporal"}, "y": {"field": "b2b_aov", "type": "quantitative"}}}
started = time.perf_counter()
import vl_convert
seconds = {"import": time.perf_counter() - started}
started = time.perf_counter()
image = vl_convert.vegalite_to_png(spec)
seconds["trend"] = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "bytes": {"trend": len(image)}}))
"""


def run(script: str, url: str, as_of: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, url, as_of], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="a demo's data directory")
    parser.add_argument("--as-of", default="2026-05-03")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = f"sqlite:///{(args.data / 'warehouse.db').resolve()}"
    try:
        import vl_convert  # noqa: F401

        libraries = {"matplotlib (Agg)": MATPLOTLIB, "vl-convert (Vega-Lite)": VEGA_LITE}
    except ImportError:
        libraries = {"matplotlib (Agg)": MATPLOTLIB}
    results: dict[str, list[dict]] = {name: [] for name in libraries}
    for _ in range(args.rounds):
        for name, script in libraries.items():  # alternated: drift hits both alike
            results[name].append(run(script, url, args.as_of))
    for name, rounds in results.items():
        timings = {key: statistics.median(r["seconds"][key] for r in rounds) for key in rounds[0]["seconds"]}
        sizes = ", ".join(f"{chart} {size / 1024:.0f} KiB" for chart, size in rounds[0]["bytes"].items())
        print(f"{name}: " + ", ".join(f"{key} {value:.3f} s" for key, value in timings.items()) + f"; PNG: {sizes}")


if __name__ == "__main__":
    main()
