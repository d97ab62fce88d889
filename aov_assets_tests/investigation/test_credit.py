"""Company credit tables and utilization (`aov_assets.investigation.credit`), on a hand-computed history.

April 2026, limits in money units (utilization = owed / limit, owed = -balance when negative):
- company 101: owes 6,000 of 10,000 from March (0.6); Apr 10 the limit drops to 7,500 (0.8 exactly);
  Apr 20 a 3,000 reimbursement (0.4).
- company 102: no credit limit (null); company 106: limit 0 (never granted): unknown throughout.
- company 103: first operation Apr 15 00:00:00 (0.0), a purchase at 23:59:59 the same day (0.75).
- company 104: 0.2 from Mar 31 23:59:59; Apr 12 a purchase (0.9) then a reimbursement (0.1);
  Apr 25 two operations at the same second, decided by id: 0.6 then 0.4.
- company 105: a positive balance (prepaid), owes nothing: 0.0.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from aov_assets.investigation.credit import CreditUtilization, company_rows, credit_rows, history_rows

FIRST, LAST = date(2026, 4, 1), date(2026, 4, 30)
NAN = float("nan")


def credit(credit_id: int, company_id: int, limit, balance, **more) -> dict:
    return (
        {"id": credit_id, "company_id": company_id, "credit_limit": limit, "balance": balance}
        | {"currency_code": "USD", "exceed_limit": False, "available_limit": None, "credit_comment": None}
        | more
    )


def op(history_id: int, credit_id: int, at: str, kind: int, balance, limit, amount=0.0) -> dict:
    return (
        {"id": history_id, "company_credit_id": credit_id, "user_id": 1, "user_type": 2, "currency_credit": "USD"}
        | {"currency_operation": "USD", "rate": 1, "rate_credit": None, "amount": amount, "balance": balance}
        | {"credit_limit": limit, "available_limit": None, "type": kind, "datetime": at}
        | {"purchase_order": None, "comment": ""}
    )


CREDITS = [
    credit(11, 101, 7500.0, -3000.0),
    credit(12, 102, None, -500.0),
    credit(13, 103, 2000.0, -1500.0),
    credit(14, 104, 5000.0, -2000.0, exceed_limit=True),
    credit(15, 105, 1000.0, 250.0),
    credit(16, 106, 0.0, -100.0, exceed_limit=1),
]
HISTORY = [
    op(1, 11, "2026-03-10 09:00:00", 1, 0.0, 10000.0),
    op(2, 11, "2026-03-20 12:00:00", 3, -6000.0, 10000.0, amount=-6000.0),
    op(3, 11, "2026-04-10 15:30:00", 2, -6000.0, 7500.0),
    op(4, 11, "2026-04-20 08:00:00", 4, -3000.0, 7500.0, amount=3000.0),
    op(5, 12, "2026-03-01 10:00:00", 1, 0.0, None),
    op(6, 12, "2026-04-05 11:00:00", 3, -500.0, None, amount=-500.0),
    op(7, 13, "2026-04-15 00:00:00", 1, 0.0, 2000.0),
    op(8, 13, "2026-04-15 23:59:59", 3, -1500.0, 2000.0, amount=-1500.0),
    op(9, 14, "2026-03-31 23:59:59", 1, -1000.0, 5000.0),
    op(10, 14, "2026-04-12 09:00:00", 3, -4500.0, 5000.0, amount=-3500.0),
    op(11, 14, "2026-04-12 17:00:00", 4, -500.0, 5000.0, amount=4000.0),
    op(13, 14, "2026-04-25 10:00:00", 3, -2000.0, 5000.0, amount=-500.0),  # listed first, happened second
    op(12, 14, "2026-04-25 10:00:00", 3, -3000.0, 5000.0, amount=-2500.0),
    op(14, 15, "2026-03-15 08:00:00", 1, 250.0, 1000.0),
    op(15, 16, "2026-03-02 08:00:00", 1, -100.0, 0.0),
]
ACCOUNTS = ["company:101", "company:102", "company:103", "company:104", "company:105", "company:106"]


def day(n: int) -> date:
    return date(2026, 4, n)


def by_day(**spans: float) -> list[float]:
    """`d1_9=0.6, d10_19=0.8` -> 30 values for April."""
    values = [NAN] * 30
    for span, value in spans.items():
        first, last = (int(part) for part in span[1:].split("_"))
        values[first - 1 : last] = [value] * (last - first + 1)
    return values


@pytest.fixture(scope="module")
def utilization() -> CreditUtilization:
    return CreditUtilization(history_rows(HISTORY, credit_rows(CREDITS))[0], FIRST, LAST)


def row(utilization: CreditUtilization, account: str) -> list[float]:
    return utilization.day_peaks[utilization.accounts.get_loc(account)].tolist()


def test_daily_peaks_carry_the_state_forward_and_take_the_highest_of_the_day(utilization):
    assert list(utilization.accounts) == ACCOUNTS
    np.testing.assert_array_equal(row(utilization, "company:101"), by_day(d1_9=0.6, d10_20=0.8, d21_30=0.4))
    np.testing.assert_array_equal(row(utilization, "company:102"), by_day())
    np.testing.assert_array_equal(row(utilization, "company:103"), by_day(d15_30=0.75))
    expected_104 = by_day(d1_11=0.2, d12_12=0.9, d13_24=0.1, d25_25=0.6, d26_30=0.4)
    np.testing.assert_array_equal(row(utilization, "company:104"), expected_104)
    np.testing.assert_array_equal(row(utilization, "company:105"), by_day(d1_30=0.0))
    np.testing.assert_array_equal(row(utilization, "company:106"), by_day())


def test_window_peaks(utilization):
    month = utilization.peaks(LAST)
    assert month.index.tolist() == ACCOUNTS
    np.testing.assert_array_equal(month.to_numpy(), [0.8, NAN, 0.75, 0.9, 0.0, NAN])
    np.testing.assert_array_equal(utilization.peaks(day(30), 10).to_numpy(), [0.4, NAN, 0.75, 0.6, 0.0, NAN])
    np.testing.assert_array_equal(utilization.peaks(day(29), 10).to_numpy(), [0.8, NAN, 0.75, 0.6, 0.0, NAN])
    np.testing.assert_array_equal(utilization.peaks(day(14), 14).to_numpy(), [0.8, NAN, NAN, 0.9, 0.0, NAN])


def test_a_company_owing_exactly_80_percent_meets_an_80_percent_threshold(utilization):
    assert utilization.peaks(day(10), 10)["company:101"] >= 0.8
    assert utilization.peaks(day(10), 1)["company:101"] == 0.8  # its limit change lands on exactly 80%
    assert (utilization.peaks(day(9), 9) >= 0.8).tolist() == [False, False, False, False, False, False]


def test_days_outside_what_was_built_are_refused(utilization):
    with pytest.raises(ValueError, match="window as of 2026-04-29 starts before 2026-04-01"):
        utilization.peaks(day(29), 30)
    with pytest.raises(ValueError, match="2026-05-01 is outside the days built"):
        utilization.peaks(date(2026, 5, 1), 1)


def test_peaks_equal_a_plain_rescan_of_the_history_on_random_data():
    rng = np.random.default_rng(7)
    credits = [credit(c, 1000 + c, None if c == 3 else 1000.0, 0.0) for c in range(1, 6)]
    items, start = [], pd.Timestamp("2026-01-20")
    for i in range(400):
        moment = start + pd.Timedelta(seconds=int(rng.integers(0, 70 * 86400)))
        limit = None if rng.random() < 0.1 else float(rng.integers(0, 5) * 500)
        balance = float(rng.integers(-3000, 500))
        items.append(op(i, int(rng.integers(1, 6)), f"{moment:%Y-%m-%d %H:%M:%S}", 3, balance, limit))
    history, _ = history_rows(items, credit_rows(credits))
    first, last = date(2026, 2, 1), date(2026, 3, 20)
    built = CreditUtilization(history, first, last)
    owed = (-history["balance_cents"]).clip(lower=0)
    limit = history["credit_limit_cents"].astype("Float64").to_numpy(dtype=float, na_value=NAN)
    value = np.where(limit > 0, owed / np.where(limit > 0, limit, 1), NAN)
    for as_of in (date(2026, 3, 2), date(2026, 3, 20)):
        expected = []
        for company in sorted(set(history["company_id"])):
            mine = history["company_id"].to_numpy() == company
            days = history.loc[mine, "at"].dt.date.to_numpy()
            since = as_of - timedelta(days=29)
            before = np.flatnonzero(mine & (history["at"].dt.date.to_numpy() < since))
            inside = value[mine][(days >= since) & (days <= as_of)]
            candidates = [*([value[before[-1]]] if len(before) else []), *inside]
            expected.append(np.nanmax(candidates) if not np.isnan(candidates).all() else NAN)
        np.testing.assert_array_equal(built.peaks(as_of).to_numpy(), expected)


def test_rows_are_exact_and_typed():
    companies = company_rows(
        [
            {"id": 101, "status": 1, "company_name": "Acme Janitorial", "sales_representative_id": 7}
            | {"customer_group_id": 2, "company_email": "ap@acme.test", "super_user_id": 41},
            {"id": "102", "status": "3", "company_name": "Blocked Ltd", "sales_representative_id": None},
        ]
    )
    assert {name: column.tolist() for name, column in companies.items()} == {
        "company_id": [101, 102],
        "name": ["Acme Janitorial", "Blocked Ltd"],
        "status": [1, 3],
        "sales_rep_id": [7, pd.NA],
        "customer_group_id": [2, pd.NA],
    }
    assert companies.dtypes.astype(str).tolist() == ["int64", "object", "int64", "Int64", "Int64"]
    credits = credit_rows(CREDITS + [credit(17, 107, "1234.5678", -0.005), credit(18, 108, 12, 1234.56)])
    assert credits["credit_limit_cents"].tolist()[:2] == [750000, pd.NA]
    assert credits["credit_limit_cents"].tolist()[-2:] == [123457, 1200]  # 4-decimal money: half-up to the cent
    assert credits["balance_cents"].tolist() == [-300000, -50000, -150000, -200000, 25000, -10000, -1, 123456]
    assert credits.dtypes.astype(str).tolist() == ["int64", "int64", "Int64", "int64", "object"]


def test_history_rows_join_their_company_and_sort_by_time_then_id():
    history, _ = history_rows(HISTORY, credit_rows(CREDITS))
    assert history["history_id"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert history.loc[history["history_id"] == 13, "company_id"].item() == 104
    assert str(history["at"].dtype) == "datetime64[ns, UTC]"
    assert history["at"].iloc[8] == pd.Timestamp("2026-03-31 23:59:59", tz="UTC")
    assert history.loc[
        history["history_id"] == 2, ["amount_cents", "balance_cents", "credit_limit_cents"]
    ].values.tolist() == [[-600000, -600000, 1000000]]
    assert history["credit_limit_cents"].isna().tolist() == [False] * 4 + [True] * 2 + [False] * 9


def test_an_operation_of_an_unlisted_credit_is_left_out_and_named_and_any_type_is_kept():
    items = [item | {"company_credit_id": 99} if item["id"] == 4 else item for item in HISTORY]
    items += [HISTORY[0] | {"id": 900, "type": 7}]  # an extension's own operation type
    history, unlisted = history_rows(items, credit_rows(CREDITS))
    assert unlisted == [4] and 4 not in set(history["history_id"])
    assert history.loc[history["history_id"] == 900, "type"].tolist() == [7]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"balance": "12.3.4"}, "company credit history item 4: balance is not an amount of money ('12.3.4')"),
        ({"amount": True}, "item 4: amount is not an amount of money (True)"),
        ({"credit_limit": float("nan")}, "item 4: credit_limit is not an amount of money (nan)"),
        ({"balance": None}, "item 4: balance is not an amount of money (None)"),
        ({"datetime": "2026-04-20T08:00:00Z"}, "item 4: datetime is not a UTC time like 2026-05-03 14:05:09"),
        ({"datetime": None}, "item 4: datetime is not a UTC time"),
        ({"type": "x"}, "item 4: type is not a whole number ('x')"),
        ({"company_credit_id": "x"}, "item 4: company_credit_id is not a whole number ('x')"),
    ],
)
def test_malformed_history_fails_naming_the_item_and_field(change, message):
    items = [item | change if item["id"] == 4 else item for item in HISTORY]
    with pytest.raises(ValueError) as error:
        history_rows(items, credit_rows(CREDITS))
    assert message in str(error.value)


def test_malformed_companies_and_credits_fail_naming_the_item_and_field():
    with pytest.raises(ValueError, match=r"company item 5: status is not a whole number \('approved'\)"):
        company_rows([{"id": 5, "status": "approved", "company_name": "X"}])
    with pytest.raises(ValueError, match=r"company credit item 11: balance is not an amount of money \('-1,000'\)"):
        credit_rows([credit(11, 101, 100.0, "-1,000")])
    with pytest.raises(ValueError, match="company item 'not an object' is not an object"):
        company_rows(["not an object"])
