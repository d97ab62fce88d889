"""The card's charts draw the card's own numbers: the trend's points, the waterfall's bars, the TTM lines."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from aov_assets.core.windows import add_months
from aov_assets.manifest import load_manifest
from aov_assets.metrics.assets import alert_rule
from aov_assets.metrics.card import Card, TtmCard, trend_of
from aov_assets.metrics.charts import (
    causes_chart,
    credit_chart,
    credit_chart_of,
    png,
    trend_chart,
    ttm_chart,
    waterfall,
)
from aov_assets.metrics.windows import AlertRule

from ..conftest import EXAMPLE_DAY, EXAMPLE_FIRST_DAY, REPO

RULE = alert_rule(load_manifest(REPO / "aov.yaml"))


def line(figure, label: str) -> list[float]:
    """The y values of the line labelled `label` (NaN where the card has no number)."""
    (drawn,) = [drawn for axes in figure.axes for drawn in axes.lines if drawn.get_label() == label]
    return [float(value) for value in drawn.get_ydata()]


def same(xs: list[float], ys: list[float]) -> bool:
    return len(xs) == len(ys) and all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(xs, ys))


def test_the_trend_chart_plots_each_days_card(example_pipeline):
    warehouse = example_pipeline.warehouse()
    figure = trend_chart(trend_of(warehouse, EXAMPLE_DAY), RULE)
    days = [EXAMPLE_FIRST_DAY + timedelta(days=i) for i in range((EXAMPLE_DAY - EXAMPLE_FIRST_DAY).days + 1)]
    cards = [Card.stored(warehouse, day, RULE) for day in days]

    def number(value: Decimal | None) -> float:
        return math.nan if value is None else float(value)

    b2b = [card.segments["b2b"] for card in cards]
    assert same(line(figure, "B2B AOV, last 30 days"), [number(s.aov) for s in b2b])
    assert same(line(figure, "B2B AOV, prior 30 days"), [number(s.prior_aov) for s in b2b])
    assert same(line(figure, "B2C AOV, last 30 days"), [number(card.segments["b2c"].aov) for card in cards])
    threshold = line(figure, "alert threshold (-15% of prior)")
    assert same(threshold, [number(s.prior_aov) * 0.85 for s in b2b])
    (alerts,) = [c for c in figure.axes[0].collections if c.get_label() == "alert"]
    marked = [y for _, y in alerts.get_offsets()]
    assert (
        marked == [float(card.segments["b2b"].aov) for card in cards if card.alert] == [642.82]
    )  # the rest: no prior window
    assert line(figure, "B2B AOV, last 30 days")[-1] == 642.82


def test_the_trend_chart_draws_both_thresholds_when_both_directions_alert(example_pipeline):
    rule = AlertRule(drop_pct=Decimal("15"), direction="both", min_orders=RULE.min_orders)
    figure = trend_chart(trend_of(example_pipeline.warehouse(), EXAMPLE_DAY), rule)
    assert line(figure, "alert threshold (+15% of prior)")[-1] == 770.00 * 1.15
    assert line(figure, "alert threshold (-15% of prior)")[-1] == 770.00 * 0.85


def test_the_waterfall_closes_to_the_cent_from_the_prior_to_the_current_b2b_aov(example_pipeline):
    card = Card.stored(example_pipeline.warehouse(), EXAMPLE_DAY, RULE)
    b2b = card.segments["b2b"]
    steps = waterfall(b2b.prior_aov, b2b.aov, card.findings.decomposition)
    assert (steps[0].end, steps[-1].end) == (Decimal("770.00"), Decimal("642.82"))
    assert sum(step.amount for step in steps[1:-1]) == b2b.aov - b2b.prior_aov == Decimal("-127.18")
    assert [step.label for step in steps[1:3]] == ["basket_shrink", "account_mix"]  # the ranked causes first
    assert [step.amount for step in steps[1:3]] == [Decimal("-71.71"), Decimal("-63.67")]

    figure = causes_chart(card.findings, EXAMPLE_DAY)
    bars = figure.axes[0].patches
    assert len(bars) == len(steps)
    assert [round(bar.get_y() + bar.get_height(), 2) for bar in (bars[0], bars[-1])] == [770.00, 642.82]
    moves = [bar.get_height() * (1 if step.amount >= 0 else -1) for bar, step in zip(bars[1:-1], steps[1:-1])]
    assert round(sum(moves), 2) == -127.18
    assert figure.axes[0].get_title(loc="left").endswith("(the bars close to the cent)")


def test_what_the_parts_rounding_leaves_is_a_bar_of_its_own():
    steps = waterfall(Decimal("10.00"), Decimal("9.97"), {"a": Decimal("-0.01"), "b": Decimal("-0.01")})
    assert [(step.label, step.amount) for step in steps[1:-1]] == [
        ("a", Decimal("-0.01")),
        ("b", Decimal("-0.01")),
        ("cents rounding", Decimal("-0.01")),
    ]
    assert steps[-2].end == steps[-1].end == Decimal("9.97")
    assert [step.label for step in waterfall(Decimal(10), Decimal(9), {"a": Decimal(-1)})] == [
        "prior 30 days",
        "a",
        "last 30 days",
    ]


def test_no_waterfall_without_an_investigation():
    assert causes_chart(None, EXAMPLE_DAY) is None


def ttm_frame(month: date, first_month: date) -> pd.DataFrame:
    """aov_ttm rows for the 24 months to `month` of a history that starts with `first_month`."""
    rows = []
    for back in range(24):
        m = add_months(month, -back)
        days = (add_months(m, 1) - max(add_months(m, -11), first_month)).days
        for segment, aov in (("b2b", Decimal(700 + back)), ("b2c", Decimal(60 + back))):
            orders = 100
            rows.append(
                {
                    "month": f"{m:%Y-%m}",
                    "segment": segment,
                    "days": max(days, 0),
                    "orders": orders,
                    "revenue": aov * orders,
                    "aov": aov,
                    "multiplier": Decimal("10.0"),
                }
            )
    return pd.DataFrame(rows)


def test_the_ttm_chart_draws_complete_windows_as_the_trend_and_partial_ones_apart():
    month = date(2026, 4, 1)
    frame = ttm_frame(month, first_month=date(2024, 12, 1))  # complete from 2025-11, a year earlier only at 2026-11
    figure = ttm_chart(frame, month)
    cards = {add_months(month, -back): TtmCard.from_frame(frame, add_months(month, -back)) for back in range(12)}
    complete = [float(card.rows["b2b"]["aov"]) for m, card in sorted(cards.items()) if not card.partial]
    assert line(figure, "B2B TTM AOV") == complete and len(complete) == 6  # 2025-11..2026-04
    assert line(figure, "B2B TTM AOV (partial window)") == [
        float(card.rows["b2b"]["aov"]) for m, card in sorted(cards.items()) if card.partial
    ]
    assert line(figure, "B2B a year earlier (partial window)")[-1] == float(cards[month].prior["b2b"]["aov"]) == 712.0
    assert line(figure, "B2C TTM AOV")[-1] == 60.0


def test_a_chart_is_the_same_bytes_every_time_with_no_date_or_software_in_it(example_pipeline):
    trend = trend_of(example_pipeline.warehouse(), EXAMPLE_DAY)
    first, second = png(trend_chart(trend, RULE)), png(trend_chart(trend, RULE))
    assert first == second and first.startswith(b"\x89PNG")
    assert b"Software" not in first and b"Creation Time" not in first and b"tIME" not in first


def test_the_credit_chart_plots_each_cohorts_pressed_accounts_and_the_split_share(example_pipeline):
    warehouse = example_pipeline.warehouse()
    cohorts = warehouse.read_cohorts(EXAMPLE_FIRST_DAY, EXAMPLE_DAY)
    figure = credit_chart_of(warehouse, EXAMPLE_DAY)
    for cohort in ("top 20%", "middle 60%", "bottom 20%"):
        rows = cohorts[cohorts["cohort"] == cohort]
        assert line(figure, cohort) == [float(value) for value in rows["credit_pressed"]]
    everyone = cohorts[cohorts["cohort"] == "all"]
    split = line(figure, "same-day second POs, % of B2B orders")
    assert (
        split[-1] == (everyone["orders"].iloc[-1] - everyone["order_days"].iloc[-1]) / everyone["orders"].iloc[-1] * 100
    )
    middle, others = line(figure, "middle 60%")[-1], (line(figure, "top 20%")[-1], line(figure, "bottom 20%")[-1])
    assert middle > 3 * max(others)  # the sample's story: the middle cohort runs up against its limits
    title = figure.axes[0].get_title(loc="left")
    assert title.endswith(f": {int(middle + sum(others))} as of {EXAMPLE_DAY}")


def test_no_credit_chart_without_credit_data():
    rows = pd.DataFrame(
        {"as_of": [EXAMPLE_DAY], "cohort": ["all"], "credit_pressed": [None], "orders": [5], "order_days": [5]}
    )
    assert credit_chart(rows, EXAMPLE_DAY) is None
    assert credit_chart(rows.iloc[:0], EXAMPLE_DAY) is None
