"""Slack messages for an alert or a failed check, and the webhook that posts them (or the outbox)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..core.text import money_text, pct_text, times_text
from ..metrics.card import Card


def asset_url(dagster_url: str, asset: str, partition: str | None = None) -> str:
    url = f"{dagster_url.rstrip('/')}/assets/{quote(asset)}"
    return f"{url}?partition={quote(partition)}" if partition else url


def alert_message(card: Card, dagster_url: str, asset: str = "aov_30d", store: str | None = None) -> dict[str, Any]:
    """The contraction alert: Block Kit blocks plus a plain-text fallback (`text`); with several stores
    the first line names the `store`."""
    b2b, b2c = card.segments["b2b"], card.segments["b2c"]
    link = asset_url(dagster_url, asset, card.as_of.isoformat())
    direction = "down" if (b2b.aov_change_pct or 0) < 0 else "up"
    change = f"{abs(b2b.aov_change_pct or 0):.1f}%"
    title = f"{_named(store)}B2B AOV {direction} {change} vs the prior 30 days (as of {card.as_of})"
    facts = [
        f"*B2B AOV* {money_text(b2b.aov)} (prior {money_text(b2b.prior_aov)}, {pct_text(b2b.aov_change_pct)})",
        f"*B2C AOV* {money_text(b2c.aov)} ({pct_text(b2c.aov_change_pct)})",
        f"*Multiplier* {times_text(card.multiplier)} (prior {times_text(card.prior_multiplier)})",
        f"*B2B orders* {b2b.orders:,} ({pct_text(b2b.orders_change_pct)}), *revenue* {money_text(b2b.revenue)} "
        f"({pct_text(b2b.revenue_change_pct)})",
    ]
    findings = card.findings
    if findings and findings.top:
        facts.append(f"*{card.likely_cause}*")
        facts += [f"Also: {line}" for line in findings.cause_lines(3)[1:]]
        facts.append("*Ruled out:* " + " ".join(row["summary"] for row in findings.ruled_out[:3]))
    if findings and findings.gone_quiet:
        names = ", ".join(row["name"] for row in findings.gone_quiet[:5])
        more = f" and {len(findings.gone_quiet) - 5} more" if len(findings.gone_quiet) > 5 else ""
        facts.append(f"*Gone quiet ({findings.total['gone_quiet']} vs {findings.typical_text}):* {names}{more}")
    if card.basket_lines():
        facts.append("*Left the baskets:* " + "; ".join(card.basket_lines()))
    if card.neighbours:
        facts.append("*Around it:* " + "; ".join(card.neighbours.lines()[:3]))
    if card.calls is not None:
        facts += [f"*Call ({rep}):* {accounts}" for rep, accounts in card.calls.by_rep()]  # last, by sales rep
    rule = f"Rule: alert when B2B AOV moves more than {card.rule.drop_pct}% ({card.rule.direction})."
    return _message(title, facts, rule, link, f"Open {asset} in Dagster")


def check_message(
    check_key: str,
    as_of: date,
    description: str,
    metadata: Mapping[str, Any],
    dagster_url: str,
    store: str | None = None,
) -> dict:
    """Any other failed ERROR check: its description and metadata, with a link to the asset."""
    asset, check = check_key.split(":", 1)
    facts = [f"*{name}* {value}" for name, value in metadata.items() if name != "as_of"][:10]
    title = f"{_named(store)}{asset} check {check} failed (as of {as_of})"
    return _message(
        title, facts or [description], description, asset_url(dagster_url, asset), f"Open {asset} in Dagster"
    )


SECTION_FIELDS, FIELD_CHARS = 10, 2000  # Block Kit: a section holds at most 10 fields of 2,000 characters


def _fits(text: str) -> str:
    return text if len(text) <= FIELD_CHARS else text[: FIELD_CHARS - 1] + "…"


def _named(store: str | None) -> str:
    return f"{store}: " if store else ""


def _escaped(text: str) -> str:
    """Slack's mrkdwn reads `&`, `<` and `>` as control characters: a Company called "A&B <Group>" stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _message(title: str, facts: Sequence[str], note: str, link: str, button: str) -> dict[str, Any]:
    facts = [_escaped(fact) for fact in facts]
    text = f"{_escaped(title)}. " + "; ".join(fact.replace("*", "") for fact in facts) + f". {_escaped(note)} {link}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            *(
                {
                    "type": "section",
                    "fields": [{"type": "mrkdwn", "text": _fits(fact)} for fact in facts[i : i + SECTION_FIELDS]],
                }
                for i in range(0, len(facts), SECTION_FIELDS)
            ),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": button}, "url": link}],
            },
        ],
    }


class DeliveryError(RuntimeError):
    """A post that did not go through; the message never contains the webhook URL."""


class DeliveryUnknown(DeliveryError):
    """The request was sent but no answer came in time: Slack may or may not have posted it."""


class Notifier:
    """Where alerts go: the Slack incoming webhook, or, without one, JSON files in the outbox."""

    def __init__(self, webhook_url: str | None, outbox: Path, timeout_seconds: float = 10.0):
        self._webhook_url = webhook_url or None
        self.outbox = outbox
        self.timeout_seconds = timeout_seconds

    @property
    def channel(self) -> str:
        return "slack" if self._webhook_url else "outbox"

    def send(self, check_key: str, as_of: date, message: Mapping[str, Any]) -> Path | None:
        """Deliver one message: to Slack (returns None) or, without a webhook, to an outbox file (its path)."""
        if self._webhook_url is None:
            self.outbox.mkdir(parents=True, exist_ok=True)
            target = self.outbox / f"{as_of}_{check_key.replace(':', '.').replace('/', '.')}.json"
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            temporary.write_text(json.dumps(message, indent=2))
            os.replace(temporary, target)
            return target
        try:
            response = httpx.post(self._webhook_url, json=message, timeout=self.timeout_seconds)
        except (httpx.ReadTimeout, httpx.WriteTimeout) as error:
            raise DeliveryUnknown(
                f"Slack webhook did not answer within {self.timeout_seconds:g}s ({type(error).__name__}); "
                "it may have posted"
            ) from None
        except httpx.HTTPError as error:
            raise DeliveryError(f"Slack webhook unreachable ({type(error).__name__})") from None
        if response.status_code >= 300:
            raise DeliveryError(f"Slack webhook answered HTTP {response.status_code}: {response.text[:100]}")
        return None
