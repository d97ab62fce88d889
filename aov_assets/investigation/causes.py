"""Why B2B AOV moved: an exact decomposition into ranked causes, and what was ruled out (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

from ..core.money import fraction_to_decimal, relative_change
from .accounts import GUESTS, SIGNIFICANT, account_name
from .evidence import credit_pressure, split_orders
from .terms import Cause, Context, Largest, WindowContext, change_text, signed_text

__all__ = ["Cause", "Context", "Largest", "WindowContext", "cause_rows", "explain", "within_cause"]

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
    "credit_pressure": "Sales team: contact the affected Companies near their credit limit; offer longer payment "
    "terms or a limit review.",
    "split_orders": "Call the accounts placing several POs a day: look at their credit limits and approval "
    "thresholds; offer longer payment terms or consolidated delivery.",
    "account_mix": "The accounts buying more often are the small-basket ones: grow basket size with them, and "
    "check whether the large accounts are buying less.",
    "accounts_gone_quiet": "Call the accounts that went quiet, largest prior revenue first.",
    "new_accounts": "Onboard the new accounts toward the catalogue of comparable continuing accounts.",
    "po_consolidation": "Accounts consolidate POs: fine for margin; watch their order frequency.",
    "basket_growth": "Baskets grew: find the lines that joined and offer them to similar accounts.",
    "price_mix_up": "Accounts bought pricier lines: check whether prices rose or the mix moved up.",
}


EXPLAIN_COLUMNS = ("account", "name", "status", "orders", "revenue_cents", "line_items", "order_days")
EXPLAIN_COLUMNS += ("prior_orders", "prior_revenue_cents", "prior_line_items", "prior_order_days")
EXPLAIN_COLUMNS += ("on_account_orders", "prior_on_account_orders")


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
    evidence = (credit_pressure(accounts, context, continuing, change), split_orders(accounts, change))
    for evidence in evidence:  # what names the within-account part, after it
        (why if evidence.role == "why" else ruled_out).append(evidence)
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
                    f"of each window B2B AOV changes {change_text(relative_change(b1, b0))} instead of "
                    f"{change_text(pct)}.",
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
                    f"At the prior window's exchange rates B2B AOV changes {change_text(constant_pct)} instead of "
                    f"{change_text(pct)} (base currencies {listing}): exchange rates moved it.",
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
                    f"Constant-currency change {change_text(constant_pct)} (base currencies {listing}): "
                    "not exchange rates.",
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
    money = signed_text(amount)
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
        f"continuing accounts' orders {change_text(orders)}, revenue {change_text(revenue)}, lines per order "
        f"{_plain(facts.get('prior_lines_per_order'))} -> {_plain(facts.get('lines_per_order'))} ({change_text(lines)})"
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
            f"B2B orders {change_text(orders_change)}, revenue {change_text(revenue_change)}: "
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


def _money(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):,.2f}"


def _money_f(value: Fraction | None) -> str:
    return "-" if value is None else f"{fraction_to_decimal(value, Decimal('0.01')):,.2f}"


def _plain(value: Fraction | None) -> str:
    return "-" if value is None else f"{float(value):.1f}"
