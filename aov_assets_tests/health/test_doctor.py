"""`aov doctor` against the fake store: what a new user sees for each kind of mistake."""

import socket
from datetime import date, timedelta

import pytest

from aov_assets.health.doctor import diagnose

from ..conftest import REPO, write_manifest
from ..fake_adobe_commerce import TOKEN, FakeAdobeCommerce
from ..fake_shopify import TOKEN as SHOPIFY_TOKEN
from ..fake_shopify import FakeShopify, shopify_order

TODAY = date(2026, 11, 22)  # long after the manifest's end_date (2026-05-03): the count ends there


@pytest.fixture(scope="module")
def store():
    with FakeAdobeCommerce() as server:
        yield server


@pytest.fixture
def env(tmp_path, store):
    return {
        "AOV_MANIFEST": str(write_manifest(tmp_path / "aov.yaml", source="adobe_commerce")),
        "AOV_DATA_DIR": str(tmp_path / "data"),
        "AOV_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}",
        "ADOBE_COMMERCE_BASE_URL": store.base_url,
        "ADOBE_COMMERCE_TOKEN": TOKEN,
    }


def lines(env) -> list[str]:
    return [str(finding) for finding in diagnose(env, today=TODAY)]


def test_a_healthy_store_reports_groups_currencies_timezones_and_recent_orders(env, sample):
    report = lines(env)
    assert all(line.startswith("ok") for line in report), report
    text = "\n".join(report)
    assert "bearer credentials accepted" in text
    assert "B2B: orders with a Company, and customer groups Wholesale (2), Facilities Contract (4)" in text
    assert "base currencies USD; store timezones America/Chicago" in text
    created = sum(len(sample.orders_created_on(date(2026, 4, 4) + timedelta(days=i))) for i in range(30))
    assert f"{created:,} orders created in the 30 UTC days 2026-04-04..2026-05-03" in text


def test_a_wrong_token_names_the_variable_and_acl_never_the_value(env):
    env["ADOBE_COMMERCE_TOKEN"] = "sekrit-wrong-4242"
    report = lines(env)
    assert report[-1].startswith("FAIL") and "HTTP 401" in report[-1] and "Check ADOBE_COMMERCE_TOKEN" in report[-1]
    assert "sekrit-wrong-4242" not in "\n".join(report)


def test_an_unreachable_store_says_what_to_check(env):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    env["ADOBE_COMMERCE_BASE_URL"] = f"http://127.0.0.1:{port}"
    report = lines(env)
    assert report[-1].startswith(f"FAIL  cannot reach http://127.0.0.1:{port}")
    assert "Check ADOBE_COMMERCE_BASE_URL, DNS, VPN or firewall" in report[-1]


def test_a_wrong_path_is_a_404_explained(env, store):
    env["ADOBE_COMMERCE_BASE_URL"] = store.base_url + "/shop"
    assert "no REST API at" in lines(env)[-1]


def test_missing_settings_are_explained(env):
    del env["ADOBE_COMMERCE_BASE_URL"]
    assert lines(env)[-1] == (
        "FAIL  source: adobe_commerce needs ADOBE_COMMERCE_BASE_URL, the store root (e.g. https://shop.example.com)"
    )
    env["ADOBE_COMMERCE_BASE_URL"] = "http://127.0.0.1:1"
    del env["ADOBE_COMMERCE_TOKEN"]
    assert "set ADOBE_COMMERCE_TOKEN, or the four OAuth 1.0a integration values" in lines(env)[-1]


def test_an_unknown_group_code_lists_the_stores_groups(env, tmp_path):
    env["AOV_MANIFEST"] = str(
        write_manifest(tmp_path / "groups.yaml", source="adobe_commerce", segments="{b2b_customer_groups: [Trade]}")
    )
    failure = next(line for line in lines(env) if line.startswith("FAIL"))
    assert "unknown customer group 'Trade'; the store has: NOT LOGGED IN (0), General (1), Wholesale (2)" in failure
    assert failure.endswith("Fix segments.b2b_customer_groups in the manifest.")


def test_the_sample_and_a_broken_manifest(env, tmp_path):
    env["AOV_MANIFEST"] = str(REPO / "aov.yaml")
    assert all(line.startswith("ok") for line in lines(env))
    env["AOV_SAMPLE_SCALE"] = "2"
    assert "ok    source sample: the embedded merchant x2 (AOV_SAMPLE_SCALE), orders 2024-05-01..2026-05-03" in (
        lines(env)
    )
    env["AOV_SAMPLE_SCALE"] = "lots"
    assert lines(env)[-1] == (
        "FAIL  AOV_SAMPLE_SCALE must be a whole number of 1 or more (the sample's size), not 'lots'"
    )
    del env["AOV_SAMPLE_SCALE"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: magento\nstart_date: '2024-05-01'\n")
    env["AOV_MANIFEST"] = str(bad)
    assert lines(env) == [
        f"FAIL  {bad}: source: 'magento' is not allowed (allowed: sample, adobe_commerce, shopify). "
        "Fix the manifest (see README.md, 'Configuration')."
    ]


def test_every_store_is_checked_with_its_own_variables_and_named_in_each_line(env, store, tmp_path):
    stores = f"""
- {{key: acme, name: Acme, source: adobe_commerce, base_url: "{store.base_url}"}}
- {{key: beta, name: Beta, source: adobe_commerce, base_url: "{store.base_url}"}}
"""
    env["AOV_MANIFEST"] = str(write_manifest(tmp_path / "stores.yaml", stores=stores))
    env |= {"ACME_ADOBE_COMMERCE_TOKEN": TOKEN, "BETA_ADOBE_COMMERCE_TOKEN": "sekrit-beta-777"}
    report = lines(env)  # ADOBE_COMMERCE_TOKEN (the default store's, valid) is never beta's
    acme = [line for line in report if line[6:].startswith("acme: ")]
    beta = [line for line in report if line[6:].startswith("beta: ")]
    assert len(acme) + len(beta) == len(report) and all(line.startswith("ok") for line in acme), report
    assert "acme: raw-order lake " in acme[2] and acme[2].split()[4].endswith("/lake/stores/acme/raw_orders")
    assert (
        beta[-1].startswith("FAIL  beta: ") and "HTTP 401" in beta[-1] and "Check BETA_ADOBE_COMMERCE_TOKEN" in beta[-1]
    )
    assert "sekrit-beta-777" not in "\n".join(report)


def shopify_env(tmp_path, shop, start_date: str) -> dict[str, str]:
    manifest = write_manifest(
        tmp_path / "shopify.yaml", source="shopify", start_date=start_date, segments="{b2b_customer_tags: [wholesale]}"
    )
    return {
        "AOV_MANIFEST": str(manifest),
        "AOV_DATA_DIR": str(tmp_path / "data"),
        "AOV_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}",
        "SHOPIFY_BASE_URL": shop.base_url,
        "SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN,
    }


def test_a_shopify_store_reports_its_shop_scopes_b2b_rule_and_yesterdays_orders(tmp_path):
    orders = [shopify_order(n, f"2026-05-03T0{n}:00:00Z") for n in (1, 2, 3)]
    with FakeShopify(orders) as shop:
        env = shopify_env(tmp_path, shop, "2026-04-01")
        report = [str(finding) for finding in diagnose(env, today=date(2026, 5, 4))]
        assert all(line.startswith("ok") for line in report), report
        text = "\n".join(report)
        assert f"shop {shop.base_url.removeprefix('http://')} (Fake Shop) reachable, token accepted" in text
        assert "base currency USD, shop timezone America/New_York" in text
        assert "B2B: orders placed for a company, and customers tagged wholesale" in text
        assert "3 orders created on 2026-05-03 (UTC)" in text

        shop.scopes = frozenset({"read_orders", "read_products"})  # start_date 2026-04-01 is fine: 33 days back
        assert all(str(f).startswith("ok") for f in diagnose(env, today=date(2026, 5, 4)))
        for start in ("2026-01-01", "2026-03-05"):  # 123 and exactly 60 days back: both need read_all_orders
            old = shopify_env(tmp_path, shop, start)
            failed = [str(f) for f in diagnose(old, today=date(2026, 5, 4)) if not f.ok]
            assert len(failed) == 1 and "lacks the read_all_orders scope" in failed[0]
        shop.scopes = frozenset({"read_all_orders"})  # without read_orders no order is readable at all
        failed = [str(f) for f in diagnose(env, today=date(2026, 5, 4)) if not f.ok]
        assert failed == ["FAIL  the app lacks the read_orders scope (it has: read_all_orders)"]

        env["SHOPIFY_ACCESS_TOKEN"] = "shpat-wrong-4242"
        report = [str(finding) for finding in diagnose(env, today=date(2026, 5, 4))]
    assert report[-1].startswith("FAIL") and "HTTP 401" in report[-1] and "Check SHOPIFY_ACCESS_TOKEN" in report[-1]
    assert "shpat-wrong-4242" not in "\n".join(report)
