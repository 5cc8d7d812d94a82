"""Write demo centers to SQL Server (T-SQL) or to PostgreSQL over ODBC: one database per center.

The generator's dataset is backend-neutral (declared T-SQL types, rows as tuples); these writers
create the same schemas, tables (names exactly as generated, some deliberately hostile: they are
quoted by doubling the closing quote, never validated away) and rows as duckdb_writer.py does,
so discovery and extraction must give the same results on every backend.

- SQL Server (`ivoris demo --target mssql`, docker-compose.yml): `tsql_statements()` lists every
  statement; `write_center_mssql()` runs them on a connection to `master` (fast_executemany
  inserts). Databases use a UTF-8 case-insensitive collation so VARCHAR keeps any Unicode text,
  like the DuckDB centers, and names compare case-insensitively like Ivoris' databases.
- PostgreSQL (`--target postgres`, the CI proof via scripts/odbc-postgres.sh): the same layout with
  types mapped (DATETIME -> timestamp, BIT -> boolean, NVARCHAR(MAX) -> text, CHAR(8) -> char(8)).

Database names: center_01 -> DentalDB_01; other ids -> DentalDB_<id>. Centers of kind
`unreachable` or `corrupt` get no database, so connecting to them fails like an unreachable server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extract.config import SourceConfig
from extract.demo.generator import DemoCenter, DemoDataset, PhysicalTable
from extract.errors import ConfigError
from extract.log import log

TARGETS = ("mssql", "postgres")

# Where `ivoris demo --target ...` writes and what the generated config points at.
MSSQL_DEFAULTS = {
    "server": "localhost",
    "port": 14333,
    "driver": "ODBC Driver 18 for SQL Server",
    "user_env": "IVORIS_MSSQL_USER",
    "password_env": "IVORIS_MSSQL_PASSWORD",
}
POSTGRES_DEFAULTS = {
    "server": "127.0.0.1",
    "port": 54329,
    "driver": "PostgreSQL Unicode",
    "user_env": "IVORIS_PG_USER",
    "password_env": "IVORIS_PG_PASSWORD",
}
# A UTF-8 collation (SQL Server 2019+): VARCHAR columns keep any Unicode; CI = case-insensitive names.
MSSQL_COLLATION = "Latin1_General_100_CI_AS_SC_UTF8"
PG_MAX_IDENTIFIER_BYTES = 63
NO_DATABASE_KINDS = ("unreachable", "corrupt")

_DECLARED = re.compile(
    r"^(INT|BIGINT|SMALLINT|TINYINT|BIT|DATE|DATETIME|DATETIME2|(?:N?VAR)?CHAR\((?:\d{1,4}|MAX)\)|NCHAR\(\d{1,4}\))$"
)


@dataclass(frozen=True)
class Statement:
    """One statement; `rows` are its parameter rows (executemany) for an INSERT, else None."""

    sql: str
    rows: list[tuple] | None = None


def database_name(center_id: str) -> str:
    m = re.fullmatch(r"center_(\d+)", center_id)
    return f"DentalDB_{m.group(1)}" if m else f"DentalDB_{center_id}"


def declared_type(sql_type: str) -> str:
    """The generator's declared type, checked against the types it may use (it reaches DDL)."""
    text = re.sub(r"\s+", "", sql_type.upper())
    if not _DECLARED.match(text):
        raise ConfigError(f"demo writer: unsupported declared type {sql_type!r}")
    return text


def tsql_ident(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def pg_ident(name: str) -> str:
    if len(name.encode("utf-8")) > PG_MAX_IDENTIFIER_BYTES:
        raise ConfigError(
            f"demo writer: {name!r} is longer than PostgreSQL's {PG_MAX_IDENTIFIER_BYTES}-byte names"
        )
    return '"' + name.replace('"', '""') + '"'


def pg_type(sql_type: str) -> str:
    t = declared_type(sql_type)
    base, _, arg = t.partition("(")
    arg = arg.rstrip(")")
    simple = {
        "INT": "integer",
        "BIGINT": "bigint",
        "SMALLINT": "smallint",
        "TINYINT": "smallint",
        "BIT": "boolean",
        "DATE": "date",
        "DATETIME": "timestamp",
        "DATETIME2": "timestamp",
    }
    if base in simple:
        return simple[base]
    if arg == "MAX":
        return "text"
    if base in ("CHAR", "NCHAR"):
        return f"char({arg})"
    return f"varchar({arg})"


def _writable(center: DemoCenter) -> bool:
    return center.kind not in NO_DATABASE_KINDS


def _schemas(center: DemoCenter) -> list[str]:
    return sorted({t.schema for t in center.tables})


# ---- SQL Server -----------------------------------------------------------------------------


def tsql_create_table(table: PhysicalTable) -> str:
    cols = ", ".join(f"{tsql_ident(c.name)} {declared_type(c.sql_type)} NULL" for c in table.columns)
    return f"CREATE TABLE {tsql_ident(table.schema)}.{tsql_ident(table.name)} ({cols})"


def tsql_insert(table: PhysicalTable) -> str:
    cols = ", ".join(tsql_ident(c.name) for c in table.columns)
    marks = ", ".join("?" for _ in table.columns)
    return f"INSERT INTO {tsql_ident(table.schema)}.{tsql_ident(table.name)} ({cols}) VALUES ({marks})"  # noqa: S608


def tsql_statements(center: DemoCenter, database: str | None = None) -> list[Statement]:
    """Every statement that (re)creates a center's database on SQL Server, in order.

    Run them on one autocommit connection to `master`: the first ones drop and create the
    database, `USE` switches to it. Empty for centers that get no database.
    """
    db = tsql_ident(database or database_name(center.id))
    out = [Statement("USE [master]"), Statement(f"DROP DATABASE IF EXISTS {db}")]
    if not _writable(center):
        return out
    out += [Statement(f"CREATE DATABASE {db} COLLATE {MSSQL_COLLATION}"), Statement(f"USE {db}")]
    # `dbo` exists in every SQL Server database; CREATE SCHEMA must be alone in its batch.
    out += [Statement(f"CREATE SCHEMA {tsql_ident(s)}") for s in _schemas(center) if s.lower() != "dbo"]
    out += [Statement(tsql_create_table(t)) for t in center.tables]
    out += [Statement(tsql_insert(t), list(t.rows)) for t in center.tables if t.rows]
    out.append(Statement("USE [master]"))
    return out


def write_center_mssql(center: DemoCenter, connection: Any, database: str | None = None) -> str | None:
    """Create the center's database on SQL Server through `connection` (pyodbc, autocommit, on master).

    Returns the database name (None for centers that get no database).
    """
    cur = connection.cursor()
    cur.fast_executemany = True  # parameter arrays: one round trip per batch, not per row
    try:
        for st in tsql_statements(center, database):
            if st.rows is None:
                cur.execute(st.sql)
            else:
                for i in range(0, len(st.rows), 5000):
                    cur.executemany(st.sql, st.rows[i : i + 5000])
    finally:
        cur.close()
    return (database or database_name(center.id)) if _writable(center) else None


# ---- PostgreSQL (over ODBC) -----------------------------------------------------------------


def postgres_server_statements(center: DemoCenter, database: str | None = None) -> list[str]:
    """Statements on the `postgres` database (autocommit): drop and create the center's database."""
    db = pg_ident(database or database_name(center.id))
    out = [f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"]
    if _writable(center):
        out.append(f"CREATE DATABASE {db} ENCODING 'UTF8' TEMPLATE template0")
    return out


def _pg_insert(table: PhysicalTable, nrows: int) -> str:
    # Explicit casts: NULLs and Python bools bind as untyped text through psqlODBC.
    casts = ", ".join(f"CAST(? AS {pg_type(c.sql_type)})" for c in table.columns)
    values = ", ".join(f"({casts})" for _ in range(nrows))
    cols = ", ".join(pg_ident(c.name) for c in table.columns)
    return f"INSERT INTO {pg_ident(table.schema)}.{pg_ident(table.name)} ({cols}) VALUES {values}"  # noqa: S608


def postgres_database_statements(center: DemoCenter, max_params: int = 20_000) -> list[Statement]:
    """Statements inside the center's database (one transaction): schemas, tables, multi-row inserts."""
    out = [Statement(f"CREATE SCHEMA IF NOT EXISTS {pg_ident(s)}") for s in _schemas(center)]
    for t in center.tables:
        cols = ", ".join(f"{pg_ident(c.name)} {pg_type(c.sql_type)} NULL" for c in t.columns)
        out.append(Statement(f"CREATE TABLE {pg_ident(t.schema)}.{pg_ident(t.name)} ({cols})"))
    for t in center.tables:
        per = max(1, min(1000, max_params // max(1, len(t.columns))))
        for i in range(0, len(t.rows), per):
            chunk = t.rows[i : i + per]
            params = [v for row in chunk for v in row]
            out.append(Statement(_pg_insert(t, len(chunk)), [tuple(params)]))
    return out


def _pg_source(server: str, port: int, user_env: str, password_env: str, database: str) -> SourceConfig:
    return SourceConfig(
        type="mssql",
        server=server,
        port=port,
        database=database,
        driver="PostgreSQL Unicode",
        encrypt=False,
        user_env=user_env,
        password_env=password_env,
    )


def write_center_postgres(
    center: DemoCenter,
    *,
    server: str = POSTGRES_DEFAULTS["server"],
    port: int = POSTGRES_DEFAULTS["port"],
    user_env: str = POSTGRES_DEFAULTS["user_env"],
    password_env: str = POSTGRES_DEFAULTS["password_env"],
    database: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """(Re)create the center's database on PostgreSQL through psqlODBC. Returns its name (or None)."""
    from extract.sources.mssql import build_connection, connect

    db = database or database_name(center.id)
    admin = build_connection(
        _pg_source(server, port, user_env, password_env, "postgres"), center.id, environ, read_only=False
    )
    con = connect(admin, center_id=center.id, autocommit=True)
    try:
        for sql in postgres_server_statements(center, db):
            con.execute(sql)
    finally:
        con.close()
    if not _writable(center):
        return None
    spec = build_connection(
        _pg_source(server, port, user_env, password_env, db), center.id, environ, read_only=False
    )
    con = connect(spec, center_id=center.id, autocommit=False)
    try:
        cur = con.cursor()
        for st in postgres_database_statements(center):
            if st.rows is None:
                cur.execute(st.sql)
            else:
                for params in st.rows:
                    cur.execute(st.sql, params)
        con.commit()
    finally:
        con.close()
    return db


# ---- config and dispatch ----------------------------------------------------------------------


def source_doc(
    center: DemoCenter, target: str, *, server: str | None = None, port: int | None = None
) -> dict:
    """The `source:` section of config/centers.yml for a demo center on `target` (no secrets)."""
    if target not in TARGETS:
        raise ConfigError(f"demo target must be one of {TARGETS}, not {target!r}")
    d = MSSQL_DEFAULTS if target == "mssql" else POSTGRES_DEFAULTS
    doc: dict[str, Any] = {
        "type": "mssql",
        "server": server or d["server"],
        "port": int(port or d["port"]),
        "database": database_name(center.id),
        "driver": d["driver"],
        "user_env": d["user_env"],
        "password_env": d["password_env"],
    }
    if target == "mssql":
        # docker-compose's SQL Server has a self-signed certificate: trusted for the local demo only.
        doc["trust_server_certificate"] = True
    else:
        doc["encrypt"] = False  # the local test server (scripts/odbc-postgres.sh) has no TLS
    return doc


def _mssql_admin_connection(server: str, port: int, environ: Mapping[str, str] | None):
    from extract.sources.mssql import build_connection, connect

    src = SourceConfig(
        type="mssql",
        server=server,
        port=port,
        database="master",
        driver=MSSQL_DEFAULTS["driver"],
        trust_server_certificate=True,
        user_env=MSSQL_DEFAULTS["user_env"],
        password_env=MSSQL_DEFAULTS["password_env"],
        query_timeout_s=0,
    )
    spec = build_connection(src, "demo", environ, read_only=False)
    return connect(spec, center_id="demo", autocommit=True)


def write_centers_sql(
    centers: Iterable[DemoCenter],
    target: str,
    *,
    server: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> dict[str, dict]:
    """Write every center to `target` ('mssql' or 'postgres'); returns {center_id: source doc}.

    Credentials: IVORIS_MSSQL_USER / IVORIS_MSSQL_PASSWORD (a login allowed to create databases,
    e.g. `sa` of docker-compose's server) or IVORIS_PG_USER / IVORIS_PG_PASSWORD
    (scripts/odbc-postgres.sh writes them to .odbc/pg.env).
    """
    env = os.environ if environ is None else environ
    docs: dict[str, dict] = {}
    centers = list(centers)
    if target == "mssql":
        d = MSSQL_DEFAULTS
        con = _mssql_admin_connection(server or d["server"], int(port or d["port"]), env)
        try:
            for c in centers:
                write_center_mssql(c, con)
                docs[c.id] = source_doc(c, target, server=server, port=port)
                if on_done:
                    on_done(1)
        finally:
            con.close()
    elif target == "postgres":
        d = POSTGRES_DEFAULTS
        for c in centers:
            write_center_postgres(c, server=server or d["server"], port=int(port or d["port"]), environ=env)
            docs[c.id] = source_doc(c, target, server=server, port=port)
            if on_done:
                on_done(1)
    else:
        raise ConfigError(f"demo target must be one of {TARGETS}, not {target!r}")
    log.info("wrote %d demo centers to %s", len(docs), target)
    return docs


def all_statements(centers: Sequence[DemoCenter]) -> list[str]:
    """Every distinct T-SQL statement text the SQL Server seeder sends for these centers (for linting)."""
    seen: dict[str, None] = {}
    for c in centers:
        for st in tsql_statements(c):
            seen.setdefault(st.sql, None)
    return list(seen)


def write_dataset(
    dataset: DemoDataset,
    *,
    target: str,
    out_dir: Path | str | None = None,
    server: str | None = None,
    port: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> dict[str, dict]:
    """`create_demo(..., target='mssql'|'postgres')`: write the dataset's centers; {center_id: source doc}.

    `out_dir` is unused (the centers live in the server; the ground truth still goes there).
    """
    return write_centers_sql(dataset.centers, target, server=server, port=port, on_done=on_done)
