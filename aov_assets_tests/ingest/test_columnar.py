"""The columnar parse and the per-order parse agree on every payload, rejects included.

`classify_orders` reads what Arrow's JSON reader can read exactly in one columnar pass and leaves the
rest to `parse_order`; these tests hold its output to `parse_order` applied to each payload alone, on
hand-made tricky orders and on the bad-input fuzz corpus, and check the columnar path really carries
the plain orders (so the comparison is not vacuous).
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aov_assets.ingest.columnar import one_line_and_shallow, parse_orders
from aov_assets.ingest.parse import ORDER_COLUMNS, TYPED_COLUMNS, RejectedOrder, parse_order
from aov_assets.metrics.segments import SegmentRule, classify_orders

from ..ingest.test_bad_input import mutated
from ..metrics.test_rules import DAY, rest_order

RULE = SegmentRule("company_or_group", frozenset({2}))
COMPANY = {"company_order_attributes": {"company_id": 5, "company_name": "Acme"}}
PLAIN = [  # orders the columnar path must read itself
    rest_order(entity_id=1),
    rest_order(entity_id=2, base_grand_total=12.345, base_to_global_rate=0.7350),  # 9.07 after half-up
    rest_order(entity_id=3, base_grand_total=10.1, base_to_global_rate=1.25),  # 12.625 -> 12.63
    rest_order(entity_id=4, extension_attributes=COMPANY, customer_group_id=1),
    rest_order(
        entity_id=5,
        extension_attributes={
            "company_order_attributes": {"company_id": 0},
            **{"company_attributes": {"company_id": 9, "company_name": "Fallback Co"}},
        },
    ),
    rest_order(entity_id=6, customer_id=..., customer_group_id=0, customer_email=" Guest@Example.COM "),
    rest_order(entity_id=7, state="canceled", base_total_refunded=100.1),
    rest_order(entity_id=8, items=[{"sku": "P"}, {"sku": "C", "parent_item_id": 1}, {"sku": "Q"}]),
    rest_order(entity_id=9, updated_at=..., status=..., increment_id=...),
    rest_order(entity_id=10, base_grand_total="55.5", grand_total="55.5"),  # numbers as strings
    rest_order(entity_id=11, base_grand_total=1e3, grand_total=1e3),
    rest_order(entity_id=12, company_name="ignored at the top level", subtotal=90, base_to_global_rate=2),
    rest_order(entity_id=13, base_grand_total=0, grand_total=0, base_subtotal=0),
    rest_order(entity_id=14, customer_email="名前@例え.jp", increment_id="é" * 50),
    rest_order(entity_id=15, state="x" * 32, base_currency_code="EUR"),
    rest_order(entity_id=2**63 - 1, store_id=2**31 - 1),
    rest_order(entity_id=16, base_grand_total=10_000_000, grand_total=10_000_000),  # at the limit: kept
    rest_order(entity_id=20).replace(b"100.1,", b"100.100000,", 1),  # six decimal places, exact in four
    rest_order(entity_id=54, payment={"method": "companycredit", "po_number": "PO-7"}),  # Payment on Account
    rest_order(entity_id=55, payment=[]),  # Magento's empty object
    rest_order(entity_id=56, payment={"method": "m" * 128}),
    rest_order(entity_id=58, payment={"method": "m" * 129}),  # kept, without a payment method it cannot store
    rest_order(entity_id=59, payment={"method": "a\u0000b"}),
]
TRICKY = [  # orders the columnar path leaves to parse_order, which reads or rejects them
    rest_order(entity_id="18"),  # an id as a string
    rest_order(entity_id=19, customer_group_id="2"),
    rest_order(entity_id=21, base_grand_total=12.34567),
    rest_order(entity_id=22, created_at="2026-05-03T23:30:00-05:00"),  # an offset: another UTC day
    rest_order(entity_id=23, created_at="2026-05-03T10:00:00+02:00"),
    rest_order(entity_id=24, created_at="2026-02-30 10:00:00"),
    rest_order(entity_id=25, created_at="2026-05-02 23:59:59"),
    rest_order(entity_id=50, created_at="2026-05-02 23:59:60"),  # strptime would make it 2026-05-03 00:00:00
    rest_order(entity_id=51, updated_at="2026-02-30 10:00:00"),  # ... and this March 2nd
    rest_order(entity_id=52, updated_at="0000-01-01 00:00:00"),
    rest_order(entity_id=53, base_to_global_rate=...),
    rest_order(entity_id=26, updated_at="yesterday"),
    rest_order(entity_id=27, state="a\u0000b"),
    rest_order(entity_id=28, state="x" * 33),
    rest_order(entity_id=29, base_to_global_rate=0),
    rest_order(entity_id=30, base_to_global_rate=-0.0),
    rest_order(entity_id=31, base_grand_total=10_000_000.01, grand_total=10_000_000.01),
    rest_order(entity_id=32, base_grand_total=-1),
    rest_order(entity_id=33, customer_id=-4),
    rest_order(entity_id=34, store_id=2**31),
    rest_order(entity_id=35, extension_attributes={"company_order_attributes": {"company_id": -5}}),
    rest_order(entity_id=36, extension_attributes={"company_order_attributes": {"company_id": "5"}}),
    rest_order(entity_id=37, items=None),
    rest_order(entity_id=38, items=[None]),
    rest_order(entity_id=39, base_grand_total=...),
    rest_order(entity_id=40, base_total_refunded=1e17),
    rest_order(entity_id=41, base_grand_total=9e14, grand_total=9e14, base_to_global_rate=1e-4),
    rest_order(entity_id=42).replace(b'"complete"', b'"compl\xff\xfete"', 1),
    rest_order(entity_id=43).replace(b'"sku": "A"', b'"sku": "\xff"', 1),  # invalid UTF-8 in a field not read
    rest_order(entity_id=44).replace(b"{", b'{"entity_id": 44, ', 1),  # a key twice
    rest_order(entity_id=45, notes=[{"n": i} for i in range(250)]),  # many brackets
    b'{"entity_id": 46, "deep": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    rest_order(entity_id=47)[:-5],
    json.dumps(json.loads(rest_order(entity_id=17)), indent=2).encode(),  # pretty-printed: line breaks
    b"",
    b"[]",
    rest_order(entity_id=48) + b" " + rest_order(entity_id=49),
    rest_order(entity_id=1),  # a duplicate of the first plain order
]


def one_by_one(payloads: list[bytes], day: date) -> list[dict | str]:
    """parse_order on each payload alone: its row, or its reason."""
    results = []
    for payload in payloads:
        try:
            results.append(parse_order(payload, day, "grand_total"))
        except RejectedOrder as reason:
            results.append(str(reason))
    return results


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as the warehouse write sees them: Python objects, None for missing (Arrow-backed columns
    through Arrow's own conversion)."""
    columns = {
        name: pa.array(values).to_pylist() if isinstance(values.dtype, pd.ArrowDtype) else values.tolist()
        for name, values in frame.items()
    }
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def assert_agree(payloads: list[bytes], day: date = DAY) -> tuple[np.ndarray, np.ndarray]:
    """classify_orders equals parse_order payload by payload (duplicates aside); returns the columnar
    path's own reading: which payloads it read and which it left."""
    orders, rejected = classify_orders([(day, payloads)], "grand_total", RULE)
    expected = one_by_one(payloads, day)
    assert len(orders) + len(rejected) == len(payloads)
    got = {row["position"]: {k: row[k] for k in ORDER_COLUMNS if k != "customer_email"} for row in records(orders)}
    reasons = dict(zip(rejected["position"], rejected["reason"], strict=True))
    for position, want in enumerate(expected):
        if isinstance(want, str):
            assert reasons.get(position) == want, (position, payloads[position][:80])
        elif position in got:
            want = {k: v for k, v in want.items() if k != "customer_email"}
            assert got[position] == want, (position, payloads[position][:80])
            assert [type(got[position][k]) for k in want] == [type(v) for v in want.values()], position
        else:
            assert reasons[position].startswith("duplicate entity_id"), position
    fast, left = parse_orders(
        [day], pa.array(payloads, pa.binary()), np.zeros(len(payloads), int), "grand_total", Decimal(10_000_000)
    )
    return fast["row"].to_numpy(dtype=int), left


def test_the_columnar_path_reads_plain_orders_exactly_as_parse_order_does():
    read, left = assert_agree(PLAIN)
    assert sorted(read) == list(range(len(PLAIN))) and len(left) == 0


def test_tricky_orders_are_left_to_parse_order_and_end_the_same():
    read, left = assert_agree(PLAIN + TRICKY)
    assert sorted(read) == [*range(len(PLAIN)), len(PLAIN + TRICKY) - 1]  # the duplicate reads fine
    assert sorted(left) == list(range(len(PLAIN), len(PLAIN + TRICKY) - 1))


def test_the_fuzz_corpus_gets_the_same_rows_and_reasons_both_ways():
    rng = random.Random(20261123)
    payloads = [rest_order(entity_id=i, customer_group_id=2) for i in range(1, 208)]
    payloads += [mutated(rng, 10_000 + i) for i in range(1_200)]
    read, _ = assert_agree(payloads)
    assert set(range(207)) <= set(read)


def test_a_day_of_the_sample_is_read_whole_by_the_columnar_path(sample):
    payloads = [payload for _, payloads in sample.iter_days([DAY]) for payload in payloads]
    read, left = assert_agree(payloads)
    assert len(read) == len(payloads) and len(left) == 0


def test_amounts_and_timestamps_are_exact_arrow_columns_the_rest_python_objects():
    orders, _ = classify_orders([(DAY, PLAIN[:1] + [b"{"])], "grand_total", RULE)
    assert {name for name, dtype in orders.dtypes.items() if isinstance(dtype, pd.ArrowDtype)} == set(TYPED_COLUMNS)
    assert orders["order_value"].dtype.pyarrow_dtype == pa.decimal128(20, 2)
    row = records(orders)[0]
    assert (type(row["created_at"]), type(row["order_date"]), type(row["order_value"])) == (datetime, date, Decimal)
    assert row["order_value"] == Decimal("100.10") and str(row["order_value"]) == "100.10"
    assert row["subtotal"] is None and row["customer_id"] == 7  # missing: None, ids: Python ints


@pytest.mark.parametrize("basis", ["grand_total", "subtotal"])
def test_both_bases_agree(basis):
    orders, _ = classify_orders([(DAY, PLAIN)], basis, RULE)
    for row in records(orders):
        assert row["order_value"] == parse_order(PLAIN[row["position"]], DAY, basis)["order_value"]


def test_no_days_and_empty_days_give_empty_frames_with_their_columns():
    for days in ([], [(DAY, [])]):
        orders, rejected = classify_orders(days, "grand_total", RULE)
        assert orders.empty and rejected.empty
        assert {"entity_id", "segment", "customer_key", "position"} <= set(orders.columns)


def test_the_byte_scan_counts_per_payload_with_empty_payloads_and_slices():
    payloads = pa.array([b"", b"{}", b"", b"{\n}", b"[" * 201, b"", b"{" * 200, b"\r", b""], pa.binary())
    expected = [True, True, True, False, False, True, True, False, True]
    assert one_line_and_shallow(payloads).tolist() == expected
    for start, stop in ((1, 4), (3, 9), (5, 6), (4, 5)):
        assert one_line_and_shallow(payloads[start:stop]).tolist() == expected[start:stop]
