"""Every T-SQL statement the SQL Server warehouse writer sends parses with sqlglot's tsql dialect,
and identifiers in it are the quoted, validated names (no server needed)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from extract.warehouse import sqlserver
from extract.warehouse.base import RawColumn, RawTable


def test_every_statement_parses_as_tsql():
    stmts = sqlserver.statements()
    assert len(stmts) >= 15
    for sql in stmts:
        parsed = sqlglot.parse(sql, read="tsql")
        assert parsed and all(p is not None for p in parsed), sql


def test_insert_and_delete_name_the_raw_partition():
    table = RawTable(
        "center_07",
        "LEISTUNG",
        "leistung_q2",
        "by_date",
        (RawColumn("ID", "integer"), RawColumn("datum_q2", "text"), RawColumn("DELKZ", "boolean")),
    )
    stmts = sqlserver.statements(table)
    insert = next(s for s in stmts if s.startswith('INSERT INTO "raw_center_07"'))
    tree = sqlglot.parse_one(insert, read="tsql")
    assert isinstance(tree, exp.Insert)
    cols = [c.name for c in tree.this.expressions]
    assert cols == ["ID", "datum_q2", "DELKZ", "_business_date", "_loaded_at", "_run_id"]
    assert insert.count("?") == 6
    delete = next(s for s in stmts if s.startswith("DELETE FROM") and "BETWEEN" in s)
    tree = sqlglot.parse_one(delete, read="tsql")
    assert tree.find(exp.Table).name == "leistung_q2" and tree.find(exp.Table).db == "raw_center_07"
    create = next(s for s in stmts if 'CREATE TABLE "raw_center_07"' in s)
    assert "nvarchar(max)" in create and "datetime2(6)" in create and "bit" in create and "bigint" in create


def test_connection_string_comes_from_the_environment_and_is_never_described(monkeypatch):
    monkeypatch.setenv("IVORIS_WAREHOUSE_SERVER", "wh.example.internal")
    monkeypatch.setenv("IVORIS_WAREHOUSE_DATABASE", "Staging")
    monkeypatch.setenv("IVORIS_WAREHOUSE_USER", "loader")
    monkeypatch.setenv("IVORIS_WAREHOUSE_PASSWORD", "s3cr}et")
    cs = sqlserver.connection_string()
    assert "SERVER=wh.example.internal,1433" in cs and "PWD={s3cr}}et}" in cs and "Encrypt=yes" in cs
    assert "s3cr" not in sqlserver.describe()
