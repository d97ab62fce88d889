import os
import subprocess
import sys
import time
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aov_assets import ARROW_POOL_VARIABLE
from aov_assets.ingest.lake import LakeFileError, RawOrderLake, StoreLists

DAY = date(2026, 5, 3)


def test_a_day_round_trips_byte_for_byte(tmp_path):
    lake = RawOrderLake(tmp_path)
    payloads = [b'{"entity_id":1,"base_grand_total":100.10,"created_at":"2026-05-03 01:00:00"}', b"not json at all"]
    assert lake.write_day(DAY, payloads, source="test") == 2
    assert lake.read_day(DAY) == payloads
    assert lake.order_count(DAY) == 2
    assert lake.fetched_at(DAY) is not None


def test_key_columns_come_from_rest_orders_and_from_shopify_nodes_alike(tmp_path):
    lake = RawOrderLake(tmp_path)
    payloads = [
        b'{"entity_id":5,"id":7,"created_at":"2026-05-03 01:00:00","updated_at":"2026-05-03 02:00:00"}',
        b'{"id":"gid://shopify/Order/9","createdAt":"2026-05-03T03:00:00Z","updatedAt":"2026-05-03T04:00:00Z"}',
        b'{"id":"gid://shopify/Order/x","createdAt":7}',
    ]
    lake.write_day(DAY, payloads, source="test")
    assert lake.column(DAY, "entity_id") == [5, 9, None]  # an order's own integer `id` leaves its keys alone
    assert lake.column(DAY, "created_at") == ["2026-05-03 01:00:00", "2026-05-03 03:00:00", None]
    assert lake.column(DAY, "updated_at") == ["2026-05-03 02:00:00", "2026-05-03 04:00:00", None]


def test_rewriting_a_day_replaces_it_and_leaves_no_temporary_files(tmp_path):
    lake = RawOrderLake(tmp_path)
    lake.write_day(DAY, [b'{"entity_id":1}', b'{"entity_id":2}'], source="test")
    lake.write_day(DAY, [b'{"entity_id":3}'], source="test")
    assert lake.read_day(DAY) == [b'{"entity_id":3}']
    assert [p.name for p in tmp_path.iterdir()] == ["2026-05-03.parquet"]


def test_an_empty_day_is_a_real_zero_and_a_missing_day_is_an_error(tmp_path):
    lake = RawOrderLake(tmp_path)
    lake.write_day(DAY, [], source="test")
    assert lake.read_day(DAY) == []
    assert lake.order_count(date(2026, 5, 4)) is None
    with pytest.raises(FileNotFoundError, match="raw_orders has no partition 2026-05-04"):
        lake.read_day(date(2026, 5, 4))


def test_several_days_read_in_one_scan_equal_each_day_read_alone(tmp_path):
    lake = RawOrderLake(tmp_path)
    days = [date(2026, 5, d) for d in (1, 2, 3)]
    lake.write_day(days[0], [b'{"entity_id":1}', b"\xff broken"], source="test")
    lake.write_day(days[1], [], source="test")
    legacy = pa.table({"entity_id": [3], "created_at": [None], "updated_at": [None], "payload": ['{"entity_id":3}']})
    pq.write_table(legacy, lake.path_for(days[2]))  # an older file: the payload as text
    together = lake.payloads_of(days)
    assert {day: array.to_pylist() for day, array in together.items()} == {day: lake.read_day(day) for day in days}
    assert together[days[2]].to_pylist() == [b'{"entity_id":3}']


def test_an_unreadable_file_in_a_scan_is_named(tmp_path):
    lake = RawOrderLake(tmp_path)
    lake.write_day(date(2026, 5, 1), [b"{}"], source="test")
    lake.write_day(DAY, [b"{}"], source="test")
    lake.path_for(DAY).write_bytes(lake.path_for(DAY).read_bytes()[:-20])
    with pytest.raises(LakeFileError, match="raw_orders file .*2026-05-03.parquet cannot be read"):
        lake.payloads_of([date(2026, 5, 1), DAY])
    with pytest.raises(FileNotFoundError, match="raw_orders has no partition 2026-05-04"):
        lake.payloads_of([date(2026, 5, 4)])


class Store:
    def customer_groups(self) -> list[dict]:
        return [{"id": "2", "code": "Wholesale", "tax_class_id": 3}]

    def store_views(self) -> list[dict]:
        return [{"id": 1, "code": "default", "name": "Default Store View"}]


def test_the_store_lists_round_trip_as_id_code_rows_and_a_broken_copy_names_the_fix(tmp_path):
    lists = StoreLists(tmp_path / "lake" / "store_lists.json")
    assert not lists.exists()
    lists.save(Store())
    assert lists.customer_groups() == [{"id": 2, "code": "Wholesale"}]
    assert lists.store_views() == [{"id": 1, "code": "default"}]
    assert [p.name for p in lists.path.parent.iterdir()] == ["store_lists.json"]  # no temporary file left
    lists.path.write_text("{not json")
    with pytest.raises(LakeFileError, match=r"store_lists.json cannot be read \(not valid JSON\); materialize raw_"):
        lists.customer_groups()


def test_a_killed_writes_leftover_goes_but_another_writers_file_in_progress_stays(tmp_path):
    lake = RawOrderLake(tmp_path)
    killed, writing = tmp_path / ".2026-05-03.parquet.dead.tmp", tmp_path / ".2026-05-03.parquet.live.tmp"
    for leftover in (killed, writing):
        leftover.write_bytes(b"half a file")
    os.utime(killed, (time.time() - 2 * 3600,) * 2)  # two hours old: its run is gone
    lake.write_day(DAY, [b'{"entity_id":1}'], source="test")
    assert not killed.exists() and writing.exists()


@pytest.mark.parametrize("chosen, backend", [(None, "jemalloc"), ("system", "system")])
def test_arrow_buffers_come_from_jemalloc_unless_the_environment_chooses_a_pool(chosen, backend):
    environment = {name: value for name, value in os.environ.items() if name != ARROW_POOL_VARIABLE}
    code = "import aov_assets, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env=environment | ({ARROW_POOL_VARIABLE: chosen} if chosen else {}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == backend


def test_footers_hold_no_payloads(tmp_path):
    """order_count reads every day's footer: min/max statistics of the payload column would put two
    whole orders in each, and a dictionary of unique payloads only costs time."""
    lake = RawOrderLake(tmp_path)
    payloads = [b'{"entity_id":1,"note":"' + b"x" * 5000 + b'"}', b'{"entity_id":2}']
    lake.write_day(DAY, payloads, source="test")
    column = pq.ParquetFile(lake.path_for(DAY)).metadata.row_group(0).column(3)
    assert column.path_in_schema == "payload"
    assert not column.is_stats_set and not column.has_dictionary_page
    assert lake.path_for(DAY).stat().st_size < 5000  # the payloads compress; no copy of them in the footer
    assert lake.read_day(DAY) == payloads
