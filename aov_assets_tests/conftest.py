"""Shared fixtures. Tests never touch the repo's `data/`: every lake, warehouse and Dagster
instance lives in a temporary directory, and resources are passed explicitly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("AOV_MANIFEST", str(REPO / "aov.yaml"))  # partitions are read at import

import dagster as dg  # noqa: E402

from aov_assets.resources import (  # noqa: E402
    AdobeCommerceResource,
    LakeResource,
    ManifestResource,
    WarehouseResource,
)
from aov_assets.sources.sample import SampleMerchant, sample_merchant  # noqa: E402
from aov_assets.warehouse import Warehouse  # noqa: E402

EXAMPLE_DAY = date(2026, 5, 3)
EXAMPLE_FIRST_DAY = date(2026, 3, 5)  # the first day of the prior window as of EXAMPLE_DAY


@dataclass
class Pipeline:
    """A lake + warehouse + manifest in a temp dir, and the resources that point at them."""

    root: Path
    manifest_path: Path

    @property
    def warehouse_url(self) -> str:
        return f"sqlite:///{self.root / 'warehouse.db'}"

    @property
    def resources(self) -> dict[str, dg.ConfigurableResource]:
        return {
            "manifest": ManifestResource(path=str(self.manifest_path)),
            "lake": LakeResource(data_dir=str(self.root)),
            "warehouse": WarehouseResource(url=self.warehouse_url),
            "adobe_commerce": AdobeCommerceResource(),
        }

    def warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_url)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (CLI) that must use this pipeline's files."""
        (self.root / "dagster_home").mkdir(exist_ok=True)
        return {
            **os.environ,
            "AOV_MANIFEST": str(self.manifest_path),
            "AOV_DATA_DIR": str(self.root),
            "AOV_WAREHOUSE_URL": self.warehouse_url,
            "DAGSTER_HOME": str(self.root / "dagster_home"),
        }

    def materialize(
        self, assets: list, first: str, last: str | None = None, instance: dg.DagsterInstance | None = None
    ) -> dg.ExecuteInProcessResult:
        """One run over first..last (a single-run range backfill), like the CLI's --partition-range."""
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last or first}
        return dg.materialize(assets, resources=self.resources, tags=tags, instance=instance)


@pytest.fixture(scope="session")
def sample() -> SampleMerchant:
    return sample_merchant()


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    return Pipeline(tmp_path, REPO / "aov.yaml")


@pytest.fixture(scope="session")
def example_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The daily chain materialized over the worked example's 60 days (2026-03-05..2026-05-03), once."""
    from aov_assets.assets import aov_30d, classified_orders, daily_aov, raw_orders

    pipeline = Pipeline(tmp_path_factory.mktemp("example"), REPO / "aov.yaml")
    with dg.instance_for_test() as instance:
        result = pipeline.materialize(
            [raw_orders, classified_orders, daily_aov, aov_30d], str(EXAMPLE_FIRST_DAY), str(EXAMPLE_DAY), instance
        )
        assert result.success
        pipeline.result = result
        yield pipeline


def copy_of(example: Pipeline, root: Path) -> Pipeline:
    """A new pipeline whose warehouse starts as a copy of the example's (SQLite's backup API:
    consistent even while the source's last writes are still in its WAL file)."""
    import sqlite3

    root.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(example.root / "warehouse.db") as source, sqlite3.connect(root / "warehouse.db") as target:
        source.backup(target)
    return Pipeline(root, example.manifest_path)


def write_manifest(path: Path, **overrides: str) -> Path:
    """The repo's manifest with some top-level YAML blocks replaced (key -> YAML text)."""
    import yaml

    data = yaml.safe_load((REPO / "aov.yaml").read_text())
    for key, value in overrides.items():
        data[key] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(data))
    return path
