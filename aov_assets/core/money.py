"""Exact money and percentages: integer cents in sums, Decimals rounded half-up, Fractions for ratios."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

CENT = Decimal("0.01")
PCT = Decimal("0.0001")


def cents_to_money(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)


def money_to_cents(amount: Decimal) -> int:
    """Cents of an amount that is already rounded to the cent (raises if it is not)."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)


def ratio_to_money(numerator_cents: int, denominator: int) -> Decimal | None:
    """numerator_cents / denominator as money, rounded half-up to the cent (AOV)."""
    if denominator == 0:
        return None
    return (Decimal(int(numerator_cents)) / Decimal(int(denominator)) / 100).quantize(CENT, ROUND_HALF_UP)


def average_cents(cents: pd.Series, counts: pd.Series) -> pd.Series:
    """cents / count per row rounded half-up to the cent (`ratio_to_money`'s rule for non-negative sums,
    in integers); missing where the count is 0."""
    c, n = cents.to_numpy(dtype=np.int64), counts.to_numpy(dtype=np.int64)
    if (c < 0).any():
        raise ValueError("average_cents needs non-negative sums")
    rounded = (2 * c + n) // np.maximum(2 * n, 1)
    return pd.Series(rounded, index=cents.index, dtype="Int64").mask(n == 0)


def fraction_to_decimal(value: Fraction | None, places: Decimal = PCT) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(places, ROUND_HALF_UP)


def relative_change(now: Fraction | int | None, before: Fraction | int | None) -> Fraction | None:
    """(now / before - 1) exactly; None when there is nothing to compare against."""
    if now is None or before is None or before == 0:
        return None
    return Fraction(now) / Fraction(before) - 1


def as_percent(change: Fraction | None) -> Decimal | None:
    return fraction_to_decimal(None if change is None else change * 100)
