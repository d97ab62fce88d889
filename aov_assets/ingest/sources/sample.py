"""The embedded sample merchant: a janitorial-supply distributor on Adobe Commerce.

180 B2B Companies (B2B Companies module) and about 3,400 consumers order every day from
2024-05-01 to 2026-05-03. History is ordinary: trend, seasonality (back-to-school for B2B,
holidays for B2C), weekday rhythm, guests, canceled and net-30 `pending_payment` orders. The last
60 days are built to reproduce CONTRACT.md's worked example to the cent: inside B2B, mid-tier and
small accounts' baskets shrink, small accounts place far more, smaller orders, and 8 mid-tier
accounts go quiet, while B2C barely moves.

What the B2B module holds about the Companies (sales representatives, credit limits, purchases on account and
payments, and the credit pressure on the middle cohort behind the worked example) comes from `sample_credit`,
replayed over these orders on first use.

Everything is generated once per process as compact numpy arrays (deterministic seed) and each day
is rendered on demand in the exact REST order shape, so the sample goes through the same lake,
parsing and classification code as a live store.

`AOV_SAMPLE_SCALE=N` makes a merchant N times the size: each order, company and consumer is rendered
N times under ids of its own (copy k of id i is (i - 1) * N + k + 1), so every count is N times and
every AOV, share and percentage, the worked example's included, stays the same. Days are still
rendered one at a time from the 1x arrays, so memory does not grow with N.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache

import msgspec
import numpy as np
import pandas as pd

from . import sample_credit
from .sample_store import (
    CATALOG,
    CATEGORIES,
    COMPANY_WORDS,
    CUSTOMER_GROUPS,
    LEFT_THE_BASKETS,
    STORE_CONFIGS,
    STORE_VIEWS,
)
from .sample_stories import CANCELED_SHARE, COHORT_SIZES, COHORTS, CONSUMERS, DEFAULT_STORY, PROFILES, STORIES

FIRST_DAY = date(2024, 5, 1)
LAST_DAY = date(2026, 5, 3)
CURRENT_WINDOW = (date(2026, 4, 4), LAST_DAY)
PRIOR_WINDOW = (date(2026, 3, 5), date(2026, 4, 3))
SEED = 20260503
SCALE_VARIABLE = "AOV_SAMPLE_SCALE"


def _window_of(day: date) -> str | None:
    if PRIOR_WINDOW[0] <= day <= PRIOR_WINDOW[1]:
        return "prior"
    if CURRENT_WINDOW[0] <= day <= CURRENT_WINDOW[1]:
        return "current"
    return None


def _month_curve(days: pd.DatetimeIndex, by_month: tuple[float, ...]) -> np.ndarray:
    """Smooth yearly curve through mid-month anchors (no step at month boundaries)."""
    position = (days.day_of_year.to_numpy() - 0.5) / 365.25 * 12  # months since Jan 1
    anchors = np.arange(12) + 0.5
    return np.interp(
        position,
        np.concatenate([[anchors[-1] - 12], anchors, [anchors[0] + 12]]),
        np.concatenate([[by_month[-1]], by_month, [by_month[0]]]),
    )


def _split_exact(total: int, raw: np.ndarray) -> np.ndarray:
    """Integers proportional to `raw` that sum to `total` exactly (largest remainders)."""
    scaled = raw / raw.sum() * total
    result = np.floor(scaled).astype(np.int64)
    shortfall = total - int(result.sum())
    if shortfall:
        result[np.argsort(scaled - result)[::-1][:shortfall]] += 1
    return result


class SampleMerchant:
    """Deterministic order history; `orders_created_on(day)` renders one UTC day as the REST API would."""

    name = "sample"
    first_day = FIRST_DAY
    last_day = LAST_DAY

    def __init__(self, seed: int = SEED, scale: int = 1, story: str = DEFAULT_STORY):
        self.scale, self.story, self._seed = scale, STORIES[story], seed
        self._rng = np.random.default_rng(seed)
        self.company_table = self._company_table()
        self.consumer_weights = self._rng.lognormal(0, 1.0, CONSUMERS)
        orders = self._orders()
        self.orders = orders
        self._day_starts = np.searchsorted(orders["day"].to_numpy(), np.arange(self._day_count() + 1))
        self._lines = self._lines_for(orders)

    # ----------------------------------------------------------------- lookups (as the API has them)

    def customer_groups(self) -> list[dict]:
        return [dict(group) for group in CUSTOMER_GROUPS]

    def store_views(self) -> list[dict]:
        return [dict(view) for view in STORE_VIEWS]

    def store_configs(self) -> list[dict]:
        return [dict(config) for config in STORE_CONFIGS]

    def catalog(self) -> list[dict]:
        """SKU -> name and category path, products and their configurable variants."""
        rows = []
        for number, (name, sku, options, _) in enumerate(CATALOG):
            category = CATEGORIES[sku]
            rows.append({"sku": sku, "name": name, "product_id": number + 1, "category": category})
            rows += [
                {
                    "sku": f"{sku}-{option.upper()}",
                    "name": f"{name} - {option}",
                    "product_id": 1000 + 10 * number + i,
                    "category": category,
                }
                for i, option in enumerate(options)
            ]
        return rows

    # ----------------------------------------------------------------- B2B Companies and their credit

    def companies(self) -> list[dict]:
        """The REST list of Companies (`/V1/company/`), with their sales representatives."""
        return [dict(row) for row in self._company_list]

    def company_credits(self) -> list[dict]:
        """Each Company's credit limit (null = none) and balance (negative = owed) at the end of the last day."""
        return [dict(row) for row in self._credit_book.credits]

    def credit_history(self, since: datetime | None = None) -> list[dict]:
        """Credit operations by datetime then id, only those at or after `since` (UTC; naive = UTC)."""
        return self._credit_book.history(since)

    @cached_property
    def _company_list(self) -> list[dict]:
        return sample_credit.company_rows(self.company_table, self.scale)

    @cached_property
    def _credit_book(self) -> sample_credit.CreditBook:
        """Built on first use only (the sample is built at every start). The story whose baskets shrink is the
        one under credit pressure, from the first day of its prior window."""
        return sample_credit.build_credit(
            self.company_table,
            self.orders,
            seed=self._seed,
            scale=self.scale,
            first_day=FIRST_DAY,
            pressure_from=PRIOR_WINDOW[0] if self.story.shrinking else None,
        )

    # ----------------------------------------------------------------- orders

    def orders_created_on(self, day: date) -> list[dict]:
        index = (day - FIRST_DAY).days
        if index < 0 or day > LAST_DAY:
            return []
        start, stop = self._day_starts[index], self._day_starts[index + 1]
        columns, line_starts = self._day_columns(start, stop)
        return [
            self._render(columns, row, range(line_starts[row], line_starts[row + 1]), copy)
            for row in range(stop - start)
            for copy in range(self.scale)
        ]

    def iter_days(self, days: Iterable[date]) -> Iterator[tuple[date, list[bytes]]]:
        """Each day's orders as REST JSON bytes, the form every source hands to the lake."""
        encode = msgspec.json.Encoder().encode
        for day in days:
            yield day, [encode(order) for order in self.orders_created_on(day)]

    # ----------------------------------------------------------------- generation

    def _day_count(self) -> int:
        return (LAST_DAY - FIRST_DAY).days + 1

    def _company_table(self) -> pd.DataFrame:
        rng = self._rng
        cohorts = np.repeat(list(COHORT_SIZES), list(COHORT_SIZES.values()))
        company_ids = rng.permutation(np.arange(1, len(cohorts) + 1))
        weights = rng.uniform(0.7, 1.3, len(cohorts))
        quiet = np.zeros(len(cohorts), dtype=bool)
        for cohort, count in self.story.quiet.items():
            quiet[rng.choice(np.flatnonzero(cohorts == cohort), count, replace=False)] = True
        first, second, third = (rng.integers(0, len(words), len(cohorts)) for words in COMPANY_WORDS)
        names = [
            f"{COMPANY_WORDS[0][a]} {COMPANY_WORDS[1][b]} {COMPANY_WORDS[2][c]}"
            for a, b, c in zip(first, second, third, strict=True)
        ]
        buyers = rng.integers(1, 5, len(cohorts))
        first_buyer = 20_001 + np.concatenate([[0], np.cumsum(buyers)[:-1]])
        return pd.DataFrame(
            {
                "company_id": company_ids,
                "name": names,
                "cohort": cohorts,
                "weight": weights,
                "quiet": quiet,
                "group_id": np.where(rng.random(len(cohorts)) < 0.15, 4, 2),
                "tax_exempt": rng.random(len(cohorts)) < 0.7,
                "on_account": rng.random(len(cohorts)) < 0.45,  # every order `companycredit`, net 30; else by card
                "first_buyer": first_buyer,
                "buyers": buyers,
            }
        )

    def _orders(self) -> pd.DataFrame:
        rng = self._rng
        days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D")
        windows = np.array([_window_of(d.date()) for d in days], dtype=object)
        in_prior = windows == "prior"
        years_to_end = (days - pd.Timestamp(LAST_DAY)).days.to_numpy() / 365.25
        frames = []
        for cohort in COHORTS:
            profile = PROFILES[cohort]
            count_shape = (
                (1 + profile.growth) ** years_to_end
                * _month_curve(days, profile.count_season)
                * np.asarray(profile.weekday)[days.day_of_week]
            )
            value_shape = _month_curve(days, profile.value_season)
            value_shape = value_shape / value_shape[in_prior].mean()
            targets = self.story.targets
            prior_orders = targets[("prior", cohort)][0]
            expected = count_shape / count_shape[in_prior].mean() * prior_orders / 30
            counts = rng.poisson(expected)
            for window in ("prior", "current"):
                mask = windows == window
                shape = count_shape[mask]
                if window == "current" and cohort == "bottom" and self.story.shrinking:
                    shape = shape * np.linspace(0.6, 1.4, mask.sum())  # PO splitting builds up
                counts[mask] = rng.multinomial(targets[(window, cohort)][0], shape / shape.sum())
            day_index = np.repeat(np.arange(len(days)), counts)
            mean = profile.aov * value_shape[day_index]
            if cohort in ("mid", "bottom") and self.story.shrinking:  # the contraction deepens through the window
                position = np.clip((day_index - np.flatnonzero(windows == "current")[0]) / 29, 0, None)
                mean = mean * np.where(windows[day_index] == "current", 1.15 - 0.3 * position, 1.0)
            sigma = profile.sigma
            values = rng.lognormal(np.log(mean) - sigma**2 / 2, sigma)
            cents = np.maximum(np.rint(values * 100), profile.min_cents).astype(np.int64)
            for window in ("prior", "current"):
                mask = windows[day_index] == window
                cents[mask] = _split_exact(targets[(window, cohort)][1], cents[mask].astype(float))
            frames.append(pd.DataFrame({"day": day_index, "cohort": cohort, "value_cents": cents, "counted": True}))
            canceled = rng.poisson(expected * CANCELED_SHARE)
            canceled_days = np.repeat(np.arange(len(days)), canceled)
            canceled_values = rng.lognormal(np.log(profile.aov) - sigma**2 / 2, sigma, len(canceled_days))
            frames.append(
                pd.DataFrame(
                    {
                        "day": canceled_days,
                        "cohort": cohort,
                        "value_cents": np.maximum(np.rint(canceled_values * 100), profile.min_cents).astype(np.int64),
                        "counted": False,
                    }
                )
            )
        orders = pd.concat(frames, ignore_index=True)
        orders["window"] = windows[orders["day"].to_numpy()]
        orders["second"] = self._seconds_of_day(orders["cohort"].to_numpy() != "b2c")
        orders = orders.sort_values(["day", "second"], kind="stable", ignore_index=True)
        orders["entity_id"] = np.arange(1, len(orders) + 1)
        self._assign_customers(orders)
        self._assign_states(orders)
        self._assign_amounts(orders)
        return orders

    def _seconds_of_day(self, is_b2b: np.ndarray) -> np.ndarray:
        """UTC second of the day: B2B buyers order in US business hours, consumers in the evening too."""
        rng = self._rng
        business = rng.normal(17.5 * 3600, 2.6 * 3600, len(is_b2b))
        evening = np.where(
            rng.random(len(is_b2b)) < 0.45,
            rng.normal(1.5 * 3600, 2.0 * 3600, len(is_b2b)),
            rng.normal(18 * 3600, 3.5 * 3600, len(is_b2b)),
        )
        return (np.where(is_b2b, business, evening) % 86_400).astype(np.int64)

    def _assign_customers(self, orders: pd.DataFrame) -> None:
        rng = self._rng
        companies = self.company_table
        company = np.zeros(len(orders), dtype=np.int64)
        for cohort in COHORT_SIZES:
            members = companies.index[companies["cohort"] == cohort].to_numpy()
            for window in (None, "prior", "current"):
                rows = np.flatnonzero(
                    (orders["cohort"] == cohort).to_numpy()
                    & (orders["window"].isna() if window is None else orders["window"] == window).to_numpy()
                )
                eligible = members[~companies.loc[members, "quiet"].to_numpy()] if window == "current" else members
                weights = companies.loc[eligible, "weight"].to_numpy()
                chosen = rng.choice(eligible, len(rows), p=weights / weights.sum())
                if window is not None:  # every eligible company orders in each window of the example
                    counted = np.flatnonzero(orders["counted"].to_numpy()[rows])
                    chosen[rng.permutation(counted)[: len(eligible)]] = rng.permutation(eligible)
                company[rows] = chosen
        is_b2b = (orders["cohort"] != "b2c").to_numpy()
        picked = companies.iloc[company]
        buyer = picked["first_buyer"].to_numpy() + rng.integers(0, 4, len(orders)) % picked["buyers"].to_numpy()
        guest = ~is_b2b & (rng.random(len(orders)) < 0.25)
        consumer = rng.choice(CONSUMERS, len(orders), p=self.consumer_weights / self.consumer_weights.sum()) + 1
        orders["company_id"] = np.where(is_b2b, picked["company_id"].to_numpy(), 0)
        orders["customer_id"] = np.where(is_b2b, buyer, np.where(guest, 0, consumer))
        orders["customer_group_id"] = np.where(
            is_b2b, picked["group_id"].to_numpy(), np.where(guest, 0, np.where(consumer % 14 == 0, 3, 1))
        )
        orders["store_id"] = np.where(is_b2b, 2, 1)
        orders["on_account"] = is_b2b & picked["on_account"].to_numpy()  # the payload's method and the credit's POs
        orders["tax_exempt"] = is_b2b & picked["tax_exempt"].to_numpy()

    def _assign_states(self, orders: pd.DataFrame) -> None:
        rng = self._rng
        age = self._day_count() - 1 - orders["day"].to_numpy()
        roll = rng.random(len(orders))
        state = np.where(roll < 0.025, "closed", "complete").astype(object)
        state[age <= 1] = np.where(roll[age <= 1] < 0.4, "new", "processing")
        state[(orders["on_account"].to_numpy()) & (age < 30)] = "pending_payment"
        state[(orders["cohort"].to_numpy() == "b2c") & (age <= 1) & (roll > 0.9)] = "pending_payment"
        state[~orders["counted"].to_numpy()] = "canceled"
        orders["state"] = state
        orders["status"] = np.where(state == "new", "pending", state)
        hours = np.where(state == "canceled", rng.integers(1, 30, len(orders)), rng.integers(2, 24 * 6, len(orders)))
        last_second = self._day_count() * 86_400 - 1
        moment = orders["day"].to_numpy() * 86_400 + orders["second"].to_numpy()
        orders["updated_second"] = np.minimum(moment + hours * 3600, last_second)
        orders.loc[state == "new", "updated_second"] = moment[state == "new"]

    def _assign_amounts(self, orders: pd.DataFrame) -> None:
        """Split each grand total into subtotal, discount, shipping and tax, all in whole cents."""
        rng = self._rng
        grand = orders["value_cents"].to_numpy()
        is_b2b = (orders["cohort"] != "b2c").to_numpy()
        shipping = np.where(
            is_b2b,
            np.where((grand >= 60_00) & (grand < 500_00), 25_00, 0),
            np.where((grand >= 20_00) & (grand < 50_00), 7_95, 0),
        )
        taxed = ~orders["tax_exempt"].to_numpy() & (is_b2b | (rng.random(len(orders)) < 0.8))
        taxable = np.where(taxed, np.rint((grand - shipping) / 1.0825), grand - shipping).astype(np.int64)
        coupon = ~is_b2b & (rng.random(len(orders)) < 0.15)
        subtotal = np.where(coupon, np.rint(taxable / 0.9), taxable).astype(np.int64)
        orders["subtotal_cents"] = subtotal
        orders["discount_cents"] = taxable - subtotal
        orders["shipping_cents"] = shipping
        orders["tax_cents"] = grand - shipping - taxable

    def _lines_for(self, orders: pd.DataFrame) -> pd.DataFrame:
        """Visible order lines (parents); configurable products get a child row when rendered."""
        rng = self._rng
        cohort = orders["cohort"].to_numpy()
        mean_lines = np.array([PROFILES[c].lines for c in COHORTS])[pd.Categorical(cohort, COHORTS).codes]
        late = (orders["window"] == "current").to_numpy() & np.isin(cohort, ("mid", "bottom"))
        mean_lines = np.where(late, mean_lines * 0.7, mean_lines)
        subtotal = orders["subtotal_cents"].to_numpy()
        count = np.clip(1 + rng.poisson(mean_lines - 1), 1, np.maximum(subtotal // 150, 1))
        order_row = np.repeat(np.arange(len(orders)), count)
        weight = rng.gamma(2.0, size=len(order_row))
        spare = (subtotal - 100 * count)[order_row]
        share = np.floor(spare * weight / np.bincount(order_row, weight)[order_row]).astype(np.int64)
        amount = 100 + share
        is_b2b = cohort[order_row] != "b2c"
        qty = np.where(is_b2b, rng.integers(1, 25, len(order_row)), rng.integers(1, 4, len(order_row)))
        qty = np.maximum(np.minimum(qty, amount // 50), 1)
        last = np.concatenate([np.flatnonzero(np.diff(order_row)), [len(order_row) - 1]])
        qty[last] = 1
        row_total = amount // qty * qty
        row_total[last] += subtotal - np.bincount(order_row, row_total, minlength=len(orders)).astype(np.int64)
        product = rng.integers(0, len(CATALOG), len(order_row))
        option = rng.integers(0, 4, len(order_row))
        category = np.array([CATEGORIES[row[1]] for row in CATALOG])
        names = sorted(set(CATEGORIES.values()))
        company = orders["company_id"].to_numpy()[order_row]
        skipped = np.where(company % 3 == 1, np.array(names)[company // 3 % len(names)], "")  # a third skip one
        avoided = (category[product] == skipped) | (late[order_row] & (category[product] == LEFT_THE_BASKETS))
        for name in names:  # the shrunken baskets lost their equipment lines; each avoided line moves elsewhere
            moved = avoided & (category[product] == name)
            others = np.flatnonzero((category != name) & (category != LEFT_THE_BASKETS))
            product[moved] = others[product[moved] % len(others)]
        return pd.DataFrame(
            {"order_row": order_row, "product": product, "option": option, "qty": qty, "row_total": row_total}
        )

    # ----------------------------------------------------------------- rendering

    @cached_property
    def _line_starts(self) -> np.ndarray:
        return np.searchsorted(self._lines["order_row"].to_numpy(), np.arange(len(self.orders) + 1))

    @cached_property
    def _company_names(self) -> dict[int, str]:
        return dict(zip(self.company_table["company_id"].tolist(), self.company_table["name"].tolist(), strict=True))

    @cached_property
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: self.orders[name].to_numpy() for name in self.orders.columns}
        return arrays | {f"line_{name}": self._lines[name].to_numpy() for name in self._lines.columns}

    def _day_columns(self, start: int, stop: int) -> tuple[dict[str, list], np.ndarray]:
        """Orders start..stop and their lines as plain Python lists (rendering reads them per order, far
        faster than pandas row access; one day at a time keeps memory flat), and each order's first line."""
        first, last = self._line_starts[start], self._line_starts[stop]
        columns = {
            name: values[first:last].tolist() if name.startswith("line_") else values[start:stop].tolist()
            for name, values in self._arrays.items()
        }
        return columns, self._line_starts[start : stop + 1] - first

    def _scaled(self, id_: int, copy: int) -> int:
        """Copy `copy`'s id for a 1x id (0, Magento's "none", stays 0)."""
        return (id_ - 1) * self.scale + copy + 1 if id_ else 0

    def _render(self, c: dict[str, list], row: int, lines: range, copy: int) -> dict:
        entity_id = self._scaled(c["entity_id"][row], copy)
        day = FIRST_DAY + timedelta(days=c["day"][row])
        created = datetime.combine(day, datetime.min.time()) + timedelta(seconds=c["second"][row])
        updated = datetime.combine(FIRST_DAY, datetime.min.time()) + timedelta(seconds=c["updated_second"][row])
        store_id = c["store_id"][row]
        customer_id = self._scaled(c["customer_id"][row], copy)
        company_id = self._scaled(c["company_id"][row], copy)
        items, qty_total, item_id = [], 0, entity_id * 100
        for line in lines:
            name, sku, options, _ = CATALOG[c["line_product"][line]]
            qty, row_total = c["line_qty"][line], c["line_row_total"][line]
            item_id += 1
            parent = {
                "item_id": item_id,
                "order_id": entity_id,
                "sku": sku,
                "name": name,
                "product_type": "configurable" if options else "simple",
                "product_id": c["line_product"][line] + 1,
                "qty_ordered": qty,
                "price": row_total // qty / 100,
                "row_total": row_total / 100,
                "base_row_total": row_total / 100,
                "base_discount_amount": 0,
            }
            items.append(parent)
            qty_total += qty
            if options:
                option = options[c["line_option"][line] % len(options)]
                item_id += 1
                items.append(
                    {
                        "item_id": item_id,
                        "order_id": entity_id,
                        "parent_item_id": parent["item_id"],
                        "sku": f"{sku}-{option.upper()}",
                        "name": f"{name} - {option}",
                        "product_id": 1000 + 10 * c["line_product"][line] + options.index(option),
                        "product_type": "simple",
                        "qty_ordered": qty,
                        "price": 0,
                        "row_total": 0,
                        "base_row_total": 0,
                        "base_discount_amount": 0,
                    }
                )
        grand, subtotal = c["value_cents"][row] / 100, c["subtotal_cents"][row] / 100
        discount, shipping, tax = (c[f"{k}_cents"][row] / 100 for k in ("discount", "shipping", "tax"))
        order = {
            "entity_id": entity_id,
            "increment_id": f"{store_id}{entity_id:08d}",
            "created_at": created.strftime("%Y-%m-%d %H:%M:%S"),
            "updated_at": updated.strftime("%Y-%m-%d %H:%M:%S"),
            "state": c["state"][row],
            "status": c["status"][row],
            "store_id": store_id,
            "store_name": STORE_VIEWS[store_id]["name"],
            "customer_group_id": c["customer_group_id"][row],
            "customer_is_guest": int(customer_id == 0),
            "customer_email": (
                f"buyer{customer_id}@company{company_id}.example.com"
                if company_id
                else f"shopper{customer_id or entity_id}@example.net"
            ),
            "base_currency_code": "USD",
            "global_currency_code": "USD",
            "order_currency_code": "USD",
            "store_currency_code": "USD",
            "base_to_global_rate": 1,
            "base_to_order_rate": 1,
            "base_subtotal": subtotal,
            "subtotal": subtotal,
            "base_discount_amount": discount,
            "discount_amount": discount,
            "base_shipping_amount": shipping,
            "shipping_amount": shipping,
            "base_tax_amount": tax,
            "tax_amount": tax,
            "base_grand_total": grand,
            "grand_total": grand,
            "total_item_count": len(items),
            "total_qty_ordered": qty_total,
            "items": items,
            "payment": {"method": "companycredit" if c["on_account"][row] else "braintree"},
        }
        if customer_id:
            order["customer_id"] = customer_id
        if company_id:
            order["extension_attributes"] = {
                "company_order_attributes": {
                    "order_id": entity_id,
                    "company_id": company_id,
                    "company_name": self._company_names[c["company_id"][row]] + (f" #{copy + 1}" if copy else ""),
                }
            }
        return order


def sample_scale(environ: Mapping[str, str] = os.environ) -> int:
    """`AOV_SAMPLE_SCALE` (default 1): how many times the sample merchant's size to render."""
    value = environ.get(SCALE_VARIABLE, "").strip() or "1"
    if not (value.isascii() and value.isdigit() and int(value) >= 1):
        raise ValueError(f"{SCALE_VARIABLE} must be a whole number of 1 or more (the sample's size), not {value!r}")
    return int(value)


def sample_merchant(environ: Mapping[str, str] = os.environ, story: str = DEFAULT_STORY) -> SampleMerchant:
    """The sample merchant of this process at `AOV_SAMPLE_SCALE`, telling `story` (generation takes
    about a second)."""
    return _merchant(sample_scale(environ), story)


@lru_cache(maxsize=4)
def _merchant(scale: int, story: str) -> SampleMerchant:
    return SampleMerchant(scale=scale, story=story)
