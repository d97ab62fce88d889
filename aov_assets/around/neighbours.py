"""The card's neighbours: the measures around B2B AOV and AOV per order currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from ..core.text import jsonable, money_text, pct_text, plain_pct, plain_records, whole_count
from ..core.windows import WINDOW_SEGMENTS
from .rules import MEASURES, NO_HISTORY


@dataclass(frozen=True)
class Neighbours:
    """One as-of day of segment_metrics_30d and currency_aov_30d: what moved around B2B AOV."""

    segments: dict[str, dict[str, Any]]  # b2b / b2c / all -> segment_metrics_30d row
    currencies: list[dict[str, Any]]  # currency_aov_30d rows, by segment and currency
    categories: list[dict[str, Any]]  # b2b_category_mix_30d rows

    @classmethod
    def by_day(
        cls, metrics: pd.DataFrame, currencies: pd.DataFrame | None = None, categories: pd.DataFrame | None = None
    ) -> dict[date, Neighbours]:
        """Each as-of day that has segment_metrics_30d rows, e.g. from `Warehouse.read_neighbours`."""
        segments_of: dict[date, dict[str, dict[str, Any]]] = {}
        for row in plain_records(metrics):
            segments_of.setdefault(row["as_of"], {})[row["segment"]] = row
        rows_of: dict[str, dict[date, list[dict[str, Any]]]] = {"currencies": {}, "categories": {}}
        for name, frame in (("currencies", currencies), ("categories", categories)):
            for row in plain_records(frame) if frame is not None else []:
                rows_of[name].setdefault(row.pop("as_of"), []).append(row)
        return {
            as_of: cls(segments, rows_of["currencies"].get(as_of, []), rows_of["categories"].get(as_of, []))
            for as_of, segments in sorted(segments_of.items())
            if set(segments) >= set(WINDOW_SEGMENTS)
        }

    def fallen_categories(self, limit: int = 3) -> list[dict[str, Any]]:
        """The categories whose B2B line value per order fell most: what left the baskets."""
        fell = [row for row in self.categories if row["per_order_change"] is not None and row["per_order_change"] < 0]
        return sorted(fell, key=lambda row: (row["per_order_change"], row["category"]))[:limit]

    def lines(self) -> list[str]:
        """The card's "Around it" lines: B2B's share, frequency, loyalty and basket; currencies when several."""
        b2b = self.segments["b2b"]
        if b2b["revenue_share_pct"] is None:
            return [f"B2B around it: {NO_HISTORY} (no day of the current window in the warehouse)"]
        lines = [
            f"B2B share of revenue {_measure(b2b, 'revenue_share_pct')}",
            f"Orders per B2B account {_measure(b2b, 'orders_per_customer')}; active accounts "
            f"{_measure(b2b, 'active_customers')}, new {_measure(b2b, 'new_customers')}",
            f"B2B repeat rate {_measure(b2b, 'repeat_rate_pct')}: accounts that had ordered before the window",
            f"Lines per B2B order {_measure(b2b, 'lines_per_order')}; value per line {_measure(b2b, 'value_per_line')}",
            f"B2B refund rate {_measure(b2b, 'refund_rate_pct')}; AOV stays gross",
        ]
        mine = [row for row in self.currencies if row["segment"] == "b2b"]
        if len({row["currency"] for row in self.currencies}) > 1:
            lines += [
                f"B2B in {row['currency']}: AOV {money_text(row['aov'])} {row['currency']} (prior "
                f"{money_text(row['prior_aov'])}, {pct_text(row['aov_change_pct'])}); {row['orders']:,} orders; "
                f"global AOV {money_text(row['global_aov'])} ({pct_text(row['global_aov_change_pct'])})"
                for row in mine
            ]
        return lines

    def markdown(self) -> str:
        """Every measure per segment, now (prior): segment_metrics_30d's card for one as-of day."""

        def cell(row: dict[str, Any], name: str) -> str:
            now, prior = row[name], row[f"prior_{name}"]
            if now is None:
                return NO_HISTORY
            return f"{_measure_text(name, now)} ({'-' if prior is None else _measure_text(name, prior)})"

        return "\n".join(
            [
                "| measure, now (prior 30 days) | " + " | ".join(WINDOW_SEGMENTS) + " |",
                "| --- |" + " ---: |" * len(WINDOW_SEGMENTS),
                *(
                    f"| {name.replace('_', ' ')} | "
                    + " | ".join(cell(self.segments[s], name) for s in WINDOW_SEGMENTS)
                    + " |"
                    for name in MEASURES
                ),
            ]
        )

    def check_numbers(self) -> dict[str, Any]:
        """B2B's measures now and prior, for the check's metadata."""
        return {f"b2b_{key}": value for key, value in _with_priors(self.segments["b2b"]).items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "neighbours": {segment: jsonable(_with_priors(row)) for segment, row in self.segments.items()},
            "currencies": [jsonable({k: row[k] for k in CURRENCY_JSON}) for row in self.currencies],
        }


CURRENCY_JSON = (
    "segment",
    "currency",
    "orders",
    "revenue",
    "aov",
    "prior_aov",
    "aov_change_pct",
    "global_aov",
    "global_prior_aov",
)


def _with_priors(row: dict[str, Any]) -> dict[str, Any]:
    """Each measure of a segment_metrics_30d row and its `prior_` value."""
    return {f"{prefix}{name}": row[f"{prefix}{name}"] for name in MEASURES for prefix in ("", "prior_")}


def _measure(row: dict[str, Any], name: str) -> str:
    """`now (prior P, change)`; "not enough history" for a window the warehouse does not cover."""
    now, prior, change = row[name], row[f"prior_{name}"], row[f"{name}_change"]
    if now is None:
        return NO_HISTORY
    shown = _measure_text(name, now)
    if prior is None:
        return f"{shown} (prior: {NO_HISTORY})"
    moved = "-" if change is None else f"{change:+.1f} pts" if MEASURES[name] == "points" else pct_text(change)
    return f"{shown} (prior {_measure_text(name, prior)}, {moved})"


def _measure_text(name: str, value: Any) -> str:
    if name.endswith("_pct"):
        return plain_pct(value)
    if name == "value_per_line":
        return money_text(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return f"{whole_count(value):,}"
