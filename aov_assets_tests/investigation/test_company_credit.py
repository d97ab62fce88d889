"""company_credit over HTTP: the fake store's Companies and Company Credit in the warehouse, and a store without
the B2B module (a notice, empty tables, never a failed run)."""

from decimal import Decimal

import dagster as dg
import pytest

from aov_assets.actions.calls import CallList, CallSettings
from aov_assets.manifest import load_manifest

from ..conftest import EXAMPLE_DAY, REPO, company_credit, read_table, write_manifest
from ..fake_adobe_commerce import FakeAdobeCommerce, OrderStore
from ..ingest.test_adobe_commerce_pipeline import StorePipeline
from ..ingest.test_company_credit_api import COMPANIES, CREDITS, HISTORY


@pytest.fixture(scope="module")
def store():
    b2b = {"companies": COMPANIES, "credits": CREDITS, "history": HISTORY}
    with FakeAdobeCommerce(OrderStore.of([]), b2b=b2b) as server:
        yield server


def refresh(store: FakeAdobeCommerce, tmp_path) -> tuple[StorePipeline, dg.ExecuteInProcessResult, list[str]]:
    """company_credit materialized once: the pipeline, the run and its log messages."""
    pipeline = StorePipeline(tmp_path, write_manifest(tmp_path / "aov.yaml", source="adobe_commerce"))
    pipeline.store = store
    with dg.instance_for_test() as instance:
        result = dg.materialize([company_credit], resources=pipeline.resources, instance=instance)
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return pipeline, result, messages


def test_companies_and_every_credit_operation_reach_the_warehouse(store, tmp_path):
    pipeline, result, _ = refresh(store, tmp_path)
    assert result.success
    companies = read_table(pipeline, "b2b_companies").set_index("company_id")
    assert len(companies) == 7 and set(companies["sales_rep_id"]) == {3}
    assert (companies.at[1, "name"], companies.at[1, "credit_limit"], companies.at[1, "balance"]) == (
        "Company 1",
        Decimal("5000.00"),
        Decimal("-1234.56"),
    )
    assert companies.at[7, "credit_limit"] is None  # listed without a credit
    history = read_table(pipeline, "company_credit_history")
    assert list(history["balance"]) == [Decimal(-100 * day).quantize(Decimal("0.01")) for day in range(8)]
    assert set(history["company_id"]) == {1} and list(history["type"]) == [1] + [3] * 7
    assert str(history["at"].iloc[-1]) == "2026-04-08 06:00:00"  # UTC, as Magento's datetime says
    metadata = result.asset_materializations_for_node(company_credit.op.name)[0].metadata
    counts = (
        metadata["companies"].value,
        metadata["with_credit_limit"].value,
        metadata["credit_operations_read"].value,
    )
    assert counts == (7, 6, 8)


def test_a_refresh_reads_the_operations_from_a_day_before_the_latest_it_has(tmp_path):
    history = list(HISTORY)
    b2b = {"companies": COMPANIES, "credits": CREDITS, "history": history}
    with FakeAdobeCommerce(OrderStore.of([]), b2b=b2b) as server:
        first, _, _ = refresh(server, tmp_path)
        history.append(HISTORY[-1] | {"id": 200, "balance": -900.0, "datetime": "2026-04-09 07:00:00"})
        server.requests.clear()
        pipeline, result, messages = refresh(server, tmp_path)
        [asked] = [r["params"] for r in server.requests if r["path"].endswith("companyCredits/history")]
    assert result.success
    # the latest stored operation was 2026-04-08 06:00:00: read from a day before it, replace from there on
    assert asked["searchCriteria[filter_groups][0][filters][0][value]"] == "2026-04-07 06:00:00"
    assert any("credit operations (since 2026-04-07 06:00:00 UTC)" in m for m in messages)
    stored = read_table(pipeline, "company_credit_history")
    assert list(stored["history_id"]) == [100 + day for day in range(8)] + [200]  # nothing lost or doubled
    assert stored["balance"].iloc[-1] == Decimal("-900.00")


def test_a_store_without_the_b2b_module_gets_a_notice_and_empty_tables(store, tmp_path):
    store.b2b_module = False
    try:
        pipeline, result, messages = refresh(store, tmp_path)
    finally:
        store.b2b_module = True
    assert result.success
    assert read_table(pipeline, "b2b_companies").empty and read_table(pipeline, "company_credit_history").empty
    assert not pipeline.warehouse().has_credit()
    assert any("company_credit: not available" in m and "HTTP 404" in m for m in messages)


def test_the_sample_story_names_credit_pressure_in_the_middle_cohort_and_who_calls(example_pipeline):
    """The worked example as of 2026-05-03: the middle cohort's Companies run up against their credit limits,
    the investigation says so with its part of the move, and the call list names each one's sales rep."""
    why = read_table(example_pipeline, "aov_why")
    finding = why[(why["as_of"] == EXAMPLE_DAY) & (why["cause"] == "credit_pressure")].iloc[0]
    assert finding["role"] == "why" and finding["contribution"] < 0 and not finding["part"]
    assert "continuing accounts reached 80%+ of their credit limit" in finding["summary"]
    cohorts = read_table(example_pipeline, "b2b_cohorts_30d")
    pressed = cohorts[cohorts["as_of"] == EXAMPLE_DAY].set_index("cohort")["credit_pressed"]
    assert pressed["middle 60%"] > 3 * max(pressed["top 20%"], pressed["bottom 20%"])
    assert pressed["all"] == sum(pressed[c] for c in ("top 20%", "middle 60%", "bottom 20%"))
    settings = CallSettings.of(load_manifest(REPO / "aov.yaml"))
    calls = CallList.stored(example_pipeline.warehouse(), EXAMPLE_DAY, settings)
    assert set(calls.rows["reason"]) >= {"credit_pressure", "gone_quiet"}
    assert int((calls.rows["reason"] == "credit_pressure").sum()) == pressed["all"]
    assert set(calls.rows["rep"]) <= {
        "Dana Whitfield (@dana)",
        "Marco Ruiz (@marco)",
        "Priya Nair (@priya)",
        "Tom Becker",
    }
