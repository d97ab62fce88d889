"""Dagster resources: thin handles on the lake, the warehouse, Slack and the store's API.

The stores of the manifest are a plain resource (`dg.ResourceParam[Stores]`): the objects that the
definitions factory also builds partitions, schedules and sensors from. Every handle takes the store
it serves: one warehouse and one lake folder hold every store's data, each store's rows and files apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

from .alerts.slack import Notifier
from .core.db import DEFAULT_STORE, WarehouseError, Writer
from .ingest.lake import RawOrderLake, StoreLists
from .ingest.sources import OrderSource
from .ingest.sources.adobe_commerce import BASE_URL_VARIABLE, CREDENTIAL_VARIABLES, Credentials, client_for
from .ingest.sources.sample import sample_merchant
from .ingest.sources.shopify import BASE_URL_VARIABLE as SHOPIFY_BASE_URL
from .ingest.sources.shopify import TOKEN_VARIABLE as SHOPIFY_TOKEN
from .ingest.sources.shopify import ShopifyClient
from .manifest import Store, Stores
from .warehouse import Warehouse

DEFAULT_WAREHOUSE_URL = "sqlite:///data/warehouse.db"
DEFAULT_DATA_DIR = "data"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
WAREHOUSE_URL_VARIABLE, DATA_DIR_VARIABLE = "AOV_WAREHOUSE_URL", "AOV_DATA_DIR"


def warehouse_url(environ: Mapping[str, str] = os.environ) -> str:
    """The warehouse the commands use: `$AOV_WAREHOUSE_URL`, else SQLite under ./data."""
    return environ.get(WAREHOUSE_URL_VARIABLE) or DEFAULT_WAREHOUSE_URL


def data_dir(environ: Mapping[str, str] = os.environ) -> str:
    """The lake's and the demo instance's folder: `$AOV_DATA_DIR`, else ./data."""
    return environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR


class LakeResource(dg.ConfigurableResource):
    """`$AOV_DATA_DIR`: the raw-order lake lives in its `lake/` folder, `lake/stores/<store>/` for each
    store but the default one (whose files stay where they always were)."""

    data_dir: str = DEFAULT_DATA_DIR

    def folder(self, store: str) -> Path:
        lake = Path(self.data_dir) / "lake"
        return lake if store == DEFAULT_STORE else lake / "stores" / store

    def raw_orders(self, store: str) -> RawOrderLake:
        return RawOrderLake(self.folder(store) / "raw_orders")

    def store_lists(self, store: str) -> StoreLists:
        return StoreLists(self.folder(store) / "store_lists.json")


class WarehouseResource(dg.ConfigurableResource):
    """The SQLAlchemy warehouse (`$AOV_WAREHOUSE_URL`); may carry a password, so it comes from the env."""

    url: str = DEFAULT_WAREHOUSE_URL

    def open(self, store: str) -> Warehouse:
        """The warehouse as `store` sees it: its rows only."""
        try:
            return _warehouse(self.url).for_store(store)
        except WarehouseError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None

    @contextmanager
    def replacing(self, store: str, tables: Iterable[sa.Table], first: Any, last: Any) -> Iterator[Writer]:
        """`Warehouse.replacing` of the store's rows; a warehouse that stays locked fails the step in one line."""
        try:
            with self.open(store).replacing(tables, first, last) as write:
                yield write
        except WarehouseError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None


@lru_cache(maxsize=4)
def _warehouse(url: str) -> Warehouse:
    return Warehouse(url)


class AdobeCommerceResource(dg.ConfigurableResource):
    """The default store's Adobe Commerce REST credentials; every value comes from the environment and is
    never logged. Another store's are read from its own variables (`Store.variable`) when it syncs, and
    so is a Shopify store's token (`SHOPIFY_ACCESS_TOKEN`, `<KEY>_SHOPIFY_ACCESS_TOKEN`)."""

    base_url: str | None = None
    token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None

    @contextmanager
    def open_source(self, store: Store) -> Iterator[OrderSource]:
        """The store's source: the sample merchant, or a client of the store (closed afterwards)."""
        manifest = store.manifest
        if manifest.source == "sample":
            yield sample_merchant(story=manifest.sample.story)
            return
        if manifest.source == "shopify":
            with shopify_client(store) as client:
                yield client
            return
        if store.key == DEFAULT_STORE:
            base_url = self.base_url
            credentials = Credentials(**{name: getattr(self, name) for name in CREDENTIAL_VARIABLES})
        else:
            base_url = store.base_url or os.environ.get(store.variable(BASE_URL_VARIABLE))
            credentials = Credentials.from_env(os.environ, named=store.variable)
        with client_for(manifest.adobe_commerce, base_url, credentials) as client:
            yield client


def shopify_client(store: Store, environ: Mapping[str, str] = os.environ, **overrides: Any) -> ShopifyClient:
    """A client of the store's shop: the manifest's `shopify` section, the shop's root (the store's
    `base_url`, else `SHOPIFY_BASE_URL` / `<KEY>_SHOPIFY_BASE_URL`) and its token from the environment."""
    settings = store.manifest.shopify
    base_url_variable, token_variable = store.variable(SHOPIFY_BASE_URL), store.variable(SHOPIFY_TOKEN)
    options = settings.model_dump() | {"token_variable": token_variable, "base_url_variable": base_url_variable}
    return ShopifyClient(
        store.base_url or environ.get(base_url_variable, ""),
        environ.get(token_variable, ""),
        **(options | overrides),
    )


class SlackResource(dg.ConfigurableResource):
    """Where alerts go: `$SLACK_WEBHOOK_URL` (a secret), else JSON files in `$AOV_DATA_DIR/outbox/`; store
    `acme`'s to `$ACME_SLACK_WEBHOOK_URL` when it is set (else the same webhook), or `outbox/acme/`."""

    webhook_url: str | None = None
    data_dir: str = DEFAULT_DATA_DIR
    dagster_url: str = DEFAULT_DAGSTER_URL
    timeout_seconds: float = 10.0

    def notifier(self, store: Store) -> Notifier:
        outbox = Path(self.data_dir) / "outbox"
        if store.key == DEFAULT_STORE:
            return Notifier(self.webhook_url, outbox, self.timeout_seconds)
        webhook = os.environ.get(store.variable("SLACK_WEBHOOK_URL")) or self.webhook_url
        return Notifier(webhook, outbox / store.key, self.timeout_seconds)


def from_env(name: str, default: str | None = None) -> dg.EnvVar | str | None:
    """`EnvVar(name)` when the variable is set (Dagster shows its name, never its value), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def default_resources(stores: Stores) -> dict[str, object]:
    """The resources of the code location; the stores are the objects the definitions were built from."""
    return {
        "stores": stores,
        "lake": LakeResource(data_dir=from_env(DATA_DIR_VARIABLE, DEFAULT_DATA_DIR)),
        "warehouse": WarehouseResource(url=from_env(WAREHOUSE_URL_VARIABLE, DEFAULT_WAREHOUSE_URL)),
        "slack": SlackResource(
            webhook_url=from_env("SLACK_WEBHOOK_URL"),
            data_dir=from_env(DATA_DIR_VARIABLE, DEFAULT_DATA_DIR),
            dagster_url=from_env("DAGSTER_WEBSERVER_URL", DEFAULT_DAGSTER_URL),
        ),
        "adobe_commerce": AdobeCommerceResource(
            base_url=from_env(BASE_URL_VARIABLE),
            **{name: from_env(variable) for name, variable in CREDENTIAL_VARIABLES.items()},
        ),
    }
