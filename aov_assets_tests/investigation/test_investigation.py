"""Why B2B AOV moved (`aov_assets.investigation`), on small synthetic merchants with hand-checkable numbers.

As of 2026-05-03 the prior window is 2026-03-05..2026-04-03 and the current one 2026-04-04..2026-05-03.
AOVs below are in money units (cents / 100 / orders).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from aov_assets.core.money import fraction_to_decimal
from aov_assets.core.windows import WINDOW_DAYS
from aov_assets.investigation import assets as investigation_assets
from aov_assets.investigation.accounts import (
    LOOKBACK_DAYS,
    Typical,
    account_rows,
    build_windows,
    cohort_rows,
    cohort_sizes,
    gone_quiet_count,
    lifetime_windows,
    ranked_accounts,
    typical_gone_quiet,
)
from aov_assets.investigation.causes import Context, Largest, cause_rows, explain, within_cause

from ..conftest import EXAMPLE_DAY, EXAMPLE_FIRST_DAY, copy_of, investigation, read_table

AS_OF = date(2026, 5, 3)
PARTS = {"accounts_gone_quiet", "new_accounts", "account_mix"}
NO_HISTORY = pd.DataFrame(columns=["account", "orders", "revenue_cents", "first_order_date"])
DAILY = ["order_date", "account", "name", "orders", "revenue_cents", "line_items", "refunded_cents"]
DAILY += ["largest_cents", "largest_order_id", "on_account_orders"]


def window_start(k: int, as_of: date = AS_OF) -> date:
    """First day of the k-th window back from `as_of` (0 = current, 1 = prior, 2 = the one before)."""
    return as_of - timedelta(days=WINDOW_DAYS * (k + 1) - 1)


def spread(account: str, start: date, orders: int, revenue: int, lines: int | None = None) -> list[dict]:
    """account_daily rows for `orders` orders worth `revenue` cents, spread over days start+3, +13, +23."""
    lines = orders if lines is None else lines
    rows, done = [], 0
    for i in range(3):
        n = orders // 3 + (i < orders % 3)
        if not n:
            continue
        r = revenue * (done + n) // orders - revenue * done // orders
        li = lines * (done + n) // orders - lines * done // orders
        done += n
        day = start + timedelta(days=3 + 10 * i)
        rows.append(
            {
                "order_date": day,
                "account": account,
                "name": None,
                "orders": n,
                "revenue_cents": r,
                "line_items": li,
                "refunded_cents": 0,
                "largest_cents": -(-r // n),
                "largest_order_id": f"{account}@{day}",
            }
        )
    return rows


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=DAILY).fillna({"on_account_orders": 0})  # none paid on account


def merchant(spec: dict) -> pd.DataFrame:
    """{account: (prior, current)}, each window (orders, revenue_cents, lines) or None."""
    rows = []
    for account, windows in spec.items():
        for k, sums in zip((1, 0), windows):
            if sums:
                rows += spread(account, window_start(k), *sums)
    return frame(rows)


def rows_of(daily: pd.DataFrame, before: pd.DataFrame = NO_HISTORY, windows: int = 2) -> pd.DataFrame:
    rows = account_rows(build_windows(daily, before, window_start(windows - 1), AS_OF), [AS_OF])
    rows["name"] = rows["account"]
    return rows


def why(spec: dict, context: Context | None = None) -> list[dict]:
    causes = explain(rows_of(merchant(spec)), context or Context())
    return cause_rows(AS_OF, causes)


def assert_top(rows: list[dict], code: str, contribution: Decimal, part: bool) -> None:
    top = rows[0]
    assert (top["cause"], top["role"], top["rank"], top["part"]) == (code, "why", 1, part), rows
    assert top["contribution"] == contribution


# --------------------------------------------------------------------------- each cause ranks first


def test_outlier_order_leads():
    # prior: 10 orders at 1,000 (A0 = 1,000); current: one PO of 21,000 among nine at 1,000 (A1 = 3,000).
    # Without each window's largest order: b0 = (10,000 - 1,000) / 9 = 1,000, b1 = (30,000 - 21,000) / 9 = 1,000,
    # so the outlier explains 2,000 - 0 = all 2,000 of the change.
    spec = {"company:1": ((5, 500_000, 10), (5, 2_500_000, 10)), "company:2": ((5, 500_000, 10), (5, 500_000, 10))}
    context = Context(
        largest=Largest(2_100_000, "100042", "company:1"), prior_largest=Largest(100_000, "7", "company:2")
    )
    causes = explain(rows_of(merchant(spec)), context)
    assert causes[0].contribution == Fraction(2000) and causes[0].share == 1
    assert "#100042" in causes[0].summary
    assert_top(cause_rows(AS_OF, causes), "outlier_order", Decimal("2000.00"), part=False)


def test_currency_leads():
    # company:1 buys 10,000 EUR per window (10 orders); EUR fell from 1.10 to 0.88 USD: 11,000 -> 8,800 USD.
    # company:2 buys 10,000 USD both times. A0 = 21,000 / 20 = 1,050, A1 = 18,800 / 20 = 940 (change -110).
    # At the prior rate the current AOV is 1,050 again, so exchange rates explain all -110.
    spec = {
        "company:1": ((10, 1_100_000, 30), (10, 880_000, 30)),
        "company:2": ((10, 1_000_000, 30), (10, 1_000_000, 30)),
    }
    eur, usd = 10_000 * 10_000, 10_000 * 10_000  # base units are 1/10000 of the base currency
    context = Context(
        base_units={"EUR": eur, "USD": usd},
        revenue_cents={"EUR": 880_000, "USD": 1_000_000},
        prior_base_units={"EUR": eur, "USD": usd},
        prior_revenue_cents={"EUR": 1_100_000, "USD": 1_000_000},
    )
    rows = why(spec, context)
    assert_top(rows, "currency", Decimal("-110.00"), part=False)
    assert rows[0]["share_pct"] == Decimal("100.0000")


def test_misclassification_leads():
    # B2C AOV 50, so company-less accounts below 100 per order look like consumers. company:1: 20 orders at 500
    # in both windows; customer:9 and customer:10 arrive with 5 orders at 60 each: their share 0% -> 33.3%.
    # A1 = (10,000 + 600) / 30 = 353.33..., change = -440/3; excluding them AOV stays 500, so all -440/3 is theirs.
    spec = {
        "company:1": ((20, 1_000_000, 40), (20, 1_000_000, 40)),
        "customer:9": (None, (5, 30_000, 5)),
        "customer:10": (None, (5, 30_000, 5)),
    }
    context = Context(b2c_aov=Fraction(50), prior_b2c_aov=Fraction(50))
    causes = explain(rows_of(merchant(spec)), context)
    assert causes[0].contribution == Fraction(-440, 3)
    assert_top(cause_rows(AS_OF, causes), "misclassification", Decimal("-146.67"), part=False)
    # the same orders as B2C-sized baskets (B2C AOV 20, threshold 40) are not consumer-like
    calm = explain(rows_of(merchant(spec)), Context(b2c_aov=Fraction(20), prior_b2c_aov=Fraction(20)))
    assert [c.role for c in calm if c.cause == "misclassification"] == ["ruled_out"]


@pytest.mark.parametrize(
    ("code", "spec", "contribution"),
    [
        # company:1 splits the same 10,000 into 20 POs (orders +50%, revenue flat). A0 = 1,000, A1 = 666.67;
        # within = (10 x 500 + 10 x 1,000) / 20 - 1,000 = -250 (account_mix takes the other -83.33)
        (
            "po_splitting",
            {"company:1": ((10, 1_000_000, 50), (20, 1_000_000, 50)), "company:2": ((10, 1_000_000, 50),) * 2},
            Decimal("-250.00"),
        ),
        # company:1 drops from 5 to 3 lines per order at 200 a line (all lines per order 5 -> 4, -20%):
        # AOV 1,000 -> 600; within = (600 + 1,000) / 2 - 1,000 = -200
        (
            "basket_shrink",
            {"company:1": ((10, 1_000_000, 50), (10, 600_000, 30)), "company:2": ((10, 1_000_000, 50),) * 2},
            Decimal("-200.00"),
        ),
        # same lines per order, cheaper lines: AOV 1,000 -> 800 for company:1; within = -100
        (
            "price_mix_down",
            {"company:1": ((10, 1_000_000, 50), (10, 800_000, 50)), "company:2": ((10, 1_000_000, 50),) * 2},
            Decimal("-100.00"),
        ),
        # both keep their AOV (2,000 and 500) but the small account orders 30 times instead of 10:
        # A0 = 25,000 / 20 = 1,250, A1 = 35,000 / 40 = 875, all -375 is mix
        (
            "account_mix",
            {"company:1": ((10, 2_000_000, 50),) * 2, "company:2": ((10, 500_000, 50), (30, 1_500_000, 150))},
            Decimal("-375.00"),
        ),
        # the 2,000-AOV account goes quiet: A0 = 1,250, A1 = 500 = the continuing AOV, all -750 is the leaver
        (
            "accounts_gone_quiet",
            {"company:1": ((10, 2_000_000, 50), None), "company:2": ((10, 500_000, 50),) * 2},
            Decimal("-750.00"),
        ),
        # a new account at 200 per order joins a 1,000 one: A1 = 12,000 / 20 = 600, all -400 is the newcomer
        (
            "new_accounts",
            {"company:1": ((10, 1_000_000, 50),) * 2, "company:2": (None, (10, 200_000, 20))},
            Decimal("-400.00"),
        ),
    ],
)
def test_part_leads(code, spec, contribution):
    rows = why(spec)
    assert_top(rows, code, contribution, part=True)
    # more orders on the same 3 days: same-day second POs rose too
    evidence = {"split_orders"} if code in ("po_splitting", "account_mix") else set()
    assert {r["cause"] for r in rows if r["role"] == "why"} <= {code, "account_mix", *evidence}  # nothing else


def test_po_splitting_ranks_parts_by_size():
    rows = why({"company:1": ((10, 1_000_000, 50), (20, 1_000_000, 50)), "company:2": ((10, 1_000_000, 50),) * 2})
    ranked = [(r["cause"], r["rank"], r["contribution"]) for r in rows if r["role"] == "why"]
    assert ranked == [
        ("po_splitting", 1, Decimal("-250.00")),
        ("account_mix", 2, Decimal("-83.33")),
        ("split_orders", 3, None),  # the evidence after the parts it names
    ]
    assert {r["cause"] for r in rows if r["role"] == "ruled_out"} >= {"accounts_gone_quiet", "new_accounts"}


@pytest.mark.parametrize(
    ("within", "orders", "revenue", "lines", "code"),
    [
        (Fraction(5), Fraction(-1, 2), Fraction(0), Fraction(0), "po_consolidation"),
        (Fraction(5), Fraction(0), Fraction(1, 5), Fraction(1, 5), "basket_growth"),
        (Fraction(5), Fraction(0), Fraction(1, 5), Fraction(0), "price_mix_up"),
        (Fraction(-5), Fraction(11, 100), Fraction(1, 10), Fraction(0), "po_splitting"),
        (Fraction(-5), Fraction(1, 10), Fraction(-1, 5), Fraction(-11, 100), "basket_shrink"),
        (Fraction(-5), Fraction(11, 100), Fraction(-1, 5), Fraction(0), "price_mix_down"),
    ],
)
def test_within_cause_names(within, orders, revenue, lines, code):
    assert within_cause(within, orders, revenue, lines) == code


# --------------------------------------------------------------------------- the parts add up


def random_merchant(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """~20 accounts over three windows; returning accounts have history in the span or in `before`."""
    rng = np.random.default_rng(seed)
    rows, before, expected = [], [], {}

    def window(account: str, k: int) -> None:
        orders = int(rng.integers(1, 15))
        revenue = orders * int(rng.integers(2_000, 400_000)) + int(rng.integers(0, 99))
        rows.extend(spread(account, window_start(k), orders, revenue, orders * int(rng.integers(1, 9))))

    for i in range(20):
        account = f"company:{i}"
        status = str(rng.choice(["continuing", "continuing", "gone_quiet", "new", "returning"]))
        expected[account] = status
        windows = {"continuing": (1, 0), "gone_quiet": (1,), "new": (0,), "returning": (2, 0)}[status]
        if status == "returning" and i % 2:  # history before the span instead of in it
            windows = (0,)
            before.append((account, 3, 90_000, date(2025, 1, int(rng.integers(1, 28)))))
        for k in windows:
            window(account, k)
    for k in (1, 0):
        window("guests", k)
    expected["guests"] = "continuing"
    return frame(rows), pd.DataFrame(before, columns=NO_HISTORY.columns), expected


@pytest.mark.parametrize("seed", range(6))
def test_parts_sum_exactly_to_the_change(seed):
    daily, before, expected = random_merchant(seed)
    rows = rows_of(daily, before, windows=3)
    assert {"gone_quiet", "new", "returning"} < set(expected.values())
    assert dict(zip(rows["account"], rows["status"])) == expected
    current, prior = (daily[pd.to_datetime(daily["order_date"]) >= pd.Timestamp(window_start(k))] for k in (0, 1))
    prior = prior[pd.to_datetime(prior["order_date"]) < pd.Timestamp(window_start(0))]
    a1, a0 = (Fraction(int(w["revenue_cents"].sum()), 100 * int(w["orders"].sum())) for w in (current, prior))

    causes = explain(rows, Context())
    parts = [c for c in causes if c.part]
    assert len(parts) == 4 and PARTS < {c.cause for c in parts}
    assert sum((c.contribution for c in parts), Fraction(0)) == a1 - a0
    assert all((c.role == "why") == (c.contribution * (a1 - a0) > 0) for c in parts)

    rounded = [r["contribution"] for r in cause_rows(AS_OF, causes) if r["part"]]
    assert abs(sum(rounded) - fraction_to_decimal(a1 - a0, Decimal("0.01"))) <= Decimal("0.01") * len(rounded)


# --------------------------------------------------------------------------- statuses


def test_statuses():
    # span = the three windows back from AS_OF; before holds older history
    daily = frame(
        spread("company:1", window_start(1), 2, 20_000)  # prior and current: continuing
        + spread("company:1", window_start(0), 2, 20_000)
        + spread("company:2", window_start(1), 3, 30_000)  # prior only: gone quiet
        + spread("company:3", window_start(0), 1, 10_000)  # first order ever in the current window: new
        + spread("company:4", window_start(0), 1, 10_000)  # ordered before the span (see `before`): returning
        + spread("company:5", window_start(2), 1, 5_000)  # ordered before the prior window, inside the span
        + spread("company:5", window_start(0), 1, 10_000)  # ...and again now: returning
        + spread("company:6", window_start(2), 1, 5_000)  # neither window: not a row
        + [dict(spread("company:7", AS_OF, 1, 7_000)[0], order_date=window_start(0))]  # first day of current: new
        + [dict(spread("company:8", AS_OF, 1, 8_000)[0], order_date=window_start(0) - timedelta(days=1))]
    )
    before = pd.DataFrame(
        [("company:4", 4, 40_000, date(2025, 6, 1)), ("company:9", 1, 1_000, date(2025, 1, 2))],
        columns=NO_HISTORY.columns,
    )
    rows = rows_of(daily, before, windows=3).set_index("account")
    assert rows["status"].to_dict() == {
        "company:1": "continuing",
        "company:2": "gone_quiet",
        "company:3": "new",
        "company:4": "returning",
        "company:5": "returning",
        "company:7": "new",
        "company:8": "gone_quiet",
    }
    assert rows.loc["company:4", ["orders", "prior_orders", "lifetime_cents"]].tolist() == [1, 0, 50_000]
    assert rows.loc["company:5", ["orders", "prior_orders", "lifetime_cents"]].tolist() == [1, 0, 15_000]
    assert rows.loc["company:1", ["revenue_cents", "prior_revenue_cents"]].tolist() == [20_000, 20_000]


# --------------------------------------------------------------------------- cohorts and typical gone quiet


def test_cohorts():
    # lifetime = `before` + one 10.00 order per window; ranked: company:11..21 (21 only ordered before the span)
    lifetimes = {11: 50_000, 12: 90_000, 13: 80_000, 14: 80_000, 15: 70_000, 16: 60_000, 17: 40_000}
    lifetimes |= {18: 30_000, 19: 10_000, 20: 10_000, 21: 5_000}
    before = pd.DataFrame(
        [(f"company:{i}", 1, cents - 2_000, date(2025, 1, 1)) for i, cents in lifetimes.items() if i != 21]
        + [("company:21", 1, 5_000, date(2025, 1, 1)), ("guests", 9, 9_999_999, date(2025, 1, 1))],
        columns=NO_HISTORY.columns,
    )
    rows = [r for i in range(11, 21) for k in (0, 1) for r in spread(f"company:{i}", window_start(k), 1, 1_000)]
    rows = [r for r in rows if not (r["account"] == "company:16" and r["order_date"] >= window_start(0))]
    rows += spread("guests", window_start(0), 3, 300_000)
    windows = build_windows(frame(rows), before, window_start(1), AS_OF)
    accounts = account_rows(windows, [AS_OF])

    # order: 12 (90k), 13 & 14 (80k, 13 first by key), 15, 16, 11, 17, 18, 19 & 20 (10k, 19 first), 21 (5k)
    # 11 ranked -> round(2.2) = 2 at each end: top 12, 13; bottom 20, 21
    cohort = accounts.set_index("account")["cohort"].to_dict()
    assert cohort == {
        "company:11": "middle 60%",
        "company:12": "top 20%",
        "company:13": "top 20%",
        "company:14": "middle 60%",
        "company:15": "middle 60%",
        "company:16": "middle 60%",
        "company:17": "middle 60%",
        "company:18": "middle 60%",
        "company:19": "middle 60%",
        "company:20": "bottom 20%",
        "guests": "",
    }
    assert ranked_accounts(windows, [AS_OF]).tolist() == [11]
    table = cohort_rows(accounts, windows, {AS_OF: typical_gone_quiet(windows, AS_OF, AS_OF)}).set_index("cohort")
    assert table["accounts"].to_dict() == {"top 20%": 2, "middle 60%": 7, "bottom 20%": 2, "all": 11}
    assert table["active_accounts"].to_dict() == {"top 20%": 2, "middle 60%": 6, "bottom 20%": 1, "all": 9}
    assert table["prior_orders"].to_dict() == {"top 20%": 2, "middle 60%": 7, "bottom 20%": 1, "all": 10}
    assert table["gone_quiet"].to_dict() == {"top 20%": 0, "middle 60%": 1, "bottom 20%": 0, "all": 1}
    assert table.loc["all", "revenue"] == Decimal("90.00")  # guests' 3,000.00 excluded
    assert table.loc["all", "typical_windows"] == 0
    # the edge is rounded, not truncated: 13 ranked -> 2.6 -> 3 at each end
    assert cohort_sizes(13) == {"top 20%": 3, "middle 60%": 7, "bottom 20%": 3, "all": 13}


def test_typical_gone_quiet():
    first = AS_OF - timedelta(days=LOOKBACK_DAYS)
    # one lone order 45 days before the earlier as-of day D-30k puts an account in its prior window only:
    # gone quiet as of D-30k and no other D-30j
    earlier = [3, 1, 4, 1, 5, 0, 2, 6, 5, 3, 5]  # k = 1..11; sorted 0 1 1 2 3 3 4 5 5 5 6 -> median 3
    rows = [
        dict(spread(f"company:{k * 100 + j}", AS_OF, 1, 100)[0], order_date=AS_OF - timedelta(days=30 * k + 45))
        for k, count in enumerate(earlier, start=1)
        for j in range(count)
    ]
    rows += spread("company:1", window_start(1), 1, 100) + spread("company:2", window_start(1), 1, 100)
    rows += spread("guests", window_start(1), 1, 100)  # guests are not an account: never gone quiet
    windows = build_windows(frame(rows), NO_HISTORY, first, AS_OF)
    assert gone_quiet_count(windows, AS_OF) == 2
    assert [gone_quiet_count(windows, AS_OF - timedelta(days=30 * k)) for k in range(1, 12)] == earlier

    typical = typical_gone_quiet(windows, AS_OF, first)
    assert (typical.median, typical.low, typical.high, typical.windows) == (Decimal(3), 0, 6, 11)
    assert typical.text() == "typical 0-6 (median 3 of 11 earlier windows)"
    # covered from D-150 only: D-30, D-60, D-90 hold both windows -> 3, 1, 4
    short = typical_gone_quiet(windows, AS_OF, AS_OF - timedelta(days=150))
    assert (short.median, short.low, short.high, short.windows) == (Decimal(3), 1, 4, 3)
    # a span starting at D-100 holds only D-30's two windows, whatever covered_from says
    clipped = build_windows(frame(rows), NO_HISTORY, AS_OF - timedelta(days=100), AS_OF)
    assert typical_gone_quiet(clipped, AS_OF, first) == Typical(Decimal(3), 3, 3, 1)
    assert typical_gone_quiet(windows, AS_OF, AS_OF - timedelta(days=60)) == Typical(None, None, None, 0)


def test_a_range_of_as_of_days_matches_a_day_by_day_recount():
    """The accounts x days arrays give, for every as-of day, what a plain recount of the daily rows gives."""
    rng = np.random.default_rng(7)
    first, days = AS_OF - timedelta(days=120), [AS_OF - timedelta(days=k) for k in range(40, -1, -1)]
    accounts = [f"company:{i}" for i in range(1, 16)] + ["customer:3", "guests"]
    rows = [
        {"order_date": first + timedelta(days=int(d)), "account": a, "name": None, "orders": int(n)}
        | {"revenue_cents": int(n) * int(rng.integers(1_000, 90_000)), "line_items": int(n) * 3, "refunded_cents": 0}
        | {"largest_cents": None, "largest_order_id": None}
        for a in accounts
        for d, n in zip(rng.choice(121, size=int(rng.integers(0, 12)), replace=False), rng.integers(1, 4, size=12))
    ]
    daily = frame(rows)
    before = pd.DataFrame(
        [("company:2", 4, 250_000, date(2024, 1, 1)), ("company:9", 1, 10_000, date(2025, 6, 1))],
        columns=NO_HISTORY.columns,
    )
    got = account_rows(build_windows(daily, before, first, AS_OF), days)

    expected = []
    for as_of in days:

        def total(account, lo, hi, column="orders"):
            mask = (daily["account"] == account) & daily["order_date"].between(lo, hi)
            return int(daily.loc[mask, column].sum())

        cur, prior = (window_start(0, as_of), as_of), (window_start(1, as_of), window_start(0, as_of) - timedelta(1))
        history = before.set_index("account")
        lifetime = {
            a: total(a, first, as_of, "revenue_cents") + int(history["revenue_cents"].get(a, 0)) for a in accounts
        }
        ever = [a for a in accounts if a != "guests" and (total(a, first, as_of) or a in history.index)]
        ranked = sorted(ever, key=lambda a: (-lifetime[a], a))
        edge = round(len(ranked) * 0.2)
        for a in accounts:
            n1, n0 = total(a, *cur), total(a, *prior)
            if not (n1 or n0):
                continue
            earliest = daily.loc[(daily["account"] == a) & (daily["orders"] > 0), "order_date"].min()
            is_new = a not in history.index and earliest >= cur[0]
            status = "continuing" if n1 and n0 else "gone_quiet" if not n1 else "new" if is_new else "returning"
            position = ranked.index(a) if a in ranked else None
            cohort = (
                ""
                if position is None
                else "bottom 20%"
                if position >= len(ranked) - edge
                else "top 20%"
                if position < edge
                else "middle 60%"
            )
            expected.append(
                (as_of, a, status, n1, total(a, *cur, "revenue_cents"), n0, total(a, *prior, "revenue_cents"))
                + (lifetime[a], cohort)
            )
    columns = ["as_of", "account", "status", "orders", "revenue_cents", "prior_orders", "prior_revenue_cents"]
    columns += ["lifetime_cents", "cohort"]
    assert list(got[columns].itertuples(index=False, name=None)) == sorted(expected)  # by as-of day, then key
    assert len({row[0] for row in expected}) == len(days)  # every as-of day has rows to compare


def test_windows_carried_from_chunk_to_chunk_equal_windows_built_over_the_span_at_once():
    """A range run moves its windows on chunk by chunk (`Windows.advance`, each day read once): the days
    before the new span fold into the lifetime before it and accounts seen for the first time join in key
    order. Every array equals the one `build_windows` makes from the span's rows and the lifetime before it."""
    rng = np.random.default_rng(11)
    start = AS_OF - timedelta(days=199)
    accounts = [f"company:{i}" for i in (5, 1, 12, 3, 9)] + ["customer:7", "guests"]
    rows = [
        {"order_date": start + timedelta(days=int(d)), "account": a, "name": None, "orders": int(rng.integers(0, 3))}
        | {
            "revenue_cents": int(rng.integers(1_000, 90_000)),
            "line_items": 3,
            "refunded_cents": int(rng.integers(0, 9)),
        }
        | {"largest_cents": None, "largest_order_id": None}
        for i, a in enumerate(accounts)
        for d in rng.choice(np.arange(25 * i, 200), size=12, replace=False)  # later accounts join later
    ]
    daily = frame(rows)
    daily.loc[daily["orders"] == 0, ["revenue_cents", "refunded_cents"]] = 0
    initial = pd.DataFrame([("company:1", 4, 250_000, pd.Timestamp("2024-01-01"))], columns=NO_HISTORY.columns)
    carried, read = lifetime_windows(initial), start
    for first, last in ((0, 69), (40, 139), (41, 140), (100, 199)):  # days after `start`
        first, last = start + timedelta(days=first), start + timedelta(days=last)
        carried.advance(daily[daily["order_date"].between(read, last)], first, last)
        read = last + timedelta(days=1)
        earlier = pd.concat([initial, daily[daily["order_date"] < first].assign(first_order_date=pd.NaT)])
        earlier["first_order_date"] = earlier["first_order_date"].fillna(
            pd.to_datetime(earlier["order_date"].where(earlier["orders"] > 0))
        )
        before = earlier.groupby("account", as_index=False).agg(
            orders=("orders", "sum"),
            revenue_cents=("revenue_cents", "sum"),
            first_order_date=("first_order_date", "min"),
        )
        built = build_windows(daily[daily["order_date"].between(first, last)], before, first, last)
        assert carried.accounts.tolist() == built.accounts.tolist()
        assert carried.days.equals(built.days)
        for name, cumulative in built.cumulative.items():
            np.testing.assert_array_equal(carried.cumulative[name], cumulative, err_msg=name)
        for name in ("orders", "revenue_cents"):
            np.testing.assert_array_equal(carried.before[name], built.before[name], err_msg=name)
        np.testing.assert_array_equal(carried.first_day, built.first_day)
        np.testing.assert_array_equal(carried.gone_quiet, built.gone_quiet)
    assert len(carried.accounts) == len(accounts) and carried.before["orders"].any()  # all joined, days folded


def test_a_range_run_in_chunks_gives_the_same_rows(example_pipeline, tmp_path, monkeypatch):
    """Chunks of 30 as-of days, account_daily read a day at a time: the windows, the names seen and each
    day's largest order are carried from chunk to chunk, so the three tables equal the one-chunk run's."""
    chunked = copy_of(example_pipeline, tmp_path / "chunked")
    monkeypatch.setattr(investigation_assets, "INVESTIGATION_CELLS", 1)  # two chunks over the example's 60 days
    monkeypatch.setattr(investigation_assets, "INVESTIGATION_ROWS", 1)
    assert chunked.materialize([investigation], str(EXAMPLE_FIRST_DAY), str(EXAMPLE_DAY)).success
    for table in ("b2b_accounts_30d", "b2b_cohorts_30d", "aov_why"):
        pd.testing.assert_frame_equal(read_table(chunked, table), read_table(example_pipeline, table), obj=table)


# --------------------------------------------------------------------------- same-day split POs


def on_days(account: str, k: int, per_day: list[int], order_cents: int, on_account: bool = False) -> list[dict]:
    """account_daily rows of window k: per_day[i] orders of `order_cents` each on day i of the window
    (all paid on account, or none)."""
    return [
        {
            "order_date": window_start(k) + timedelta(days=i),
            "account": account,
            "name": account.replace("company:", "Company "),
            "orders": n,
            "revenue_cents": n * order_cents,
            "line_items": n,
            "refunded_cents": 0,
            "largest_cents": order_cents,
            "largest_order_id": f"{account}@{k}.{i}",
            "on_account_orders": n if on_account else 0,
        }
        for i, n in enumerate(per_day)
        if n
    ]


def split_finding(daily: list[dict]) -> dict:
    rows = account_rows(build_windows(frame(daily), NO_HISTORY, window_start(1), AS_OF), [AS_OF])
    rows = rows.assign(name=rows["account"].str.replace("company:", "Company "))
    return next(r for r in cause_rows(AS_OF, explain(rows, Context())) if r["cause"] == "split_orders")


def test_split_orders_counts_second_orders_of_a_day():
    # company:1 places its 10 POs on 10 days before, then the same spend as 14 POs on 7 days (2 a day);
    # company:2 orders alike in both windows. Orders 20 -> 24, account-days 20 -> 17:
    # same-day second POs 0 of 20 (0.0%) -> 7 of 24 (29.2%), +29.2 points while AOV falls
    daily = on_days("company:1", 1, [1] * 10, 14_000) + on_days("company:1", 0, [2] * 7, 10_000)
    daily += on_days("company:2", 1, [1] * 10, 5_000) + on_days("company:2", 0, [1] * 10, 5_000)
    finding = split_finding(daily)
    assert finding["role"] == "why" and finding["contribution"] is None and not finding["part"]
    assert finding["summary"] == (
        "Same-day second POs: 29.2% of B2B orders (prior 0.0%, +29.2 points): accounts split their POs; "
        "most: Company 1 7 of 14 (prior 0 of 10)."
    )


def test_split_orders_ruled_out_when_the_share_holds_or_moves_with_aov():
    # both windows: 2 POs a day on 5 days (5 of 10 second POs), AOV down through prices only
    steady = on_days("company:1", 1, [2] * 5, 10_000) + on_days("company:1", 0, [2] * 5, 8_000)
    finding = split_finding(steady)
    assert finding["role"] == "ruled_out"
    assert finding["summary"] == (
        "Same-day second POs: 50.0% of B2B orders (prior 50.0%, +0.0 points): not PO splitting."
    )
    # fewer same-day POs while AOV rises: consolidation, named the other way
    consolidating = on_days("company:1", 1, [2] * 5, 8_000) + on_days("company:1", 0, [1] * 8, 10_000)
    finding = split_finding(consolidating)
    assert finding["role"] == "why"
    assert finding["summary"].startswith(
        "Same-day second POs: 0.0% of B2B orders (prior 50.0%, -50.0 points): accounts consolidate their POs"
    )


def test_split_orders_below_the_threshold_is_ruled_out():
    # 1 second PO in 25 orders (4.0 points) is under SPLIT_POINTS (5) even though AOV falls
    daily = on_days("company:1", 1, [1] * 25, 10_000) + on_days("company:1", 0, [2] + [1] * 23, 9_000)
    assert split_finding(daily)["role"] == "ruled_out"


# --------------------------------------------------------------------------- credit pressure


def credit_finding(credit: dict[str, float] | None, threshold: float = 0.8) -> dict:
    # three continuing accounts at 100.00 per PO before: company:1 now 70.00 (-30%), company:2 95.00 (-5%),
    # company:3 100.00. A0 = 100, A1 = (700 + 950 + 1,000) / 30 = 88.33, change -11.67
    daily = []
    for account, cents in (("company:1", 7_000), ("company:2", 9_500), ("company:3", 10_000)):
        daily += on_days(account, 1, [1] * 10, 10_000) + on_days(account, 0, [1] * 10, cents)
    rows = account_rows(build_windows(frame(daily), NO_HISTORY, window_start(1), AS_OF), [AS_OF])
    rows = rows.assign(name=rows["account"].str.replace("company:", "Company "))
    context = Context(credit=None if credit is None else pd.Series(credit, dtype=float), credit_threshold=threshold)
    return next(r for r in cause_rows(AS_OF, explain(rows, context)) if r["cause"] == "credit_pressure")


def test_credit_pressure_is_the_pressed_accounts_part_of_the_within_change():
    # company:1 reached 90% of its limit; company:3 has none. Its part: (10 / 30) x (70 - 100) = -10.00,
    # 85.7143% of the -11.67 move; the others' AOV (950 + 1,000) / 20 = 97.50 vs 100: -2.5%
    finding = credit_finding({"company:1": 0.9, "company:2": 0.5})
    assert (finding["role"], finding["contribution"], finding["share_pct"], finding["part"]) == (
        "why",
        Decimal("-10.00"),
        Decimal("85.7143"),
        False,
    )
    assert finding["summary"] == (
        "1 of 3 continuing accounts reached 80%+ of their credit limit; their AOV -30.0% vs -2.5% for the "
        "others (each account at its prior order count), their part of the within-account change -10.00; "
        "most: Company 1 90%."
    )


def test_credit_pressure_at_the_threshold_counts_and_below_it_is_ruled_out():
    assert credit_finding({"company:1": 0.8})["role"] == "why"  # at 80% exactly
    below = credit_finding({"company:1": 0.79, "company:2": 0.5})
    assert below["role"] == "ruled_out" and below["contribution"] == Decimal("0.00")
    assert below["summary"] == (
        "No continuing account reached 80% of its credit limit (2 with a known limit): not credit pressure."
    )
    # pressed accounts that held their AOV while the others fell do not explain the fall
    held = credit_finding({"company:3": 0.95})
    assert held["role"] == "ruled_out" and held["contribution"] == Decimal("0.00")
    assert held["summary"].endswith(
        "their AOV +0.0% vs -17.5% for the others (each account at its prior order count), their part of the "
        "within-account change +0.00: not credit pressure."
    )


def test_credit_pressure_without_credit_data_is_not_available():
    finding = credit_finding(None)
    assert (finding["role"], finding["contribution"]) == ("ruled_out", None)
    assert finding["summary"] == "Credit pressure: not available (no Company Credit data from this store)."


def test_credit_pressure_compares_the_groups_at_constant_order_counts():
    # the others keep their AOVs (1,000 and 100) but the small one orders 40 times instead of 10: their pooled
    # AOV halves (550 -> 280, -49.1%) through mix alone; at each account's prior order count they hold (0.0%),
    # while the pressed account's own AOV falls 500 -> 400 (-20.0%)
    daily = on_days("company:1", 1, [1] * 10, 50_000) + on_days("company:1", 0, [1] * 10, 40_000)
    daily += on_days("company:2", 1, [1] * 10, 100_000) + on_days("company:2", 0, [1] * 10, 100_000)
    daily += on_days("company:3", 1, [1] * 10, 10_000) + on_days("company:3", 0, [2] * 20, 10_000)
    rows = account_rows(build_windows(frame(daily), NO_HISTORY, window_start(1), AS_OF), [AS_OF])
    rows = rows.assign(name=rows["account"].str.replace("company:", "Company "))
    causes = cause_rows(AS_OF, explain(rows, Context(credit=pd.Series({"company:1": 0.92}), credit_threshold=0.8)))
    finding = next(r for r in causes if r["cause"] == "credit_pressure")
    assert finding["role"] == "why"
    assert "their AOV -20.0% vs +0.0% for the others (each account at its prior order count)" in finding["summary"]
    # its part: (10 / 30) x (400 - 500) = -33.33
    assert finding["contribution"] == Decimal("-33.33")


def test_split_orders_shows_the_share_paid_on_account_where_the_store_records_it():
    # company:1 paid its 10 POs by card before and its 14 smaller ones on account now; company:2 on account
    # throughout: on account 10 of 20 (50.0%) -> 24 of 24 (100.0%)
    daily = on_days("company:1", 1, [1] * 10, 14_000) + on_days("company:1", 0, [2] * 7, 10_000, on_account=True)
    daily += on_days("company:2", 1, [1] * 10, 5_000, True) + on_days("company:2", 0, [1] * 10, 5_000, True)
    assert split_finding(daily)["summary"].startswith(
        "Same-day second POs: 29.2% of B2B orders (prior 0.0%, +29.2 points); paid on account 100.0% (prior 50.0%): "
        "accounts split their POs"
    )
