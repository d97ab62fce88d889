"""Where orders come from: the embedded sample merchant or a live Adobe Commerce store.

Both hand over each order as the raw JSON bytes of the REST order, so everything downstream of
the lake is the same code whichever source is configured."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Protocol

from ...manifest import Segments
from ...metrics.segments import SegmentRule, resolve_ids
from ..lake import StoreListSource


class OrderSource(StoreListSource, Protocol):
    name: str

    def iter_days(self, days: Sequence[date]) -> Iterator[tuple[date, list[bytes]]]:
        """Each day's orders (created that UTC day), in day order; a day that cannot be fetched raises."""
        ...

    def store_configs(self) -> list[dict]: ...

    def catalog(self) -> list[dict]:
        """SKU -> name, product_id and category path (`Parent/Child`), for every product the store has."""
        ...


def segment_rule(segments: Segments, source: StoreListSource) -> SegmentRule:
    """The manifest's routing with group / store-view codes resolved against the store's own lists
    (as the store or the lake's copy of them holds them)."""
    if segments.routing == "store_view":
        stores = resolve_ids(segments.b2b_store_views, source.store_views(), "store view")
        return SegmentRule("store_view", b2b_store_ids=stores)
    groups = resolve_ids(segments.b2b_customer_groups, source.customer_groups(), "customer group")
    return SegmentRule("company_or_group", b2b_group_ids=groups)
