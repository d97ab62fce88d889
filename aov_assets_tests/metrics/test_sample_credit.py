"""The sample merchant's B2B Companies and Company Credit: consistent with its own orders, and telling the credit
pressure of the worked example's middle cohort (utilization computed here from the history alone)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import msgspec
import numpy as np
import pandas as pd
import pytest

from aov_assets.ingest.sources import sample_credit
from aov_assets.ingest.sources.sample import FIRST_DAY, LAST_DAY, SampleMerchant

CURRENT = (date(2026, 4, 4), date(2026, 5, 3))
PRIOR = (date(2026, 3, 5), date(2026, 4, 3))


@pytest.fixture(scope="module")
def credit(sample) -> tuple[list[dict], list[dict]]:
    return sample.company_credits(), sample.credit_history()


def money(value) -> Decimal:
    """A REST money number, exact; at most 2 decimals."""
    exact = Decimal(str(value))
    assert exact == exact.quantize(Decimal("0.01")), value
    return exact


def increment_ids(orders: pd.DataFrame) -> pd.Series:
    return orders["store_id"].astype(str) + orders["entity_id"].map("{:08d}".format)


def created_at(orders: pd.DataFrame) -> pd.Series:
    start = pd.Timestamp(FIRST_DAY)
    moment = start + pd.to_timedelta(orders["day"] * 86_400 + orders["second"], unit="s")
    return moment.dt.strftime("%Y-%m-%d %H:%M:%S")


def test_every_operation_keeps_available_equal_to_limit_plus_balance_and_ends_at_the_credit(credit):
    credits, history = credit
    assert [(row["datetime"], row["id"]) for row in history] == sorted((row["datetime"], row["id"]) for row in history)
    assert len({row["id"] for row in history}) == len(history)
    balance, limit = defaultdict(Decimal), {}
    for row in history:
        key = row["company_credit_id"]
        assert money(row["available_limit"]) == money(row["credit_limit"]) + money(row["balance"]), row
        assert money(row["balance"]) == balance[key] + money(row["amount"]), row  # each operation moves the balance
        assert -money(row["balance"]) <= money(row["credit_limit"]), row  # exceed_limit is false: never over
        assert (row["type"] == sample_credit.ALLOCATED) == (key not in limit), row  # allocated once, first
        if row["type"] not in (sample_credit.ALLOCATED, sample_credit.UPDATED):
            assert money(row["credit_limit"]) == limit[key], row
        balance[key], limit[key] = money(row["balance"]), money(row["credit_limit"])
        assert (row["type"] == sample_credit.PURCHASED) == (money(row["amount"]) < 0), row
        assert (row["user_type"], row["currency_credit"], row["rate"]) == (3 if row["amount"] < 0 else 2, "USD", 1)
    for row in credits:
        if row["credit_limit"] is None:  # never granted credit: no operation, nothing owed
            assert row["id"] not in balance and (row["balance"], row["available_limit"]) == (0, 0)
            continue
        assert (money(row["balance"]), money(row["credit_limit"])) == (balance[row["id"]], limit[row["id"]])
        assert money(row["available_limit"]) == money(row["credit_limit"]) + money(row["balance"])
        assert (row["currency_code"], row["exceed_limit"], row["credit_comment"]) == ("USD", False, None)
    assert len(credits) == 180 and sum(row["credit_limit"] is None for row in credits) == 97  # never on account


def test_every_purchase_is_an_order_of_that_company_at_its_time_for_its_grand_total(sample, credit):
    credits, history = credit
    company_of = {row["id"]: row["company_id"] for row in credits}
    orders = sample.orders
    on_account = sample_credit.paid_on_account(orders)
    by_po = orders.assign(po=increment_ids(orders), at=created_at(orders), on_account=on_account).set_index("po")
    purchases = [row for row in history if row["type"] == sample_credit.PURCHASED]
    assert len(purchases) == on_account.sum() and len({row["purchase_order"] for row in purchases}) == len(purchases)
    matched = pd.DataFrame(purchases).join(by_po, on="purchase_order", validate="one_to_one")
    assert matched["on_account"].all()
    assert (matched["company_credit_id"].map(company_of) == matched["company_id"]).all()
    assert [money(-amount) * 100 for amount in matched["amount"]] == matched["value_cents"].tolist()
    assert (matched["datetime"] == matched["at"]).all() and (matched["user_id"] == matched["customer_id"]).all()
    reverted = {row["purchase_order"] for row in history if row["type"] == sample_credit.REVERTED}
    assert reverted == set(by_po.index[by_po["on_account"] & ~by_po["counted"]])  # each canceled one, once
    b2b = (orders["company_id"] > 0).to_numpy()
    assert 0.4 <= on_account[b2b].mean() <= 0.5 and not on_account[~b2b].any()


def test_the_payloads_payment_method_is_exactly_what_the_credit_history_buys_on_account(sample, credit):
    """One source of truth: a purchase for each order whose payload says `companycredit` (all B2B), reverted when it
    is canceled, and no operation for any other order; a Company without such an order has no limit, no history."""
    credits, history = credit
    days = (FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1))
    on_account = {  # increment_id -> (state, company_order_attributes; None: not a B2B order)
        order["increment_id"]: (order["state"], order.get("extension_attributes", {}).get("company_order_attributes"))
        for day in days
        for order in sample.orders_created_on(day)
        if order["payment"]["method"] == "companycredit"
    }
    purchases = Counter(row["purchase_order"] for row in history if row["type"] == sample_credit.PURCHASED)
    reverted = Counter(row["purchase_order"] for row in history if row["type"] == sample_credit.REVERTED)
    assert purchases.keys() == on_account.keys() and set(purchases.values()) == {1}
    assert reverted.keys() == {po for po, (state, _) in on_account.items() if state == "canceled"}
    assert set(reverted.values()) == {1} and len(on_account) == 15_412 and len(reverted) == 369
    assert {row["purchase_order"] for row in history} - {None} == on_account.keys()  # no other order touches credit
    assert all(company is not None for _, company in on_account.values())  # all B2B
    buying = {company["company_id"] for _, company in on_account.values()}
    assert {row["company_id"] for row in credits if row["credit_limit"] is not None} == buying


def test_companies_are_the_ones_the_orders_name_with_their_sales_representatives(sample):
    companies = sample.companies()
    orders = sample.orders[sample.orders["company_id"] > 0]
    names = dict(zip(sample.company_table["company_id"], sample.company_table["name"], strict=True))
    buyers = orders.groupby("company_id")["customer_id"].agg(set)
    groups = orders.groupby("company_id")["customer_group_id"].agg(set)
    assert [row["id"] for row in companies] == sorted(buyers.index)
    for row in companies:
        assert row["company_name"] == names[row["id"]] and row["status"] == 1
        assert row["super_user_id"] in buyers[row["id"]] and {row["customer_group_id"]} == groups[row["id"]]
        assert row["sales_representative_id"] in sample_credit.SALES_REPS
    assert msgspec.json.decode(msgspec.json.encode(companies)) == companies  # plain JSON values


def utilization_peaks(credits: list[dict], history: list[dict], first: date, last: date) -> pd.Series:
    """Per company with a limit: its highest owed / limit in the window, counting the state it entered with."""
    company_of = {row["id"]: row["company_id"] for row in credits if row["credit_limit"] is not None}
    frame = pd.DataFrame([row for row in history if row["company_credit_id"] in company_of])
    frame["company_id"] = frame["company_credit_id"].map(company_of)
    frame["utilization"] = np.maximum(0, -frame["balance"]) / frame["credit_limit"]
    start, end = f"{first} 00:00:00", f"{last} 23:59:59"
    entering = frame[frame["datetime"] < start].groupby("company_id")["utilization"].last()
    inside = frame[(frame["datetime"] >= start) & (frame["datetime"] <= end)].groupby("company_id")["utilization"]
    return pd.concat([entering, inside.max()], axis=1).max(axis=1)


def ltv_cohorts(orders: pd.DataFrame) -> pd.Series:
    """As the investigation ranks them on the last day: counted revenue to date, ties by account key."""
    counted = orders[(orders["company_id"] > 0) & orders["counted"]]
    revenue = counted.groupby("company_id")["value_cents"].sum()
    keys = pd.Series(revenue.index, index="company:" + revenue.index.astype(str)).sort_index()
    ranked = keys.iloc[np.argsort(-revenue[keys].to_numpy(), kind="stable")].to_numpy()
    edge = round(len(ranked) * 0.2)
    return pd.Series(["top"] * edge + ["middle"] * (len(ranked) - 2 * edge) + ["bottom"] * edge, index=ranked)


def continuing(orders: pd.DataFrame) -> set[int]:
    counted = orders[(orders["company_id"] > 0) & orders["counted"]]
    day = counted["day"].map(lambda d: FIRST_DAY + timedelta(days=int(d)))
    return set.intersection(*(set(counted.loc[(day >= a) & (day <= b), "company_id"]) for a, b in (PRIOR, CURRENT)))


def story(merchant: SampleMerchant) -> dict[str, tuple[int, int, int]]:
    """Per LTV cohort: continuing companies with a limit, how many reached 85% in the current window, and 80%
    in the prior one."""
    credits, history = merchant.company_credits(), merchant.credit_history()
    current, prior = (utilization_peaks(credits, history, *window) for window in (CURRENT, PRIOR))
    cohorts = ltv_cohorts(merchant.orders)
    ids = sorted(continuing(merchant.orders) & set(current.index))
    return {
        cohort: (len(members), int((current[members] >= 0.85).sum()), int((prior[members] >= 0.8).sum()))
        for cohort in ("top", "middle", "bottom")
        for members in [[i for i in ids if cohorts[i] == cohort]]
    }


def test_the_middle_cohort_is_under_credit_pressure_in_the_current_window_only(sample, credit):
    numbers = story(sample)
    companies, current, prior = (sum(n[i] for n in numbers.values()) for i in range(3))
    middle = numbers["middle"]  # 45 of the 100 continuing: the other 55 pay by card, have no limit, cannot be pressed
    assert middle[1] >= 0.8 * middle[0], numbers  # most reach 85% of their limit
    for cohort in ("top", "bottom"):  # most stay below 80% (85% is the stricter count)
        assert numbers[cohort][1] <= 0.2 * numbers[cohort][0], numbers
    assert prior <= 0.1 * companies, numbers  # a month earlier, few of any cohort were at 80%
    limits_cut = {row["company_credit_id"] for row in credit[1] if row["type"] == sample_credit.UPDATED}
    assert len(limits_cut) >= middle[0]
    ordinary = [row for row in credit[1] if "2025-01-01" <= row["datetime"] < "2026-01-01"]
    used = [max(0, -row["balance"]) / row["credit_limit"] for row in ordinary]
    assert 0.3 <= float(np.median(used)) <= 0.6 and float(np.quantile(used, 0.9)) < 0.8


def test_the_other_stories_have_ordinary_credit():
    steady = SampleMerchant(story="steady")
    assert not any(row["type"] == sample_credit.UPDATED for row in steady.credit_history())
    numbers = story(steady)
    assert numbers["middle"][1] <= 0.2 * numbers["middle"][0], numbers


def test_the_history_since_a_moment_and_at_scale():
    scaled = SampleMerchant(scale=2)
    history = scaled.credit_history()
    since = scaled.credit_history(since=datetime(2026, 5, 3, 12, 0, 0))
    assert since == [row for row in history if row["datetime"] >= "2026-05-03 12:00:00"] and since
    one = SampleMerchant().credit_history()
    assert len(history) == 2 * len(one) and len({row["id"] for row in history}) == len(history)
    assert [row["amount"] for row in history[::2]] == [row["amount"] for row in one]
    pairs = zip(history[::2], history[1::2], strict=True)
    assert all(a["company_credit_id"] != b["company_credit_id"] for a, b in pairs)
    assert len(scaled.companies()) == len(scaled.company_credits()) == 360
