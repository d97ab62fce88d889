"""basket.pair_rows against an earlier commit's, on one synthetic 90-day window, side by side.

Each implementation runs in its own process on the same items (distinct order x SKU rows), so the
peak RSS it reports is its own. The earlier one is read from git (`git show COMMIT:aov_assets/basket.py`),
so what is measured is the code that shipped, not a copy.

    .venv/bin/python bench/pairs.py f8ac671 [--orders 1000000] [--skus 300]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def items_frame(orders: int, skus: int) -> pd.DataFrame:
    """1-9 distinct SKUs per order (about 5, as the sample's B2B orders), popular SKUs more often."""
    random = np.random.default_rng(2026)
    sizes = random.integers(1, 10, size=orders)
    weights = 1 / np.arange(1, skus + 1)
    picks = random.choice(skus, size=int(sizes.sum()), p=weights / weights.sum())
    frame = pd.DataFrame({"entity_id": np.repeat(np.arange(orders), sizes), "item": picks})
    frame = frame.drop_duplicates(ignore_index=True)
    return frame.assign(item=frame["item"].map(lambda n: f"SKU-{n:04d}"))


def measure(module_path: str, items_path: str, orders: int) -> dict:
    """In this process: load the items, time pair_rows once, report the process's peak RSS."""
    import aov_assets  # noqa: F401 - the package whose `.rules` the module imports

    spec = importlib.util.spec_from_file_location("aov_assets.basket_under_test", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # msgspec resolves the module's annotations through it
    spec.loader.exec_module(module)
    items = pd.read_parquet(items_path)
    started = time.perf_counter()
    pairs = module.pair_rows(items, orders, Fraction(1, 100))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "pairs": len(pairs), "orders_sum": int(pairs["orders"].sum())}


def run(label: str, module_path: Path, items_path: Path, orders: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", str(module_path), str(items_path), str(orders)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ).stdout
    result = json.loads(output.splitlines()[-1])
    print(f"{label:>12}: {result['seconds']:6.2f} s, peak RSS {result['peak_mb']:6.0f} MB, {result['pairs']} pairs")
    return result


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the earlier commit whose aov_assets/basket.py to compare with")
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the window (70x: about 1M)")
    parser.add_argument("--skus", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        earlier = Path(folder, "basket_earlier.py")
        shipped = ["git", "show", f"{args.commit}:aov_assets/basket.py"]
        earlier.write_text(subprocess.check_output(shipped, cwd=REPO, text=True))
        items_path = Path(folder, "items.parquet")
        items = items_frame(args.orders, args.skus)
        items.to_parquet(items_path)
        print(f"{args.orders:,} orders, {len(items):,} distinct order x SKU rows, {args.skus} SKUs")
        before = run(args.commit, earlier, items_path, args.orders)
        after = run("working tree", REPO / "aov_assets" / "basket.py", items_path, args.orders)
    assert (before["pairs"], before["orders_sum"]) == (after["pairs"], after["orders_sum"]), "different pairs"
    print(
        f"working tree / {args.commit}: time {after['seconds'] / before['seconds']:.2f}x, "
        f"peak RSS {after['peak_mb'] / before['peak_mb']:.2f}x (same pairs and counts)"
    )


if __name__ == "__main__":
    main()
