"""The card's pictures: the 30-day trend, the causes as a waterfall, credit pressure by cohort, the
trailing twelve months, and the portfolio of stores.

Drawn from the card's own rows (nothing is computed a second time) on matplotlib's Agg canvas, without
pyplot's global state: a fixed size, DejaVu Sans (shipped inside matplotlib, so the same pixels on every
machine), fixed colours and no date in the PNG. Importing this module imports matplotlib (~0.4 s), so
callers import it only when they draw: the newest as-of day of a run, or `aov card --html/--png`.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from ..core.text import money_text, signed_money_text
from ..core.windows import add_months
from ..investigation.findings import Findings
from .card import TREND_DAYS, Card, TtmCard, trend_of
from .windows import AlertRule

if TYPE_CHECKING:
    from ..portfolio.rules import StoreLine
    from ..warehouse import Warehouse

B2B, B2C, PRIOR, PARTIAL = "#1f4e79", "#7f7f7f", "#5b9bd5", "#b0b0b0"  # fixed colours: same card, same pixels
ALERT = FALL = "#c0392b"
RISE = "#2e8b57"
VERDICT_COLOURS = {"alert": ALERT, "ok": B2B, "thin": PARTIAL}
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e6e6e6",
    "svg.hashsalt": "aov",
}
SIZE = (9.0, 4.6)  # inches at 100 dpi: 900 x 460 pixels, readable in the asset's Overview panel
MONEY = FuncFormatter(lambda value, _: f"{value:,.2f}".rstrip("0").rstrip("."))  # 768, 767.5


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, with no Software or date chunk: the same card draws the same bytes."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def data_uri(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode("ascii")


def markdown_image(figure: Figure, alt: str) -> str:
    """The figure inline in Markdown metadata: the UI shows it with no file server (Dagster's tutorial
    does so). ~30-80 KB of base64 per chart in the event log: drawn for a run's newest partition only."""
    return f"![{alt}]({data_uri(png(figure))})"


def _figure(rows: int = 1) -> tuple[Figure, list]:
    """A figure of `rows` stacked axes (the first twice as tall), inside the caller's `rc_context(STYLE)`."""
    figure = Figure(figsize=SIZE, dpi=100, layout="constrained")
    if rows == 1:
        return figure, [figure.subplots()]
    return figure, list(figure.subplots(rows, 1, sharex=True, height_ratios=[2] + [1] * (rows - 1)))


def _floats(values: pd.Series) -> list[float]:
    return [float("nan") if value is None or value != value else float(value) for value in values]


# ----------------------------------------------------------------------------- the trend


def trend_chart(trend: pd.DataFrame, rule: AlertRule) -> Figure:
    """Daily 30-day B2B and B2C AOV over `trend`'s as-of days (`trend_frame`'s rows), the prior 30 days'
    B2B AOV and the alert threshold around it, and the alerting days marked."""
    with matplotlib.rc_context(STYLE):
        figure, (top, bottom) = _figure(rows=2)
        days = list(trend.index)
        prior = _floats(trend["prior_b2b_aov"])
        top.plot(days, _floats(trend["b2b_aov"]), color=B2B, linewidth=2, label="B2B AOV, last 30 days")
        top.plot(days, prior, color=PRIOR, linewidth=1.2, linestyle="--", label="B2B AOV, prior 30 days")
        share = float(rule.drop_pct) / 100
        bounds = {"contraction": [-1], "expansion": [1], "both": [-1, 1]}[rule.direction]
        for sign in bounds:
            label = f"alert threshold ({'+' if sign > 0 else '-'}{rule.drop_pct}% of prior)"
            threshold = [value * (1 + sign * share) for value in prior]
            top.plot(days, threshold, color=ALERT, linewidth=1, linestyle=":", label=label)
        alerting = trend[trend["verdict"] == "alert"]
        if len(alerting):
            top.scatter(list(alerting.index), _floats(alerting["b2b_aov"]), color=ALERT, s=18, zorder=3, label="alert")
        bottom.plot(days, _floats(trend["b2c_aov"]), color=B2C, linewidth=2, label="B2C AOV, last 30 days")
        for axes in (top, bottom):
            axes.yaxis.set_major_formatter(MONEY)
            axes.legend(loc="best", fontsize=8, frameon=False, ncols=2)
        locator = AutoDateLocator()
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        last = trend.iloc[-1] if len(trend) else None
        latest = f" as of {days[-1]}: {money_text(last['b2b_aov'])}" if last is not None else ""
        top.set_title(f"B2B AOV, trailing 30 days{latest}", loc="left", fontweight="bold")
    return figure


# ----------------------------------------------------------------------------- the causes


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: from `start` to `end`; a total (the prior and current AOV) from zero."""

    label: str
    start: Decimal
    end: Decimal
    total: bool = False

    @property
    def amount(self) -> Decimal:
        return self.end - self.start


def waterfall(prior: Decimal, current: Decimal, parts: dict[str, Decimal]) -> list[Step]:
    """Prior B2B AOV, each part of the change in the investigation's order, the current B2B AOV. The parts
    are exact to the cent each; what their rounding leaves (a cent or two) is its own bar, so the bars
    close to the cent."""
    steps, level = [Step("prior 30 days", Decimal(0), prior, total=True)], prior
    for cause, amount in parts.items():
        steps.append(Step(cause, level, level + amount))
        level += amount
    if level != current:
        steps.append(Step("cents rounding", level, current))
    return steps + [Step("last 30 days", Decimal(0), current, total=True)]


def causes_chart(findings: Findings | None, as_of: date) -> Figure | None:
    """The waterfall from the prior 30 days' B2B AOV to the last 30 days' (the investigation's `all` row:
    the card's B2B AOVs) through each part of the exact decomposition; None without an investigation
    or without orders in both windows."""
    total = findings.total if findings else {}
    prior, current = total.get("prior_aov"), total.get("aov")
    if prior is None or current is None or not findings.decomposition:
        return None
    steps = waterfall(prior, current, findings.decomposition)
    with matplotlib.rc_context(STYLE):
        figure, (axes,) = _figure()
        levels = [float(value) for step in steps for value in (step.start, step.end) if not step.total or value]
        floor = max(min(levels) - (max(levels) - min(levels)) * 0.6, 0.0) if len(set(levels)) > 1 else 0.0
        for x, step in enumerate(steps):
            low, high = sorted((floor if step.total else float(step.start), float(step.end)))
            colour = B2B if step.total else (RISE if step.amount >= 0 else FALL)
            axes.bar(x, high - low, bottom=low, color=colour, width=0.6, label=step.label)
            text = money_text(step.end) if step.total else signed_money_text(step.amount)
            axes.annotate(text, (x, high), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
        axes.set_xticks(range(len(steps)), [step.label.replace("_", " ") for step in steps])
        axes.set_ylim(bottom=floor)
        axes.set_ylabel("B2B AOV" + (" (the axis starts above zero)" if floor else ""))
        axes.yaxis.set_major_formatter(MONEY)
        axes.set_title(
            f"Why B2B AOV moved {signed_money_text(current - prior)} as of {as_of} (the bars close to the cent)",
            loc="left",
            fontweight="bold",
        )
    return figure


# ----------------------------------------------------------------------------- credit pressure


CREDIT_COHORTS = {"top 20%": B2B, "middle 60%": ALERT, "bottom 20%": PRIOR}


def credit_chart(cohorts: pd.DataFrame, as_of: date) -> Figure | None:
    """Per as-of day of `cohorts` (b2b_cohorts_30d rows): the continuing accounts at the credit utilization
    threshold in each LTV cohort, and the same-day second POs as a share of B2B orders; None where the
    store gave no credit data (`credit_pressed` empty)."""
    if cohorts.empty or cohorts["credit_pressed"].isna().all():
        return None
    frame = cohorts.assign(as_of=pd.to_datetime(cohorts["as_of"]))
    with matplotlib.rc_context(STYLE):
        figure, (top, bottom) = _figure(rows=2)
        for cohort, colour in CREDIT_COHORTS.items():
            rows = frame[frame["cohort"] == cohort]
            top.plot(rows["as_of"], _floats(rows["credit_pressed"]), color=colour, linewidth=2, label=cohort)
        everyone = frame[frame["cohort"] == "all"]
        orders = everyone["orders"].astype(float)
        split = (orders - everyone["order_days"].astype(float)) / orders.where(orders > 0) * 100
        bottom.plot(everyone["as_of"], split, color=B2C, linewidth=2, label="same-day second POs, % of B2B orders")
        top.set_ylabel("accounts")
        bottom.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0f}%"))
        for axes in (top, bottom):
            axes.legend(loc="best", fontsize=8, frameon=False, ncols=3)
        locator = AutoDateLocator()
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        pressed = everyone["credit_pressed"].iloc[-1] if len(everyone) else None
        now = f": {int(pressed)} as of {as_of}" if pressed is not None and pressed == pressed else ""
        top.set_title(
            f"Continuing accounts at their credit threshold, by LTV cohort{now}", loc="left", fontweight="bold"
        )
    return figure


def credit_chart_of(warehouse: Warehouse, as_of: date) -> Figure | None:
    """`credit_chart` over the TREND_DAYS as-of days to `as_of`, as the warehouse has them."""
    return credit_chart(warehouse.read_cohorts(as_of - timedelta(days=TREND_DAYS - 1), as_of), as_of)


# ----------------------------------------------------------------------------- trailing twelve months


def ttm_chart(ttm: pd.DataFrame, month: date) -> Figure:
    """TTM B2B and B2C AOV for the twelve months to `month` (from `aov_ttm` rows of those months and the
    twelve before them), each with the same window a year earlier. Partial windows (a history younger
    than the window) are drawn hollow and grey: shown, as on the TTM card, but not read as a trend."""
    months = [add_months(month, offset) for offset in range(-11, 1)]
    cards = {m: TtmCard.from_frame(ttm, m) for m in months}
    with matplotlib.rc_context(STYLE):
        figure, axes_of = _figure(rows=2)
        for axes, segment, colour in zip(axes_of, ("b2b", "b2c"), (B2B, B2C)):
            for label, line, marker, window in (
                ("TTM AOV", "-", "o", lambda card: (card.rows, card.partial)),
                ("a year earlier", "--", "s", lambda card: (card.prior, not card.comparable)),
            ):
                points = [(m, *window(card)) for m, card in cards.items() if card]
                for partial in (False, True):
                    drawn = [(m, rows[segment]["aov"]) for m, rows, young in points if young == partial and rows]
                    if drawn:
                        axes.plot(
                            *zip(*drawn),
                            line,
                            marker=marker,
                            markersize=4,
                            color=PARTIAL if partial else colour,
                            markerfacecolor="white" if partial else colour,
                            label=f"{segment.upper()} {label}{' (partial window)' if partial else ''}",
                        )
            axes.yaxis.set_major_formatter(MONEY)
            axes.legend(loc="best", fontsize=8, frameon=False, ncols=2)
        locator = AutoDateLocator()
        axes_of[1].xaxis.set_major_locator(locator)
        axes_of[1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes_of[0].set_title(
            f"Trailing-twelve-month AOV by month to {month:%Y-%m}, and a year earlier", loc="left", fontweight="bold"
        )
    return figure


def portfolio_chart(as_of: date, lines: list[StoreLine]) -> Figure:
    """One bar per store for its B2B AOV change (in the portfolio's order, the first on top), coloured by
    verdict; a store without a change is named, with no bar."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(SIZE[0], max(2.5, 0.32 * len(lines) + 1.2)), dpi=100, layout="constrained")
        axes = figure.subplots()
        rows = list(range(len(lines)))[::-1]
        for row, line in zip(rows, lines):
            change = line.b2b_aov_change_pct
            if change is None:
                axes.annotate(
                    f"{line.verdict}: no change",
                    (0, row),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color=B2C,
                )
                continue
            axes.barh(row, float(change), color=VERDICT_COLOURS.get(line.verdict, B2C), height=0.6, label=line.verdict)
            axes.annotate(
                f"{change:+.1f}%",
                (float(change), row),
                xytext=(4 if change >= 0 else -4, 0),
                textcoords="offset points",
                va="center",
                ha="left" if change >= 0 else "right",
                fontsize=8,
            )
        axes.axvline(0, color="#444444", linewidth=0.8)
        axes.set_yticks(rows, [line.name for line in lines])
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:+.0f}%"))
        shown = dict.fromkeys(line.verdict for line in lines if line.b2b_aov_change_pct is not None)
        axes.legend(
            [Patch(color=VERDICT_COLOURS.get(verdict, B2C)) for verdict in shown],
            list(shown),
            loc="best",
            fontsize=8,
            frameon=False,
        )
        axes.margins(x=0.15)  # room for the labels at the bars' ends
        axes.set_title(f"B2B AOV change vs the prior 30 days, by store, as of {as_of}", loc="left", fontweight="bold")
    return figure


def ttm_chart_of(warehouse: Warehouse, month: date) -> Figure:
    """`ttm_chart` of `month` from the warehouse's `aov_ttm` rows (24 months: the twelve and a year before)."""
    return ttm_chart(warehouse.read_ttm([add_months(month, -back) for back in range(23, -1, -1)]), month)


def card_charts(warehouse: Warehouse, card: Card, ttm: TtmCard | None) -> dict[str, bytes]:
    """Every chart of one as-of day's card as PNG, by name (`aov card --png` writes `<name>.png`)."""
    charts = {"trend": png(trend_chart(trend_of(warehouse, card.as_of), card.rule))}
    causes = causes_chart(card.findings, card.as_of)
    if causes is not None:
        charts["causes"] = png(causes)
    credit = credit_chart_of(warehouse, card.as_of)
    if credit is not None:
        charts["credit"] = png(credit)
    if ttm is not None:
        charts["ttm"] = png(ttm_chart_of(warehouse, ttm.month))
    return charts
