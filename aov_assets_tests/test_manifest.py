from datetime import date
from decimal import Decimal

import pytest

from aov_assets.manifest import ManifestError, load_manifest, parse_manifest, parse_stores

from .conftest import REPO

MINIMAL = "source: sample\nstart_date: '2024-05-01'\n"


def test_the_repo_manifest_is_the_sample_with_contract_defaults():
    manifest = load_manifest(REPO / "aov.yaml")
    assert manifest.source == "sample"
    assert manifest.start_date == date(2024, 5, 1)
    assert manifest.end_date == date(2026, 5, 3)
    assert manifest.segments.routing == "company_or_group"
    assert manifest.alert.b2b_aov_drop_pct == Decimal(15)
    assert (manifest.alert.direction, manifest.alert.min_orders) == ("contraction", 30)
    assert (manifest.adobe_commerce.page_size, manifest.adobe_commerce.concurrency) == (300, 4)


def test_defaults_fill_everything_but_source_and_start_date():
    manifest = parse_manifest(MINIMAL)
    assert manifest.segments.b2b_customer_groups == ("Wholesale",)
    assert manifest.metric.basis == "grand_total"
    assert manifest.end_date is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL + "segmnts: {}\n", "unknown key 'segmnts' (allowed keys here: source, start_date, end_date, segments"),
        (
            MINIMAL + "segments: {routing: by_magic}\n",
            "segments.routing: 'by_magic' is not allowed (allowed: company_or_group, store_view)",
        ),
        (
            MINIMAL + "metric: {basis: net}\n",
            "metric.basis: 'net' is not allowed (allowed: grand_total, pre_tax, subtotal)",
        ),
        (
            MINIMAL + "alert: {direction: down}\n",
            "alert.direction: 'down' is not allowed (allowed: contraction, expansion, both)",
        ),
        (MINIMAL + "alert: {treshold: 10}\n", "unknown key 'alert.treshold' (allowed keys here: b2b_aov_drop_pct,"),
        (
            MINIMAL + "adobe_commerce: {page_size: 500}\n",
            "adobe_commerce.page_size: Input should be less than or equal to 300",
        ),
        (
            "source: magento\nstart_date: '2024-05-01'\n",
            "source: 'magento' is not allowed (allowed: sample, adobe_commerce, shopify)",
        ),
        ("source: sample\nstart_date: May 1st\n", "start_date: 'May 1st' is not a date (expected YYYY-MM-DD)"),
        ("source: sample\n", "start_date: required"),
        (MINIMAL + "end_date: '2024-04-01'\n", "end_date 2024-04-01 is before start_date 2024-05-01"),
        (
            "source: shopify\nstart_date: '2024-05-01'\nsegments: {routing: store_view, b2b_store_views: [2]}\n",
            "segments.routing: store_view is an Adobe Commerce rule; a Shopify store routes by company",
        ),
        (
            "source: shopify\nstart_date: '2024-05-01'\nshopify: {page_size: 251}\n",
            "shopify.page_size: Input should be less than or equal to 250",
        ),
        (
            MINIMAL + "segments: {routing: store_view}\n",
            "segments.b2b_store_views: list at least one store view when routing is store_view",
        ),
        (
            MINIMAL + "alert: {b2b_aov_drop_pct: 0.15}\n",
            'alert.b2b_aov_drop_pct: 0.15 reads as a fraction; write 15 for 15%, or "0.15%" if you really',
        ),
        (
            "source: adobe_commerce\nstart_date: '2999-01-01'\n",
            "start_date 2999-01-01 is after yesterday (",
        ),
        (
            MINIMAL + "health: {freshness_days: 1}\n",
            "health.freshness_days was replaced by health.freshness_deadline, a UTC cron",
        ),
        (
            MINIMAL + "health: {freshness_deadline: daily}\n",
            "health.freshness_deadline: 'daily' is not a cron string of five fields",
        ),
        ("- just\n- a list\n", "expected a mapping of keys at the top level"),
        ("source: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_manifest_fails_with_one_line_naming_the_key(text, message):
    with pytest.raises(ManifestError) as error:
        parse_manifest(text, origin="aov.yaml")
    assert message in str(error.value)
    assert str(error.value).startswith("aov.yaml: ")
    assert "\n" not in str(error.value)


def test_a_drop_below_one_percent_must_be_spelled_as_a_percent():
    assert parse_manifest(MINIMAL + 'alert: {b2b_aov_drop_pct: "0.5%"}\n').alert.b2b_aov_drop_pct == Decimal("0.5")
    assert parse_manifest(MINIMAL + "alert: {b2b_aov_drop_pct: 1}\n").alert.b2b_aov_drop_pct == Decimal(1)


def test_a_missing_manifest_says_where_it_looked(tmp_path):
    with pytest.raises(ManifestError, match=r"manifest not found: .*nope\.yaml \(set AOV_MANIFEST"):
        load_manifest(tmp_path / "nope.yaml")


def test_aov_manifest_env_var_selects_the_file(tmp_path, monkeypatch):
    path = tmp_path / "other.yaml"
    path.write_text(MINIMAL.replace("2024-05-01", "2025-01-01"))
    monkeypatch.setenv("AOV_MANIFEST", str(path))
    assert load_manifest().start_date == date(2025, 1, 1)


def test_group_codes_and_numeric_ids_both_parse():
    manifest = parse_manifest(MINIMAL + "segments: {b2b_customer_groups: [Wholesale, 4]}\n")
    assert manifest.segments.b2b_customer_groups == ("Wholesale", 4)


AGENCY = """
source: sample
start_date: '2024-05-01'
alert: {b2b_aov_drop_pct: 15, min_orders: 30}
stores:
  - {key: acme, name: Acme Supply}
  - key: bolt_b2b
    name: Bolt
    source: adobe_commerce
    start_date: '2025-01-01'
    alert: {min_orders: 10}
    token_env: BOLT_API_TOKEN
"""


def test_stores_inherit_the_top_level_sections_and_override_them_key_by_key():
    acme, bolt = parse_stores(AGENCY)
    assert (acme.key, acme.name, acme.manifest.source, acme.manifest.start_date) == (
        "acme",
        "Acme Supply",
        "sample",
        date(2024, 5, 1),
    )
    assert (bolt.manifest.source, bolt.manifest.start_date) == ("adobe_commerce", date(2025, 1, 1))
    assert (bolt.manifest.alert.min_orders, bolt.manifest.alert.b2b_aov_drop_pct) == (10, Decimal(15))  # kept
    assert acme.manifest.alert.min_orders == 30


def test_a_manifest_without_stores_is_the_default_store_under_todays_variable_names():
    (store,) = parse_stores(MINIMAL)
    assert store.key == "default" and store.manifest == parse_manifest(MINIMAL)
    assert store.variable("ADOBE_COMMERCE_TOKEN") == "ADOBE_COMMERCE_TOKEN"
    assert store.variable("SLACK_WEBHOOK_URL") == "SLACK_WEBHOOK_URL"


def test_a_stores_secrets_are_read_from_variables_named_after_it_unless_the_manifest_names_them():
    acme, bolt = parse_stores(AGENCY)
    assert acme.variable("ADOBE_COMMERCE_BASE_URL") == "ACME_ADOBE_COMMERCE_BASE_URL"
    assert acme.variable("ADOBE_COMMERCE_CONSUMER_KEY") == "ACME_ADOBE_COMMERCE_CONSUMER_KEY"
    assert acme.variable("SLACK_WEBHOOK_URL") == "ACME_SLACK_WEBHOOK_URL"
    assert bolt.variable("ADOBE_COMMERCE_TOKEN") == "BOLT_API_TOKEN"
    assert acme.variable("SHOPIFY_ACCESS_TOKEN") == "ACME_SHOPIFY_ACCESS_TOKEN"
    assert bolt.variable("SHOPIFY_ACCESS_TOKEN") == "BOLT_API_TOKEN"  # token_env names the store's token


def test_one_store_is_picked_by_key_or_because_it_is_the_only_one(tmp_path):
    path = tmp_path / "aov.yaml"
    path.write_text(AGENCY)
    assert load_manifest(path, "bolt_b2b").start_date == date(2025, 1, 1)
    with pytest.raises(ManifestError, match=r"lists 2 stores \(acme, bolt_b2b\) and one is needed here: name it"):
        load_manifest(path)
    with pytest.raises(ManifestError, match=r"unknown store 'zeta' \(the manifest's stores: acme, bolt_b2b\)"):
        load_manifest(path, "zeta")
    assert load_manifest(REPO / "aov.yaml", "default") == load_manifest(REPO / "aov.yaml")


@pytest.mark.parametrize(
    ("stores", "message"),
    [
        ("stores: []\n", "stores: expected a list of stores, each a mapping with key and name"),
        ("stores: [{key: Acme, name: A}]\n", "stores[0]: key: String should match pattern"),
        ("stores: [{key: acme}]\n", "stores[0]: name: required"),
        ("stores: [{key: a, name: A}, {key: a, name: B}]\n", "stores: each key must be unique (a repeated)"),
        ("stores: [{key: a, name: A, alert: {min_orders: 0}}]\n", "stores[a]: alert.min_orders: Input should be"),
        ("stores: [{key: a, name: A, colour: red}]\n", "stores[a]: unknown key 'colour'"),
        ("stores: [{key: a, name: A, token_env: 'lower'}]\n", "stores[0]: token_env: String should match pattern"),
    ],
)
def test_a_bad_store_fails_in_one_line_naming_the_store_and_the_key(stores, message):
    with pytest.raises(ManifestError) as error:
        parse_stores(MINIMAL + stores, origin="aov.yaml")
    assert message in str(error.value) and str(error.value).startswith("aov.yaml: ")
    assert "\n" not in str(error.value)
