"""Why B2B AOV moved: accounts, LTV cohorts, gone-quiet accounts and the decomposed cause (pure, no I/O).

Everything starts from per-account daily sums (`account_daily`), so a window costs O(accounts x
days), never a rescan of orders. For an as-of day D the B2B AOV change (current AOV A1 minus prior
AOV A0) splits exactly, in Fractions, into four additive parts:

- `accounts_gone_quiet` = A0 over continuing accounts - A0 (what the leavers did to the prior AOV);
- `new_accounts` = A1 - A1 over continuing accounts (new and returning accounts);
- `account_mix` = sum of (current share - prior share) x current account AOV, among continuing accounts;
- the within-account change = sum of prior share x the account's own AOV change, named after what
  moved: `po_splitting`, `basket_shrink` or `price_mix_down` (for a rise: `po_consolidation`,
  `basket_growth`, `price_mix_up`).

Three causes are tested first because each can explain the whole move: one outlier order, exchange
rates, and misclassified company-less orders.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from statistics import median

import numpy as np
import pandas as pd

from .rules import WINDOW_DAYS, as_percent, cents_to_money, fraction_to_decimal, ratio_to_money, relative_change

GUESTS = "guests"  # B2B guest orders: part of the totals, never an account of their own
COHORTS = ("top 20%", "middle 60%", "bottom 20%")
ALL = "all"
TYPICAL_WINDOWS = 11  # gone-quiet counts as of D-30, D-60 .. D-330
LOOKBACK_DAYS = TYPICAL_WINDOWS * WINDOW_DAYS + 2 * WINDOW_DAYS - 1  # first day the typical count reads
SIGNIFICANT = Fraction(1, 10)  # "by more than 10%" in the naming rules
ONE_CENT = Fraction(1, 100)

DAILY_COLUMNS = ("orders", "revenue_cents", "line_items", "refunded_cents")
COHORT_SUMS = ("orders", "revenue_cents", "prior_orders", "prior_revenue_cents")
COHORT_SUMS += ("active_accounts", "prior_active_accounts", "gone_quiet")

WITHIN_CAUSES = ("po_splitting", "basket_shrink", "price_mix_down", "po_consolidation", "basket_growth", "price_mix_up")
LEADING_CAUSES = ("outlier_order", "currency", "misclassification")
ACTIONS = {
    "outlier_order": "Confirm the order with the account; a one-off PO inflates or deflates a 30-day AOV until it "
    "leaves the window.",
    "currency": "Judge the move in constant currency; talk to finance about price lists in the weaker currency.",
    "misclassification": "Check the manifest's segments (b2b_customer_groups / b2b_store_views) and the group of "
    "new company-less B2B customers.",
    "po_splitting": "Look at credit limits and approval thresholds of the accounts ordering more often; offer "
    "terms or consolidated delivery.",
    "basket_shrink": "Find the categories that left the baskets; send reorder lists and cross-sell the missing lines.",
    "price_mix_down": "Check which accounts moved to cheaper lines or smaller pack sizes; review contract prices.",
    "account_mix": "The accounts buying more often are the small-basket ones: grow basket size with them, and "
    "check whether the large accounts are buying less.",
    "accounts_gone_quiet": "Call the accounts that went quiet, largest prior revenue first.",
    "new_accounts": "Onboard the new accounts toward the catalogue of comparable continuing accounts.",
    "po_consolidation": "Accounts consolidate POs: fine for margin; watch their order frequency.",
    "basket_growth": "Baskets grew: find the lines that joined and offer them to similar accounts.",
    "price_mix_up": "Accounts bought pricier lines: check whether prices rose or the mix moved up.",
}


# --------------------------------------------------------------------------- accounts per day


def account_keys(company_id: pd.Series, customer_id: pd.Series) -> np.ndarray:
    """`company:<id>`, else `customer:<id>` for a B2B order without a company, else `guests`."""
    company = company_id.astype("Int64").astype("string")
    customer = customer_id.astype("Int64").astype("string")
    return np.where(
        company.notna(),
        "company:" + company.fillna(""),
        np.where(customer.notna(), "customer:" + customer.fillna(""), GUESTS),
    ).astype(object)


def account_daily_rows(orders: pd.DataFrame) -> pd.DataFrame:
    """B2B orders -> one row per day and account: counted orders, revenue, lines, refunds, largest order, name.

    `orders` holds order_date, created_at, entity_id, increment_id, company_id, customer_id,
    company_name, value_cents, line_items, refunded_cents and counted. The name is the latest
    company_name seen that day (any state); the sums count counted orders only.
    """
    columns = ["order_date", "account", "name", *DAILY_COLUMNS, "largest_cents", "largest_order_id"]
    if orders.empty:
        return pd.DataFrame(columns=columns)
    frame = orders.assign(account=account_keys(orders["company_id"], orders["customer_id"]))
    names = (
        frame.sort_values(["created_at", "entity_id"]).groupby(["order_date", "account"])["company_name"].last()
    )  # `last` skips missing names
    counted = frame[frame["counted"].astype(bool)]
    sums = counted.groupby(["order_date", "account"]).agg(
        orders=("entity_id", "size"),
        revenue_cents=("value_cents", "sum"),
        line_items=("line_items", "sum"),
        refunded_cents=("refunded_cents", "sum"),
    )
    largest = (
        counted.sort_values(["value_cents", "entity_id"], ascending=[False, True])
        .groupby(["order_date", "account"])
        .first()[["value_cents", "increment_id"]]
        .rename(columns={"value_cents": "largest_cents", "increment_id": "largest_order_id"})
    )
    rows = names.to_frame("name").join(sums, how="left").join(largest, how="left")
    rows[list(DAILY_COLUMNS)] = rows[list(DAILY_COLUMNS)].fillna(0).astype("int64")
    rows = rows[(rows["orders"] > 0) | rows["name"].notna()]
    return rows.reset_index()[columns]


def currency_daily_rows(orders: pd.DataFrame) -> pd.DataFrame:
    """Counted B2B orders per day and base currency: orders, base-currency revenue (1/10000 units), global cents."""
    counted = orders[orders["counted"].astype(bool)].assign(
        base_currency_code=lambda f: f["base_currency_code"].fillna("")
    )
    return (
        counted.groupby(["order_date", "base_currency_code"])
        .agg(orders=("entity_id", "size"), base_units=("base_units", "sum"), revenue_cents=("value_cents", "sum"))
        .reset_index()
    )


# --------------------------------------------------------------------------- windows per as-of day


@dataclass
class Windows:
    """Dense per-account sums for a span of days, and the window sums of each as-of day in it."""

    accounts: np.ndarray  # account keys, sorted
    days: pd.DatetimeIndex  # the span, one column per day
    cumulative: dict[str, np.ndarray]  # name -> accounts x (days + 1), cumulative over days
    before: dict[str, np.ndarray]  # orders, revenue_cents -> per account, lifetime before the span
    first_day: np.ndarray  # per account: first counted order day (NaT when none), all history

    def ends(self, days: Sequence[date]) -> np.ndarray:
        """Per as-of day: its index in the cumulative arrays (one past the day's column)."""
        return self.days.get_indexer(pd.to_datetime(list(days))) + 1

    def window(self, name: str, as_of: date, offset: int = 0) -> np.ndarray:
        """Per account: the sum over the 30 days ending `offset` days before `as_of`."""
        end = self.days.get_loc(pd.Timestamp(as_of)) + 1 - offset
        cumulative = self.cumulative[name]
        return cumulative[:, end] - cumulative[:, max(end - WINDOW_DAYS, 0)]

    @cached_property
    def gone_quiet(self) -> np.ndarray:
        """Per day of the span: accounts (guests aside) with orders in the prior window and none in the
        current one as of that day; -1 where the span does not hold both windows."""
        cumulative, named = self.cumulative["orders"], (self.accounts != GUESTS)[:, None]
        counts = np.full(len(self.days), -1, dtype=np.int64)
        for start in range(2 * WINDOW_DAYS, len(self.days) + 1, WINDOW_DAYS):  # a window's days at a time:
            e = np.arange(start, min(start + WINDOW_DAYS, len(self.days) + 1))  # accounts x 30 temporaries
            current = cumulative[:, e] - cumulative[:, e - WINDOW_DAYS]
            prior = cumulative[:, e - WINDOW_DAYS] - cumulative[:, e - 2 * WINDOW_DAYS]
            counts[e - 1] = ((current == 0) & (prior > 0) & named).sum(axis=0)
        return counts

    def advance(self, daily: pd.DataFrame, first: date, last: date) -> None:
        """Move the span to first..last in place: `daily` holds the account_daily rows of the days after
        the span through `last`, the days before `first` fold into the lifetime before the span, and
        accounts seen for the first time join in key order. A range run carries its windows from chunk
        to chunk this way and reads each day of account_daily once; one array is copied at a time."""
        kept = int((self.days >= pd.Timestamp(first)).sum())
        drop = len(self.days) - kept
        carried_accounts = self.accounts
        self.accounts = np.union1d(carried_accounts, daily["account"].to_numpy(dtype=object))
        old = self.accounts.searchsorted(carried_accounts)
        self.days = pd.date_range(first, last, freq="D")
        row = self.accounts.searchsorted(daily["account"].to_numpy(dtype=object))
        column = self.days.get_indexer(pd.to_datetime(daily["order_date"]))
        for name in DAILY_COLUMNS:
            carried = self.cumulative.pop(name)
            if name in self.before:
                lifetime = np.zeros(len(self.accounts), dtype=np.int64)
                lifetime[old] = self.before[name] + carried[:, drop]
                self.before[name] = lifetime
            dense = np.zeros((len(self.accounts), len(self.days) + 1), dtype=np.int64)
            dense[old, : kept + 1] = carried[:, drop:]
            del carried
            dense[:, : kept + 1] -= dense[:, :1].copy()  # cumulative from the new span's first day
            np.add.at(dense, (row, column + 1), daily[name].to_numpy(dtype=np.int64))
            np.cumsum(dense[:, kept:], axis=1, out=dense[:, kept:])
            self.cumulative[name] = dense
        first_day = np.full(len(self.accounts), np.datetime64("NaT"), dtype="datetime64[ns]")
        first_day[old] = self.first_day
        counted = daily[daily["orders"] > 0]
        first_in_span = pd.to_datetime(counted.groupby("account")["order_date"].min().reindex(self.accounts))
        self.first_day = np.where(pd.isna(first_day), first_in_span.to_numpy(dtype="datetime64[ns]"), first_day)
        self.__dict__.pop("gone_quiet", None)  # the cached counts were of the old span


def build_windows(daily: pd.DataFrame, before: pd.DataFrame, first: date, last: date) -> Windows:
    """`daily`: account_daily rows of first..last; `before`: per account orders, revenue_cents and
    first_order_date of everything before `first`."""
    windows = lifetime_windows(before)
    windows.advance(daily, first, last)
    return windows


def lifetime_windows(before: pd.DataFrame) -> Windows:
    """Windows over no day yet: the accounts of `before` (as in `build_windows`) with their lifetime sums;
    `Windows.advance` adds the days."""
    accounts = np.unique(before["account"].to_numpy(dtype=object))
    indexed = before.set_index("account").reindex(accounts)
    lifetime = {name: indexed[name].fillna(0).to_numpy(dtype=np.int64) for name in ("orders", "revenue_cents")}
    first_day = pd.to_datetime(indexed["first_order_date"]).to_numpy(dtype="datetime64[ns]")
    empty = {name: np.zeros((len(accounts), 1), dtype=np.int64) for name in DAILY_COLUMNS}
    return Windows(accounts, pd.DatetimeIndex([]), empty, lifetime, first_day)


def compact_sums(daily: pd.DataFrame) -> pd.DataFrame:
    """account_daily rows -> their day, account and DAILY_COLUMNS, as a range run holds many of them:
    days as datetime64 and one str per account (interned), not a date and a str object per row."""
    return daily[["order_date", "account", *DAILY_COLUMNS]].assign(
        order_date=pd.to_datetime(daily["order_date"]), account=daily["account"].map(sys.intern)
    )


def name_changes(daily: pd.DataFrame) -> pd.DataFrame:
    """account_daily rows -> order_date, account, name where an account's name changed: the latest name
    seen up to a day, which is all `with_names` reads, stays the same while a run carries few rows."""
    seen = daily.loc[daily["name"].notna(), ["order_date", "account", "name"]]
    seen = seen.assign(order_date=pd.to_datetime(seen["order_date"])).sort_values(["account", "order_date"])
    changed = (seen["account"] != seen["account"].shift()) | (seen["name"] != seen["name"].shift())
    return seen[changed.to_numpy()].reset_index(drop=True)


def largest_per_day(daily: pd.DataFrame) -> pd.DataFrame:
    """account_daily rows -> each day's largest counted order across accounts (ties: the first account)."""
    largest = daily[daily["largest_cents"].notna()].sort_values(["largest_cents", "account"], ascending=[False, True])
    return largest.drop_duplicates("order_date")


def account_rows(windows: Windows, days: Sequence[date]) -> pd.DataFrame:
    """Per as-of day in `days`, every account with counted orders in the current or prior window (guests
    included): its status, window sums, lifetime revenue up to the as-of day and LTV cohort.
    All days at once, as accounts x days arrays; rows come by as-of day, then account."""
    ends = windows.ends(days)

    def window(name: str, offset: int = 0) -> np.ndarray:
        cumulative, end = windows.cumulative[name], ends - offset
        return cumulative[:, end] - cumulative[:, np.maximum(end - WINDOW_DAYS, 0)]

    orders, prior_orders = window("orders"), window("orders", WINDOW_DAYS)
    lifetime = windows.before["revenue_cents"][:, None] + windows.cumulative["revenue_cents"][:, ends]
    cohort = _cohorts(lifetime, _ever(windows, days))
    day, account = np.nonzero(((orders > 0) | (prior_orders > 0)).T)  # day-major: as-of, then account
    at = (account, day)
    as_of = np.array(list(days), dtype=object)[day]
    current_start = (pd.to_datetime(list(days)) - pd.Timedelta(days=WINDOW_DAYS - 1)).to_numpy()[day]
    n1, n0 = orders[at], prior_orders[at]
    status = np.select(
        [(n1 > 0) & (n0 > 0), n1 == 0, windows.first_day[account] >= current_start],
        ["continuing", "gone_quiet", "new"],
        "returning",
    )
    return pd.DataFrame(
        {
            "as_of": as_of,
            "account": windows.accounts[account],
            "status": status,
            "orders": n1,
            "revenue_cents": window("revenue_cents")[at],
            "line_items": window("line_items")[at],
            "prior_orders": n0,
            "prior_revenue_cents": window("revenue_cents", WINDOW_DAYS)[at],
            "prior_line_items": window("line_items", WINDOW_DAYS)[at],
            "lifetime_cents": lifetime[at],
            "cohort": cohort[at],
        }
    )


def _cohorts(lifetime: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """accounts x days: top 20% / middle 60% / bottom 20% by lifetime revenue (ties by key: accounts are
    sorted) among `eligible` accounts (ever ordered, guests aside); the others get no cohort ("")."""
    order = np.argsort(np.where(eligible, -lifetime, np.iinfo(np.int64).max), axis=0, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(len(lifetime))[:, None], axis=0)
    ranked = eligible.sum(axis=0)
    edge = cohort_edge(ranked)
    return np.select(
        [rank >= ranked, rank >= ranked - edge, rank < edge],
        ["", COHORTS[2], COHORTS[0]],
        COHORTS[1],
    ).astype(object)


def cohort_edge(ranked: int | np.ndarray) -> int | np.ndarray:
    """Accounts in the top (and in the bottom) 20%: rounded, not truncated."""
    return np.round(np.asarray(ranked) * 0.2).astype(np.int64)


def account_name(key: str, name: object) -> str:
    if isinstance(name, str) and name:
        return name
    kind, _, ident = key.partition(":")
    return f"{kind.capitalize()} {ident}" if ident else "Guest orders"


def gone_quiet_count(windows: Windows, as_of: date) -> int:
    return int(windows.gone_quiet[windows.days.get_loc(pd.Timestamp(as_of))])


@dataclass(frozen=True)
class Typical:
    """The gone-quiet count as of D-30 .. D-330, over the windows the data fully covers."""

    median: Decimal | None
    low: int | None
    high: int | None
    windows: int

    def text(self) -> str:
        if not self.windows:
            return "no earlier window fully covered by the data"
        spread = f"{self.low}" if self.low == self.high else f"{self.low}-{self.high}"
        return f"typical {spread} (median {self.median.normalize():f} of {self.windows} earlier windows)"


def typical_gone_quiet(windows: Windows, as_of: date, covered_from: date) -> Typical:
    counts = []
    for k in range(1, TYPICAL_WINDOWS + 1):
        earlier = as_of - timedelta(days=WINDOW_DAYS * k)
        if earlier - timedelta(days=2 * WINDOW_DAYS - 1) < max(covered_from, windows.days[0].date()):
            break
        counts.append(gone_quiet_count(windows, earlier))
    if not counts:
        return Typical(None, None, None, 0)
    return Typical(Decimal(str(median(counts))), min(counts), max(counts), len(counts))


def cohort_rows(accounts: pd.DataFrame, windows: Windows, typical: Mapping[date, Typical]) -> pd.DataFrame:
    """`account_rows` -> per as-of day and cohort (and `all`): accounts, sums, AOVs and gone quiet.
    `typical` holds each as-of day's typical gone-quiet count."""
    named = accounts[accounts["account"] != GUESTS]
    named = named.assign(
        active_accounts=named["orders"] > 0,
        prior_active_accounts=named["prior_orders"] > 0,
        gone_quiet=named["status"] == "gone_quiet",
    )[["as_of", "cohort", *COHORT_SUMS]]
    days = sorted(set(accounts["as_of"]))
    sums = pd.concat([named, named.assign(cohort=ALL)]).groupby(["as_of", "cohort"]).sum()
    sums = sums.reindex(pd.MultiIndex.from_product([days, [*COHORTS, ALL]]), fill_value=0)
    ranked = dict(zip(days, ranked_accounts(windows, days)))
    rows = []
    for (as_of, label), row in zip(sums.index, sums.itertuples(index=False)):
        n1, r1, n0, r0 = (int(v) for v in row[:4])
        rows.append(
            {
                "as_of": as_of,
                "cohort": label,
                "accounts": cohort_sizes(int(ranked[as_of]))[label],
                "active_accounts": int(row.active_accounts),
                "prior_active_accounts": int(row.prior_active_accounts),
                "orders": n1,
                "revenue": cents_to_money(r1),
                "aov": ratio_to_money(r1, n1),
                "prior_orders": n0,
                "prior_revenue": cents_to_money(r0),
                "prior_aov": ratio_to_money(r0, n0),
                "aov_change_pct": as_percent(relative_change(_aov(n1, r1), _aov(n0, r0))),
                "gone_quiet": gone_quiet_count(windows, as_of) if label == ALL else int(row.gone_quiet),
                "typical_gone_quiet_median": typical[as_of].median,
                "typical_gone_quiet_min": typical[as_of].low,
                "typical_gone_quiet_max": typical[as_of].high,
                "typical_windows": typical[as_of].windows,
            }
        )
    return pd.DataFrame(rows)


def ranked_accounts(windows: Windows, days: Sequence[date]) -> np.ndarray:
    """Per as-of day: the accounts ranked into cohorts (every account that ever ordered, guests aside)."""
    return _ever(windows, days).sum(axis=0)


def _ever(windows: Windows, days: Sequence[date]) -> np.ndarray:
    """accounts x days: ordered (counted) up to the as-of day, guests aside."""
    ends = windows.ends(days)
    ever = windows.before["orders"][:, None] + windows.cumulative["orders"][:, ends] > 0
    return ever & (windows.accounts != GUESTS)[:, None]


def cohort_sizes(ranked: int) -> dict[str, int]:
    edge = int(cohort_edge(ranked))
    return {COHORTS[0]: edge, COHORTS[1]: ranked - 2 * edge, COHORTS[2]: edge, ALL: ranked}


def _aov(orders: int, revenue_cents: int) -> Fraction | None:
    return Fraction(revenue_cents, 100 * orders) if orders else None


def with_names(accounts: pd.DataFrame, daily: pd.DataFrame) -> pd.DataFrame:
    """Each account row with the latest company name seen up to its as-of day."""
    seen = daily.loc[daily["name"].notna(), ["order_date", "account", "name"]]
    seen = seen.assign(  # the key's dtype as in `accounts` (a carried frame may hold plain objects)
        order_date=pd.to_datetime(seen["order_date"]), account=seen["account"].astype(accounts["account"].dtype)
    ).sort_values("order_date")
    keyed = accounts.assign(_as_of=pd.to_datetime(accounts["as_of"])).sort_values("_as_of")
    named = pd.merge_asof(keyed, seen, left_on="_as_of", right_on="order_date", by="account", direction="backward")
    named["name"] = pd.Series([account_name(k, n) for k, n in zip(named["account"], named["name"])], dtype=object)
    named["account"] = named["account"].astype(object)  # plain str: `explain` scans them once per as-of day
    return named.drop(columns=["_as_of", "order_date"]).sort_values(["as_of", "account"], ignore_index=True)


class WindowContext:
    """Dense per-day arrays over the span, so each as-of day's `Context` (largest orders, base
    currencies, B2C AOV, refunds of both windows) costs O(window), not a filter of every row."""

    def __init__(self, daily: pd.DataFrame, currency: pd.DataFrame, segments: pd.DataFrame, windows: Windows):
        """`daily`: account_daily rows of the windows' span; each day's largest order (`largest_per_day`) is enough."""
        self.windows, self.days = windows, windows.days
        largest = largest_per_day(daily)
        at = self.days.get_indexer(pd.to_datetime(largest["order_date"]))
        self.largest_cents = np.full(len(self.days), -1, dtype=np.int64)
        self.largest_cents[at] = largest["largest_cents"].to_numpy(dtype=np.int64)
        self.largest = dict(zip(at, zip(largest["largest_order_id"].astype(str), largest["account"])))
        self.currencies = sorted(set(currency["base_currency_code"]))
        self.by_currency = {
            column: self._cumulative(currency, "base_currency_code", self.currencies, column)
            for column in ("base_units", "revenue_cents")
        }
        b2c = segments[segments["segment"] == "b2c"]
        self.b2c = {column: self._cumulative(b2c, "segment", ["b2c"], column) for column in ("orders", "revenue_cents")}

    def _cumulative(self, frame: pd.DataFrame, key: str, keys: list[str], column: str) -> np.ndarray:
        dense = np.zeros((len(self.days) + 1, len(keys)), dtype=np.int64)
        rows = self.days.get_indexer(pd.to_datetime(frame["order_date"])) + 1
        np.add.at(dense, (rows, pd.Index(keys).get_indexer(frame[key])), frame[column].to_numpy(dtype=np.int64))
        return np.cumsum(dense, axis=0)

    def _bounds(self, as_of: date, offset: int) -> tuple[int, int]:
        end = self.days.get_loc(pd.Timestamp(as_of)) + 1 - offset
        return end - WINDOW_DAYS, end

    def _sum(self, cumulative: np.ndarray, as_of: date, offset: int) -> np.ndarray:
        start, end = self._bounds(as_of, offset)
        return cumulative[end] - cumulative[start]

    def _top(self, as_of: date, offset: int) -> Largest | None:
        start, end = self._bounds(as_of, offset)
        day = start + int(np.argmax(self.largest_cents[start:end]))
        if self.largest_cents[day] < 0:
            return None
        order_id, account = self.largest[day]
        return Largest(int(self.largest_cents[day]), order_id, account)

    def _per_currency(self, column: str, as_of: date, offset: int) -> dict[str, int]:
        """Per base currency with orders of some base value in the window."""
        units = self._sum(self.by_currency["base_units"], as_of, offset)
        sums = self._sum(self.by_currency[column], as_of, offset)
        return {currency: int(v) for currency, v, u in zip(self.currencies, sums, units) if u}

    def _b2c_aov(self, as_of: date, offset: int) -> Fraction | None:
        orders = int(self._sum(self.b2c["orders"], as_of, offset)[0])
        return Fraction(int(self._sum(self.b2c["revenue_cents"], as_of, offset)[0]), 100 * orders) if orders else None

    def __call__(self, as_of: date, typical: Typical) -> Context:
        windows = self.windows
        return Context(
            largest=self._top(as_of, 0),
            prior_largest=self._top(as_of, WINDOW_DAYS),
            base_units=self._per_currency("base_units", as_of, 0),
            revenue_cents=self._per_currency("revenue_cents", as_of, 0),
            prior_base_units=self._per_currency("base_units", as_of, WINDOW_DAYS),
            prior_revenue_cents=self._per_currency("revenue_cents", as_of, WINDOW_DAYS),
            b2c_aov=self._b2c_aov(as_of, 0),
            prior_b2c_aov=self._b2c_aov(as_of, WINDOW_DAYS),
            refunded_cents=int(windows.window("refunded_cents", as_of).sum()),
            prior_refunded_cents=int(windows.window("refunded_cents", as_of, WINDOW_DAYS).sum()),
            typical=typical,
        )


# --------------------------------------------------------------------------- the cause


@dataclass(frozen=True)
class Largest:
    """The largest counted B2B order of a window."""

    cents: int
    order_id: str
    account: str


@dataclass(frozen=True)
class Context:
    """What the leading causes need besides the per-account sums, for one as-of day."""

    largest: Largest | None = None
    prior_largest: Largest | None = None
    base_units: dict[str, int] = field(default_factory=dict)  # current window, per base currency
    revenue_cents: dict[str, int] = field(default_factory=dict)
    prior_base_units: dict[str, int] = field(default_factory=dict)
    prior_revenue_cents: dict[str, int] = field(default_factory=dict)
    b2c_aov: Fraction | None = None
    prior_b2c_aov: Fraction | None = None
    refunded_cents: int = 0
    prior_refunded_cents: int = 0
    typical: Typical | None = None


@dataclass(frozen=True)
class Cause:
    cause: str
    role: str  # why | ruled_out
    contribution: Fraction | None  # to A1 - A0, in money
    share: Fraction | None  # of the change
    part: bool
    summary: str


EXPLAIN_COLUMNS = ("account", "name", "status", "orders", "revenue_cents", "line_items")
EXPLAIN_COLUMNS += ("prior_orders", "prior_revenue_cents", "prior_line_items")


def explain(accounts: pd.DataFrame | Mapping[str, np.ndarray], context: Context) -> list[Cause]:
    """The ranked causes of one as-of day's B2B AOV change (`why` first, then `ruled_out`).

    `accounts` is that day's `account_rows` with names (guests included), as a frame or as arrays of
    its EXPLAIN_COLUMNS (a range run slices them per day: cheaper than a frame per day). Empty when a
    window has no orders.
    """
    accounts = {c: np.asarray(accounts[c]) for c in EXPLAIN_COLUMNS}
    n0, n1 = (accounts[c].astype(np.int64) for c in ("prior_orders", "orders"))
    r0, r1 = (accounts[c].astype(np.int64) for c in ("prior_revenue_cents", "revenue_cents"))
    l0, l1 = (accounts[c].astype(np.int64) for c in ("prior_line_items", "line_items"))
    orders0, orders1 = int(n0.sum()), int(n1.sum())
    if not orders0 or not orders1:
        return []
    a0, a1 = Fraction(int(r0.sum()), 100 * orders0), Fraction(int(r1.sum()), 100 * orders1)
    change = a1 - a0
    continuing = (n0 > 0) & (n1 > 0)
    parts, facts = _parts(n0, n1, r0, r1, l0, l1, continuing, a0, a1)
    statuses = accounts["status"]
    leading = _leading(accounts, context, a0, a1, change, orders0, orders1)
    why, ruled_out = [c for c in leading if c.role == "why"], [c for c in leading if c.role == "ruled_out"]
    for code, amount in parts.items():
        summary = _part_summary(code, amount, facts, statuses, accounts, context)
        share = amount / change if change else None
        helps = change != 0 and amount != 0 and (amount > 0) == (change > 0)
        (why if helps else ruled_out).append(Cause(code, "why" if helps else "ruled_out", amount, share, True, summary))
    ranked_parts = sorted((c for c in why if c.part), key=lambda c: -abs(c.contribution))
    why = [c for c in why if not c.part] + ranked_parts
    ruled_out += _context_lines(accounts, context, orders0, orders1, r0, r1)
    return why + ruled_out


def _parts(n0, n1, r0, r1, l0, l1, continuing, a0, a1) -> tuple[dict[str, Fraction], dict[str, Fraction | None]]:
    """The additive parts of a1 - a0 (exact), and the facts that name the within-account one. Four parts;
    three when no account continues (then nothing is within or between continuing accounts)."""
    c0, c1 = int(n0[continuing].sum()), int(n1[continuing].sum())
    if not c0:  # every account turned over: nothing is within or between continuing accounts
        return {"accounts_gone_quiet": Fraction(0), "new_accounts": a1 - a0, "account_mix": Fraction(0)}, {}
    rc0, rc1 = int(r0[continuing].sum()), int(r1[continuing].sum())
    ac0, ac1 = Fraction(rc0, 100 * c0), Fraction(rc1, 100 * c1)
    # sum over continuing accounts of (prior share) x (current account AOV), exactly
    counts, group = np.unique(n1[continuing], return_inverse=True)  # by each account's current orders:
    weights = np.zeros(len(counts), dtype=np.int64)  # few Fraction terms
    np.add.at(weights, group, n0[continuing] * r1[continuing])
    crossed = sum((Fraction(int(w), int(n)) for n, w in zip(counts, weights)), Fraction(0)) / (100 * c0)
    orders_change = relative_change(c1, c0)
    revenue_change = relative_change(rc1, rc0)
    lc0, lc1 = int(l0[continuing].sum()), int(l1[continuing].sum())
    lines_change = relative_change(Fraction(lc1, c1), Fraction(lc0, c0)) if lc0 else None
    within = crossed - ac0
    facts = {
        "orders": orders_change,
        "revenue": revenue_change,
        "lines": lines_change,
        "lines_per_order": Fraction(lc1, c1),
        "prior_lines_per_order": Fraction(lc0, c0),
        "value_per_line": Fraction(rc1, 100 * lc1) if lc1 else None,
        "prior_value_per_line": Fraction(rc0, 100 * lc0) if lc0 else None,
        "continuing": int(continuing.sum()),
    }
    return {
        "accounts_gone_quiet": ac0 - a0,
        "new_accounts": a1 - ac1,
        "account_mix": ac1 - crossed,
        within_cause(within, orders_change, revenue_change, lines_change): within,
    }, facts


def within_cause(
    within: Fraction, orders: Fraction | None, revenue: Fraction | None, lines_per_order: Fraction | None
) -> str:
    """Name the within-account change after what moved among continuing accounts."""
    flat = orders is not None and abs(orders) <= SIGNIFICANT
    revenue_flat = revenue is not None and abs(revenue) <= SIGNIFICANT
    if within < 0:
        if orders is not None and orders > SIGNIFICANT and revenue_flat:
            return "po_splitting"
        if flat and lines_per_order is not None and lines_per_order < -SIGNIFICANT:
            return "basket_shrink"
        return "price_mix_down"
    if orders is not None and orders < -SIGNIFICANT and revenue_flat:
        return "po_consolidation"
    if flat and lines_per_order is not None and lines_per_order > SIGNIFICANT:
        return "basket_growth"
    return "price_mix_up"


def _leading(accounts, context, a0, a1, change, orders0, orders1) -> list[Cause]:
    """Outlier order, exchange rates and misclassification: each can explain the whole move."""
    causes = []
    pct = relative_change(a1, a0)
    # one outlier order
    largest, prior_largest = context.largest, context.prior_largest
    if largest and prior_largest and orders0 > 1 and orders1 > 1:
        r0, r1 = a0 * orders0, a1 * orders1
        b0 = (r0 - Fraction(prior_largest.cents, 100)) / (orders0 - 1)
        b1 = (r1 - Fraction(largest.cents, 100)) / (orders1 - 1)
        effect = change - (b1 - b0)
        moved_points = (relative_change(a1, a0) - relative_change(b1, b0)) * 100
        named = largest if abs(a1 - b1) >= abs(a0 - b0) else prior_largest
        window = "current" if named is largest else "prior"
        who = f"#{named.order_id} ({_name_of(accounts, named.account)})"
        if _explains(effect, change):
            causes.append(
                Cause(
                    "outlier_order",
                    "why",
                    effect,
                    effect / change,
                    False,
                    f"Order {who} of {_money(named.cents)} in the {window} window: without the largest order "
                    f"of each window B2B AOV changes {_pct(relative_change(b1, b0))} instead of {_pct(pct)}.",
                )
            )
        else:
            causes.append(
                Cause(
                    "outlier_order",
                    "ruled_out",
                    effect,
                    effect / change if change else None,
                    False,
                    f"Largest order {who} {_money(named.cents)} moves the change by {abs(float(moved_points)):.1f} "
                    "points: not an outlier PO.",
                )
            )
    # exchange rates
    constant = _constant_currency_aov(context, orders1)
    if constant is not None:
        constant_pct = relative_change(constant, a0)
        effect = a1 - constant
        currencies = sorted(set(context.base_units) | set(context.prior_base_units))
        listing = ", ".join(c or "unknown" for c in currencies)
        if _explains(effect, change):
            causes.append(
                Cause(
                    "currency",
                    "why",
                    effect,
                    effect / change,
                    False,
                    f"At the prior window's exchange rates B2B AOV changes {_pct(constant_pct)} instead of "
                    f"{_pct(pct)} (base currencies {listing}): exchange rates moved it.",
                )
            )
        else:
            causes.append(
                Cause(
                    "currency",
                    "ruled_out",
                    effect,
                    effect / change if change else None,
                    False,
                    f"Constant-currency change {_pct(constant_pct)} (base currencies {listing}): not exchange rates.",
                )
            )
    # company-less, consumer-like orders counted as B2B
    share0, share1, effect = _misclassified(accounts, context, a0, a1, change)
    if share0 is not None and share1 is not None:
        moved = (share1 - share0) * 100
        text = (
            f"B2B orders without a company from accounts with AOV below twice the B2C AOV: "
            f"{float(share1) * 100:.1f}% of B2B orders (prior {float(share0) * 100:.1f}%)"
        )
        if moved > 10 and effect is not None and (effect > 0) == (change > 0) and change:
            causes.append(
                Cause(
                    "misclassification",
                    "why",
                    effect,
                    effect / change,
                    False,
                    f"{text}: consumer-like orders are being counted as B2B (customer group or store-view mapping).",
                )
            )
        else:
            causes.append(
                Cause("misclassification", "ruled_out", effect, None, False, f"{text}: not a segment mapping problem.")
            )
    return causes


def _name_of(accounts: Mapping[str, np.ndarray], key: str) -> str:
    match = np.flatnonzero(accounts["account"] == key)
    return accounts["name"][match[0]] if len(match) else account_name(key, None)


def _explains(effect: Fraction, change: Fraction) -> bool:
    """A leading cause explains the move when it points the same way and carries more than half of it."""
    return change != 0 and (effect > 0) == (change > 0) and abs(effect) > abs(change) / 2


def _constant_currency_aov(context: Context, orders1: int) -> Fraction | None:
    """Current B2B AOV at the prior window's revenue-weighted average rate per base currency."""
    if not context.base_units or not orders1:
        return None
    total = Fraction(0)
    for currency, units in context.base_units.items():
        prior_units = context.prior_base_units.get(currency, 0)
        if prior_units:
            rate = Fraction(context.prior_revenue_cents[currency], prior_units)  # cents per base unit
            total += units * rate
        else:  # no prior orders in this currency: its own rate, no currency effect
            total += context.revenue_cents[currency]
    return total / (100 * orders1)


def _misclassified(accounts, context, a0, a1, change) -> tuple[Fraction | None, Fraction | None, Fraction | None]:
    """Share of B2B orders from company-less accounts with AOV below 2x B2C AOV, per window, and
    what excluding them would change."""
    if context.b2c_aov is None or context.prior_b2c_aov is None:
        return None, None, None
    customer = np.array([key.startswith("customer:") for key in accounts["account"]], dtype=bool)
    shares, kept = [], []
    for orders, revenue, b2c in (
        ("prior_orders", "prior_revenue_cents", context.prior_b2c_aov),
        ("orders", "revenue_cents", context.b2c_aov),
    ):
        n, r = accounts[orders].astype(np.int64), accounts[revenue].astype(np.int64)
        low = customer & (n > 0)
        low[low] = r[low] * b2c.denominator < 2 * 100 * b2c.numerator * n[low]  # AOV below 2x B2C AOV, exactly
        shares.append(Fraction(int(n[low].sum()), int(n.sum())))
        rest_orders = int(n[~low].sum())
        kept.append(Fraction(int(r[~low].sum()), 100 * rest_orders) if rest_orders else None)
    effect = change - (kept[1] - kept[0]) if None not in kept else None
    return shares[0], shares[1], effect


def _part_summary(code: str, amount: Fraction, facts: dict, statuses, accounts: Mapping, context: Context) -> str:
    money = _signed(amount)
    if code == "accounts_gone_quiet":
        quiet = (statuses == "gone_quiet") & (accounts["account"] != GUESTS)
        typical = f" vs {context.typical.text()}" if context.typical else ""
        if not quiet.any():
            return f"No account went quiet{typical}: {money}."
        prior = (
            accounts["prior_revenue_cents"][quiet].sum(),
            accounts["prior_orders"][quiet].sum(),
        )
        quiet_aov = Fraction(int(prior[0]), 100 * int(prior[1]))
        return (
            f"{int(quiet.sum())} account(s) went quiet{typical}; their prior AOV was {_money_f(quiet_aov)}: "
            f"losing them moved AOV by {money}."
        )
    if code == "new_accounts":
        arrived = np.isin(statuses, ("new", "returning"))
        if not arrived.any():
            return f"No new or returning account ordered: {money}."
        n = int(accounts["orders"][arrived].sum())
        r = int(accounts["revenue_cents"][arrived].sum())
        return (
            f"{int((statuses == 'new').sum())} new and {int((statuses == 'returning').sum())} returning "
            f"account(s) ordered {n:,} time(s) at AOV {_money_f(Fraction(r, 100 * n))}: {money}."
        )
    if code == "account_mix":
        continuing = facts.get("continuing", 0)
        return f"Among {continuing} continuing accounts, order share moved between accounts of different AOV: {money}."
    orders, revenue, lines = facts.get("orders"), facts.get("revenue"), facts.get("lines")
    moved = (
        f"continuing accounts' orders {_pct(orders)}, revenue {_pct(revenue)}, lines per order "
        f"{_plain(facts.get('prior_lines_per_order'))} -> {_plain(facts.get('lines_per_order'))} ({_pct(lines)})"
    )
    lead = {
        "po_splitting": "The same spend in smaller POs (credit pressure, approval limits)",
        "basket_shrink": "Smaller baskets: fewer lines per order",
        "price_mix_down": "Cheaper lines: value per line "
        f"{_money_f(facts.get('prior_value_per_line'))} -> {_money_f(facts.get('value_per_line'))}",
        "po_consolidation": "Fewer, larger POs for the same spend",
        "basket_growth": "Bigger baskets: more lines per order",
        "price_mix_up": "Pricier lines: value per line "
        f"{_money_f(facts.get('prior_value_per_line'))} -> {_money_f(facts.get('value_per_line'))}",
    }[code]
    return f"{lead}; {moved}: {money}."


def _context_lines(accounts, context: Context, orders0, orders1, r0, r1) -> list[Cause]:
    """Always-ruled-out facts: fewer orders, and refunds (AOV is gross)."""
    orders_change, revenue_change = relative_change(orders1, orders0), relative_change(int(r1.sum()), int(r0.sum()))
    held = orders_change is not None and orders_change >= -SIGNIFICANT
    lines = [
        Cause(
            "fewer_orders",
            "ruled_out",
            None,
            None,
            False,
            f"B2B orders {_pct(orders_change)}, revenue {_pct(revenue_change)}: "
            + ("orders held, each order got smaller (not fewer orders)." if held else "fewer and smaller orders."),
        )
    ]
    revenue0, revenue1 = int(r0.sum()), int(r1.sum())
    if revenue0 and revenue1:
        rate0, rate1 = Fraction(context.prior_refunded_cents, revenue0), Fraction(context.refunded_cents, revenue1)
        lines.append(
            Cause(
                "refunds",
                "ruled_out",
                None,
                None,
                False,
                f"Refunds {float(rate1) * 100:.1f}% of B2B revenue (prior {float(rate0) * 100:.1f}%): "
                "AOV is gross, refunds do not move it.",
            )
        )
    return lines


def cause_rows(as_of: date, causes: Sequence[Cause]) -> list[dict]:
    """`explain`'s causes -> `aov_why` rows (money to the cent, shares as percent numbers)."""
    rows, rank = [], {"why": 0, "ruled_out": 0}
    for cause in causes:
        rank[cause.role] += 1
        rows.append(
            {
                "as_of": as_of,
                "cause": cause.cause,
                "role": cause.role,
                "rank": rank[cause.role],
                "part": cause.part,
                "contribution": fraction_to_decimal(cause.contribution, Decimal("0.01")),
                "share_pct": fraction_to_decimal(None if cause.share is None else cause.share * 100),
                "summary": cause.summary,
            }
        )
    return rows


# --------------------------------------------------------------------------- text


def _money(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):,.2f}"


def _money_f(value: Fraction | None) -> str:
    return "-" if value is None else f"{fraction_to_decimal(value, Decimal('0.01')):,.2f}"


def _signed(value: Fraction) -> str:
    return f"{fraction_to_decimal(value, Decimal('0.01')):+,.2f}"


def _pct(change: Fraction | None) -> str:
    return "-" if change is None else f"{as_percent(change):+.1f}%"


def _plain(value: Fraction | None) -> str:
    return "-" if value is None else f"{float(value):.1f}"
