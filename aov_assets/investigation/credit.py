"""Company credit (Adobe Commerce B2B Company Credit) as exact tables, and how close to its credit limit each
Company was on each day (pure).

Magento's sign: `available_limit = credit_limit + balance`, and a purchase on account lowers `balance`, so a
Company that owes has a negative balance and owes max(0, -balance). Money arrives as JSON numbers; it is read
as Decimal and kept as integer cents. Magento keeps credit money with 4 decimals (a currency conversion can
leave fractions of a cent), so amounts are rounded half-up to the cent, as Magento shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from ..core.windows import WINDOW_DAYS

# Each frame's columns, in order, with their dtypes (Int64: may be missing).
COMPANY_TYPES = {"company_id": "int64", "name": "object", "status": "int64", "sales_rep_id": "Int64"}
COMPANY_TYPES |= {"customer_group_id": "Int64"}
CREDIT_TYPES = {"credit_id": "int64", "company_id": "int64", "credit_limit_cents": "Int64", "balance_cents": "int64"}
CREDIT_TYPES |= {"currency_code": "object"}
HISTORY_TYPES = {"history_id": "int64", "credit_id": "int64", "company_id": "int64", "at": "object", "type": "int64"}
HISTORY_TYPES |= {"amount_cents": "int64", "balance_cents": "int64", "credit_limit_cents": "Int64"}


def _typed(rows: list[tuple], types: Mapping[str, str]) -> pd.DataFrame:
    """Row tuples as a frame with `types`' columns and dtypes (an empty list keeps them too)."""
    return pd.DataFrame(rows, columns=list(types)).astype(types)


def company_rows(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """`/V1/company/` items -> company_id, name, status, sales_rep_id (admin user; may be missing), group."""
    rows = []
    for item in items:
        what = _what("company", item)
        rows.append(
            (
                _int(item, "id", what),
                str(item.get("company_name") or ""),
                _int(item, "status", what),
                _int(item, "sales_representative_id", what, nullable=True),
                _int(item, "customer_group_id", what, nullable=True),
            )
        )
    return _typed(rows, COMPANY_TYPES)


def credit_rows(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """`/V1/companyCredits/` items -> one row per Company credit; credit_limit_cents is missing for no limit."""
    rows = []
    for item in items:
        what = _what("company credit", item)
        rows.append(
            (
                _int(item, "id", what),
                _int(item, "company_id", what),
                _cents(item, "credit_limit", what, nullable=True),
                _cents(item, "balance", what),
                str(item.get("currency_code") or ""),
            )
        )
    return _typed(rows, CREDIT_TYPES)


def history_rows(items: Iterable[Mapping[str, Any]], credits: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """`/V1/companyCredits/history` items -> operations with their Company (through `credit_rows`), sorted by
    (company_id, at, history_id); balance and credit limit are the values right after the operation. Also the
    ids of operations whose credit is not listed (a Company deleted between the two reads): left out, named.
    Types are kept as Magento numbers them (1 allocated, 2 updated, 3 purchased, 4 reimbursed, 5 refunded,
    6 reverted); only balances and limits are read, so an extension's own type is no error."""
    company_of = dict(zip(credits["credit_id"].tolist(), credits["company_id"].tolist()))
    rows, unlisted = [], []
    for item in items:
        what = _what("company credit history", item)
        credit_id = _int(item, "company_credit_id", what)
        kind = _int(item, "type", what)
        if credit_id not in company_of:
            unlisted.append(_int(item, "id", what))
            continue
        rows.append(
            (
                _int(item, "id", what),
                credit_id,
                company_of[credit_id],
                _at(item, "datetime", what),
                kind,
                _cents(item, "amount", what),
                _cents(item, "balance", what),
                _cents(item, "credit_limit", what, nullable=True),
            )
        )
    frame = _typed(rows, HISTORY_TYPES)
    frame["at"] = pd.to_datetime(frame["at"], utc=True).astype("datetime64[ns, UTC]")
    return frame.sort_values(["company_id", "at", "history_id"], ignore_index=True), unlisted


class CreditUtilization:
    """Each Company's credit utilization (owed / credit limit) per UTC day first..last, built once.

    A day's peak is the highest utilization the Company reached that day: the state it started the day with
    (after its latest earlier operation, so `history` must reach back before `first_day`) and the state after
    each operation of the day. NaN means unknown: no limit (missing or 0, Magento's default for a Company that
    was never granted credit) or no operation yet. Utilization is a float64 quotient of two integer cent
    amounts, correctly rounded, so a Company owing exactly 80% compares equal to 0.8: threshold tests such as
    `>= 0.8` hold on the boundary.
    """

    def __init__(self, history: pd.DataFrame, first_day: date, last_day: date):
        if last_day < first_day:
            raise ValueError(f"last_day {last_day} is before first_day {first_day}")
        self.first_day, self.last_day = first_day, last_day
        history = history.sort_values(["company_id", "at", "history_id"])
        self.days = pd.date_range(first_day, last_day, freq="D").date
        companies = np.unique(history["company_id"].to_numpy(dtype=np.int64))
        self.accounts = pd.Index([f"company:{c}" for c in companies], name="account")
        n_days = len(self.days)
        start = pd.Timestamp(first_day, tz=timezone.utc)
        day = ((history["at"] - start) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
        row = np.searchsorted(companies, history["company_id"].to_numpy(dtype=np.int64))
        value = _utilization(history)
        # states[c, 0]: before first_day; states[c, d + 1]: after the last operation of day d
        states = np.full((len(companies), n_days + 1), np.nan)
        known = np.zeros(states.shape, dtype=bool)
        known[:, 0] = True
        peaks = np.full((len(companies), n_days), np.nan)
        ops = pd.DataFrame({"row": row, "slot": np.clip(day + 1, 0, None), "value": value})[day < n_days]
        last = ops.drop_duplicates(["row", "slot"], keep="last")  # history is in time order per Company
        states[last["row"].to_numpy(), last["slot"].to_numpy()] = last["value"].to_numpy()
        known[last["row"].to_numpy(), last["slot"].to_numpy()] = True
        during = ops[ops["slot"] > 0].groupby(["row", "slot"])["value"].max()  # max skips NaN
        rows, slots = (during.index.get_level_values(level).to_numpy() for level in (0, 1))
        peaks[rows, slots - 1] = during.to_numpy()
        latest = np.maximum.accumulate(np.where(known, np.arange(n_days + 1), 0), axis=1)
        carried = np.take_along_axis(states, latest, axis=1)
        self.day_peaks = np.fmax(carried[:, :-1], peaks)  # fmax: NaN only where both are unknown
        self._rolling: dict[int, np.ndarray] = {}

    def peaks(self, as_of: date, window_days: int = WINDOW_DAYS) -> pd.Series:
        """Peak utilization per Company over as_of-(window_days-1)..as_of; NaN where it is unknown all along."""
        if as_of - timedelta(days=window_days - 1) < self.first_day:
            raise ValueError(
                f"the {window_days}-day window as of {as_of} starts before {self.first_day}, the first day built"
            )
        if window_days not in self._rolling:  # one rolling max over all days, then a column per as-of day
            frame = pd.DataFrame(self.day_peaks.T)
            self._rolling[window_days] = frame.rolling(window_days, min_periods=1).max().to_numpy().T
        return pd.Series(self._rolling[window_days][:, self._column(as_of)], index=self.accounts, name="peak")

    def _column(self, as_of: date) -> int:
        if not self.first_day <= as_of <= self.last_day:
            raise ValueError(f"{as_of} is outside the days built, {self.first_day}..{self.last_day}")
        return (as_of - self.first_day).days


def _utilization(history: pd.DataFrame) -> np.ndarray:
    """owed / credit limit after each operation; NaN without a (positive) limit."""
    owed = np.maximum(-history["balance_cents"].to_numpy(dtype=np.int64), 0).astype(np.float64)
    limit = history["credit_limit_cents"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(limit > 0, owed / limit, np.nan)


# --------------------------------------------------------------------------- reading REST items


def _what(kind: str, item: Mapping[str, Any]) -> str:
    if not isinstance(item, Mapping):
        raise ValueError(f"{kind} item {item!r} is not an object")
    return f"{kind} item {item.get('id')!r}"


def _int(item: Mapping[str, Any], field: str, what: str, *, nullable: bool = False) -> int | None:
    value = item.get(field)
    if value is None and nullable:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise ValueError(f"{what}: {field} is not a whole number ({value!r})")


def _cents(item: Mapping[str, Any], field: str, what: str, *, nullable: bool = False) -> int | None:
    value = item.get(field)
    if value is None and nullable:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise InvalidOperation
        amount = Decimal(repr(value) if isinstance(value, float) else value)  # repr: the float's shortest text
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what}: {field} is not an amount of money ({value!r})") from None
    return int((amount * 100).quantize(Decimal(1), ROUND_HALF_UP))


def _at(item: Mapping[str, Any], field: str, what: str) -> datetime:
    value = item.get(field)
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {field} is not a UTC time like 2026-05-03 14:05:09 ({value!r})") from None
