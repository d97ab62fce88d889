"""The evidence that names the within-account change: credit pressure and same-day split POs (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from .accounts import GUESTS
from .terms import Cause, Context, change_text, signed_text

SPLIT_POINTS = Fraction(5, 100)  # a same-day split share moving by 5 points or more names PO splitting
NAMED_ACCOUNTS = 3  # accounts a finding names (the call list names them all)


def credit_pressure(
    accounts: Mapping[str, np.ndarray], context: Context, continuing: np.ndarray, change: Fraction
) -> Cause:
    """Continuing accounts whose credit utilization (owed / limit) reached `credit_threshold` in the current
    window: their exact part of the within-account change (each account's AOV move weighted by its prior
    order share, as in the decomposition), how many, and their AOV change against the other continuing
    accounts' (both at constant order counts). It names credit pressure when that part points the way B2B
    AOV moved and their AOV moved further that way than the others'."""
    if context.credit is None:
        return Cause(
            "credit_pressure",
            "ruled_out",
            None,
            None,
            False,
            "Credit pressure: not available (no Company Credit data from this store).",
        )
    keys = accounts["account"]
    peak = context.credit.reindex(keys).to_numpy(dtype=float)  # NaN: no limit, unknown, or guests
    named = continuing & (keys != GUESTS)
    pressed = named & (peak >= context.credit_threshold)  # NaN is never pressed
    others = named & ~pressed
    threshold = f"{context.credit_threshold * 100:.0f}%"
    if not pressed.any():
        known = int((named & ~np.isnan(peak)).sum())
        return Cause(
            "credit_pressure",
            "ruled_out",
            Fraction(0),
            Fraction(0) if change else None,
            False,
            f"No continuing account reached {threshold} of its credit limit ({known} with a known limit): "
            "not credit pressure.",
        )
    n0, n1 = (accounts[c].astype(np.int64) for c in ("prior_orders", "orders"))
    r0, r1 = (accounts[c].astype(np.int64) for c in ("prior_revenue_cents", "revenue_cents"))

    def moved(group: np.ndarray) -> Fraction:
        """Sum over the group of (prior orders) x (current AOV - prior AOV), in cents, exactly: the sum of
        n0 x r1 / n1 less the prior revenue, as one Fraction per distinct current order count (continuing
        accounts ordered in both windows, so no count is zero)."""
        counts, at = np.unique(n1[group], return_inverse=True)
        weights = np.zeros(len(counts), dtype=np.int64)
        np.add.at(weights, at, n0[group] * r1[group])
        current = sum((Fraction(int(w), int(n)) for n, w in zip(counts, weights)), Fraction(0))
        return current - int(r0[group].sum())

    def held_mix_change(group: np.ndarray) -> Fraction | None:
        """The group's AOV change with each account at its prior order count: untouched by order share
        moving between accounts (account_mix), so two groups compare on their own AOVs."""
        prior = int(r0[group].sum())
        return moved(group) / prior if prior else None

    part = moved(pressed) / (100 * int(n0[continuing].sum()))  # their share of the within-account part
    change_of = {"pressed": held_mix_change(pressed), "others": held_mix_change(others)}
    order = np.flatnonzero(pressed)
    order = order[np.lexsort((keys[order], -peak[order]))][:NAMED_ACCOUNTS]
    most = "; ".join(f"{accounts['name'][i]} {peak[i] * 100:.0f}%" for i in order)
    text = (
        f"{int(pressed.sum())} of {int(named.sum())} continuing accounts reached {threshold}+ of their credit "
        f"limit; their AOV {change_text(change_of['pressed'])} vs {change_text(change_of['others'])} for the "
        f"others (each account at its prior order count), their part of the within-account change {signed_text(part)}"
    )
    pressed_change, others_change = change_of["pressed"], change_of["others"]
    worse = pressed_change is not None and (others_change is None or (pressed_change - others_change) * change > 0)
    if change != 0 and part != 0 and (part > 0) == (change > 0) and worse:
        return Cause("credit_pressure", "why", part, part / change, False, f"{text}; most: {most}.")
    return Cause(
        "credit_pressure", "ruled_out", part, part / change if change else None, False, f"{text}: not credit pressure."
    )


def split_orders(accounts: Mapping[str, np.ndarray], change: Fraction) -> Cause:
    """The share of B2B orders that are an account's second or later order on the same UTC day (orders
    minus account-days, over orders; guests aside), current vs prior, and the accounts where the count of
    such orders rose most, with the share paid on account (Company Credit) beside it. It names PO splitting
    when the split share moves against AOV by SPLIT_POINTS or more."""
    named = accounts["account"] != GUESTS
    n0, n1 = (accounts[c][named].astype(np.int64) for c in ("prior_orders", "orders"))
    d0, d1 = (accounts[c][named].astype(np.int64) for c in ("prior_order_days", "order_days"))
    extra0, extra1 = n0 - d0, n1 - d1
    if not n0.sum() or not n1.sum():
        return Cause("split_orders", "ruled_out", None, None, False, "No named B2B account ordered in a window.")
    share0, share1 = Fraction(int(extra0.sum()), int(n0.sum())), Fraction(int(extra1.sum()), int(n1.sum()))
    moved = share1 - share0
    text = (
        f"Same-day second POs: {_share(share1)} of B2B orders (prior {_share(share0)}, "
        f"{float(moved) * 100:+.1f} points)"
    )
    a0, a1 = (int(accounts[c][named].sum()) for c in ("prior_on_account_orders", "on_account_orders"))
    if a0 or a1:  # a store whose orders say how they were paid (Adobe Commerce's payment.method)
        text += f"; paid on account {_share(Fraction(a1, int(n1.sum())))} (prior {_share(Fraction(a0, int(n0.sum())))})"
    rose = np.flatnonzero((extra1 > extra0) & (n0 > 0))
    rose = rose[np.lexsort((accounts["account"][named][rose], -(extra1 - extra0)[rose]))][:NAMED_ACCOUNTS]
    most = "; ".join(
        f"{accounts['name'][named][i]} {extra1[i]} of {n1[i]} (prior {extra0[i]} of {n0[i]})" for i in rose
    )
    against = change != 0 and moved != 0 and (moved > 0) != (change > 0)
    if against and abs(moved) >= SPLIT_POINTS:
        verb = "split their POs" if moved > 0 else "consolidate their POs"
        return Cause(
            "split_orders", "why", None, None, False, f"{text}: accounts {verb}" + (f"; most: {most}." if most else ".")
        )
    return Cause("split_orders", "ruled_out", None, None, False, f"{text}: not PO splitting.")


def _share(value: Fraction) -> str:
    return f"{float(value) * 100:.1f}%"
