"""Every T-SQL statement the SQL Server demo seeder and the SQL Server warehouse writer send parses
with a T-SQL parser (sqlglot, dialect tsql) — the offline part of the SQL Server proof.

A statement sqlglot can only keep as an opaque `Command` counts as not parsed. For the seeder the
parsed names must also be exactly the generated ones: hostile names (quotes, semicolons, `--`)
prove the bracket quoting, not just the syntax.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlglot
from sqlglot import exp

from extract.demo.generator import generate_dataset
from extract.demo.sql_writers import database_name, tsql_statements

# Dynamic SQL inside EXEC(N'...') is parsed too.
_EXEC_STRING = re.compile(r"EXEC\s*\(\s*N?'((?:[^']|'')*)'\s*\)", re.I)


def parse_tsql(sql: str) -> list[exp.Expression]:
    """Parse one statement text with sqlglot's T-SQL dialect; fail on errors or Command fallbacks."""
    trees = sqlglot.parse(sql, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    assert trees and all(t is not None for t in trees), sql
    for tree in trees:
        opaque = [n for n in tree.walk() if isinstance(n, exp.Command)]
        assert not opaque, f"sqlglot could only keep this as an opaque command: {sql[:200]}"
        # what sqlglot generates back must parse again (catches silently mangled trees)
        sqlglot.parse(tree.sql(dialect="tsql"), read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    for inner in _EXEC_STRING.findall(sql):
        parse_tsql(inner.replace("''", "'"))
    return trees


@pytest.fixture(scope="module")
def dataset():
    # Ten healthy centers hold every variation (hostile names, lower/mixed case, every DATUM type);
    # problem centers add the ambiguous/incomplete/drifted layouts.
    return generate_dataset(
        centers=10,
        days=3,
        entries_per_day=3,
        seed=11,
        end_date=dt.date(2024, 5, 31),
        problems=True,
        unrelated_tables=40,
    )


def test_seeder_statements_parse(dataset):
    seen: set[str] = set()
    for center in dataset.centers:
        for st in tsql_statements(center):
            if st.sql in seen:
                continue
            seen.add(st.sql)
            parse_tsql(st.sql)
            if st.rows is not None:  # parameter rows match the markers
                markers = st.sql.count("?")
                assert all(len(r) == markers for r in st.rows), st.sql[:120]
    assert len(seen) > 200  # every table of every center, not a sample


def test_seeder_names_survive_quoting(dataset):
    hostile_seen = 0
    for center in dataset.centers:
        creates = {}
        for st in tsql_statements(center):
            tree = parse_tsql(st.sql)[0]
            if isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE":
                table = tree.this.this
                cols = [c.name for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
                creates[(table.db, table.name)] = cols
            if isinstance(tree, exp.Insert):
                table = tree.this.this
                assert (table.db, table.name) in creates, st.sql[:120]
                assert [c.name for c in tree.this.expressions] == creates[(table.db, table.name)]
        if center.kind in ("unreachable", "corrupt"):
            assert not creates
            continue
        expected = {(t.schema, t.name): [c.name for c in t.columns] for t in center.tables}
        assert creates == expected, center.id
        hostile_seen += sum(1 for (_, name) in expected if any(ch in name for ch in "\";'"))
    assert hostile_seen >= 3, "the demo's hostile table names must be among the parsed statements"


def test_seeder_database_lifecycle(dataset):
    center = dataset.center("center_02")
    sqls = [st.sql for st in tsql_statements(center)]
    db = database_name("center_02")
    assert db == "DentalDB_02"
    assert sqls[:4] == [
        "USE [master]",
        f"DROP DATABASE IF EXISTS [{db}]",
        f"CREATE DATABASE [{db}] COLLATE Latin1_General_100_CI_AS_SC_UTF8",
        f"USE [{db}]",
    ]
    assert sqls[-1] == "USE [master]"
    inserts = [s for s in tsql_statements(center) if s.rows is not None]
    assert inserts and all("?" in s.sql and "VALUES" in s.sql for s in inserts)
    # values are parameters, never literals: no row value appears in any statement text
    kartei = center.canonical_table("KARTEI")
    note_col = kartei.column_index(center.truth["tables"]["KARTEI"]["columns"]["BEMERKUNG"])
    notes = {r[note_col] for r in kartei.rows if r[note_col]}
    assert notes and not any(n in s for s in sqls for n in notes)
    unreachable = dataset.center("problem_unreachable")
    assert [s.sql for s in tsql_statements(unreachable)] == [
        "USE [master]",
        "DROP DATABASE IF EXISTS [DentalDB_problem_unreachable]",
    ]


def _warehouse_module():
    try:
        from extract.warehouse import sqlserver
    except ImportError as exc:  # teammate D's module: its absence is a failure, not a skip
        pytest.fail(f"extract.warehouse.sqlserver is missing: {exc}")
    return sqlserver


def test_sqlserver_warehouse_statements_parse():
    sqlserver = _warehouse_module()
    statements = sqlserver.statements()
    assert len(statements) >= 10
    for sql in statements:
        parse_tsql(sql)


def test_sqlserver_warehouse_staging_types():
    """Staging keeps any Unicode text of any length and dates as DATE (issue 5)."""
    sqlserver = _warehouse_module()
    creates = []
    for sql in sqlserver.statements():
        for tree in parse_tsql(sql):
            creates += [c for c in tree.find_all(exp.Create) if c.args.get("kind") == "TABLE"]
    raw = [c for c in creates if not c.this.this.db.startswith("ivoris_meta")]
    assert raw, "no raw staging CREATE TABLE among the writer's statements"
    for create in raw:
        types = {
            c.name: c.args["kind"].sql(dialect="tsql").upper()
            for c in create.this.expressions
            if isinstance(c, exp.ColumnDef)
        }
        text_cols = [t for t in types.values() if "CHAR" in t]
        assert text_cols and all(t == "NVARCHAR(MAX)" for t in text_cols), types
        assert types.get("_business_date", "DATE") == "DATE", types


def test_source_statements_parse(dataset):
    """What a SQL Server center receives: the catalog query and the loader's SELECTs for every
    demo layout, discovered from the catalog SQL Server would report (DATA_TYPE = base type name)."""
    from extract.canonical import load_canonical
    from extract.discover.matcher import match_center
    from extract.load.queries import plan_tables
    from extract.sources.base import CatalogColumn, catalog_filter
    from extract.sources.mssql import CATALOG_SQL, T_CATALOG, require_read_only

    parse_tsql(CATALOG_SQL)
    # the nightly drift check's catalog query, restricted to the mapped tables (bound parameters)
    where, params = catalog_filter(["KARTEI_MN", "kassen", "LEISTUNG_X7Q"])
    (tree,) = parse_tsql(T_CATALOG.format(tables=where))
    assert isinstance(tree, exp.Select) and tree.sql(dialect="tsql").count("?") == len(params) == 3
    assert params == ["KARTEI_MN", "KASSEN", "LEISTUNG_X7Q"]
    canonical = load_canonical()
    selects = 0
    for center in dataset.centers:
        if center.kind != "ok":
            continue
        catalog = [
            CatalogColumn(t.schema, t.name, c.name, c.sql_type.split("(")[0].lower(), i + 1)
            for t in center.tables
            for i, c in enumerate(t.columns)
        ]
        mapping = match_center(center.id, catalog, canonical, None, discovered_at="-")
        for plan in plan_tables(mapping, canonical):
            sql = plan.select_sql()
            require_read_only(sql, center.id)
            (tree,) = parse_tsql(sql)
            assert isinstance(tree, exp.Select)
            assert tree.find(exp.Table).name == plan.raw.physical
            assert sql.count("?") == len(plan.params(dt.date(2024, 5, 1), dt.date(2024, 5, 2)))
            selects += 1
    assert selects >= 40
