"""Who should call whom: every account the investigation names, with its reason, numbers and sales rep (pure).

An account is named when it went quiet, reached the credit utilization threshold in the current window
(credit pressure), placed at least two more same-day second POs (and 5 points more of its orders) while
split orders explain the move, or has one of the month's largest whitespace opportunities. Its sales
representative is its Company's (`b2b_companies.sales_rep_id`); the manifest's `sales_reps` says who that
is. One row per account and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from ..core.money import as_percent, relative_change
from ..core.text import money_text, pct_text
from ..investigation.evidence import SPLIT_POINTS
from ..manifest import Manifest, SalesRep

REASONS = ("credit_pressure", "split_orders", "gone_quiet", "whitespace")  # the order a rep works through them
SPLIT_MORE = 2  # an account's same-day second POs must rise by this many (one more is noise) ...
WHITESPACE_CALLS = 10  # accounts with the largest opportunities of the month
PER_REP_SHOWN = 5  # accounts per rep on the card and in Slack
CALL_COLUMNS = ["rep_id", "rep", "account", "name", "cohort", "reason", "numbers"]
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class CallSettings:
    """What a call list needs from the store's manifest."""

    reps: Mapping[int, SalesRep]

    @classmethod
    def of(cls, manifest: Manifest) -> CallSettings:
        return cls({rep.id: rep for rep in manifest.sales_reps})

    def rep(self, rep_id: int | None) -> str:
        if rep_id is None:
            return UNASSIGNED
        person = self.reps.get(rep_id)
        if person is None:
            return f"rep {rep_id}"
        return f"{person.name} ({person.slack})" if person.slack else person.name


@dataclass(frozen=True)
class CallList:
    as_of: date
    rows: pd.DataFrame  # CALL_COLUMNS, by rep, reason, then what is at stake

    @classmethod
    def build(
        cls,
        as_of: date,
        accounts: pd.DataFrame,
        companies: pd.DataFrame,
        whitespace: pd.DataFrame,
        why: frozenset[str],
        settings: CallSettings,
    ) -> CallList:
        """`accounts`: b2b_accounts_30d rows of the as-of day; `companies`: b2b_companies' company_id and
        sales_rep_id; `whitespace`: account_whitespace rows of the month (largest opportunity first); `why`:
        the day's causes (aov_why, role why): split POs are a reason to call only when they explain the move."""
        named = pd.concat(
            [
                _credit_pressure(accounts),
                _split_orders(accounts if "split_orders" in why else accounts.iloc[:0]),
                _gone_quiet(accounts),
                _whitespace(whitespace),
            ],
            ignore_index=True,
        )
        reps = dict(zip("company:" + companies["company_id"].astype(str), companies["sales_rep_id"]))
        rep_ids = [None if pd.isna(rep) else int(rep) for rep in map(reps.get, named["account"])]
        named["rep_id"] = pd.array(rep_ids, dtype="Int64")
        named["rep"] = [settings.rep(rep) for rep in rep_ids]
        named["unassigned"] = named["rep_id"].isna()
        named["order"] = named["reason"].map(REASONS.index)
        named = named.sort_values(["unassigned", "rep", "order", "stake", "account"], ascending=[1, 1, 1, 0, 1])
        return cls(as_of, named[CALL_COLUMNS].reset_index(drop=True))

    @classmethod
    def stored(cls, warehouse: Any, as_of: date, settings: CallSettings) -> CallList:
        """The call list of an as-of day from the warehouse (`ActionsQueries.call_inputs`)."""
        return cls.build(as_of, *warehouse.call_inputs(as_of), settings)

    def of_rep(self, rep_id: int) -> CallList:
        return CallList(self.as_of, self.rows[self.rows["rep_id"] == rep_id].reset_index(drop=True))

    @property
    def accounts(self) -> int:
        return int(self.rows["account"].nunique())

    def lines(self) -> list[str]:
        """One line per account and reason, grouped by rep (the CLI's text and the card)."""
        lines = []
        for rep, calls in self.rows.groupby("rep", sort=False):
            lines.append(f"{rep}:")
            lines += [
                f"  {r.name} ({r.account}, {r.cohort or '-'}) {r.reason}: {r.numbers}" for r in calls.itertuples()
            ]
        return lines

    def by_rep(self, limit: int = PER_REP_SHOWN) -> list[tuple[str, str]]:
        """Per rep: up to `limit` accounts with their reasons, then how many more (the card, the check and the
        Slack alert show this; `aov accounts` lists them all)."""
        shown, accounts = [], self.rows.drop_duplicates("account")
        twins = set(accounts.loc[accounts["name"].duplicated(), "name"])  # Companies of the same name: add the key
        for rep, calls in self.rows.groupby("rep", sort=False):
            reasons = calls.groupby("account", sort=False).agg(name=("name", "first"), reason=("reason", ", ".join))
            listing = "; ".join(
                f"{r.name} ({r.Index}, {r.reason})" if r.name in twins else f"{r.name} ({r.reason})"
                for r in reasons.head(limit).itertuples()
            )
            more = f"; and {len(reasons) - limit} more" if len(reasons) > limit else ""
            shown.append((rep, f"{listing}{more}"))
        return shown

    @property
    def command(self) -> str:
        return f"aov accounts --as-of {self.as_of}"

    def markdown(self) -> list[str]:
        """The whole list as a Markdown table (the check's metadata)."""
        if self.rows.empty:
            return []
        table = ["| rep | account | reason | numbers |", "| --- | --- | --- | --- |"]
        table += [f"| {r.rep} | {r.name} ({r.account}) | {r.reason} | {r.numbers} |" for r in self.rows.itertuples()]
        return table

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {key: (None if pd.isna(value) else int(value) if key == "rep_id" else value) for key, value in row.items()}
            for row in self.rows.to_dict("records")
        ]


def _named(accounts: pd.DataFrame, reason: str, numbers: list[str], stake: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account": accounts["account"].to_numpy(),
            "name": accounts["name"].to_numpy(),
            "cohort": accounts["cohort"].to_numpy(),
            "reason": reason,
            "numbers": numbers,
            "stake": pd.to_numeric(stake, errors="coerce").fillna(0).to_numpy(dtype=float),
        }
    )


def _credit_pressure(accounts: pd.DataFrame) -> pd.DataFrame:
    pressed = accounts[accounts["credit_pressed"].fillna(False).astype(bool)]  # as the finding judged them
    numbers = [
        f"peak {r.credit_utilization_pct:.0f}% of its credit limit; AOV {money_text(r.aov)} "
        f"(prior {money_text(r.prior_aov)}, {pct_text(as_percent(relative_change(r.aov, r.prior_aov)))})"
        for r in pressed.itertuples()
    ]
    return _named(pressed, "credit_pressure", numbers, pressed["prior_revenue"])


def _split_orders(accounts: pd.DataFrame) -> pd.DataFrame:
    known = accounts[accounts["order_days"].notna() & (accounts["orders"] > 0) & (accounts["prior_orders"] > 0)]
    extra, prior_extra = known["orders"] - known["order_days"], known["prior_orders"] - known["prior_order_days"]
    rise = extra / known["orders"] - prior_extra / known["prior_orders"]
    split = known[(extra >= prior_extra + SPLIT_MORE) & (rise >= float(SPLIT_POINTS))]
    numbers = [
        f"same-day second POs {int(r.orders - r.order_days)} of {r.orders} orders "
        f"(prior {int(r.prior_orders - r.prior_order_days)} of {r.prior_orders})"
        for r in split.itertuples()
    ]
    return _named(split, "split_orders", numbers, split["revenue"])


def _gone_quiet(accounts: pd.DataFrame) -> pd.DataFrame:
    quiet = accounts[accounts["status"] == "gone_quiet"]
    numbers = [
        f"no order in 30 days; prior {r.prior_orders} orders, {money_text(r.prior_revenue)}" for r in quiet.itertuples()
    ]
    return _named(quiet, "gone_quiet", numbers, quiet["prior_revenue"])


def _whitespace(whitespace: pd.DataFrame) -> pd.DataFrame:
    largest = whitespace.drop_duplicates("account").head(WHITESPACE_CALLS)
    numbers = [
        f"{r.peers_buying} of {r.peers} peers buy {r.category} (median {money_text(r.peer_median_spend)} a year)"
        for r in largest.itertuples()
    ]
    return _named(largest, "whitespace", numbers, largest["peer_median_spend"])
