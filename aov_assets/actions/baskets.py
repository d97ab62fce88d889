"""Bought together (support, confidence, lift) and the categories an account's peers buy and it does not (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

from ..core.money import CENT

PAIR_DAYS = 90  # basket_pairs: the trailing days up to the month's end
MIN_SKU_SUPPORT = Fraction(1, 100)  # SKU pairs bought together in at least 1% of the segment's orders
PAIR_COLUMNS = ["kind", "antecedent", "consequent", "orders", "support_pct", "confidence_pct", "lift"]


PAIR_ROWS = 1_000_000  # (item, item) rows of one slice of orders counted at a time: 8 MB per int64 array


def pair_rows(items: pd.DataFrame, orders: int, min_support: Fraction = Fraction(0)) -> pd.DataFrame:
    """Items bought together in one order, as directed rules antecedent -> consequent.

    `items` holds distinct (entity_id, item) of one segment's orders, `orders` how many orders the
    window has. support = orders with both / all orders; confidence = orders with both / orders with
    the antecedent; lift = support / (support(antecedent) x support(consequent)). Kept to pairs at or
    above `min_support`; the ratios are rounded to 4 places (they are not money).
    """
    return BasketCounts.of(items, orders).rules(min_support)


@dataclass(frozen=True)
class BasketCounts:
    """The counts behind support, confidence and lift for one set of orders: how many orders, orders per
    item, and orders per ordered pair of distinct items. Counts of disjoint sets of orders add up, so a
    90-day window is the sum of its parts, each part's lines read and counted once."""

    orders: int
    alone: pd.Series  # item -> orders with it
    together: pd.Series  # (antecedent, consequent) -> orders with both

    @classmethod
    def of(cls, items: pd.DataFrame, orders: int) -> BasketCounts:
        """Items are counted as integer codes, a slice of orders at a time (every ordered pair of an
        order's items, at most PAIR_ROWS of them per slice)."""
        if items.empty:
            return cls(orders, pd.Series([], dtype=np.int64), pd.Series([], index=_PAIRS, dtype=np.int64))
        codes, names = pd.factorize(items["item"], sort=True)
        names = np.asarray(names, dtype=object)
        keys, counts = _pair_counts(items["entity_id"].to_numpy(), codes, len(names))
        first, second = np.divmod(keys, len(names))
        together = pd.Series(counts, index=pd.MultiIndex.from_arrays([names[first], names[second]]))
        return cls(orders, pd.Series(np.bincount(codes, minlength=len(names)), index=names), together)

    def __add__(self, other: BasketCounts) -> BasketCounts:
        alone, together = (
            mine.add(theirs, fill_value=0).astype(np.int64)
            for mine, theirs in ((self.alone, other.alone), (self.together, other.together))
        )
        return BasketCounts(self.orders + other.orders, alone, together)

    def rules(self, min_support: Fraction = Fraction(0)) -> pd.DataFrame:
        """The rules of `pair_rows`, in (antecedent, consequent) order."""
        if self.together.empty or not self.orders:
            return pd.DataFrame(columns=PAIR_COLUMNS[1:])
        kept = self.together[self.together * min_support.denominator >= min_support.numerator * self.orders]
        kept = kept.sort_index()
        antecedent, consequent = (kept.index.get_level_values(level).to_numpy(dtype=object) for level in (0, 1))
        both = kept.to_numpy(dtype=np.float64)
        a, b = (self.alone[names].to_numpy(dtype=np.float64) for names in (antecedent, consequent))
        return pd.DataFrame(
            {
                "antecedent": antecedent,
                "consequent": consequent,
                "orders": kept.to_numpy(dtype=np.int64),
                "support_pct": np.round(100 * both / self.orders, 4),
                "confidence_pct": np.round(100 * both / a, 4),
                "lift": np.round(both * self.orders / (a * b), 4),
            }
        )


_PAIRS = pd.MultiIndex.from_arrays([[], []])


def _pair_counts(order_ids: np.ndarray, codes: np.ndarray, items: int) -> tuple[np.ndarray, np.ndarray]:
    """(first * items + second, orders with both) for every ordered pair of distinct items sharing an
    order, sorted; the orders are expanded a slice at a time, never all at once."""
    by_order = np.argsort(order_ids, kind="stable")
    ids, codes = order_ids[by_order], codes[by_order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    sizes = np.diff(np.r_[starts, len(ids)])
    expanded = np.cumsum(sizes.astype(np.int64) ** 2)  # pairs (with an item itself) up to each order
    found = []
    first = 0
    while first < len(sizes):
        done = expanded[first - 1] if first else 0
        stop = max(int(np.searchsorted(expanded, done + PAIR_ROWS, side="right")), first + 1)
        start, end = starts[first], starts[stop] if stop < len(starts) else len(codes)
        slice_codes, slice_sizes = codes[start:end], sizes[first:stop]
        per_row = np.repeat(slice_sizes, slice_sizes)  # each row pairs with every row of its order
        row_start = np.repeat(starts[first:stop] - start, slice_sizes)
        left = np.repeat(np.arange(len(slice_codes)), per_row)
        offset = np.arange(len(left)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        right = np.repeat(row_start, per_row) + offset
        a, b = slice_codes[left], slice_codes[right]
        different = a != b
        found.append(np.unique(a[different] * items + b[different], return_counts=True))
        first = stop
    keys = np.concatenate([k for k, _ in found])
    counts = np.concatenate([c for _, c in found])
    if len(found) > 1:  # the same pair in several slices: add them up
        keys, where = np.unique(keys, return_inverse=True)
        counts = np.bincount(where, weights=counts, minlength=len(keys)).astype(np.int64)
    return keys, counts


WHITESPACE_SHARE = Fraction(1, 2)  # a category "the peers buy" when at least half of them do
WHITESPACE_COLUMNS = ["account", "category", "cohort", "peers", "peers_buying", "peer_median_spend"]


def whitespace_rows(spend: pd.DataFrame, cohort_of: pd.Series) -> pd.DataFrame:
    """For each B2B account, the categories that at least half of its LTV-cohort peers buy and it does
    not, sized by the median spend of the peers that buy it.

    `spend`: account, category, line_cents over the trailing 12 months; `cohort_of`: account -> cohort.
    An account's peers are the other accounts of its cohort, whether or not they bought anything.
    """
    bought = spend[(spend["line_cents"] > 0) & spend["account"].isin(cohort_of.index)]
    bought = bought.groupby(["account", "category"], as_index=False)["line_cents"].sum()
    cohort_of_buyer = bought["account"].map(cohort_of)
    rows = []
    for (cohort, category), group in bought.groupby([cohort_of_buyer, "category"], sort=True):
        members = set(cohort_of.index[cohort_of == cohort])
        buyers = set(group["account"])
        peers = len(members) - 1
        if peers < 1 or len(buyers) * WHITESPACE_SHARE.denominator < WHITESPACE_SHARE.numerator * peers:
            continue
        median = Decimal(str(np.median(group["line_cents"].to_numpy(dtype=np.int64)))) / 100
        for account in sorted(members - buyers):
            rows.append(
                {
                    "account": account,
                    "category": category,
                    "cohort": cohort,
                    "peers": peers,
                    "peers_buying": len(buyers),
                    "peer_median_spend": median.quantize(CENT, ROUND_HALF_UP),
                }
            )
    return pd.DataFrame(rows, columns=WHITESPACE_COLUMNS, dtype=object)
