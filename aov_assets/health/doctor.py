"""`aov doctor`: check the configuration the way a new user would want it checked.

Each check prints one line: what was found, or what is wrong and how to fix it. Nothing here prints a
credential or a password (URLs are shown with the password hidden).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ..core.db import DEFAULT_STORE
from ..ingest.lake import LakeFileError, RawOrderLake
from ..ingest.sources import segment_rule
from ..ingest.sources.adobe_commerce import (
    BASE_URL_VARIABLE,
    AdobeCommerceAuthError,
    AdobeCommerceClient,
    AdobeCommerceError,
    Credentials,
    client_for,
)
from ..ingest.sources.sample import SCALE_VARIABLE, sample_merchant
from ..ingest.sources.shopify import RECENT_DAYS, ShopifyError, needs_all_orders
from ..manifest import Manifest, ManifestError, Store, load_stores, manifest_path
from ..resources import LakeResource, data_dir, shopify_client, warehouse_url

DOCTOR_RETRY_SECONDS = 10.0  # a doctor answers quickly; the pipeline itself waits longer


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.text}"


def diagnose(environ: Mapping[str, str] = os.environ, today: date | None = None) -> Iterator[Finding]:
    """Every check in order, store by store (each line names its store when there are several); a
    failure that makes a store's later checks meaningless ends that store's list."""
    path = Path(environ.get("AOV_MANIFEST") or manifest_path())
    try:
        stores = load_stores(path)
    except ManifestError as error:
        yield Finding(False, f"{error}. Fix the manifest (see README.md, 'Configuration').")
        return
    several = len(stores) > 1 or stores[0].key != DEFAULT_STORE
    for number, store in enumerate(stores):
        for finding in _diagnose_store(store, path, environ, today or date.today(), warehouse=number == 0):
            yield Finding(finding.ok, f"{store.key}: {finding.text}") if several else finding


def _diagnose_store(
    store: Store, path: Path, environ: Mapping[str, str], today: date, warehouse: bool
) -> Iterator[Finding]:
    manifest = store.manifest
    yield Finding(
        True,
        f"manifest {path}: source {manifest.source}, daily partitions from {manifest.start_date}"
        f"{f' to {manifest.end_date}' if manifest.end_date else ''}, routing {manifest.segments.routing}",
    )
    if warehouse:  # one warehouse for every store
        yield _warehouse(warehouse_url(environ))
    yield _lake(Path(data_dir(environ)), store.key)
    if manifest.source == "sample":
        try:
            merchant = sample_merchant(environ, manifest.sample.story)
        except ValueError as error:
            yield Finding(False, str(error))
            return
        size = f" x{merchant.scale} ({SCALE_VARIABLE})" if merchant.scale > 1 else ""
        yield Finding(
            True, f"source sample: the embedded merchant{size}, orders {merchant.first_day}..{merchant.last_day}"
        )
        yield from _lookups(manifest, merchant)
        return
    if manifest.source == "shopify":
        yield from _shop(store, environ, today)
        return
    yield from _store(store, environ, today)


def _warehouse(url: str) -> Finding:
    from ..core.db import WarehouseError, shown_url
    from ..warehouse import Warehouse

    try:
        Warehouse(url).dispose()
    except WarehouseError as error:
        return Finding(False, str(error))
    return Finding(True, f"warehouse {shown_url(url)} reachable, tables in place")


def _lake(data_dir: Path, store: str = DEFAULT_STORE) -> Finding:
    lake = LakeResource(data_dir=str(data_dir)).raw_orders(store).root
    try:
        lake.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=lake).close()
    except OSError as error:
        return Finding(False, f"raw-order lake {lake} is not writable ({error.strerror}). Check AOV_DATA_DIR.")
    store = RawOrderLake(lake)
    days = store.days()
    for day in days:
        try:
            store.order_count(day)  # the Parquet footer: a truncated or foreign file fails here
        except LakeFileError as error:
            return Finding(False, str(error))
    return Finding(True, f"raw-order lake {lake} writable, {len(days)} day file(s) readable")


def _store(store: Store, environ: Mapping[str, str], today: date) -> Iterator[Finding]:
    """The store's own connection: its variables (`Store.variable`), never another store's."""
    manifest = store.manifest
    base_url = store.base_url or environ.get(store.variable(BASE_URL_VARIABLE))
    credentials = Credentials.from_env(environ, named=store.variable)
    try:
        client = client_for(manifest.adobe_commerce, base_url, credentials, retry_seconds=DOCTOR_RETRY_SECONDS)
    except AdobeCommerceError as error:
        yield Finding(False, str(error))
        return
    with client:
        try:
            client.store_views()  # reachability and credentials in one request
        except AdobeCommerceError as error:
            yield Finding(False, _unreachable(client, error))
            return
        yield Finding(
            True, f"store {client.base_url}{client.prefix} reachable, {credentials.kind} credentials accepted"
        )
        yield from _lookups(manifest, client)
        yield _currencies(client)
        last = min(today - timedelta(days=1), manifest.end_date or today)
        yield from _recent_orders(client, last)


def _shop(store: Store, environ: Mapping[str, str], today: date) -> Iterator[Finding]:
    """A Shopify store: the shop answers with the store's token, the app's scopes cover the manifest's
    range, how B2B is recognised, and yesterday's orders."""
    manifest = store.manifest
    try:
        client = shopify_client(store, environ, retry_seconds=DOCTOR_RETRY_SECONDS, today=lambda: today)
    except ShopifyError as error:
        yield Finding(False, str(error))
        return
    with client:
        try:
            shop = client.store_configs()[0]
            scopes = client.access_scopes()
        except ShopifyError as error:
            yield Finding(False, str(error))
            return
        yield Finding(
            True,
            f"shop {client.shop} ({shop['name']}) reachable, token accepted; base currency "
            f"{shop['base_currency_code']}, shop timezone {shop['timezone']} (partitions are UTC days)",
        )
        if not scopes & {"read_orders", "write_orders"}:  # Shopify lists only write_orders when both are granted
            yield Finding(False, f"the app lacks the read_orders scope (it has: {', '.join(sorted(scopes)) or 'none'})")
            return
        if needs_all_orders(manifest.start_date, today) and "read_all_orders" not in scopes:
            yield Finding(
                False,
                f"start_date {manifest.start_date} is {RECENT_DAYS} days ago or more and the app lacks the "
                "read_all_orders scope: Shopify would silently return none of those orders. Add read_all_orders.",
            )
        else:
            yield Finding(True, f"access scopes cover the range: {', '.join(sorted(scopes))}")
        tags = ", ".join(manifest.segments.b2b_customer_tags) or "none"
        yield Finding(True, f"B2B: orders placed for a company, and customers tagged {tags}")
        yesterday = min(today - timedelta(days=1), manifest.end_date or today)
        try:
            count = len(client.orders_on(yesterday))
        except ShopifyError as error:
            yield Finding(False, str(error))
            return
        yield Finding(True, f"{count:,} orders created on {yesterday} (UTC)")


def _unreachable(client: AdobeCommerceClient, error: AdobeCommerceError) -> str:
    variable = client.credentials.named(BASE_URL_VARIABLE)
    if isinstance(error, AdobeCommerceAuthError):
        return str(error)
    if error.status is None:
        return (
            f"cannot reach {client.base_url} ({error}). Check {variable}, DNS, VPN or firewall; "
            "the machine running Dagster must reach the store over HTTPS."
        )
    if error.status == 404:
        return (
            f"no REST API at {client.base_url}{client.prefix} (HTTP 404). {variable} must be the store "
            "root without /rest, and adobe_commerce.store_code must be a store view code or null."
        )
    return f"{error}. The store answered, but not as Adobe Commerce's REST API does; check {variable}."


def _lookups(manifest: Manifest, source) -> Iterator[Finding]:
    segments = manifest.segments
    groups = {int(g["id"]): g["code"] for g in source.customer_groups()}
    views = {int(v["id"]): v["code"] for v in source.store_views()}
    try:
        rule = segment_rule(manifest, source)
    except ValueError as error:
        key = "b2b_store_views" if segments.routing == "store_view" else "b2b_customer_groups"
        yield Finding(False, f"{error}. Fix segments.{key} in the manifest.")
        return
    if segments.routing == "store_view":
        chosen = ", ".join(f"{views[i]} ({i})" for i in sorted(rule.b2b_store_ids))
        yield Finding(True, f"B2B store views: {chosen}; every other store view is B2C")
    else:
        chosen = ", ".join(f"{groups[i]} ({i})" for i in sorted(rule.b2b_group_ids)) or "none"
        yield Finding(True, f"B2B: orders with a Company, and customer groups {chosen}")


def _currencies(client: AdobeCommerceClient) -> Finding:
    try:
        configs = client.store_configs()
    except AdobeCommerceError as error:
        return Finding(False, f"{error}")
    currencies = sorted({c.get("base_currency_code") for c in configs if c.get("base_currency_code")})
    zones = sorted({c.get("timezone") for c in configs if c.get("timezone")})
    note = "; order values use base_to_global_rate to combine them" if len(currencies) > 1 else ""
    return Finding(
        True,
        f"base currencies {', '.join(currencies) or '?'}{note}; store timezones {', '.join(zones) or '?'} "
        "(partitions are UTC days, as created_at is in UTC)",
    )


def _recent_orders(client: AdobeCommerceClient, last: date) -> Iterator[Finding]:
    """Orders of the 30 days up to the last partition (yesterday, or the manifest's end_date)."""
    first = last - timedelta(days=29)
    try:
        count = client.count_orders(first, last)
    except AdobeCommerceError as error:
        yield Finding(False, str(error))
        return
    if count == 0:
        yield Finding(
            False,
            f"no orders created {first}..{last} (UTC). Check adobe_commerce.store_code and that the integration "
            "can read all websites' orders.",
        )
    else:
        yield Finding(True, f"{count:,} orders created in the 30 UTC days {first}..{last}")


def run(say: Callable[[str], None] = print, environ: Mapping[str, str] = os.environ) -> bool:
    healthy = True
    for finding in diagnose(environ):
        say(str(finding))
        healthy &= finding.ok
    say("all good" if healthy else "fix the FAIL lines above, then run aov doctor again")
    return healthy
