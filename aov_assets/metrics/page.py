"""`aov card --html`: one as-of day's card as a single page a person can mail to a merchant.

Self-contained: the charts are inline PNGs, the style is inline, nothing is fetched. The text is the
card's own (the same tables and lines as `aov card`), escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..investigation.causes import ACTIONS
from .card import GONE_QUIET, Card, TtmCard
from .charts import data_uri

STYLE = """
body { font-family: "DejaVu Sans", Verdana, sans-serif; font-size: 14px; color: #222; max-width: 960px;
       margin: 24px auto; padding: 0 16px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.headline { font-weight: bold; } .alert { color: #c0392b; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; }
th { text-align: right; } td { text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 8px 0; }
"""


def card_page(card: Card, ttm: TtmCard | None, charts: dict[str, bytes]) -> str:
    """The page: headline and trend, the card, why it moved (waterfall, causes, action), the accounts
    gone quiet to call, and the trailing twelve months. `charts` are `card_charts`'s PNGs."""
    headline = f'<p class="headline{" alert" if card.alert else ""}">{escape(card.headline)}</p>'
    body = [f"<h1>{escape(card.title)}</h1>", headline, _image(charts, "trend", "B2B AOV trend")]
    body += [_table(card.segment_table()), _list(card.facts())]
    if card.neighbours is not None:
        body += ["<h2>Around it</h2>", _list(card.neighbours.lines())]
    findings = card.findings
    if findings is None:
        body.append("<p>No investigation for this day (materialize the b2b_investigation assets).</p>")
    else:
        body += [
            "<h2>Why B2B AOV moved</h2>",
            _image(charts, "causes", "Why B2B AOV moved"),
            *(f"<p>{escape(line)}</p>" for line in findings.cause_lines()),
            "<p>Ruled out:</p>",
            _list([row["summary"] for row in findings.ruled_out]),
        ]
        if card.basket_lines():
            body += ["<p>Left the baskets (B2B line value per order by category):</p>", _list(card.basket_lines())]
        if findings.top:
            body.append(f"<p><b>Action:</b> {escape(ACTIONS[findings.top['cause']])}</p>")
        body += ["<h2>Who to call</h2>", _image(charts, "credit", "Credit pressure by cohort")]
        if card.calls is not None and not card.calls.rows.empty:
            body += [
                f"<p>{card.calls.accounts} accounts by sales rep (all of them: {escape(card.calls.command)}):</p>",
                _list([f"{rep}: {accounts}" for rep, accounts in card.calls.by_rep()]),
            ]
        body += [
            f"<p>{escape(GONE_QUIET)} {findings.total['gone_quiet']} vs {escape(findings.typical_text)}</p>",
            _list(findings.quiet_lines()),
            "<p>Inside B2B, by account lifetime value:</p>",
            _table(findings.cohort_table()),
        ]
    if ttm is not None:
        body += [
            f"<h2>{escape(ttm.title)}</h2>",
            _image(charts, "ttm", "Trailing-twelve-month AOV"),
            _table(ttm.table()),
            _list(ttm.facts()),
        ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(card.title)}</title><style>{STYLE}</style></head><body>",
            *body,
            "</body></html>",
            "",
        ]
    )


def _image(charts: dict[str, bytes], name: str, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="{data_uri(charts[name])}">' if name in charts else ""


def _table(rows: Sequence[Sequence[str]]) -> str:
    header, *body = rows
    cells = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    lines = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{lines}</tbody></table>"


def _list(lines: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"
