"""Shared fixtures. Tests never touch the repo's `data/`: every lake, warehouse and Dagster
instance lives in a temporary directory, and resources are passed explicitly."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage

from aov_assets.definitions import build_defs
from aov_assets.ingest.sources.sample import SampleMerchant, sample_merchant
from aov_assets.manifest import load_manifest, load_stores, stores_by_key
from aov_assets.resources import AdobeCommerceResource, LakeResource, WarehouseResource
from aov_assets.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
# The code location as Dagster loads it from the repo's manifest (the sample's dates).
DEFS = build_defs(load_manifest(REPO / "aov.yaml"))
ASSET_NAMES = (
    "raw_orders",
    "classified_orders",
    "daily_aov",
    "account_daily",
    "aov_why",
    "segment_metrics_30d",
    "currency_aov_30d",
    "order_lines",
    "b2b_category_mix_30d",
    "product_catalog",
    "aov_30d",
    "aov_ttm",
    "basket_pairs",
    "account_whitespace",
)
(
    raw_orders,
    classified_orders,
    daily_aov,
    account_daily,
    investigation,  # the b2b_investigation step: b2b_accounts_30d, b2b_cohorts_30d and aov_why
    segment_metrics,
    currency_aov,
    order_lines,
    category_mix,
    product_catalog,
    aov_30d,
    aov_ttm,
    basket_pairs,
    account_whitespace,
) = (DEFS.get_assets_def(name) for name in ASSET_NAMES)
company_credit = DEFS.get_assets_def("company_credit")  # refreshed with the catalog, before the daily chain
NEIGHBOURS = [segment_metrics, currency_aov, order_lines, category_mix]
DAILY_CHAIN = [raw_orders, classified_orders, daily_aov, account_daily, investigation, *NEIGHBOURS, aov_30d]

EXAMPLE_DAY = date(2026, 5, 3)
EXAMPLE_FIRST_DAY = date(2026, 3, 5)  # the first day of the prior window as of EXAMPLE_DAY


@dataclass
class Pipeline:
    """A lake + warehouse + manifest in a temp dir, and the resources that point at them."""

    root: Path
    manifest_path: Path
    url: str | None = None  # the warehouse; SQLite in `root` unless given

    @property
    def warehouse_url(self) -> str:
        return self.url or f"sqlite:///{self.root / 'warehouse.db'}"

    @property
    def resources(self) -> dict[str, object]:
        return {
            "stores": stores_by_key(load_stores(self.manifest_path)),
            "lake": LakeResource(data_dir=str(self.root)),
            "warehouse": WarehouseResource(url=self.warehouse_url),
            "adobe_commerce": AdobeCommerceResource(),
        }

    def warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_url)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (CLI) that must use this pipeline's files."""
        (self.root / "dagster_home").mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "AOV_MANIFEST": str(self.manifest_path),
            "AOV_DATA_DIR": str(self.root),
            "AOV_WAREHOUSE_URL": self.warehouse_url,
            "DAGSTER_HOME": str(self.root / "dagster_home"),
        }

    def materialize(
        self,
        assets: list,
        first: str,
        last: str | None = None,
        instance: dg.DagsterInstance | None = None,
        raise_on_error: bool = True,
    ) -> dg.ExecuteInProcessResult:
        """One run over first..last (a single-run range backfill), like the CLI's --partition-range."""
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last or first}
        with set_defs_state_storage(None):  # see _no_stale_definitions_state: also between runs of one test
            return dg.materialize(
                assets, resources=self.resources, tags=tags, instance=instance, raise_on_error=raise_on_error
            )


@pytest.fixture(scope="session")
def sample() -> SampleMerchant:
    return sample_merchant()


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path, REPO / "aov.yaml")


@pytest.fixture(scope="session")
def example_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The catalog, the Companies' credit and the daily chain over the worked example's 60 days
    (2026-03-05..2026-05-03), once."""
    pipeline = Pipeline(tmp_path_factory.mktemp("example"), REPO / "aov.yaml")
    with dg.instance_for_test() as instance:
        reference = [product_catalog, company_credit]
        assert dg.materialize(reference, resources=pipeline.resources, instance=instance).success
        result = pipeline.materialize(DAILY_CHAIN, str(EXAMPLE_FIRST_DAY), str(EXAMPLE_DAY), instance)
        assert result.success
        pipeline.result, pipeline.instance = result, instance
        yield pipeline


def copy_of(example: Pipeline, root: Path) -> Pipeline:
    """A new pipeline whose warehouse starts as a copy of the example's (SQLite's backup API:
    consistent even while the source's last writes are still in its WAL file)."""
    import sqlite3

    root.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(example.root / "warehouse.db") as source, sqlite3.connect(root / "warehouse.db") as target:
        source.backup(target)
    return Pipeline(root, example.manifest_path)


TABLE_KEYS = {
    "classified_orders": ["entity_id"],
    "rejected_orders": ["order_date", "position"],
    "daily_aov": ["order_date", "segment"],
    "aov_30d": ["as_of", "segment"],
    "aov_ttm": ["month", "segment"],
    "account_daily": ["order_date", "account"],
    "b2b_accounts_30d": ["as_of", "account"],
    "b2b_cohorts_30d": ["as_of", "cohort"],
    "aov_why": ["as_of", "cause"],
    "segment_metrics_30d": ["as_of", "segment"],
    "currency_aov_30d": ["as_of", "segment", "currency"],
    "order_lines": ["entity_id", "line"],
    "b2b_category_mix_30d": ["as_of", "category"],
    "product_catalog": ["sku"],
    "basket_pairs": ["month", "segment", "kind", "antecedent", "consequent"],
    "account_whitespace": ["month", "account", "category"],
    "b2b_companies": ["company_id"],
    "company_credit_history": ["history_id"],
}


def read_table(pipeline: Pipeline, name: str):
    """A warehouse table as a DataFrame in key order (to compare runs and backends exactly)."""
    import pandas as pd
    import sqlalchemy as sa

    from aov_assets.core.db import metadata

    with pipeline.warehouse().connect() as connection:
        result = connection.execute(sa.select(metadata.tables[name]))
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    return frame.sort_values(TABLE_KEYS[name], ignore_index=True)


def demo_env(root: Path) -> dict[str, str]:
    """A bare environment for `aov` in a subprocess: the repo's manifest, data and warehouse under `root`,
    no Slack webhook (alerts go to the outbox) and nothing else of the caller's."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(root),
        "AOV_MANIFEST": str(REPO / "aov.yaml"),
        "AOV_DATA_DIR": str(root / "data"),
        "AOV_WAREHOUSE_URL": f"sqlite:///{root / 'data' / 'warehouse.db'}",
    }


def write_manifest(path: Path, **overrides: str) -> Path:
    """The repo's manifest with some top-level YAML blocks replaced (key -> YAML text)."""
    import yaml

    data = yaml.safe_load((REPO / "aov.yaml").read_text())
    for key, value in overrides.items():
        data[key] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(data))
    return path


# --------------------------------------------------------------------------- PostgreSQL
#
# The warehouse tests run against a real PostgreSQL server too. `.ci/run` installs Debian's
# `postgresql` package; this fixture starts a throwaway server from its binaries (as the `postgres`
# system user when the tests run as root, which initdb refuses). AOV_TEST_POSTGRES_URL points the
# tests at a server of your own instead. Without either, those tests are skipped and say why.

POSTGRES_SKIP = (
    "PostgreSQL server binaries not found (on Debian: apt-get install postgresql; or set "
    "AOV_TEST_POSTGRES_URL): the PostgreSQL runs of the warehouse tests are skipped"
)


def _postgres_bin() -> Path | None:
    import glob
    import shutil

    found = shutil.which("pg_ctl")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).resolve().parent if candidates else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A server URL without a database name (`postgresql+psycopg://user@host:port`)."""
    import pwd
    import shutil
    import socket
    import subprocess
    import tempfile

    if os.environ.get("AOV_TEST_POSTGRES_URL"):
        yield os.environ["AOV_TEST_POSTGRES_URL"].rstrip("/")
        return
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip(POSTGRES_SKIP)
    root = Path(tempfile.mkdtemp(prefix="aov-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres system user to run the server as")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"
    subprocess.run(
        [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    subprocess.run(
        [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)  # the server's files (about 40 MB per test session)


def postgres_database(server: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    import uuid

    import sqlalchemy as sa

    name = f"aov_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    """The same test on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture(autouse=True)
def _no_stale_definitions_state() -> Iterator[None]:
    """Each test starts without a "current" defs-state storage. Dagster keeps the entered instance's one in a
    ContextVar; some in-process runs (seen after the fake-store pipeline tests) leave it set, and once that
    instance is collected, a later `dg.materialize` on an ephemeral instance fails with "Attempted to resolve
    undefined DagsterInstance weakref" (an intermittent failure in the full suite)."""
    with set_defs_state_storage(None):
        yield
