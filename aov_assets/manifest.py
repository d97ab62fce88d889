"""The manifest (`aov.yaml`): where orders come from, which orders are B2B, and when to alert.

Validation is strict (unknown keys are errors) because a typo in a routing rule silently
misclassifies every order; every failure becomes one line naming the key and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .core.db import DEFAULT_STORE

Basis = Literal["grand_total", "pre_tax", "subtotal"]  # manifest metric.basis


DEFAULT_MANIFEST = "aov.yaml"
STORE_KEY = r"^[a-z][a-z0-9_]{0,39}$"


class ManifestError(ValueError):
    """The manifest is missing or invalid; the message is meant to be shown as is."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Segments(_Section):
    routing: Literal["company_or_group", "store_view"] = "company_or_group"
    b2b_customer_groups: tuple[int | str, ...] = ("Wholesale",)
    b2b_store_views: tuple[int | str, ...] = ()
    b2b_customer_tags: tuple[str, ...] = ()  # Shopify: a customer with one of these tags buys B2B (case-insensitive)

    @model_validator(mode="after")
    def _store_views_for_store_routing(self) -> Segments:
        if self.routing == "store_view" and not self.b2b_store_views:
            raise ValueError("segments.b2b_store_views: list at least one store view when routing is store_view")
        return self


class Metric(_Section):
    basis: Basis = "grand_total"


class Alert(_Section):
    b2b_aov_drop_pct: Decimal = Field(Decimal(15), gt=0, lt=100)
    direction: Literal["contraction", "expansion", "both"] = "contraction"
    min_orders: int = Field(30, ge=1)
    severity: Literal["warn", "error"] = "error"

    @field_validator("b2b_aov_drop_pct", mode="before")
    @classmethod
    def _percent_not_fraction(cls, value: Any) -> Any:
        """15 means 15%. A value below 1 is almost always a fraction (0.15 for 15%), which would alert on
        every wobble, so it must be spelled out as a percent: "0.5%"."""
        if isinstance(value, str) and value.strip().endswith("%"):
            return value.strip().removesuffix("%")
        if isinstance(value, (int, float, Decimal)) and 0 < value < 1:
            percent = f"{(Decimal(str(value)) * 100).normalize():f}"
            raise ValueError(
                f"alert.b2b_aov_drop_pct: {value} reads as a fraction; write {percent} for {percent}%, or "
                f'"{value}%" if you really mean under one percent'
            )
        return value


class AdobeCommerce(_Section):
    store_code: str | None = Field(None, pattern=r"^[a-z0-9_]+$")
    page_size: int = Field(300, ge=1, le=300)
    concurrency: int = Field(4, ge=1, le=32)
    timeout_seconds: float = Field(30, gt=0)
    retry_seconds: float = Field(120, ge=0)


class Shopify(_Section):
    api_version: str = Field("2026-10", pattern=r"^\d{4}-(01|04|07|10)$")  # a stable release, pinned
    # orders per page x line items per order decide a query's cost (at most 1,000 points): 10 x 10 fits
    page_size: int = Field(10, ge=1, le=250)
    line_items_page: int = Field(10, ge=1, le=250)
    bulk_days: int = Field(14, ge=0)  # a run of this many days or more is fetched by bulk operations (0: never)
    concurrency: int = Field(2, ge=1, le=32)
    timeout_seconds: float = Field(30, gt=0)
    retry_seconds: float = Field(120, ge=0)


class Sync(_Section):
    lookback_days: int = Field(3, ge=0, le=27)  # the daily run re-syncs this many days before yesterday
    heal_days: int = Field(14, ge=1, le=366)  # aov_auto_heal_sensor looks this far back for missing days


class Health(_Section):
    # UTC cron: by each tick, the previous day's raw_orders partition must exist (judged by Dagster's check)
    freshness_deadline: str = "0 6 * * *"
    gap_median_orders: int = Field(5, ge=1)  # a day without orders is a gap if the trailing 28-day median is this high
    multiplier_band: tuple[Decimal, Decimal] = (Decimal(2), Decimal(20))  # B2B AOV / B2C AOV outside: misclassified?
    pending_payment_days: int = Field(45, ge=1)  # B2B orders waiting in pending_payment longer than this

    @model_validator(mode="before")
    @classmethod
    def _renamed_freshness(cls, values: Any) -> Any:
        if isinstance(values, dict) and "freshness_days" in values:
            raise ValueError(
                "health.freshness_days was replaced by health.freshness_deadline, a UTC cron by whose tick the "
                'previous day\'s raw_orders partition must exist (e.g. "0 6 * * *")'
            )
        return values

    @field_validator("freshness_deadline")
    @classmethod
    def _five_cron_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(
                f'health.freshness_deadline: {value!r} is not a cron string of five fields, like "0 6 * * *"'
            )
        return value

    @model_validator(mode="after")
    def _band_low_before_high(self) -> Health:
        low, high = self.multiplier_band
        if not 0 < low < high:
            raise ValueError(f"health.multiplier_band: expected [low, high] with 0 < low < high (got [{low}, {high}])")
        return self


class SalesRep(_Section):
    """A Company's sales representative (an Adobe Commerce admin user) as people know them."""

    id: int  # the admin user id Adobe Commerce gives as a Company's sales_representative_id
    name: str = Field(min_length=1)
    slack: str | None = Field(None, pattern=r"^[@#]?[\w.\-]+$")  # "@jane": named in call lists and Slack


class Investigation(_Section):
    # a continuing account whose owed / credit limit reached this in the current window is under credit pressure
    credit_utilization: float = Field(0.8, gt=0, le=2)


class Validation(_Section):
    max_order_value: Decimal = Field(Decimal(10_000_000), gt=0)  # in global currency; above it: rejected


class Sample(_Section):
    # which embedded sample store (source: sample): CONTRACT.md's worked example, or another story
    story: Literal["worked_example", "steady", "key_accounts_lost"] = "worked_example"


class Manifest(_Section):
    source: Literal["sample", "adobe_commerce", "shopify"]
    start_date: date
    end_date: date | None = None
    segments: Segments = Segments()
    metric: Metric = Metric()
    alert: Alert = Alert()
    adobe_commerce: AdobeCommerce = AdobeCommerce()
    shopify: Shopify = Shopify()
    health: Health = Health()
    validation: Validation = Validation()
    investigation: Investigation = Investigation()
    sales_reps: tuple[SalesRep, ...] = ()  # written {id: {name, slack}}: who a Company's sales rep is

    @field_validator("sales_reps", mode="before")
    @classmethod
    def _reps_by_id(cls, value: Any) -> Any:
        """`{12: {name: "Jane Doe", slack: "@jane"}}` in YAML; a tuple here, so the manifest stays hashable."""
        if isinstance(value, dict):
            return tuple({"id": key} | (rep if isinstance(rep, dict) else {"name": rep}) for key, rep in value.items())
        return value

    sync: Sync = Sync()
    sample: Sample = Sample()

    @model_validator(mode="after")
    def _shopify_routes_by_company_or_tag(self) -> Manifest:
        if self.source == "shopify" and self.segments.routing == "store_view":
            raise ValueError(
                "segments.routing: store_view is an Adobe Commerce rule; a Shopify store routes by company "
                "(B2B orders) and segments.b2b_customer_tags"
            )
        return self

    @model_validator(mode="after")
    def _end_not_before_start(self) -> Manifest:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        if self.end_date is None and self.start_date > yesterday:
            raise ValueError(
                f"start_date {self.start_date} is after yesterday ({yesterday}, UTC): there is no complete day to "
                "materialize yet; set start_date to the first day of orders to sync"
            )
        return self


class StoreEntry(_Section):
    """A `stores:` entry's own keys (its sections override the manifest's top-level ones key by key)."""

    key: str = Field(pattern=STORE_KEY)
    name: str = Field(min_length=1)
    base_url: str | None = None  # instead of <KEY>_ADOBE_COMMERCE_BASE_URL or <KEY>_SHOPIFY_BASE_URL (not a secret)
    # instead of <KEY>_ADOBE_COMMERCE_TOKEN (or <KEY>_SHOPIFY_ACCESS_TOKEN)
    token_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    webhook_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")  # instead of <KEY>_SLACK_WEBHOOK_URL


@dataclass(frozen=True)
class Store:
    """One store of the deployment: its key, its name for people, and its whole manifest."""

    key: str
    name: str
    manifest: Manifest
    base_url: str | None = None
    token_env: str | None = None
    webhook_env: str | None = None

    def variable(self, name: str) -> str:
        """The environment variable that holds this store's `name` (e.g. ADOBE_COMMERCE_TOKEN): the
        `default` store keeps today's names, store `acme` reads ACME_<name>, unless the manifest names it."""
        tokens = ("ADOBE_COMMERCE_TOKEN", "SHOPIFY_ACCESS_TOKEN")
        named = self.webhook_env if name == "SLACK_WEBHOOK_URL" else self.token_env if name in tokens else None
        return named or (name if self.key == DEFAULT_STORE else f"{self.key.upper()}_{name}")


Stores = Mapping[str, Store]  # every store of a deployment, by key, in the manifest's order


def stores_by_key(stores: Manifest | Iterable[Store]) -> dict[str, Store]:
    """The stores by key; a lone manifest (tests, tools) is the `default` store's."""
    if isinstance(stores, Manifest):
        stores = [Store(DEFAULT_STORE, DEFAULT_STORE, stores)]
    return {store.key: store for store in stores}


def manifest_path() -> Path:
    return Path(os.environ.get("AOV_MANIFEST") or DEFAULT_MANIFEST)


def load_manifest(path: str | os.PathLike[str] | None = None, store: str | None = None) -> Manifest:
    """The manifest of one store at `path` (default: `$AOV_MANIFEST`, else `aov.yaml`): `store`, or the
    only one."""
    return pick_store(load_stores(path), store).manifest


def load_stores(path: str | os.PathLike[str] | None = None) -> tuple[Store, ...]:
    """Load and validate every store of the manifest at `path`."""
    resolved = Path(path) if path is not None else manifest_path()
    try:
        stat = resolved.stat()
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {resolved.resolve()} (set AOV_MANIFEST or create aov.yaml)") from None
    return _load_cached(str(resolved.resolve()), stat.st_mtime_ns)


def pick_store(stores: tuple[Store, ...], key: str | None) -> Store:
    keys = ", ".join(store.key for store in stores)
    if key is None:
        if len(stores) > 1:
            raise ManifestError(f"the manifest lists {len(stores)} stores ({keys}) and one is needed here: name it")
        return stores[0]
    for store in stores:
        if store.key == key:
            return store
    raise ManifestError(f"unknown store {key!r} (the manifest's stores: {keys})")


@lru_cache(maxsize=8)
def _load_cached(path: str, _mtime_ns: int) -> tuple[Store, ...]:
    return parse_stores(Path(path).read_text(), origin=path)


def parse_manifest(text: str, origin: str = "manifest") -> Manifest:
    """A manifest of one store (tests and tools); see `parse_stores`."""
    return pick_store(parse_stores(text, origin), None).manifest


def parse_stores(text: str, origin: str = "manifest") -> tuple[Store, ...]:
    """Every store of a manifest: without `stores:` one, `default`; with it, each entry's sections laid
    over the top-level ones key by key (a store's `alert: {min_orders: 10}` keeps the other alert keys)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{origin}: not valid YAML: {_one_line(exc)}") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{origin}: expected a mapping of keys at the top level")
    entries = raw.pop("stores", None)
    if entries is None:
        return (Store(DEFAULT_STORE, DEFAULT_STORE, _validated(raw, origin)),)
    if not isinstance(entries, list) or not entries or not all(isinstance(entry, dict) for entry in entries):
        raise ManifestError(f"{origin}: stores: expected a list of stores, each a mapping with key and name")
    stores = [_store(raw, entry, origin, number) for number, entry in enumerate(entries)]
    seen = [store.key for store in stores]
    if doubled := sorted({key for key in seen if seen.count(key) > 1}):
        raise ManifestError(f"{origin}: stores: each key must be unique ({', '.join(doubled)} repeated)")
    return tuple(stores)


def _store(defaults: dict[str, Any], entry: dict[str, Any], origin: str, number: int) -> Store:
    own = {key: value for key, value in entry.items() if key in StoreEntry.model_fields}
    try:
        meta = StoreEntry.model_validate(own)
    except ValidationError as exc:
        problems = "; ".join(_describe(e, StoreEntry) for e in exc.errors())
        raise ManifestError(f"{origin}: stores[{number}]: {problems}") from None
    merged = dict(defaults)
    for section, value in entry.items():
        if section not in own:
            below = defaults.get(section)
            merged[section] = {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
    manifest = _validated(merged, f"{origin}: stores[{meta.key}]")
    return Store(meta.key, meta.name, manifest, meta.base_url, meta.token_env, meta.webhook_env)


def _validated(raw: dict[str, Any], origin: str) -> Manifest:
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ManifestError(f"{origin}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: dict[str, Any], model: type[BaseModel] | None = None) -> str:
    root = model or Manifest
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_fields_at(loc[:-1], root))
        return f"unknown key '{key}' (allowed keys here: {allowed})"
    if kind == "missing":
        return f"{key}: required"
    if kind == "literal_error":
        allowed = ", ".join(str(value) for value in get_args(_annotation_at(loc, root)))
        return f"{key}: {error['input']!r} is not allowed (allowed: {allowed})"
    if kind.startswith("date"):
        return f"{key}: {error['input']!r} is not a date (expected YYYY-MM-DD)"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":
        return message
    return f"{key}: {message} (got {error['input']!r})"


def _annotation_at(loc: tuple[str, ...], root: type[BaseModel]) -> Any:
    annotation: Any = root
    for part in loc:
        annotation = annotation.model_fields[part].annotation
    return annotation


def _fields_at(loc: tuple[str, ...], root: type[BaseModel]) -> list[str]:
    return list(_annotation_at(loc, root).model_fields)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
