"""Per-account windows, lifetime-value cohorts and gone-quiet counts as of each day (pure)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from statistics import median

import numpy as np
import pandas as pd

from ..core.money import as_percent, cents_to_money, ratio_to_money, relative_change
from ..core.windows import WINDOW_DAYS

GUESTS = "guests"  # B2B guest orders: part of the totals, never an account of their own
ON_ACCOUNT = "companycredit"  # payment.method of Payment on Account (Adobe Commerce's Company Credit)
COHORTS = ("top 20%", "middle 60%", "bottom 20%")
ALL = "all"
TYPICAL_WINDOWS = 11  # gone-quiet counts as of D-30, D-60 .. D-330
LOOKBACK_DAYS = TYPICAL_WINDOWS * WINDOW_DAYS + 2 * WINDOW_DAYS - 1  # first day the typical count reads
SIGNIFICANT = Fraction(1, 10)  # "by more than 10%" in the naming rules
ONE_CENT = Fraction(1, 100)

DAILY_COLUMNS = ("orders", "revenue_cents", "line_items", "refunded_cents", "on_account_orders")
WINDOW_SUMS = (*DAILY_COLUMNS, "order_days")  # order_days: 1 on a day the account ordered (same-day splits)
COHORT_SUMS = ("orders", "revenue_cents", "prior_orders", "prior_revenue_cents")


COHORT_SUMS += ("active_accounts", "prior_active_accounts", "gone_quiet", "order_days", "prior_order_days")
COHORT_SUMS += ("credit_pressed",)  # continuing accounts at the credit utilization threshold (none without credit)


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
    company_name, value_cents, line_items, refunded_cents, payment_method and counted. The name is
    the latest company_name seen that day (any state); the sums count counted orders only.
    """
    columns = ["order_date", "account", "name", *DAILY_COLUMNS, "largest_cents", "largest_order_id"]
    if orders.empty:
        return pd.DataFrame(columns=columns)
    frame = orders.assign(account=account_keys(orders["company_id"], orders["customer_id"]))
    names = (
        frame.sort_values(["created_at", "entity_id"]).groupby(["order_date", "account"])["company_name"].last()
    )  # `last` skips missing names
    counted = frame[frame["counted"].astype(bool)]
    counted = counted.assign(on_account=counted["payment_method"] == ON_ACCOUNT)
    sums = counted.groupby(["order_date", "account"]).agg(
        orders=("entity_id", "size"),
        revenue_cents=("value_cents", "sum"),
        line_items=("line_items", "sum"),
        refunded_cents=("refunded_cents", "sum"),
        on_account_orders=("on_account", "sum"),
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
        for name in WINDOW_SUMS:
            carried = self.cumulative.pop(name)
            if name in self.before:
                lifetime = np.zeros(len(self.accounts), dtype=np.int64)
                lifetime[old] = self.before[name] + carried[:, drop]
                self.before[name] = lifetime
            dense = np.zeros((len(self.accounts), len(self.days) + 1), dtype=np.int64)
            dense[old, : kept + 1] = carried[:, drop:]
            del carried
            dense[:, : kept + 1] -= dense[:, :1].copy()  # cumulative from the new span's first day
            values = daily["orders"] > 0 if name == "order_days" else daily[name]
            np.add.at(dense, (row, column + 1), values.to_numpy(dtype=np.int64))
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
    empty = {name: np.zeros((len(accounts), 1), dtype=np.int64) for name in WINDOW_SUMS}
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
            "order_days": window("order_days")[at],
            "prior_order_days": window("order_days", WINDOW_DAYS)[at],
            "on_account_orders": window("on_account_orders")[at],
            "prior_on_account_orders": window("on_account_orders", WINDOW_DAYS)[at],
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
        credit_pressed=named["credit_pressed"] if "credit_pressed" in named else 0,
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
                "order_days": int(row.order_days),
                "prior_order_days": int(row.prior_order_days),
                "credit_pressed": int(row.credit_pressed) if "credit_pressed" in named else None,  # no credit data
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
