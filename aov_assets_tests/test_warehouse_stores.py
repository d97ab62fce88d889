"""Many stores in one warehouse (issue 26's tables): each store's rows apart, and a warehouse written
before stores existed opened with nothing lost, on SQLite and on a real PostgreSQL server."""

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from aov_assets.alerts.ledger import Alert, AlertLedger
from aov_assets.core.db import DEFAULT_STORE, metadata
from aov_assets.metrics.queries import classified_elsewhere
from aov_assets.metrics.tables import classified_orders, daily_aov
from aov_assets.warehouse import Warehouse

DAY = date(2026, 5, 3)


def orders(entity_ids: list[int], value: str) -> pd.DataFrame:
    count = len(entity_ids)
    return pd.DataFrame(
        {
            "entity_id": entity_ids,
            "order_date": [DAY] * count,
            "created_at": [datetime(2026, 5, 3, 9)] * count,
            "state": ["complete"] * count,
            "segment": ["b2b"] * count,
            "segment_reason": ["company"] * count,
            **{name: [Decimal(value)] * count for name in ("base_grand_total", "grand_total", "base_subtotal")},
            "base_to_global_rate": [Decimal(1)] * count,
            "order_value": [Decimal(value)] * count,
            "line_items": [1] * count,
            "counted": [True] * count,
        }
    )


def daily(revenue: str) -> pd.DataFrame:
    return pd.DataFrame(
        [{"order_date": DAY, "segment": "b2b", "orders": 2, "revenue": Decimal(revenue), "line_items": 2}]
    )


def test_two_stores_with_the_same_entity_ids_and_days_never_mix(warehouse_url):
    acme, bolt = Warehouse(warehouse_url).for_store("acme"), Warehouse(warehouse_url).for_store("bolt")
    for store, value in ((acme, "100.00"), (bolt, "7.50")):
        with store.replacing([classified_orders, daily_aov], DAY, DAY) as write:
            write(classified_orders, orders([1, 2], value))
            write(daily_aov, daily(str(Decimal(value) * 2)))
    assert acme.daily_sums_from_orders(DAY, DAY)["revenue_cents"].tolist() == [20000]
    assert bolt.daily_sums_from_orders(DAY, DAY)["revenue_cents"].tolist() == [1500]
    assert bolt.read_daily(DAY, DAY)["revenue_cents"].tolist() == [1500]
    assert "store" not in bolt.read_daily(DAY, DAY) and bolt.latest_order_day() == DAY

    with acme.replacing([classified_orders, daily_aov], DAY, DAY) as write:  # re-running acme's day
        assert classified_elsewhere(write, [1, 2]).empty  # bolt's orders 1 and 2 are not acme's duplicates
        write(classified_orders, orders([1], "50.00"))
    assert acme.daily_sums_from_orders(DAY, DAY)["revenue_cents"].tolist() == [5000]
    assert acme.read_daily(DAY, DAY).empty  # acme's daily_aov partition replaced, bolt's kept
    assert bolt.daily_sums_from_orders(DAY, DAY)["revenue_cents"].tolist() == [1500]
    assert bolt.read_daily(DAY, DAY)["revenue_cents"].tolist() == [1500]
    assert Warehouse(warehouse_url).first_order_day() is None  # the default store has no rows at all


def test_a_writer_refuses_another_stores_rows(warehouse_url):
    acme = Warehouse(warehouse_url).for_store("acme")
    with pytest.raises(ValueError, match="rows of another store than 'acme'"):
        with acme.replacing([daily_aov], DAY, DAY) as write:
            write(daily_aov, daily("1.00").assign(store="bolt"))


def test_each_store_delivers_its_own_alert_once(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    alert = Alert("aov_30d:b2b_aov_contraction", DAY, "B2B AOV down 20%", {"text": "..."})
    for store in ("acme", "bolt"):
        ledger = AlertLedger(warehouse.for_store(store))
        assert ledger.record(alert, "pending") and not ledger.record(alert, "pending")
    acme = AlertLedger(warehouse.for_store("acme"))
    assert [claimed.check_key for claimed in acme.claim_pending()] == [alert.check_key]
    acme.finish(alert, "delivered")
    assert [row["status"] for row in acme.rows()] == ["delivered"]
    assert [row["status"] for row in AlertLedger(warehouse.for_store("bolt")).rows()] == ["pending"]


def tables_before_stores() -> sa.MetaData:
    """The schema as the commit before stores wrote it: no `store` column, the same index names."""
    before = sa.MetaData()
    for table in metadata.sorted_tables:
        columns = [column._copy() for column in table.c if column.name != "store"]
        indexes = [
            sa.Index(index.name, *(c.name for c in index.columns if c.name != "store")) for index in table.indexes
        ]
        sa.Table(table.name, before, *columns, *indexes)
    return before


def test_a_warehouse_written_before_stores_opens_with_every_row_as_the_default_stores(warehouse_url):
    engine = sa.create_engine(warehouse_url)
    tables_before_stores().create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO daily_aov (order_date, segment, orders, revenue, line_items) VALUES "
                "(:day, 'b2b', 3, 300.10, 3), (:day, 'b2c', 1, 20.00, 1)"
            ),
            {"day": DAY},
        )
    engine.dispose()

    warehouse = Warehouse(warehouse_url)
    assert warehouse.read_daily(DAY, DAY).sort_values("segment")["revenue_cents"].tolist() == [30010, 2000]
    inspector = sa.inspect(warehouse.engine)
    for table in metadata.sorted_tables:
        assert inspector.get_pk_constraint(table.name)["constrained_columns"][0] == "store", table.name
        for index in inspector.get_indexes(table.name):
            assert index["column_names"][0] == "store", index["name"]
    with warehouse.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).where(daily_aov.c.store == DEFAULT_STORE)) == 2
    assert not [name for name in inspector.get_table_names() if name.endswith("_before_stores")]

    with warehouse.for_store("acme").replacing([daily_aov], DAY, DAY) as write:  # the new key takes a second store
        write(daily_aov, daily("9.99"))
    assert Warehouse(warehouse_url).read_daily(DAY, DAY)["revenue_cents"].sum() == 32010  # opened again: unchanged
