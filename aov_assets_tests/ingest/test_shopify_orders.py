"""Shopify order nodes read as REST orders: the mapping of issue 27, checked through the real parser."""

import json
from datetime import date
from decimal import Decimal

import pandas as pd

from aov_assets.ingest.parse import parse_order
from aov_assets.ingest.shopify_orders import (
    REJECTED,
    TAGGED_GROUP,
    UNTAGGED_GROUP,
    gid_number,
    rest_order,
    rest_payloads,
)
from aov_assets.metrics.segments import SegmentRule, classify

DAY = date(2026, 5, 3)
B2B_TAGS = frozenset({"wholesale"})


def money(shop: str, presentment: str | None = None, shop_currency: str = "USD", shown: str = "USD") -> dict:
    return {
        "shopMoney": {"amount": shop, "currencyCode": shop_currency},
        "presentmentMoney": {"amount": presentment or shop, "currencyCode": shown},
    }


def node(number: int, **changes) -> dict:
    order = {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "createdAt": "2026-05-03T10:15:00Z",
        "updatedAt": "2026-05-03T11:00:00Z",
        "cancelledAt": None,
        "test": False,
        "presentmentCurrencyCode": "USD",
        "paymentGatewayNames": ["shopify_payments"],
        "totalPriceSet": money("118.00"),
        "subtotalPriceSet": money("100.00"),
        "totalTaxSet": money("8.00"),
        "totalDiscountsSet": money("0.00"),
        "totalShippingPriceSet": money("10.00"),
        "totalRefundedSet": money("0.00"),
        "customer": {"id": "gid://shopify/Customer/501", "tags": []},
        "purchasingEntity": {"__typename": "Customer", "id": "gid://shopify/Customer/501"},
        "lineItems": {
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/9001",
                    "sku": "BOLT-10",
                    "name": "Bolts",
                    "quantity": 4,
                    "product": {"id": "gid://shopify/Product/77", "productType": "Fasteners"},
                    "originalTotalSet": {"shopMoney": {"amount": "104.00", "currencyCode": "USD"}},
                    "discountAllocations": [
                        {"allocatedAmountSet": {"shopMoney": {"amount": "2.50", "currencyCode": "USD"}}},
                        {"allocatedAmountSet": {"shopMoney": {"amount": "1.50", "currencyCode": "USD"}}},
                    ],
                }
            ],
        },
    }
    return order | changes


def parsed(order: dict, basis: str = "grand_total") -> dict:
    return parse_order(json.dumps(rest_order(order, B2B_TAGS)), DAY, basis)


def test_a_consumer_order_reads_as_a_b2c_rest_order_to_the_cent():
    row = parsed(node(1001))
    assert (row["entity_id"], row["increment_id"], row["order_date"]) == (1001, "#1001", DAY)
    assert str(row["created_at"]) == "2026-05-03 10:15:00" and row["counted"] is True
    assert row["order_value"] == Decimal("118.00") and row["base_to_global_rate"] == Decimal(1)
    assert (row["customer_id"], row["customer_group_id"], row["company_id"]) == (501, UNTAGGED_GROUP, None)
    assert row["customer_email"] is None and row["line_items"] == 1  # no e-mail is read (protected data)
    (item,) = rest_order(node(1001), B2B_TAGS)["items"]
    assert (item["sku"], item["base_row_total"], item["base_discount_amount"]) == ("BOLT-10", "104.00", "4.00")
    assert (item["product_id"], item["qty_ordered"], item["product_type"]) == (77, 4, "simple")
    assert parsed(node(1001), "pre_tax")["order_value"] == Decimal("110.00")  # 118 - 8 tax, shipping kept
    assert parsed(node(1001), "subtotal")["order_value"] == Decimal("100.00")


def test_a_company_order_is_the_companys_whichever_contact_bought():
    company = {"id": "gid://shopify/Company/42", "name": "Acme Tools"}
    orders = [
        node(2001, purchasingEntity={"__typename": "PurchasingCompany", "company": company}),
        node(
            2002,
            customer={"id": "gid://shopify/Customer/777", "tags": []},
            purchasingEntity={"__typename": "PurchasingCompany", "company": company},
        ),
        node(2003, customer={"id": "gid://shopify/Customer/600", "tags": ["Wholesale "]}),
        node(2004),
    ]
    rows = pd.DataFrame([parsed(order) for order in orders])
    classified = classify(rows, SegmentRule("company_or_group", b2b_group_ids=frozenset({TAGGED_GROUP})))
    assert classified["segment"].tolist() == ["b2b", "b2b", "b2b", "b2c"]
    assert classified["segment_reason"].tolist() == ["company", "company", "customer_group", "default"]
    assert classified["company_id"].tolist()[:2] == [42, 42] and classified["company_name"][0] == "Acme Tools"


def test_cancelled_orders_are_not_counted_and_test_orders_carry_their_reject():
    assert parsed(node(3001, cancelledAt="2026-05-03T12:00:00Z"))["counted"] is False
    assert REJECTED not in rest_order(node(3002), B2B_TAGS)
    assert rest_order(node(3003, test=True), B2B_TAGS)[REJECTED] == "a test order (test: true), not a sale"


def test_the_shops_currency_is_the_base_and_the_presentment_currency_the_orders():
    order = node(
        4001,
        presentmentCurrencyCode="EUR",
        totalPriceSet=money("118.00", "109.50", shown="EUR"),
        subtotalPriceSet=money("100.00", "92.80", shown="EUR"),
    )
    translated = rest_order(order, B2B_TAGS)
    assert (translated["base_currency_code"], translated["global_currency_code"]) == ("USD", "USD")
    assert translated["order_currency_code"] == "EUR"
    row = parsed(order)
    assert row["order_value"] == Decimal("118.00") and row["grand_total"] == Decimal("109.50")


def test_payloads_that_are_not_orders_are_passed_on_for_the_parser_to_reject():
    good = json.dumps(node(5001)).encode()
    out = rest_payloads([good, b"{not json", b"[1, 2]"], ["WHOLESALE"])
    assert json.loads(out[0])["entity_id"] == 5001
    assert out[1:] == [b"{not json", b"[1, 2]"]
    assert gid_number("gid://shopify/Order/12") == 12 and gid_number("12x") is None and gid_number(None) is None


def test_a_line_is_its_original_total_less_its_discounts_and_an_unreadable_discount_refuses_the_lines():
    from aov_assets.actions.lines import line_rows

    broken = node(6001)
    broken["lineItems"]["nodes"][0]["discountAllocations"].append({"allocatedAmountSet": None})
    payloads = rest_payloads([json.dumps(node(6000)).encode(), json.dumps(broken).encode()], ["wholesale"])
    lines, unreadable = line_rows([(DAY, payloads)], {6000, 6001}, set())
    assert lines["entity_id"].tolist() == [6000] and lines["line_cents"].tolist() == [10000]  # 104.00 - 4.00
    assert unreadable == [6001]  # a discount that cannot be read is never silently dropped
