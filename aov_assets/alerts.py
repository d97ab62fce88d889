"""The contraction alert as a Slack message: Block Kit blocks plus a plain-text fallback."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .card import Card, money_text, pct_text, times_text


def asset_url(dagster_url: str, asset: str, partition: str | None = None) -> str:
    url = f"{dagster_url.rstrip('/')}/assets/{quote(asset)}"
    return f"{url}?partition={quote(partition)}" if partition else url


def alert_message(card: Card, dagster_url: str) -> dict[str, Any]:
    """Slack `chat.postMessage`-style payload for the card's alert (webhook-compatible)."""
    b2b, b2c = card.segments["b2b"], card.segments["b2c"]
    link = asset_url(dagster_url, "aov_30d", card.as_of.isoformat())
    direction = "down" if (b2b.aov_change_pct or 0) < 0 else "up"
    title = f"B2B AOV {direction} {abs(b2b.aov_change_pct or 0):.1f}% vs the prior 30 days (as of {card.as_of})"
    facts = [
        f"*B2B AOV* {money_text(b2b.aov)} (prior {money_text(b2b.prior_aov)}, {pct_text(b2b.aov_change_pct)})",
        f"*B2C AOV* {money_text(b2c.aov)} ({pct_text(b2c.aov_change_pct)})",
        f"*Multiplier* {times_text(card.multiplier)} (prior {times_text(card.prior_multiplier)})",
        f"*B2B orders* {b2b.orders:,} ({pct_text(b2b.orders_change_pct)}), *revenue* {money_text(b2b.revenue)} "
        f"({pct_text(b2b.revenue_change_pct)})",
    ]
    rule = f"Rule: alert when B2B AOV moves more than {card.rule.drop_pct}% ({card.rule.direction})."
    text = f"{title}. " + "; ".join(fact.replace("*", "") for fact in facts) + f". {rule} {link}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": fact} for fact in facts]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": rule}]},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open aov_30d in Dagster"}, "url": link}
                ],
            },
        ],
    }
