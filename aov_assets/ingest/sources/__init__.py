"""Where orders come from: the embedded sample merchant, a live Adobe Commerce store, or a Shopify shop.

Each hands over each order as the raw JSON bytes its API sent (the sample: Adobe Commerce's REST
order); a Shopify order is read as a REST order when it leaves the lake (`ingest/shopify_orders.py`),
so everything downstream of the lake is the same code whichever source is configured."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Protocol

from ...manifest import Manifest
from ...metrics.segments import SegmentRule, resolve_ids
from ..lake import StoreListSource
from ..shopify_orders import TAGGED_GROUP


class OrderSource(StoreListSource, Protocol):
    name: str

    def iter_days(self, days: Sequence[date]) -> Iterator[tuple[date, list[bytes]]]:
        """Each day's orders (created that UTC day), in day order; a day that cannot be fetched raises."""
        ...

    def store_configs(self) -> list[dict]: ...

    def catalog(self) -> list[dict]:
        """SKU -> name, product_id and category path (`Parent/Child`), for every product the store has."""
        ...


def segment_rule(manifest: Manifest, source: StoreListSource) -> SegmentRule:
    """The manifest's routing with group / store-view codes resolved against the store's own lists
    (as the store or the lake's copy of them holds them). A Shopify order's customer group says whether
    its customer carries a B2B tag (`segments.b2b_customer_tags`, applied when the order is read)."""
    segments = manifest.segments
    if manifest.source == "shopify":
        return SegmentRule("company_or_group", b2b_group_ids=frozenset({TAGGED_GROUP}))
    if segments.routing == "store_view":
        stores = resolve_ids(segments.b2b_store_views, source.store_views(), "store view")
        return SegmentRule("store_view", b2b_store_ids=stores)
    groups = resolve_ids(segments.b2b_customer_groups, source.customer_groups(), "customer group")
    return SegmentRule("company_or_group", b2b_group_ids=groups)
