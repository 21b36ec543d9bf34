"""The data contract is declared once and consistently."""

from __future__ import annotations

import pytest

from playbook.data import contract as schema
from playbook.errors import DataError


def test_nine_tables_in_dependency_order():
    assert list(schema.TABLES) == ["customers", "products", "orders", "order_items", "events",
                                   "messages", "touches", "spend", "assignments"]
    seen: set[str] = set()
    for t in schema.TABLES.values():
        for fk in t.foreign_keys:
            assert fk.ref_table in seen, f"{t.name}.{fk.column} references a later table"
            assert fk.ref_column in schema.TABLES[fk.ref_table].column_names
        seen.add(t.name)


@pytest.mark.parametrize("table", list(schema.TABLES))
def test_keys_and_fks_are_declared_required_columns(table):
    t = schema.TABLES[table]
    for col in (*t.key, *(fk.column for fk in t.foreign_keys)):
        assert t.column(col).required
    for col in t.key:
        assert not t.column(col).nullable


def test_required_foreign_keys_of_the_issue():
    fks = {(t.name, fk.column, fk.ref_table) for t in schema.TABLES.values() for fk in t.foreign_keys}
    for table in ("orders", "events", "messages", "touches", "assignments"):
        assert (table, "customer_id", "customers") in fks
    assert ("order_items", "order_id", "orders") in fks
    assert ("order_items", "product_id", "products") in fks


def test_pii_columns_and_design_timestamps():
    assert schema.PII_COLUMNS == {"customers": ("email", "phone", "first_name")}
    assert schema.get_table("orders").timestamp_columns == ("order_ts",)
    assert schema.get_table("order_items").column("quantity").min_value == 0


def test_unknown_table_and_column_name_the_alternatives():
    with pytest.raises(DataError, match="Choose from .*customers"):
        schema.get_table("customer")
    with pytest.raises(DataError, match="Columns: .*order_ts"):
        schema.get_table("orders").column("order_date")
