"""The portfolio: every store of the manifest on one as-of day, from each store's own rows of one warehouse."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from aov_assets.cli import main
from aov_assets.investigation.tables import aov_why
from aov_assets.metrics.charts import ALERT, B2B, portfolio_chart
from aov_assets.metrics.tables import aov_30d
from aov_assets.portfolio.rules import StoreLine, ranked

from ..conftest import EXAMPLE_DAY, Pipeline, copy_of, write_manifest

STORES = """
- {key: default, name: Main brand}
- {key: acme, name: Acme Supply}
- {key: beta, name: Beta Foods}
"""


def line(store: str, verdict: str, change: str | None) -> StoreLine:
    pct = None if change is None else Decimal(change)
    return StoreLine(store, store, None, None, pct, None, None, None, verdict, None)


def test_alerting_stores_come_first_then_the_largest_falls_and_stores_without_a_change_last():
    lines = [
        line("calm", "ok", "3.0"),
        line("gone", "missing", None),
        line("falling", "ok", "-12.0"),
        line("alarm", "alert", "-15.5"),
        line("worse", "alert", "-30.0"),
        line("few", "thin", "-40.0"),
        line("young", "missing", "-2.0"),
    ]
    assert [x.store for x in ranked(lines)] == ["worse", "alarm", "few", "falling", "calm", "young", "gone"]


@pytest.mark.parametrize(
    ("verdict", "named"),
    [("alert", "alert"), ("ok", "ok"), ("too_few_orders", "thin"), ("incomplete_window", "missing")],
)
def test_the_cards_verdicts_as_the_portfolio_names_them(verdict, named):
    card = pd.DataFrame(
        [
            {"segment": "b2b", "aov": Decimal("1.00"), "prior_aov": None, "aov_change_pct": None, "multiplier": None}
            | {"orders": 3, "verdict": verdict},
            {"segment": "b2c", "aov": Decimal("0.50"), "verdict": verdict},
        ]
    )
    assert StoreLine.of("s", "S", card, None).verdict == named
    assert StoreLine.of("s", "S", card.iloc[0:0], None).verdict == "missing"


@pytest.fixture
def three_stores(example_pipeline, tmp_path, monkeypatch):
    """One warehouse: the worked example as store `default`, a calmer copy of it as `acme` (with its own
    top cause), and `beta` listed in the manifest with no rows."""
    pipeline = copy_of(example_pipeline, tmp_path / "agency")
    warehouse = pipeline.warehouse()
    card = warehouse.read_card(EXAMPLE_DAY)
    b2b = card["segment"] == "b2b"
    card.loc[b2b, ["aov", "prior_aov", "aov_change_pct", "verdict", "alert"]] = [
        Decimal("790.00"),
        Decimal("800.00"),
        Decimal("-1.25"),
        "ok",
        False,
    ]
    why = pd.DataFrame(
        [
            {
                "as_of": EXAMPLE_DAY,
                "cause": "new_accounts",
                "role": "why",
                "rank": 1,
                "part": True,
                "contribution": Decimal("-10.00"),
                "share_pct": Decimal("100"),
                "summary": "fewer new accounts",
            }
        ]
    )
    with warehouse.for_store("acme").replacing([aov_30d, aov_why], EXAMPLE_DAY, EXAMPLE_DAY) as write:
        write(aov_30d, card)
        write(aov_why, why)
    monkeypatch.setenv("AOV_WAREHOUSE_URL", pipeline.warehouse_url)
    monkeypatch.setenv("AOV_MANIFEST", str(write_manifest(tmp_path / "aov.yaml", stores=STORES)))
    return pipeline


def test_the_portfolio_ranks_every_store_of_the_manifest_from_one_warehouse(three_stores, capsys):
    assert main(["portfolio", "--as-of", str(EXAMPLE_DAY), "--json"]) == 0
    portfolio = json.loads(capsys.readouterr().out)
    assert portfolio["as_of"] == "2026-05-03"
    main_brand, acme, beta = portfolio["stores"]
    assert main_brand == {
        "store": "default",
        "name": "Main brand",
        "b2b_aov": "642.82",
        "prior_b2b_aov": "770.00",
        "b2b_aov_change_pct": -16.5173,
        "b2c_aov": "68.29",
        "multiplier": 9.4133,
        "b2b_orders": 1420,
        "verdict": "alert",
        "top_cause": "basket_shrink",
    }
    assert (acme["store"], acme["b2b_aov"], acme["prior_b2b_aov"], acme["verdict"]) == (
        "acme",
        "790.00",
        "800.00",
        "ok",
    )
    assert acme["top_cause"] == "new_accounts" and acme["b2c_aov"] == "68.29"
    assert beta == {
        "store": "beta",
        "name": "Beta Foods",
        **dict.fromkeys(("b2b_aov", "prior_b2b_aov", "b2b_aov_change_pct", "b2c_aov", "multiplier", "b2b_orders")),
        "verdict": "missing",
        "top_cause": None,
    }


def test_the_portfolio_as_csv_text_and_a_chart(three_stores, capsys, tmp_path):
    assert main(["portfolio", "--as-of", str(EXAMPLE_DAY), "--csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert (
        rows[0] == "store,name,b2b_aov,prior_b2b_aov,b2b_aov_change_pct,b2c_aov,multiplier,b2b_orders,verdict,top_cause"
    )
    assert rows[1] == "default,Main brand,642.82,770.00,-16.5173,68.29,9.4133,1420,alert,basket_shrink"
    assert rows[3] == "beta,Beta Foods,,,,,,,missing,"
    assert main(["portfolio", "--as-of", str(EXAMPLE_DAY)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Portfolio as of 2026-05-03: 3 store(s), 1 alerting")
    assert "Acme Supply (acme)" in text and "new_accounts" in text
    chart = tmp_path / "portfolio.png"
    assert main(["portfolio", "--as-of", str(EXAMPLE_DAY), "--png", str(chart)]) == 0
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_each_stores_card_is_its_own(three_stores, capsys):
    assert main(["card", "--as-of", str(EXAMPLE_DAY), "--store", "acme", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["segments"]["b2b"]["aov"] == 790.0
    assert main(["card", "--as-of", str(EXAMPLE_DAY)]) == 2  # three stores: which one?
    assert "the manifest lists 3 stores (default, acme, beta) and one is needed here" in capsys.readouterr().err


def test_the_portfolio_chart_draws_each_stores_change_coloured_by_verdict():
    lines = ranked([line("a", "alert", "-20.5"), line("b", "ok", "4.0"), line("c", "missing", None)])
    figure = portfolio_chart(EXAMPLE_DAY, lines)
    bars = figure.axes[0].patches
    assert [bar.get_width() for bar in bars] == [-20.5, 4.0]  # no bar without a change
    assert [to_hex(bar.get_facecolor()) for bar in bars] == [ALERT, B2B]
    labels = figure.axes[0].get_yticklabels()
    assert [(label.get_text(), label.get_position()[1]) for label in labels] == [
        ("a", 2),
        ("b", 1),
        ("c", 0),
    ]  # a on top


def test_the_portfolio_asset_ranks_the_stores_per_day_in_the_ui(three_stores, tmp_path):
    import dagster as dg

    from aov_assets.definitions import build_defs
    from aov_assets.manifest import load_stores

    manifest = tmp_path / "aov.yaml"
    defs = build_defs(load_stores(manifest))
    portfolio = defs.get_assets_def("aov_portfolio")
    pipeline = Pipeline(three_stores.root, manifest)
    result = pipeline.materialize([portfolio], str(EXAMPLE_DAY))
    [materialization] = result.asset_materializations_for_node("aov_portfolio")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    assert (metadata["stores"], metadata["alerting"], metadata["missing"]) == (3, 1, 1)
    assert metadata["default_b2b_aov_change_pct"] == -16.52 and metadata["acme_b2b_aov_change_pct"] == -1.25
    rows = [row for row in metadata["portfolio"].splitlines() if row.startswith("| ") and "---" not in row][1:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| Main brand (default)",
        "| Acme Supply (acme)",
        "| Beta Foods (beta)",
    ]
    assert metadata["portfolio_chart"].startswith("![Portfolio](data:image/png;base64,")
    assert isinstance(defs.resolve_job_def("aov_portfolio_daily"), dg.JobDefinition)
