from datetime import date

import pytest

from aov_assets.lake import RawOrderLake

DAY = date(2026, 5, 3)


def test_a_day_round_trips_byte_for_byte(tmp_path):
    lake = RawOrderLake(tmp_path)
    payloads = [b'{"entity_id":1,"base_grand_total":100.10,"created_at":"2026-05-03 01:00:00"}', b"not json at all"]
    assert lake.write_day(DAY, payloads, source="test") == 2
    assert lake.read_day(DAY) == payloads
    assert lake.order_count(DAY) == 2
    assert lake.fetched_at(DAY) is not None


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
