"""The asset graph over HTTP: the sample merchant served by the fake store, through the connector."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from aov_assets.resources import AdobeCommerceResource

from ..conftest import (
    DAILY_CHAIN,
    EXAMPLE_DAY,
    EXAMPLE_FIRST_DAY,
    REPO,
    Pipeline,
    classified_orders,
    product_catalog,
    raw_orders,
    read_table,
    write_manifest,
)
from ..fake_adobe_commerce import TOKEN, FakeAdobeCommerce

CHAIN = DAILY_CHAIN
COMPARED = ("classified_orders", "daily_aov", "segment_metrics_30d", "currency_aov_30d", "order_lines")
COMPARED += ("b2b_category_mix_30d", "aov_30d")


@pytest.fixture(scope="module")
def store():
    with FakeAdobeCommerce() as server:
        yield server


class StorePipeline(Pipeline):
    """A pipeline whose manifest says `source: adobe_commerce`, pointed at the fake store."""

    store: FakeAdobeCommerce
    token: str = TOKEN

    @property
    def resources(self):
        return super().resources | {
            "adobe_commerce": AdobeCommerceResource(base_url=self.store.base_url, token=self.token)
        }


def store_pipeline(root: Path, store: FakeAdobeCommerce) -> StorePipeline:
    pipeline = StorePipeline(root, write_manifest(root / "aov.yaml", source="adobe_commerce"))
    pipeline.store = store
    return pipeline


def test_the_api_path_gives_the_same_tables_as_the_sample_path_to_the_cent(example_pipeline, store, tmp_path):
    pipeline = store_pipeline(tmp_path, store)
    with dg.instance_for_test() as instance:
        assert dg.materialize([product_catalog], resources=pipeline.resources, instance=instance).success
        assert pipeline.materialize(CHAIN, str(EXAMPLE_FIRST_DAY), str(EXAMPLE_DAY), instance).success
    for name in (*COMPARED, "product_catalog"):
        pd.testing.assert_frame_equal(read_table(pipeline, name), read_table(example_pipeline, name), check_exact=True)
    assert {r["auth"] for r in store.order_requests()} == {"bearer"}


def test_reclassifying_the_lake_needs_no_store(store, tmp_path):
    """raw_orders keeps the store's groups and store views in the lake; classified_orders then runs with
    the store unreachable and classifies exactly as before."""
    pipeline = store_pipeline(tmp_path, store)
    day = str(EXAMPLE_DAY)
    with dg.instance_for_test() as instance:
        assert pipeline.materialize(CHAIN[:2], day, instance=instance).success
        before = read_table(pipeline, "classified_orders")
        pipeline.store = Unreachable()
        assert pipeline.materialize([classified_orders], day, instance=instance).success
    pd.testing.assert_frame_equal(read_table(pipeline, "classified_orders"), before, check_exact=True)
    assert (before["segment"] == "b2b").sum() > 0


class Unreachable:
    base_url = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback


def test_a_late_cancellation_upstream_is_reflected_with_no_duplicate_rows(store, tmp_path):
    pipeline = store_pipeline(tmp_path, store)
    day = str(EXAMPLE_DAY)
    with dg.instance_for_test() as instance:
        assert pipeline.materialize(CHAIN[:3], day, instance=instance).success
        before = read_table(pipeline, "classified_orders")
        b2b = before[(before["segment"] == "b2b") & before["counted"]]["entity_id"].head(3).tolist()
        store.orders.overrides.update({eid: {"state": "canceled", "status": "canceled"} for eid in b2b})
        try:
            assert pipeline.materialize(CHAIN[:3], day, instance=instance).success
        finally:
            store.orders.overrides.clear()
    after = read_table(pipeline, "classified_orders")
    assert len(after) == len(before) and after["entity_id"].is_unique
    assert not after.set_index("entity_id").loc[b2b, "counted"].any()
    daily = read_table(pipeline, "daily_aov").set_index("segment")
    counted_b2b = before[(before["segment"] == "b2b") & before["counted"]]
    assert daily.at["b2b", "orders"] == len(counted_b2b) - 3


def test_a_failing_store_never_leaks_the_token(store, tmp_path, monkeypatch):
    secret = "sekrit-token-from-env-4242"
    monkeypatch.setenv("ADOBE_COMMERCE_TOKEN", secret)
    pipeline = store_pipeline(tmp_path, store)
    resources = pipeline.resources | {
        "adobe_commerce": AdobeCommerceResource(base_url=store.base_url, token=dg.EnvVar("ADOBE_COMMERCE_TOKEN"))
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [raw_orders], resources=resources, partition_key=str(EXAMPLE_DAY), instance=instance, raise_on_error=False
        )
        assert not result.success
        records = instance.all_logs(result.run_id)
        run = instance.get_run_by_id(result.run_id)
    text = "\n".join(str(record) for record in records) + repr(run)
    # the first request of a sync fetches the customer groups kept in the lake
    assert "refused GET /rest/V1/customerGroups/search (HTTP 401" in text and "Check ADOBE_COMMERCE_TOKEN" in text
    assert secret not in text


@pytest.mark.slow
def test_dagster_cli_partition_range_against_the_store(store, tmp_path):
    pipeline = store_pipeline(tmp_path, store)
    env = pipeline.env() | {"ADOBE_COMMERCE_BASE_URL": store.base_url, "ADOBE_COMMERCE_TOKEN": TOKEN}
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "asset",
        "materialize",
        "-m",
        "aov_assets.definitions",
        "--select",
        "raw_orders,classified_orders,daily_aov",
        "--partition-range",
        "2026-04-28...2026-05-03",
    ]
    for _ in range(2):  # repeatable
        result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert TOKEN not in result.stdout + result.stderr
    daily = read_table(pipeline, "daily_aov")
    assert len(daily) == 6 * 2 and daily["orders"].sum() > 0
    assert {r["params"]["searchCriteria[filter_groups][0][filters][0][value]"] for r in store.order_requests()} >= {
        f"2026-04-{d} 00:00:00" for d in (28, 29, 30)
    }
