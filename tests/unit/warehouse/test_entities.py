"""The declarations agree with the upsert files and the staging DDL, and reads carry the
parameters the API needs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from lightspeed import entities
from lightspeed.load import copy_value
from lightspeed.migrate import read_sql

TABLES = {t.name: t for e in entities.ALL_ENTITIES for t in e.tables}


def _ddl_columns(table: str) -> list[str]:
    ddl = read_sql("ddl/V001__staging.sql")
    body = re.search(rf"CREATE TABLE lightspeed_staging\.{table} \((.*?)\n\);", ddl, re.S)
    assert body, table
    return [
        line.split()[0]
        for line in body.group(1).strip().splitlines()
        if line.strip() and not line.strip().startswith("PRIMARY KEY")
    ]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_declared_columns_match_the_ddl(name: str) -> None:
    table = TABLES[name]
    ddl = _ddl_columns(name)
    assert set(table.columns) | {"loaded_at", "run_id"} >= set(ddl)
    assert set(table.columns) <= set(ddl)
    assert table.has_run_id == ("run_id" in ddl)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_upsert_file_writes_every_column_and_conflicts_on_the_key(name: str) -> None:
    table = TABLES[name]
    text = read_sql(f"upsert/{name}.sql")
    for column in table.columns:
        assert re.search(rf"\b{column}\b", text), f"{name}.sql does not mention {column}"
    assert f"ON CONFLICT (account_id, {', '.join(table.key)})" in text
    assert "IS DISTINCT FROM" in text
    assert ("%(run_id)s" in text) == table.has_run_id
    code = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    assert code.strip().endswith(";") and code.count(";") == 1  # one statement per file


def test_children_link_to_their_parent_key() -> None:
    for entity in entities.ALL_ENTITIES:
        for child in entity.children:
            assert entity.table.key == (child.parent_key,)
            assert child.parent_key in child.columns


def test_groups_and_names() -> None:
    assert {e.scope for e in entities.SHOP_ENTITIES} == {"shop"}
    assert {e.scope for e in entities.ACCOUNT_ENTITIES} == {"account"}
    assert len(entities.BY_NAME) == len(entities.ALL_ENTITIES) == 8
    assert entities.get_entity("sale") is entities.SALES
    with pytest.raises(KeyError, match="known: "):
        entities.get_entity("sales")


def test_base_params() -> None:
    assert entities.SALES.base_params(3) == {
        "completed": "true",
        "shopID": 3,
        "archived": "true",
        "load_relations": ["SaleLines", "SalePayments"],
        "sort": "saleID",
    }
    assert entities.EMPLOYEE_HOURS.base_params(1) == {"shopID": 1, "sort": "employeeHoursID"}
    assert entities.CATEGORIES.base_params(None) == {"sort": "categoryID"}
    with pytest.raises(ValueError, match="per shop"):
        entities.SALES.base_params(None)


def test_copy_text_format_escapes() -> None:
    assert copy_value(None) == "\\N"
    assert copy_value(True) == "t"
    assert copy_value("a\tb\\c\nd\re") == "a\\tb\\\\c\\nd\\re"
    assert copy_value(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00+00:00"
