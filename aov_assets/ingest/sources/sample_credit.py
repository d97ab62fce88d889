"""What Adobe Commerce's B2B module holds about the sample merchant's Companies (pure): Company records with their
sales representatives, credit limits, and the credit history, consistent with the sample's own orders.

The order payloads are the one source of truth for who buys on account: the sample marks about 45% of Companies
on account, and every order of theirs says `payment.method` `companycredit` (net 30: `pending_payment` for 30 days).
Each such order is a purchase at its `created_at` for its grand total (PO number = its increment_id), and a canceled
one is reverted when it was canceled; no other order touches credit. The other Companies pay by card and were never
granted credit: a credit record with a null limit and no history. The Companies on account pay their open invoices
in a batch every two weeks once they are 30-40 days old, against a limit of 3.4-4 months of usual on-account spend,
so utilization sits around 30-60%. Under pressure (`pressure_from`, the first day of the last 60), the middle
cohort's Companies on account start paying later three weeks on and, about a month on, their limits are cut to just
above what they owe: the credit pressure behind the worked example's smaller POs. When a PO would not fit under the
limit, the Company first pays its oldest invoices (Magento refuses an on-account order over the limit unless
`exceed_limit`).

Money stays in whole cents (exact, like the sample's orders) until rows are rendered as the REST API's JSON
numbers. Copy k of id i at scale N is (i - 1) * N + k + 1, as in the sample's orders.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter

import numpy as np
import pandas as pd

SALES_REPS = (12, 14, 17, 21)  # admin user ids of the sales representatives
FINANCE_ADMIN = 3  # the admin user who books payments and cancellations
ADMIN, CUSTOMER = 2, 3  # Magento's UserContextInterface user types
ALLOCATED, UPDATED, PURCHASED, REIMBURSED, REFUNDED, REVERTED = 1, 2, 3, 4, 5, 6  # HistoryInterface::TYPE_*
LEGAL_FORMS = ("Inc.", "LLC", "Corp.", "Co.")

LIMIT_MONTHS = (3.4, 4.0)  # limit = this many months of the company's usual on-account spend
USUAL_BEFORE_END_DAYS = 60  # "usual": before the sample's last 60 days (the worked example's windows)
PAYMENT_CYCLE_DAYS = 14
PAYMENT_LAG_DAYS = (30, 40)  # an invoice is paid in the first batch after it is this old
SLOWER_AFTER_DAYS = 20  # under pressure: from this long after it starts, invoices wait
SLOWER_BY_DAYS = (10, 16)  # ... this much longer
CUT_AFTER_DAYS = (31, 40)  # under pressure: the limit is cut this long after it starts
CUT_TO_USE = (0.86, 0.95)  # ... to what is owed / this, rounded up to 100 (never below 1.25x the largest order)
DAY = 86_400
STREAM = 29  # this module's random streams next to the sample's seed (issue 29)


@dataclass(frozen=True)
class CreditBook:
    """The replayed credit: `credits`, each Company's credit at the end (`/V1/companyCredits/` items), and its
    operations as 1x columns by time, rendered as `/V1/companyCredits/history` items on each call (cheaper than
    keeping 20,000 dicts and copying them for every caller)."""

    credits: list[dict]
    operations: dict[str, np.ndarray]  # time, type, amount, owed, limit, credit, customer, entity, store, admin
    first_day: date
    scale: int

    def history(self, since: datetime | None = None) -> list[dict]:
        """Operations by datetime then id (the copies of one operation side by side), only those at or after
        `since` (UTC, naive = UTC; to the second, as Magento's filter compares)."""
        first = 0
        if since is not None:
            if since.tzinfo:
                since = since.astimezone(timezone.utc).replace(tzinfo=None)
            seconds = (since - datetime.combine(self.first_day, datetime.min.time())) // timedelta(seconds=1)
            first = int(np.searchsorted(self.operations["time"], seconds))
        op = {name: column[first:] for name, column in self.operations.items()}
        stamps = np.datetime_as_string(np.datetime64(self.first_day, "s") + op["time"], unit="s").tolist()
        stamps = [stamp.replace("T", " ") for stamp in stamps]
        money = [(cents / 100).tolist() for cents in (op["amount"], -op["owed"], op["limit"], op["limit"] - op["owed"])]
        purchase = op["type"] == PURCHASED
        user_type = np.where(purchase, CUSTOMER, ADMIN).tolist()
        scale, history = self.scale, [{}] * (len(stamps) * self.scale)
        for copy in range(scale):
            entity = _scaled(op["entity"], copy, scale).tolist()
            columns = (
                ((first + np.arange(len(stamps))) * scale + copy + 1).tolist(),
                _scaled(op["credit"], copy, scale).tolist(),
                np.where(purchase, _scaled(op["customer"], copy, scale), op["admin"]).tolist(),
                user_type,
                *money,
                op["type"].tolist(),
                stamps,
                [f"{s}{e:08d}" if s else None for s, e in zip(op["store"].tolist(), entity, strict=True)],
            )
            history[copy::scale] = [
                {
                    "id": id_,
                    "company_credit_id": credit,
                    "user_id": user,
                    "user_type": kind_of_user,
                    "currency_credit": "USD",
                    "currency_operation": "USD",
                    "rate": 1,
                    "rate_credit": None,
                    "amount": amount,
                    "balance": balance,
                    "credit_limit": limit,
                    "available_limit": available,
                    "type": kind,
                    "datetime": stamp,
                    "purchase_order": po,
                    "comment": "",
                }
                for id_, credit, user, kind_of_user, amount, balance, limit, available, kind, stamp, po in zip(
                    *columns, strict=True
                )
            ]
        return history


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM, part])


def _scaled(id_: int | np.ndarray, copy: int, scale: int) -> int | np.ndarray:
    """Copy `copy`'s id for a 1x id (an int or an array of them)."""
    return (id_ - 1) * scale + copy + 1


def _company_of(companies: pd.DataFrame, orders: pd.DataFrame) -> np.ndarray:
    """Per order: the row of its company in `companies`; len(companies) for a B2C order."""
    ids = companies["company_id"].to_numpy()
    lookup = np.full(ids.max() + 1, len(companies))
    lookup[ids] = np.arange(len(companies))
    return lookup[orders["company_id"].to_numpy()]


def paid_on_account(orders: pd.DataFrame) -> np.ndarray:
    """Per order row: paid on account, read from the column the sample renders as the payload's `payment.method`
    (`companycredit` where true), never drawn apart from it. The sample decides it per Company, so a Company pays
    every order on account (canceled ones included) or none."""
    return orders["on_account"].to_numpy(dtype=bool) & (orders["company_id"].to_numpy() > 0)


def company_rows(companies: pd.DataFrame, scale: int) -> list[dict]:
    """`/V1/company/` items by id: each Company (and its copies) named as its orders name it, with its sales
    representative, super user (its first buyer, who orders for it) and customer group."""
    rows = []
    ordered = companies.sort_values("company_id")
    columns = (ordered[c].tolist() for c in ("company_id", "name", "first_buyer", "group_id"))
    for company_id, name, first_buyer, group_id in zip(*columns, strict=True):
        for copy in range(scale):
            id_, full_name = _scaled(company_id, copy, scale), name + (f" #{copy + 1}" if copy else "")
            rows.append(
                {
                    "id": id_,
                    "status": 1,
                    "company_name": full_name,
                    "legal_name": f"{full_name} {LEGAL_FORMS[company_id % len(LEGAL_FORMS)]}",
                    "company_email": f"ap@company{id_}.example.com",
                    "sales_representative_id": SALES_REPS[company_id % len(SALES_REPS)],
                    "super_user_id": _scaled(first_buyer, copy, scale),
                    "customer_group_id": group_id,
                }
            )
    return rows


@dataclass(frozen=True)
class _Plan:
    """What the replay reads besides the events, as plain lists (cents, seconds since the first day): per
    on-account order, and per company (`limit` is the one allocated)."""

    time: list[int]
    value: list[int]
    canceled: list[bool]
    ahead: list[int]  # how long before the PO a payment that makes room for it arrives
    limit: list[int]
    lag: list[int]  # how long an invoice waits before a batch pays it
    slower: list[int]  # how much longer it waits from `slower_from` on
    slower_from: int
    cut_use: list[float]
    cut_floor: list[int]


def _replay(events: Iterable[tuple[int, int, int, int]], plan: _Plan) -> tuple[list[tuple], list[int], list[int]]:
    """Events (time, type, company, on-account order or -1) in time order -> operations (time, company, type,
    amount, owed, limit, order) sorted by time, and each company's final owed (> 0: a negative balance) and limit.
    Plain lists and one loop: this runs whenever a process first asks the sample for credit."""
    limit, owed, last = list(plan.limit), [0] * len(plan.limit), [0] * len(plan.limit)
    invoices = [deque() for _ in plan.limit]  # open on-account orders, oldest first (reverted ones never are)
    value, moment = plan.value, plan.time
    done = []
    for time, kind, c, order in events:
        if kind == PURCHASED:
            cents, open_ = value[order], invoices[c]
            if owed[c] + cents > limit[c] and open_:  # pay the oldest invoices until the PO fits
                paid = 0
                while owed[c] - paid + cents > limit[c] and open_:
                    paid += value[open_.popleft()]
                owed[c] -= paid
                done.append((max(last[c], time - plan.ahead[order]), c, REIMBURSED, paid, owed[c], limit[c], -1))
            owed[c] += cents
            if not plan.canceled[order]:
                open_.append(order)
            done.append((time, c, PURCHASED, -cents, owed[c], limit[c], order))
        elif kind == REIMBURSED:
            open_, paid = invoices[c], 0
            due = time - plan.lag[c] - (plan.slower[c] if time >= plan.slower_from else 0)
            while open_ and moment[open_[0]] <= due:
                paid += value[open_.popleft()]
            if not paid:
                continue
            owed[c] -= paid
            done.append((time, c, REIMBURSED, paid, owed[c], limit[c], -1))
        elif kind == REVERTED:
            owed[c] -= value[order]
            done.append((time, c, REVERTED, value[order], owed[c], limit[c], order))
        elif kind == UPDATED:
            cut = max(math.ceil(owed[c] / plan.cut_use[c] / 100_00) * 100_00, plan.cut_floor[c])
            if cut >= limit[c]:
                continue
            limit[c] = cut
            done.append((time, c, UPDATED, 0, owed[c], cut, -1))
        else:
            done.append((time, c, ALLOCATED, 0, 0, limit[c], -1))
        last[c] = time
    done.sort(key=itemgetter(0))  # stable: a company's operations keep their order
    return done, owed, limit


def build_credit(
    companies: pd.DataFrame, orders: pd.DataFrame, *, seed: int, scale: int, first_day: date, pressure_from: date | None
) -> CreditBook:
    """Replays every Company's credit over the sample's orders (`companies` and `orders` as `SampleMerchant`
    holds them, at 1x). `pressure_from`: the day the middle cohort's credit pressure starts (None: none)."""
    rng = _rng(seed, 2)
    n, days = len(companies), int(orders["day"].max()) + 1
    on_account = paid_on_account(orders)
    company = _company_of(companies, orders)[on_account]
    value = orders["value_cents"].to_numpy()[on_account]
    day = orders["day"].to_numpy()[on_account]
    canceled = ~orders["counted"].to_numpy()[on_account]
    has_limit = np.bincount(company, minlength=n) > 0  # granted credit: pays on account

    usual = (day < days - USUAL_BEFORE_END_DAYS) & ~canceled
    monthly = np.bincount(company[usual], value[usual], minlength=n) / ((days - USUAL_BEFORE_END_DAYS) / 30.44)
    largest = np.zeros(n, dtype=np.int64)
    np.maximum.at(largest, company, value)
    wanted = np.maximum(monthly * rng.uniform(*LIMIT_MONTHS, n), 2 * largest)
    step = np.where(wanted < 10_000_00, 500_00, 1_000_00)

    # payment batches every two weeks, on a weekday of the company's own, in US business hours (UTC)
    weekday = (first_day.weekday() + np.arange(PAYMENT_CYCLE_DAYS)) % 7
    slots = [np.arange(p, days, PAYMENT_CYCLE_DAYS) for p in rng.choice(np.flatnonzero(weekday < 5), n)]
    slot_company = np.repeat(np.arange(n), [len(s) for s in slots])
    slot_time = np.concatenate(slots) * DAY + rng.integers(14 * 3600, 22 * 3600, len(slot_company))

    pressed, start = np.zeros(n, dtype=bool), days
    if pressure_from is not None:
        pressed, start = has_limit & (companies["cohort"] == "mid").to_numpy(), (pressure_from - first_day).days
    cut_day = start + rng.integers(CUT_AFTER_DAYS[0], CUT_AFTER_DAYS[1] + 1, n)
    cut_day += np.array([0, 0, 0, 0, 0, 2, 1])[(first_day.weekday() + cut_day) % 7]  # a weekend: the Monday
    cut_time = cut_day * DAY + rng.integers(15 * 3600, 21 * 3600, n)
    moment = day * DAY + orders["second"].to_numpy()[on_account]
    plan = _Plan(
        time=moment.tolist(),
        value=value.tolist(),
        canceled=canceled.tolist(),
        ahead=rng.integers(10 * 60, 4 * 3600, len(value)).tolist(),
        limit=(np.ceil(wanted / step) * step).astype(np.int64).tolist(),
        lag=(rng.integers(PAYMENT_LAG_DAYS[0], PAYMENT_LAG_DAYS[1] + 1, n) * DAY).tolist(),
        slower=(rng.integers(SLOWER_BY_DAYS[0], SLOWER_BY_DAYS[1] + 1, n) * DAY * pressed).tolist(),
        slower_from=(start + SLOWER_AFTER_DAYS) * DAY,
        cut_use=rng.uniform(*CUT_TO_USE, n).tolist(),
        cut_floor=(np.ceil(1.25 * largest / 100_00) * 100_00).astype(np.int64).tolist(),
    )

    reverted, paying = np.flatnonzero(canceled), has_limit[slot_company]
    events = [  # (times, type, companies, on-account orders)
        (np.zeros(has_limit.sum(), dtype=np.int64), ALLOCATED, np.flatnonzero(has_limit), -1),
        (moment, PURCHASED, company, np.arange(len(value))),
        (orders["updated_second"].to_numpy()[on_account][reverted], REVERTED, company[reverted], reverted),
        (slot_time[paying], REIMBURSED, slot_company[paying], -1),
        (cut_time[pressed], UPDATED, np.flatnonzero(pressed), -1),
    ]
    columns = (np.concatenate([np.broadcast_to(event[i], len(event[0])) for event in events]) for i in range(4))
    time, kind, who, order = columns
    by_time = np.lexsort((kind, time))
    operations, owed, limit = _replay(zip(*(a[by_time].tolist() for a in (time, kind, who, order)), strict=True), plan)

    first_order = np.unique(_company_of(companies, orders), return_index=True)[1][:n]  # orders are in time order
    credit_id = np.argsort(np.argsort(first_order)) + 1  # credit records in the order the companies came
    ids = companies["company_id"].to_numpy()
    credits = [
        {
            "id": _scaled(int(credit_id[c]), copy, scale),
            "company_id": _scaled(int(ids[c]), copy, scale),
            "credit_limit": limit[c] / 100 if has_limit[c] else None,
            "balance": -owed[c] / 100,
            "currency_code": "USD",
            "exceed_limit": False,
            "available_limit": ((limit[c] if has_limit[c] else 0) - owed[c]) / 100,  # PHP: null + balance
            "credit_comment": None,
        }
        for c in np.argsort(credit_id).tolist()
        for copy in range(scale)
    ]
    return CreditBook(credits, _operation_columns(operations, orders, on_account, credit_id, ids), first_day, scale)


def _operation_columns(
    operations: list[tuple], orders: pd.DataFrame, on_account: np.ndarray, credit_id: np.ndarray, ids: np.ndarray
) -> dict[str, np.ndarray]:
    """The replay's operations as `CreditBook.operations` columns: who did each (a buyer purchases, the sales
    representative allocates and updates limits, finance books payments and cancellations) and its order."""
    time, company, type_, amount, owed, limit, order = np.array(operations, dtype=np.int64).reshape(-1, 7).T
    of_order = {
        c: np.append(orders[c].to_numpy()[on_account], 0)[order] for c in ("customer_id", "entity_id", "store_id")
    }
    rep = np.array(SALES_REPS)[ids[company] % len(SALES_REPS)]
    return {
        "time": time,
        "type": type_,
        "amount": amount,
        "owed": owed,
        "limit": limit,
        "credit": credit_id[company],
        "customer": of_order["customer_id"],
        "entity": of_order["entity_id"],
        "store": of_order["store_id"],
        "admin": np.where(np.isin(type_, (ALLOCATED, UPDATED)), rep, FINANCE_ADMIN),
    }
