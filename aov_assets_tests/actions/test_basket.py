"""Order lines, the catalog and the categories that left the baskets, by hand.

The merchant (first partition 2026-01-01; as of 2026-03-01 the current window is 01-31..03-01 and
the prior one 01-01..01-30), B2B unless marked:

    prior    #1 01-10 company 10: mop bucket (Equipment) 200.00 + paper towels (Paper) 100.00
             #2 01-20 company 11: nitrile gloves (Gloves & PPE), configurable, size M, 50.00
    current  #3 02-10 company 10: paper towels 100.00
             #4 02-15 company 11: a fixed-price bundle KIT-1 (not in the catalog) 80.00
             #5 02-20 company 10: canceled, a mop bucket 999.00 (no lines)
             #6 02-21 B2C: paper towels 20.00 (not in the B2B mix)

B2B value per order by category, now (2 orders) vs prior (2 orders): Equipment 0.00 vs 100.00,
Paper 50.00 vs 50.00, Gloves & PPE 0.00 vs 25.00, uncategorized 40.00 vs 0.00.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import dagster as dg
import msgspec
import numpy as np
import pandas as pd
import pytest

from aov_assets.actions import assets as actions_assets
from aov_assets.actions import baskets as actions_baskets
from aov_assets.actions.baskets import pair_rows, whitespace_rows
from aov_assets.actions.lines import _ORDER, LINE_COLUMNS, UNCATEGORIZED, _allocate, line_rows, order_line_rows
from aov_assets.around.neighbours import Neighbours
from aov_assets.cli import main
from aov_assets.core import windows as core_windows
from aov_assets.core.windows import month_end
from aov_assets.ingest.parse import parse_order
from aov_assets.ingest.sources.adobe_commerce import AdobeCommerceClient, Credentials
from aov_assets.ingest.sources.sample import sample_merchant

from ..conftest import (
    Pipeline,
    basket_pairs,
    category_mix,
    classified_orders,
    daily_aov,
    order_lines,
    product_catalog,
    read_table,
    segment_metrics,
    write_manifest,
)
from ..fake_adobe_commerce import TOKEN, FakeAdobeCommerce

FIRST, AS_OF = date(2026, 1, 1), date(2026, 3, 1)


def item(item_id: int, sku: str, total: str, product_type: str = "simple", parent: int | None = None, **more) -> dict:
    return {
        "item_id": item_id,
        "parent_item_id": parent,
        "sku": sku,
        "name": sku.lower(),
        "product_id": item_id + 100,
        "product_type": product_type,
        "qty_ordered": 1,
        "base_row_total": total,
        **more,
    }


def order(entity_id: int, day: str, items: list[dict], b2b: bool = True, **fields) -> bytes:
    body = {
        "entity_id": entity_id,
        "created_at": f"2026-{day} 10:00:00",
        "state": "complete",
        "customer_group_id": 2 if b2b else 1,
        "customer_id": 500 + entity_id,
        "base_to_global_rate": 1,
        "base_grand_total": "0",
        "grand_total": "0",
        "base_subtotal": "0",
        "items": items,
    } | fields
    if b2b:
        company = 10 if entity_id % 2 else 11
        body["extension_attributes"] = {"company_order_attributes": {"company_id": company, "company_name": "Acme"}}
    total = sum(Decimal(str(i.get("base_row_total") or 0)) for i in items)
    body["base_grand_total"] = body["grand_total"] = body["base_subtotal"] = str(total)
    return json.dumps(body).encode()


def test_configurables_bundles_and_discounts_make_lines_that_add_up_to_the_order_to_the_cent():
    tricky = order(
        1,
        "02-10",
        [
            item(1, "GLOVES", "30.00", "configurable"),
            item(2, "GLOVES-M", "0", parent=1),  # the configurable's child: its SKU is the variant
            item(3, "KIT-DYN", "0", "bundle"),  # dynamic price: the children carry it
            item(4, "SOAP", "10.00", parent=3),
            item(5, "SPONGE", "5.50", parent=3),
            item(6, "KIT-FIX", "40.00", "bundle"),  # fixed price: the parent carries it
            item(7, "CLOTH", "0", parent=6),
            item(8, "MOP", "12.34", base_discount_amount="2.00"),
        ],
        base_to_global_rate="0.7350",
    )
    lines = [dict(zip(LINE_COLUMNS, row)) for row in order_line_rows(_ORDER.decode(tricky), date(2026, 2, 10))]
    assert [(line["sku"], line["variant_sku"]) for line in lines] == [
        ("GLOVES", "GLOVES-M"),
        ("SOAP", None),
        ("SPONGE", None),
        ("KIT-FIX", None),
        ("MOP", None),
    ]
    # 30 x .735 = 22.05, 10 x .735 = 7.35, 5.5 x .735 = 4.0425, 40 x .735 = 29.40, (12.34 - 2) x .735 = 7.5999:
    # floors 22.05 + 7.35 + 4.04 + 29.40 + 7.59 = 70.43; the order rounds once to 70.44: the largest remainder
    assert [line["line_cents"] for line in lines] == [2205, 735, 404, 2940, 760]
    value = parse_order(tricky, date(2026, 2, 10), "subtotal")["order_value"]  # (97.84 x .735) rounded
    assert sum(line["line_cents"] for line in lines) == 7044 == int((value - Decimal("2.00") * Decimal("0.735")) * 100)


def test_lines_in_whole_cents_are_their_own_cents_and_a_sub_cent_line_rounds_the_order_once():
    whole = [Decimal("19.99"), Decimal("-2.50"), Decimal("1E+2"), Decimal("0.1")]
    assert _allocate(whole) == [1999, -250, 10000, 10]
    # 0.335 + 0.335 + 0.33 = 1.00: floors 33 + 33 + 33, the one cent left goes to the first largest remainder
    assert _allocate([Decimal("0.335"), Decimal("0.335"), Decimal("0.33")]) == [34, 33, 33]


def test_a_rejected_copy_or_an_uncounted_order_has_no_lines_and_unreadable_items_are_never_fatal():
    good = order(1, "02-10", [item(1, "A", "5.00")])
    copy = order(1, "02-10", [item(1, "A", "9.00")])  # a duplicate copy classification rejected
    broken = [
        order(2, "02-10", [item(1, "B", "NaN")]),
        order(3, "02-10", [item(1, "S" * 65, "1.00")]),  # longer than order_lines.sku
        order(4, "02-10", [item(1, "C", "1.00", name="a\u0000b")]),  # PostgreSQL refuses NUL
        order(5, "02-10", [item(1, "D", "1e20")]),  # beyond NUMERIC(20,4)
        order(6, "02-10", [item(1, "E", "1.00", product_id=2**63)]),  # beyond BIGINT
    ]
    day = [(date(2026, 2, 10), [copy, good, *broken])]
    lines, unreadable = line_rows(day, {1, 2, 3, 4, 5, 6}, {(date(2026, 2, 10), 0)})
    assert lines["line_cents"].tolist() == [500] and unreadable == [2, 3, 4, 5, 6]
    assert line_rows([(date(2026, 2, 10), [good])], set(), set())[0].empty  # not counted (canceled)


MERCHANT = [
    order(1, "01-10", [item(1, "JS-BKT-35", "200.00"), item(2, "JS-PT-12", "100.00")]),
    order(2, "01-20", [item(1, "JS-GLV-NIT", "50.00", "configurable"), item(2, "JS-GLV-NIT-M", "0", parent=1)]),
    order(3, "02-10", [item(1, "JS-PT-12", "100.00")]),
    order(4, "02-15", [item(1, "KIT-1", "80.00", "bundle"), item(2, "X", "0", parent=1), item(3, "Y", "0", parent=1)]),
    order(5, "02-20", [item(1, "JS-BKT-35", "999.00")], state="canceled"),
    order(6, "02-21", [item(1, "JS-PT-12", "20.00")], b2b=False),
]


@pytest.fixture
def merchant(tmp_path, warehouse_url) -> Pipeline:
    pipeline = Pipeline(tmp_path, write_manifest(tmp_path / "aov.yaml", start_date="'2026-01-01'"))
    pipeline.url = None if warehouse_url.startswith("sqlite") else warehouse_url
    lake = pipeline.resources["lake"].raw_orders("default")
    for i in range((AS_OF - FIRST).days + 1):
        day = FIRST + timedelta(days=i)
        lake.write_day(day, [p for p in MERCHANT if json.loads(p)["created_at"][:10] == str(day)], source="test")
    return pipeline


def test_order_lines_the_catalog_and_the_category_mix_match_the_hand_count(merchant):
    assert dg.materialize([product_catalog], resources=merchant.resources).success
    chain = [classified_orders, daily_aov, segment_metrics, order_lines, category_mix]
    assert merchant.materialize(chain, str(FIRST), str(AS_OF)).success
    lines = read_table(merchant, "order_lines")
    lines = lines.astype(object).where(lines.notna(), None)
    assert lines[["entity_id", "sku", "variant_sku", "segment", "account"]].values.tolist() == [
        [1, "JS-BKT-35", None, "b2b", "company:10"],
        [1, "JS-PT-12", None, "b2b", "company:10"],
        [2, "JS-GLV-NIT", "JS-GLV-NIT-M", "b2b", "company:11"],
        [3, "JS-PT-12", None, "b2b", "company:10"],
        [4, "KIT-1", None, "b2b", "company:11"],
        [6, "JS-PT-12", None, "b2c", "customer:506"],
    ]  # the canceled order #5 has no lines
    assert lines["line_value"].tolist() == [
        Decimal(v) for v in ("200.00", "100.00", "50.00", "100.00", "80.00", "20.00")
    ]

    mix = read_table(merchant, "b2b_category_mix_30d")
    day = mix[mix["as_of"] == AS_OF].set_index("category")
    expected = {  # per order now, prior, change
        "Janitorial/Equipment": ("0.00", "100.00", "-100.00"),
        "Janitorial/Paper": ("50.00", "50.00", "0.00"),
        "Janitorial/Gloves & PPE": ("0.00", "25.00", "-25.00"),
        UNCATEGORIZED: ("40.00", "0.00", "40.00"),
    }
    for category, values in expected.items():
        row = day.loc[category]
        assert (row["per_order"], row["prior_per_order"], row["per_order_change"]) == tuple(map(Decimal, values))
    neighbours = Neighbours.by_day(*merchant.warehouse().read_neighbours(AS_OF, AS_OF))[AS_OF]
    assert [row["category"] for row in neighbours.fallen_categories()] == [
        "Janitorial/Equipment",
        "Janitorial/Gloves & PPE",
    ]

    before = {name: read_table(merchant, name) for name in ("order_lines", "b2b_category_mix_30d")}
    assert merchant.materialize([order_lines, category_mix], "2026-02-01", str(AS_OF)).success  # replaces
    for name, frame in before.items():
        pd.testing.assert_frame_equal(read_table(merchant, name), frame)


def test_cross_sell_lists_the_accounts_that_bought_x_but_never_y(merchant, monkeypatch, capsys):
    if merchant.url:
        pytest.skip("the CLI's query is the same SQLAlchemy code: SQLite covers it")
    assert dg.materialize([product_catalog], resources=merchant.resources).success
    assert merchant.materialize([classified_orders, order_lines], str(FIRST), str(AS_OF)).success
    monkeypatch.setenv("AOV_WAREHOUSE_URL", merchant.warehouse_url)
    since = ["--since", "2026-01-01"]
    assert main(["cross-sell", "--bought", "Paper", "--not", "Janitorial/Gloves & PPE", *since, "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "account,name,revenue,orders,last_order",
        "company:10,Acme,400.00,2,2026-02-10",  # #1 and #3; the canceled #5 is not counted
    ]
    assert main(["cross-sell", "--bought", "JS-PT-12", "--not", "JS-GLV-NIT-M", "--segment", "all", *since]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 all account(s) bought SKU JS-PT-12 but not SKU JS-GLV-NIT-M from 2026-01-01 to 2026-02-21")
    assert "customer:506" in out and "company:11" not in out
    assert main(["cross-sell", "--bought", "Paper", "--not", "Nails"]) == 2
    assert "'Nails' is neither a SKU in order_lines nor a category in product_catalog" in capsys.readouterr().err


def test_cross_sell_sums_only_the_chosen_segments_orders(merchant, monkeypatch, capsys):
    """A customer with no company who ordered in both segments (by customer group): the b2b row holds
    only the B2B order, the b2c row only the B2C one, `all` both."""
    if merchant.url:
        pytest.skip("the CLI's query is the same SQLAlchemy code: SQLite covers it")
    lake = merchant.resources["lake"].raw_orders("default")
    both = {"customer_id": 900}
    lake.write_day(
        date(2026, 2, 12),
        [order(7, "02-12", [item(1, "JS-PT-12", "60.00")], False, customer_group_id=2, **both)],
        source="test",
    )
    lake.write_day(date(2026, 2, 13), [order(8, "02-13", [item(1, "JS-PT-12", "15.00")], False, **both)], source="test")
    assert dg.materialize([product_catalog], resources=merchant.resources).success
    assert merchant.materialize([classified_orders, order_lines], str(FIRST), str(AS_OF)).success
    monkeypatch.setenv("AOV_WAREHOUSE_URL", merchant.warehouse_url)
    rows = {}
    for segment in ("b2b", "b2c", "all"):
        command = ["cross-sell", "--bought", "Paper", "--not", "Gloves & PPE", "--segment", segment, "--csv"]
        assert main([*command, "--since", "2026-01-01"]) == 0
        rows[segment] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("customer:900")]
    assert rows == {
        "b2b": ["customer:900,,60.00,1,2026-02-12"],
        "b2c": ["customer:900,,15.00,1,2026-02-13"],
        "all": ["customer:900,,75.00,2,2026-02-13"],
    }


def test_the_live_store_catalog_is_paged_and_matches_the_sample():
    with (
        FakeAdobeCommerce() as store,
        AdobeCommerceClient(store.base_url, Credentials(token=TOKEN), page_size=7) as api,
    ):
        rows = api.catalog()
        pages = [r for r in store.requests if r["path"].endswith("/V1/products")]
    assert len(pages) == 6  # 38 products, 7 per page
    assert sorted(rows, key=lambda r: r["sku"]) == sorted(sample_merchant().catalog(), key=lambda r: r["sku"])


def test_the_sample_lines_add_up_to_each_order_to_the_cent():
    sample = sample_merchant()
    for payload in sample.iter_days([date(2026, 4, 20)]).__next__()[1][:200]:
        order_ = msgspec.json.decode(payload)
        lines = order_line_rows(_ORDER.decode(payload), date(2026, 4, 20))
        assert sum(row[LINE_COLUMNS.index("line_cents")] for row in lines) == round(
            Decimal(str(order_["base_subtotal"])) * 100
        )


def test_pairs_have_the_hand_counted_support_confidence_and_lift():
    items = pd.DataFrame(
        [(1, "A"), (1, "B"), (2, "A"), (2, "B"), (3, "A"), (4, "C")], columns=["entity_id", "item"]
    )  # A in 3 of 4 orders, B in 2, both in 2
    pairs = pair_rows(items, 4).set_index(["antecedent", "consequent"])
    assert sorted(pairs.index) == [("A", "B"), ("B", "A")]
    assert pairs.loc[("A", "B")].tolist() == [2, 50.0, 66.6667, 1.3333]  # orders, support, confidence, lift
    assert pairs.loc[("B", "A")].tolist() == [2, 50.0, 100.0, 1.3333]
    assert pair_rows(items, 4, Fraction(51, 100)).empty  # below the minimum support


def reference_pairs(items: pd.DataFrame, orders: int, min_support: Fraction) -> pd.DataFrame:
    """The plain definition: a self-join of the items on the order, grouped by pair."""
    alone = items.groupby("item").size()
    together = items.merge(items, on="entity_id", suffixes=("_a", "_b"))
    together = together[together["item_a"] != together["item_b"]]
    pairs = together.groupby(["item_a", "item_b"]).size().rename("orders").reset_index()
    pairs = pairs[pairs["orders"] * min_support.denominator >= min_support.numerator * orders]
    both, a, b = (pairs["orders"], alone[pairs["item_a"]].to_numpy(), alone[pairs["item_b"]].to_numpy())
    return pd.DataFrame(
        {
            "antecedent": pairs["item_a"].to_numpy(dtype=object),
            "consequent": pairs["item_b"].to_numpy(dtype=object),
            "orders": both.to_numpy(dtype="int64"),
            "support_pct": (100 * both / orders).round(4).to_numpy(),
            "confidence_pct": (100 * both / a).round(4).to_numpy(),
            "lift": (both * orders / (a * b)).round(4).to_numpy(),
        }
    )


@pytest.mark.parametrize("slice_rows", [7, 1_000, 2_000_000])
def test_pairs_counted_a_slice_of_orders_at_a_time_equal_the_self_join(monkeypatch, slice_rows):
    monkeypatch.setattr(actions_baskets, "PAIR_ROWS", slice_rows)  # 7: most slices hold one order; 2M: one slice
    random = np.random.default_rng(7)
    sizes = random.integers(1, 9, size=2_000)
    names = np.array([f"SKU-{n:03d}" for n in range(60)], dtype=object)
    rows = [(10_000 - order, item) for order, size in enumerate(sizes) for item in random.choice(names, size, False)]
    items = pd.DataFrame(rows, columns=["entity_id", "item"]).sample(frac=1, random_state=1)  # orders interleaved
    for floor in (Fraction(0), Fraction(1, 100)):
        pd.testing.assert_frame_equal(
            pair_rows(items, len(sizes), floor).reset_index(drop=True),
            reference_pairs(items, len(sizes), floor).reset_index(drop=True),
            check_exact=True,
        )


def random_lines(days: list[date], orders: int, seed: int = 3) -> pd.DataFrame:
    """Lines of `orders` random orders over `days`: two segments, a few categories, 40 SKUs."""
    random = np.random.default_rng(seed)
    rows = []
    for entity_id in range(orders):
        day, segment = days[random.integers(len(days))], ("b2b", "b2c")[random.integers(2)]
        for sku in random.choice(40, random.integers(1, 6), replace=False):
            rows.append((day.isoformat(), segment, entity_id, f"SKU-{sku:02d}", f"Cat/{sku % 7}"))
    lines = pd.DataFrame(rows, columns=["order_date", "segment", "entity_id", "sku", "category"])
    return lines.astype({name: "category" for name in ("order_date", "segment", "sku", "category")})


def test_counts_of_disjoint_orders_add_up_to_the_counts_of_all():
    lines = random_lines([FIRST], 3_000)
    items = lines[["entity_id", "sku"]].drop_duplicates().rename(columns={"sku": "item"})
    parts = np.array_split(np.arange(3_000), [700, 701, 2_000])  # one part of a single order
    summed = functools.reduce(
        operator.add,
        (actions_baskets.BasketCounts.of(items[items["entity_id"].isin(p)], len(p)) for p in parts),
    )
    for floor in (Fraction(0), Fraction(1, 100)):
        pd.testing.assert_frame_equal(summed.rules(floor), pair_rows(items, 3_000, floor), check_exact=True)


def test_each_window_is_the_sum_of_its_pieces_each_month_read_once():
    months = [date(2025, m, 1) for m in range(9, 13)]
    windows = [(month_end(m) - timedelta(days=actions_baskets.PAIR_DAYS - 1), month_end(m)) for m in months]
    pieces = actions_assets._pieces(windows)
    days = [windows[0][0] + timedelta(days=n) for n in range((windows[-1][1] - windows[0][0]).days + 1)]
    assert [a for a, _ in pieces[1:]] == [b + timedelta(days=1) for _, b in pieces[:-1]]  # no gap, no overlap
    assert all(core_windows.month_start(a) == core_windows.month_start(b) for a, b in pieces)  # none crosses a month
    lines = random_lines(days, 4_000)
    by_month = {}
    for month, same_month in itertools.groupby(pieces, key=lambda piece: core_windows.month_start(piece[0])):
        same_month = list(same_month)
        in_month = lines[(lines["order_date"].astype(str) >= str(same_month[0][0]))]
        in_month = in_month[in_month["order_date"].astype(str) <= str(same_month[-1][1])]
        by_month |= actions_assets._basket_counts(in_month, same_month)
    for first, last in windows:
        parts = [by_month[piece] for piece in pieces if first <= piece[0] and piece[1] <= last]
        assert parts[0] is by_month[next(p for p in pieces if p[0] == first)]  # the window starts on a piece
        days_in = lines["order_date"].astype(str).between(str(first), str(last))
        whole = actions_assets._basket_counts(lines[days_in], [(first, last)])[(first, last)]
        pd.testing.assert_frame_equal(
            actions_assets._pairs_of(parts), actions_assets._pairs_of([whole]), check_exact=True
        )


def test_whitespace_is_what_half_the_cohort_peers_buy_sized_by_their_median_spend():
    cohort_of = pd.Series({"a1": "top", "a2": "top", "a3": "top", "b1": "bottom"})
    spend = pd.DataFrame(
        [("a1", "X", 10_000), ("a1", "Y", 5_000), ("a2", "X", 20_001), ("a3", "Y", 1_000), ("b1", "Z", 500)],
        columns=["account", "category", "line_cents"],
    )
    rows = whitespace_rows(spend, cohort_of).set_index(["account", "category"])
    assert sorted(rows.index) == [("a2", "Y"), ("a3", "X")]  # b1 has no peers
    assert rows.loc[("a3", "X"), "peer_median_spend"] == Decimal("150.01")  # (100.00 + 200.01) / 2, half up
    assert rows.loc[("a2", "Y"), "peer_median_spend"] == Decimal("30.00")
    assert (rows.loc[("a3", "X"), "peers"], rows.loc[("a3", "X"), "peers_buying"]) == (2, 2)


def test_basket_pairs_of_a_month_read_its_trailing_90_days(merchant):
    assert dg.materialize([product_catalog], resources=merchant.resources).success
    assert merchant.materialize([classified_orders, order_lines], str(FIRST), str(AS_OF)).success
    assert dg.materialize([basket_pairs], resources=merchant.resources, partition_key="2026-02-01").success
    pairs = read_table(merchant, "basket_pairs")
    b2b = pairs[(pairs["segment"] == "b2b") & (pairs["kind"] == "category")].set_index(["antecedent", "consequent"])
    # B2B orders with lines up to 02-28: #1 {Equipment, Paper}, #2 {Gloves}, #3 {Paper}, #4 {uncategorized}
    row = b2b.loc[("Janitorial/Equipment", "Janitorial/Paper")]
    assert (row["orders"], row["support_pct"], row["confidence_pct"], row["lift"]) == (
        1,
        Decimal("25.0000"),
        Decimal("100.0000"),
        Decimal("2.0000"),
    )
    assert b2b.loc[("Janitorial/Paper", "Janitorial/Equipment"), "confidence_pct"] == Decimal("50.0000")
    assert set(pairs["month"]) == {"2026-02"}
