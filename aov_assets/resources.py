"""Dagster resources: thin handles on the lake, the warehouse, Slack and the store's API.

The manifest itself is a plain resource (`dg.ResourceParam[Manifest]`): the one object that the
definitions factory also builds partitions, schedules and sensors from.
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
from .core.db import WarehouseError, Writer
from .ingest.lake import RawOrderLake, StoreLists
from .ingest.sources import OrderSource
from .ingest.sources.adobe_commerce import BASE_URL_VARIABLE, CREDENTIAL_VARIABLES, Credentials, client_for
from .ingest.sources.sample import sample_merchant
from .manifest import Manifest
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
    """`$AOV_DATA_DIR`: the raw-order lake lives in its `lake/raw_orders/` folder."""

    data_dir: str = DEFAULT_DATA_DIR

    def raw_orders(self) -> RawOrderLake:
        return RawOrderLake(Path(self.data_dir) / "lake" / "raw_orders")

    def store_lists(self) -> StoreLists:
        return StoreLists(Path(self.data_dir) / "lake" / "store_lists.json")


class WarehouseResource(dg.ConfigurableResource):
    """The SQLAlchemy warehouse (`$AOV_WAREHOUSE_URL`); may carry a password, so it comes from the env."""

    url: str = DEFAULT_WAREHOUSE_URL

    def open(self) -> Warehouse:
        try:
            return _warehouse(self.url)
        except WarehouseError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None

    @contextmanager
    def replacing(self, tables: Iterable[sa.Table], first: Any, last: Any) -> Iterator[Writer]:
        """`Warehouse.replacing`; a warehouse that stays locked fails the step in one line."""
        try:
            with self.open().replacing(tables, first, last) as write:
                yield write
        except WarehouseError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None


@lru_cache(maxsize=4)
def _warehouse(url: str) -> Warehouse:
    return Warehouse(url)


class AdobeCommerceResource(dg.ConfigurableResource):
    """Adobe Commerce REST credentials; every value comes from the environment and is never logged."""

    base_url: str | None = None
    token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None

    @contextmanager
    def open_source(self, manifest: Manifest) -> Iterator[OrderSource]:
        """The manifest's source: the sample merchant, or a client of the store (closed afterwards)."""
        if manifest.source == "sample":
            yield sample_merchant()
            return
        credentials = Credentials(**{name: getattr(self, name) for name in CREDENTIAL_VARIABLES})
        with client_for(manifest.adobe_commerce, self.base_url, credentials) as client:
            yield client


class SlackResource(dg.ConfigurableResource):
    """Where alerts go: `$SLACK_WEBHOOK_URL` (a secret), else JSON files in `$AOV_DATA_DIR/outbox/`."""

    webhook_url: str | None = None
    data_dir: str = DEFAULT_DATA_DIR
    dagster_url: str = DEFAULT_DAGSTER_URL
    timeout_seconds: float = 10.0

    def notifier(self) -> Notifier:
        return Notifier(self.webhook_url, Path(self.data_dir) / "outbox", self.timeout_seconds)


def from_env(name: str, default: str | None = None) -> dg.EnvVar | str | None:
    """`EnvVar(name)` when the variable is set (Dagster shows its name, never its value), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def default_resources(manifest: Manifest) -> dict[str, object]:
    """The resources of the code location; the manifest is the object the definitions were built from."""
    return {
        "manifest": manifest,
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
