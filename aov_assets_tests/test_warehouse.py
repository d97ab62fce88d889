import sqlite3
import threading
import time
from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from aov_assets.core import db as core_db
from aov_assets.core.db import WarehouseError
from aov_assets.ingest.parse import order_frame
from aov_assets.investigation import tables as investigation_tables
from aov_assets.metrics import tables as metrics_tables
from aov_assets.metrics.tables import daily_aov
from aov_assets.warehouse import Warehouse

from .conftest import classified_orders, raw_orders


@pytest.fixture
def warehouse(warehouse_url) -> Warehouse:
    """SQLite and a real PostgreSQL server (see conftest.warehouse_url)."""
    return Warehouse(warehouse_url)


def test_sqlite_creates_the_folder_of_its_file(tmp_path):
    Warehouse(f"sqlite:///{tmp_path / 'nested' / 'warehouse.db'}")
    assert (tmp_path / "nested" / "warehouse.db").exists()


def day_rows(day: date, revenue: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"order_date": day, "segment": "b2b", "orders": 3, "revenue": Decimal(revenue), "line_items": 9},
            {"order_date": day, "segment": "b2c", "orders": 1, "revenue": Decimal("0.10"), "line_items": 1},
        ]
    )


def test_money_round_trips_exactly_and_sums_in_integer_cents(warehouse):
    days = [date(2026, 5, d) for d in range(1, 11)]
    with warehouse.replacing([daily_aov], days[0], days[-1]) as write:
        for day in days:
            write(daily_aov, day_rows(day, "1234567890.99"))
    with warehouse.connect() as connection:
        stored = connection.execute(sa.select(daily_aov.c.revenue).where(daily_aov.c.segment == "b2b")).scalars().all()
    assert stored == [Decimal("1234567890.99")] * 10
    daily = warehouse.read_daily(days[0], days[-1])
    assert daily.loc[daily.segment == "b2c", "revenue_cents"].sum() == 100  # ten times 0.10, not 0.9999999
    assert daily.loc[daily.segment == "b2b", "revenue_cents"].sum() == 1234567890_99 * 10


def test_replacing_touches_exactly_the_given_partitions(warehouse):
    days = [date(2026, 5, d) for d in range(1, 6)]
    with warehouse.replacing([daily_aov], days[0], days[-1]) as write:
        for day in days:
            write(daily_aov, day_rows(day, "1.00"))
    with warehouse.replacing([daily_aov], days[1], days[2]) as write:
        for day in days[1:3]:
            write(daily_aov, day_rows(day, "2.00"))
    daily = warehouse.read_daily(days[0], days[-1])
    b2b = daily[daily.segment == "b2b"].set_index("order_date")["revenue_cents"].to_dict()
    assert b2b == {days[0]: 100, days[1]: 200, days[2]: 200, days[3]: 100, days[4]: 100}
    assert len(daily) == 10


def test_a_failure_rolls_the_whole_range_back(warehouse):
    day = date(2026, 5, 1)
    with warehouse.replacing([daily_aov], day, day) as write:
        write(daily_aov, day_rows(day, "1.00"))
    with pytest.raises(RuntimeError), warehouse.replacing([daily_aov], day, day) as write:
        write(daily_aov, day_rows(day, "5.00"))
        raise RuntimeError("crash mid-write")
    assert warehouse.read_daily(day, day).set_index("segment").at["b2b", "revenue_cents"] == 100


def test_rows_outside_the_partitions_are_refused(warehouse):
    with pytest.raises(ValueError, match="rows outside partitions"):
        with warehouse.replacing([daily_aov], date(2026, 5, 1), date(2026, 5, 1)) as write:
            write(daily_aov, day_rows(date(2026, 5, 2), "1.00"))
    assert warehouse.read_daily(date(2026, 5, 1), date(2026, 5, 2)).empty


def test_concurrent_writers_of_the_same_partitions_never_leave_duplicates(warehouse):
    """The second writer starts while the first is mid-transaction; both succeed, one after the
    other, and the table holds exactly one writer's rows for every day."""
    days = [date(2026, 5, d) for d in range(1, 11)]
    first_is_writing = threading.Event()
    errors = []

    def writer(revenue: str, signal: threading.Event | None) -> None:
        try:
            with warehouse.replacing([daily_aov], days[0], days[-1]) as write:
                for day in days:
                    write(daily_aov, day_rows(day, revenue))
                    if signal is not None:
                        signal.set()
                    time.sleep(0.02)
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    first = threading.Thread(target=writer, args=("1.00", first_is_writing))
    first.start()
    first_is_writing.wait(timeout=10)
    second = threading.Thread(target=writer, args=("2.00", None))
    second.start()
    first.join()
    second.join()
    assert errors == []
    daily = warehouse.read_daily(days[0], days[-1])
    assert len(daily) == len(days) * 2
    assert set(daily.loc[daily.segment == "b2b", "revenue_cents"]) == {200}  # the later writer, whole


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense", "'nonsense' is not a database URL"),
        ("postgresql+psycopg2://u:secret@localhost/x", "names a dialect or driver that is not installed"),
        ("postgresql+psycopg://u:secret@127.0.0.1:1/x", "cannot be opened (connection failed"),
    ],
)
def test_a_warehouse_that_cannot_be_opened_is_one_line_naming_the_variable_and_the_fix(url, says):
    with pytest.raises(WarehouseError) as error:
        Warehouse(url)
    message = str(error.value)
    assert message.startswith("AOV_WAREHOUSE_URL ") and says in message
    assert "\n" not in message and "secret" not in message


def test_a_run_on_a_warehouse_that_cannot_be_opened_fails_with_that_line(pipeline):
    pipeline.url = "postgresql+psycopg://u:secret@127.0.0.1:1/x"
    result = dg.materialize(
        [raw_orders, classified_orders], resources=pipeline.resources, partition_key="2026-05-03", raise_on_error=False
    )
    failure = next(event for event in result.all_events if event.is_step_failure).step_failure_data
    assert failure.error.cls_name == "Failure"
    assert failure.user_failure_data.description.startswith(
        "AOV_WAREHOUSE_URL postgresql+psycopg://u:***@127.0.0.1:1/x"
    )


def test_a_warehouse_locked_by_another_writer_fails_the_run_in_one_line_after_the_bounded_wait(pipeline):
    assert dg.materialize([raw_orders, classified_orders], resources=pipeline.resources, partition_key="2026-05-03")
    other = sqlite3.connect(pipeline.root / "warehouse.db")
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    pipeline.url = f"{pipeline.warehouse_url}?timeout=0.5"
    started = time.monotonic()
    result = dg.materialize(
        [raw_orders, classified_orders], resources=pipeline.resources, partition_key="2026-05-03", raise_on_error=False
    )
    assert time.monotonic() - started >= 0.5  # it waited for the lock before giving up
    failure = next(event for event in result.all_events if event.is_step_failure).step_failure_data
    assert failure.error.cls_name == "Failure"
    assert failure.user_failure_data.description.startswith(
        f"AOV_WAREHOUSE_URL {pipeline.warehouse_url} stayed locked by another writer for 0.5 s"
    )
    other.rollback()
    rerun = dg.materialize([classified_orders], resources=pipeline.resources, partition_key="2026-05-03")
    assert rerun.success  # the lock gone, the same run goes through


def test_reads_built_in_slices_equal_one_pass(example_pipeline, monkeypatch):
    """Frames are built FRAME_ROWS rows at a time to bound memory; the slices add up to the same frame, dtypes
    included (a slice where a nullable column is all empty must not change its type)."""
    warehouse = example_pipeline.warehouse()
    first, last = date(2026, 3, 5), date(2026, 5, 3)
    whole = warehouse.read_account_daily(first, last), warehouse.daily_sums_from_orders(first, last)
    monkeypatch.setattr(core_db, "FRAME_ROWS", 7)
    sliced = warehouse.read_account_daily(first, last), warehouse.daily_sums_from_orders(first, last)
    assert len(whole[0]) > 1000
    for one_pass, in_slices in zip(whole, sliced, strict=True):
        pd.testing.assert_frame_equal(in_slices, one_pass)


def test_arrow_backed_amounts_and_timestamps_store_exactly_what_python_objects_store(warehouse):
    """The bulk write's Arrow casts (rules.TYPED_COLUMNS) against the column types' own processors."""
    day = date(2026, 5, 3)
    values = {
        "entity_id": [1, 2, 3],
        "order_date": [day] * 3,
        "created_at": [datetime(2026, 5, 3, 0, 0, 0), datetime(2026, 5, 3, 23, 59, 59, 999999), datetime(2026, 5, 3)],
        "updated_at": [None, datetime(1, 1, 1, 0, 0, 0, 5), datetime(9999, 12, 31, 23, 59, 59, 999999)],
        "state": ["complete"] * 3,
        "segment": ["b2b"] * 3,
        "segment_reason": ["company"] * 3,
        **dict.fromkeys(
            ("base_to_global_rate", "base_grand_total", "grand_total", "base_subtotal"),
            [Decimal("0.0001"), Decimal("1E+2"), Decimal("99999999999.9999")],  # SQLite REAL: 15 digits,
        ),
        "subtotal": [None, Decimal("139.07"), Decimal("0")],
        "order_value": [Decimal("0.00"), Decimal("100.00"), Decimal("9999999999999.99")],
        "refunded": [None, Decimal("0.01"), Decimal("12.30")],
        "line_items": [1, 2, 3],
        "counted": [True, False, True],
    }
    stored = []
    for frame in (order_frame(values), pd.DataFrame(values, dtype=object)):
        with warehouse.replacing([metrics_tables.classified_orders], day, day) as write:
            write(metrics_tables.classified_orders, frame)
        with warehouse.connect() as connection:
            raw = connection.exec_driver_sql("SELECT * FROM classified_orders ORDER BY entity_id").fetchall()
            read = connection.execute(sa.select(metrics_tables.classified_orders).order_by("entity_id")).fetchall()
        stored.append((raw, read))
    assert stored[0] == stored[1]
    assert [row.updated_at for row in stored[0][1]] == values["updated_at"]
    assert [row.base_grand_total for row in stored[0][1]] == values["base_grand_total"]
    assert isinstance(order_frame(values)["created_at"].dtype, pd.ArrowDtype)  # the fast path was taken


def test_whole_numbers_beside_a_missing_one_store_as_integers(warehouse):
    """pandas turns [None, 280] into floats; PostgreSQL's COPY refuses "280.0" for an INTEGER column."""
    day = date(2026, 5, 3)
    rows = [
        {"as_of": day, "cohort": cohort, "accounts": 1, "active_accounts": 1, "prior_active_accounts": 1}
        | {"gone_quiet": 0, "typical_windows": 0, "typical_gone_quiet_min": low}
        for cohort, low in (("all", None), ("top 20%", 280))
    ]
    frame = pd.DataFrame(rows)
    for name, column in investigation_tables.b2b_cohorts_30d.columns.items():
        if name not in frame and not column.nullable and name != "store":  # the warehouse fills in the store
            frame[name] = 0  # the window sums
    assert frame["typical_gone_quiet_min"].dtype == "float64"
    with warehouse.replacing([investigation_tables.b2b_cohorts_30d], day, day) as write:
        write(investigation_tables.b2b_cohorts_30d, frame)
    with warehouse.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT cohort, typical_gone_quiet_min FROM b2b_cohorts_30d ORDER BY cohort"
        ).fetchall()
    assert [tuple(row) for row in stored] == [("all", None), ("top 20%", 280)]
    assert isinstance(stored[1][1], int)
    with (
        pytest.raises(TypeError, match="cannot safely cast"),
        warehouse.replacing([investigation_tables.b2b_cohorts_30d], day, day) as write,
    ):
        write(
            investigation_tables.b2b_cohorts_30d, frame.assign(typical_gone_quiet_min=[None, 2.5])
        )  # never truncated to 2


def test_writes_bound_in_slices_store_every_row_once(warehouse, monkeypatch):
    """Bound values are built WRITE_ROWS rows at a time; slices (one of a single row, one all-missing
    in a nullable column) store the same rows as one pass, on SQLite's executemany and PostgreSQL's COPY."""
    day = date(2026, 5, 3)
    count = 9
    values = {
        "entity_id": list(range(1, count + 1)),
        "order_date": [day] * count,
        "created_at": [datetime(2026, 5, 3, n) for n in range(count)],
        "updated_at": [None] * 4 + [datetime(2026, 5, 4)] * (count - 4),  # the first slice all missing
        "state": ["complete"] * count,
        "segment": ["b2b", "b2c"] * 4 + ["b2b"],
        "segment_reason": ["company"] * count,
        **dict.fromkeys(
            ("base_to_global_rate", "base_grand_total", "grand_total", "base_subtotal"), [Decimal(1)] * count
        ),
        "subtotal": [None] * count,
        "order_value": [Decimal(f"{n}.05") for n in range(count)],
        "refunded": [None] * count,
        "line_items": list(range(count)),
        "counted": [True] * count,
    }
    stored = []
    for rows in (core_db.WRITE_ROWS, 4):  # 4: slices of 4, 4 and 1
        monkeypatch.setattr(core_db, "WRITE_ROWS", rows)
        with warehouse.replacing([metrics_tables.classified_orders], day, day) as write:
            write(metrics_tables.classified_orders, order_frame(values))
        with warehouse.connect() as connection:
            stored.append(connection.exec_driver_sql("SELECT * FROM classified_orders ORDER BY entity_id").fetchall())
    assert len(stored[1]) == count and stored[1] == stored[0]
    assert [Decimal(str(row.order_value)) for row in stored[1]] == values["order_value"]  # SQLite: REAL
