"""The investigation's part of the card: cohorts, accounts gone quiet, the causes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from ..core.text import (
    json_number,
    jsonable,
    money_text,
    pct_text,
    plain_pct,
    plain_records,
    signed_money_text,
    whole_count,
)
from .accounts import ALL, COHORTS
from .causes import ACTIONS

QUIET_SHOWN = 10  # gone-quiet accounts listed on the card; the rest are counted


@dataclass(frozen=True)
class Findings:
    """One as-of day of the investigation: LTV cohorts, gone-quiet accounts, and the ranked causes."""

    cohorts: list[dict[str, Any]]  # b2b_cohorts_30d rows, top / middle / bottom
    total: dict[str, Any]  # the `all` row: every account, gone quiet, typical counts
    why: list[dict[str, Any]]  # aov_why rows with role `why`, ranked
    ruled_out: list[dict[str, Any]]
    gone_quiet: list[dict[str, Any]]  # account, name, prior_orders, prior_revenue (largest first)

    @classmethod
    def from_frames(cls, cohorts: pd.DataFrame, why: pd.DataFrame, quiet: pd.DataFrame) -> Findings | None:
        """From one as-of day's rows of b2b_cohorts_30d, aov_why and the gone-quiet b2b_accounts_30d."""
        return next(iter(cls.by_day(cohorts, why, quiet).values()), None)

    @classmethod
    def by_day(cls, cohorts: pd.DataFrame, why: pd.DataFrame, quiet: pd.DataFrame) -> dict[date, Findings]:
        """The investigation of each as-of day that has cohort rows, from rows of b2b_cohorts_30d, aov_why and
        the gone-quiet b2b_accounts_30d (largest prior revenue first), e.g. `Warehouse.read_investigation`'s.
        Each frame is converted to plain rows once: a range run builds hundreds of days."""
        rows_of: dict[date, list[dict[str, Any]]] = {}
        causes_of: dict[date, list[dict[str, Any]]] = {}
        quiet_of: dict[date, list[dict[str, Any]]] = {}
        for frame, grouped, keep in (
            (cohorts, rows_of, None),
            (why, causes_of, None),
            (quiet, quiet_of, ["account", "name", "prior_orders", "prior_revenue"]),
        ):
            for row in plain_records(frame):
                as_of = row.pop("as_of")
                grouped.setdefault(as_of, []).append({k: row[k] for k in keep} if keep else row)
        findings = {}
        for as_of, rows in sorted(rows_of.items()):
            causes = sorted(causes_of.get(as_of, []), key=lambda row: row["rank"])
            findings[as_of] = cls(
                cohorts=sorted((r for r in rows if r["cohort"] != ALL), key=lambda r: COHORTS.index(r["cohort"])),
                total=next(r for r in rows if r["cohort"] == ALL),
                why=[row for row in causes if row["role"] == "why"],
                ruled_out=[row for row in causes if row["role"] == "ruled_out"],
                gone_quiet=quiet_of.get(as_of, []),
            )
        return findings

    @property
    def decomposition(self) -> dict[str, Decimal]:
        """The additive parts of the B2B AOV change (they sum to it, one cent per part)."""
        return {row["cause"]: row["contribution"] for row in self.why + self.ruled_out if row["part"]}

    @property
    def top(self) -> dict[str, Any] | None:
        return self.why[0] if self.why else None

    @property
    def typical_text(self) -> str:
        t = self.total
        if not t["typical_windows"]:
            return "no earlier window to compare with"
        low, high = whole_count(t["typical_gone_quiet_min"]), whole_count(t["typical_gone_quiet_max"])
        spread = f"{low}" if low == high else f"{low}-{high}"
        return f"typical {spread} (median {t['typical_gone_quiet_median'].normalize():f} of {t['typical_windows']})"

    @property
    def orders_per_account(self) -> Decimal | None:
        """Orders per account that ordered in the current window."""
        active = self.total["active_accounts"]
        return (Decimal(self.total["orders"]) / active).quantize(Decimal("0.01")) if active else None

    def split_pct(self, prior: bool = False) -> Decimal | None:
        """Same-day second POs as a percent of B2B orders (guests aside) in the current or prior window;
        None for an investigation stored before order_days were counted."""
        t, before = self.total, "prior_" if prior else ""
        orders, days = t[f"{before}orders"], t.get(f"{before}order_days")
        if days is None or pd.isna(days) or not orders:
            return None
        return (Decimal(int(orders) - int(days)) * 100 / int(orders)).quantize(Decimal("0.01"))

    def cause_lines(self, limit: int | None = None) -> list[str]:
        """Numbered causes; evidence without a money part of its own (split_orders) shows its summary."""
        return [
            f"{i}. {row['cause']}: {row['summary']}"
            if row["contribution"] is None
            else f"{i}. {row['cause']} {signed_money_text(row['contribution'])} "
            f"({plain_pct(row['share_pct'])} of the move): {row['summary']}"
            for i, row in enumerate(self.why[:limit], 1)
        ]

    def why_lines(self) -> list[str]:
        """The ranked causes, then what was ruled out: the same lines on the card, the check and aov_why."""
        ruled_out = [f"- {row['summary']}" for row in self.ruled_out]
        return [*self.cause_lines(), "", "Ruled out:", *ruled_out]  # the blank line ends the numbered list

    def quiet_lines(self, limit: int = QUIET_SHOWN) -> list[str]:
        lines = [
            f"{row['name']} ({row['account']}): {row['prior_orders']} order(s), {money_text(row['prior_revenue'])} "
            "in the prior 30 days"
            for row in self.gone_quiet[:limit]
        ]
        if len(self.gone_quiet) > limit:
            lines.append(f"... {len(self.gone_quiet) - limit} more")
        return lines

    def cohort_table(self) -> list[tuple[str, ...]]:
        header = ("cohort", "accounts", "orders (30D)", "AOV (30D)", "prior AOV", "change", "gone quiet")
        return [header] + [
            (
                row["cohort"],
                f"{row['accounts']:,}",
                f"{row['orders']:,}",
                money_text(row["aov"]),
                money_text(row["prior_aov"]),
                pct_text(row["aov_change_pct"]),
                str(row["gone_quiet"]),
            )
            for row in self.cohorts
        ]

    def as_json(self) -> dict[str, Any]:
        t = self.total
        return {
            "why": [
                {k: json_number(row[k]) for k in ("cause", "contribution", "share_pct", "summary")} for row in self.why
            ],
            "action": ACTIONS.get(self.top["cause"]) if self.top else None,
            "ruled_out": [{k: row[k] for k in ("cause", "summary")} for row in self.ruled_out],
            "decomposition": {cause: json_number(value) for cause, value in self.decomposition.items()},
            "gone_quiet": {
                "count": int(t["gone_quiet"]),
                "typical_median": json_number(t["typical_gone_quiet_median"]),
                "typical_min": t["typical_gone_quiet_min"],
                "typical_max": t["typical_gone_quiet_max"],
                "accounts": [jsonable(row) for row in self.gone_quiet],
            },
            "cohorts": [
                jsonable({k: v for k, v in row.items() if not k.startswith("typical")}) for row in self.cohorts
            ],
        }
