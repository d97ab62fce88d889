"""A Shopify store and an Adobe Commerce store in one manifest: both backfilled by `aov backfill` from
their fake APIs on loopback, each card and the portfolio equal to sums made here from the orders."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from ..conftest import REPO, Pipeline, write_manifest
from ..fake_adobe_commerce import TOKEN as ADOBE_TOKEN
from ..fake_adobe_commerce import FakeAdobeCommerce, OrderStore
from ..fake_shopify import TOKEN as SHOPIFY_TOKEN
from ..fake_shopify import FakeShopify, shopify_order

FIRST, LAST = date(2026, 3, 5), date(2026, 5, 3)  # the prior and the current 30-day window as of LAST
WHOLESALE_GROUP = 2  # the fake store's "Wholesale" customer group (the sample store's lists)
STORES = """
- {key: mage, name: Mage Tools}
- {key: shop, name: Shop Supply, source: shopify}
"""


def days() -> list[date]:
    return [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def orders_by_day(seed: int) -> list[tuple[date, int, str, bool, bool]]:
    """(day, number, total, b2b, cancelled) for each order: B2B AOV falls in the current window."""
    rng, orders, number = random.Random(seed), [], 0
    for day in days():
        current = day > LAST - timedelta(days=30)
        for _ in range(5):
            number += 1
            b2b = rng.random() < 0.6
            base = (700 if not current else 560) if b2b else 90
            total = f"{Decimal(base + rng.randint(-60, 60)) + Decimal(rng.randint(0, 99)) / 100:.2f}"
            orders.append((day, number, total, b2b, rng.random() < 0.05))
    return orders


def window(orders, first: date, last: date, segment: str) -> tuple[int, Decimal, Decimal]:
    """(orders, revenue, AOV to the cent) of the segment's counted orders created first..last."""
    values = [
        Decimal(total)
        for day, _, total, b2b, cancelled in orders
        if (b2b == (segment == "b2b")) and not cancelled and first <= day <= last
    ]
    return len(values), sum(values), (sum(values) / len(values)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def adobe_order(day: date, number: int, total: str, b2b: bool, cancelled: bool) -> dict:
    at = datetime(day.year, day.month, day.day, 10, number % 60)
    return {
        "entity_id": number,
        "increment_id": f"M{number:06d}",
        "created_at": f"{at:%Y-%m-%d %H:%M:%S}",
        "updated_at": f"{at:%Y-%m-%d %H:%M:%S}",
        "state": "canceled" if cancelled else "complete",
        "status": "canceled" if cancelled else "complete",
        "store_id": 1,
        "customer_id": 100 + number % 17,
        "customer_group_id": WHOLESALE_GROUP if b2b else 1,
        "customer_email": f"c{number % 17}@example.com",
        "base_currency_code": "USD",
        "global_currency_code": "USD",
        "order_currency_code": "USD",
        "base_to_global_rate": 1,
        "base_to_order_rate": 1,
        "base_grand_total": total,
        "grand_total": total,
        "base_subtotal": total,
        "subtotal": total,
        "base_tax_amount": "0.00",
        "items": [
            {
                "item_id": number,
                "sku": f"S{number % 7}",
                "product_type": "simple",
                "qty_ordered": 1,
                "base_row_total": total,
            }
        ],  # fmt: skip
    }


def shop_order(day: date, number: int, total: str, b2b: bool, cancelled: bool):
    company = (10 + number % 9, f"Company {number % 9}") if b2b and number % 3 else None
    tags = ["Wholesale"] if b2b and company is None else []
    return shopify_order(
        number, f"{day}T14:{number % 60:02d}:00Z", total=total, company=company, customer_id=200 + number % 23,
        tags=tags, cancelled=cancelled,
    )  # fmt: skip


def aov(pipeline: Pipeline, env: dict[str, str], *arguments: str) -> dict:
    command = [str(Path(sys.executable).parent / "aov"), *arguments]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout) if "--json" in arguments else {}


@pytest.mark.slow
def test_a_shopify_and_an_adobe_commerce_store_side_by_side_to_the_cent(tmp_path):
    mage_orders, shop_orders = orders_by_day(1), orders_by_day(2)
    store = OrderStore.of(adobe_order(*order) for order in mage_orders)
    with FakeAdobeCommerce(store) as adobe, FakeShopify([shop_order(*order) for order in shop_orders]) as shop:
        manifest = write_manifest(
            tmp_path / "aov.yaml",
            source="adobe_commerce",
            start_date=str(FIRST),
            end_date=str(LAST),
            segments="{b2b_customer_groups: [Wholesale], b2b_customer_tags: [wholesale]}",
            stores=STORES,
        )
        pipeline = Pipeline(tmp_path, manifest)
        env = pipeline.env() | {
            "MAGE_ADOBE_COMMERCE_BASE_URL": adobe.base_url,
            "MAGE_ADOBE_COMMERCE_TOKEN": ADOBE_TOKEN,
            "SHOP_SHOPIFY_BASE_URL": shop.base_url,
            "SHOP_SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN,
        }
        aov(pipeline, env, "backfill", "--from", str(FIRST), "--to", str(LAST))
        assert not shop.log(code="THROTTLED")
        assert len(shop.bulk) == 2  # the 60 days from two bulk operations of a month (daily runs page day by day)

    prior_last = LAST - timedelta(days=30)
    portfolio = {row["store"]: row for row in aov(pipeline, env, "portfolio", "--as-of", str(LAST), "--json")["stores"]}
    for key, orders in (("mage", mage_orders), ("shop", shop_orders)):
        card = aov(pipeline, env, "card", "--store", key, "--as-of", str(LAST), "--json")["segments"]
        for segment in ("b2b", "b2c"):
            count, revenue, current = window(orders, prior_last + timedelta(days=1), LAST, segment)
            prior_count, prior_revenue, prior = window(orders, FIRST, prior_last, segment)
            row = card[segment]
            assert (row["orders"], Decimal(str(row["revenue"])), Decimal(str(row["aov"]))) == (count, revenue, current)
            assert (row["prior_orders"], Decimal(str(row["prior_revenue"])), Decimal(str(row["prior_aov"]))) == (
                prior_count,
                prior_revenue,
                prior,
            ), (key, segment)
        b2b, b2b_prior = (Decimal(str(card["b2b"][name])) for name in ("aov", "prior_aov"))
        assert (portfolio[key]["b2b_aov"], portfolio[key]["prior_b2b_aov"]) == (f"{b2b}", f"{b2b_prior}"), key
        assert portfolio[key]["b2c_aov"] == f"{Decimal(str(card['b2c']['aov'])):.2f}"
        assert portfolio[key]["verdict"] == "alert"  # about -20%: past the 15% threshold
