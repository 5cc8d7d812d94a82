"""The production staging database: SQL Server through pyodbc (dbt-sqlserver reads the same tables).

Connection settings come from the environment only (the same variables profiles.yml's `sqlserver`
target reads); the password is never logged. Each worker thread opens its own connection.
Bulk inserts use pyodbc's `fast_executemany` (parameter arrays, not row by row).

Every statement this module sends is a module-level template rendered by `render()`;
`statements()` returns one rendered example of each so tests can parse them with sqlglot (tsql).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from contextlib import contextmanager

import pyarrow as pa

from extract import layout
from extract.errors import ConfigError, WarehouseBusyError
from extract.identifiers import qualified, quote
from extract.log import log
from extract.warehouse.base import (
    AUDIT_COLUMNS,
    AuditRow,
    PartitionLoad,
    RawTable,
    TransientWarehouseError,
    WarehouseError,
    audit_rows,
    check_written,
    reentrant,
    utcnow,
)

ARROW_SQL = {
    pa.int64(): "bigint",
    pa.string(): "nvarchar(max)",
    pa.date32(): "date",
    pa.timestamp("us"): "datetime2(6)",
    pa.bool_(): "bit",
}

ENV = {
    "server": "IVORIS_WAREHOUSE_SERVER",
    "port": "IVORIS_WAREHOUSE_PORT",
    "database": "IVORIS_WAREHOUSE_DATABASE",
    "user": "IVORIS_WAREHOUSE_USER",
    "password": "IVORIS_WAREHOUSE_PASSWORD",
    "driver": "IVORIS_WAREHOUSE_DRIVER",
    "encrypt": "IVORIS_WAREHOUSE_ENCRYPT",
    "trust_cert": "IVORIS_WAREHOUSE_TRUST_CERT",
}

INSERT_ROWS = 10_000  # rows per executemany call: bounded memory for the parameter array

# --- T-SQL templates ({...} are validated, quoted identifiers; values are always `?` parameters) ---
T_ENSURE_SCHEMA = "IF SCHEMA_ID(?) IS NULL EXEC(N'CREATE SCHEMA {schema}')"
T_CREATE_TABLE = "IF OBJECT_ID(?, 'U') IS NULL CREATE TABLE {table} ({columns})"
T_RAW_COLUMNS = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS "
    "WHERE TABLE_SCHEMA LIKE 'raw[_]%'"
)
T_ADD_COLUMN = "ALTER TABLE {table} ADD {column} {type} NULL"
T_DELETE_DATES = "DELETE FROM {table} WHERE {business_date} BETWEEN ? AND ?"
T_DELETE_ALL = "DELETE FROM {table}"
T_INSERT = "INSERT INTO {table} ({columns}) VALUES ({params})"
T_COUNT_DATES = (
    "SELECT {business_date}, COUNT_BIG(*) FROM {table} "
    "WHERE {business_date} BETWEEN ? AND ? GROUP BY {business_date}"
)
T_COUNT_ALL = "SELECT COUNT_BIG(*) FROM {table}"
T_INSERT_AUDIT = "INSERT INTO {audit} ({columns}) VALUES ({params})"
T_UPDATE_STATE = (
    "UPDATE {state} SET last_business_date = ?, updated_at = ? WHERE center_id = ? AND last_business_date < ?"
)
T_INSERT_STATE = (
    "INSERT INTO {state} (center_id, last_business_date, updated_at) "
    "SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM {state} WHERE center_id = ?)"
)
T_SELECT_STATE = "SELECT center_id, last_business_date FROM {state}"
T_GET_APPLOCK = (
    "DECLARE @result int; "
    "EXEC @result = sp_getapplock @Resource = ?, @LockMode = 'Exclusive', @LockOwner = 'Session', "
    "@LockTimeout = ?; SELECT @result"
)
T_RELEASE_APPLOCK = "EXEC sp_releaseapplock @Resource = ?, @LockOwner = 'Session'"
T_CREATE_AUDIT = (
    "IF OBJECT_ID(?, 'U') IS NULL CREATE TABLE {audit} ("
    "run_id nvarchar(64) NOT NULL, center_id nvarchar(64) NOT NULL, business_date date NULL, "
    "canonical_table nvarchar(128) NOT NULL, physical_table nvarchar(128) NOT NULL, "
    "rows_read bigint NOT NULL, rows_written bigint NOT NULL, status nvarchar(16) NOT NULL, "
    "started_at datetime2(6) NOT NULL, finished_at datetime2(6) NOT NULL, duration_s float NOT NULL, "
    "message nvarchar(max) NULL)"
)
T_CREATE_STATE = (
    "IF OBJECT_ID(?, 'U') IS NULL CREATE TABLE {state} ("
    "center_id nvarchar(64) NOT NULL PRIMARY KEY, last_business_date date NOT NULL, "
    "updated_at datetime2(6) NOT NULL)"
)

AUDIT = qualified(layout.META_SCHEMA, layout.AUDIT_TABLE)
STATE = qualified(layout.META_SCHEMA, layout.STATE_TABLE)
LOCK_RESOURCE = "ivoris_load"

# SQLSTATEs worth a retry: deadlock victim / serialization (40001), lock timeout (HYT00, HYT01),
# communication link failure (08S01), connection failure (08001) - plus the deadlock error number.
TRANSIENT_SQLSTATES = {"40001", "HYT00", "HYT01", "08S01", "08001", "08007"}


def render(template: str, **names: str) -> str:
    return template.format(**names)


def sql_type(arrow_type: pa.DataType) -> str:
    return ARROW_SQL[arrow_type]


def _columns_ddl(table: RawTable) -> str:
    return ", ".join(f"{quote(f.name)} {sql_type(f.type)} NULL" for f in table.arrow_schema())


def statements(table: RawTable | None = None) -> list[str]:
    """One rendered example of every statement this module sends (for offline T-SQL parsing)."""
    from extract.warehouse.base import RawColumn

    table = table or RawTable(
        center_id="center_01",
        canonical="KARTEI",
        physical="KARTEI_MN",
        load="by_date",
        columns=(
            RawColumn("ID", "integer"),
            RawColumn("PATNR_NAN6", "integer"),
            RawColumn("DATUM_3A4", "date"),
            RawColumn("BEMERKUNG_X1", "text"),
            RawColumn("DELKZ", "boolean"),
        ),
    )
    target = qualified(table.schema, table.physical)
    names = [f.name for f in table.arrow_schema()]
    bd = quote(layout.BUSINESS_DATE)
    return [
        render(T_ENSURE_SCHEMA, schema=quote(table.schema)),
        render(T_CREATE_TABLE, table=target, columns=_columns_ddl(table)),
        T_RAW_COLUMNS,
        render(T_ADD_COLUMN, table=target, column=quote("NEW_COL"), type="nvarchar(max)"),
        render(T_DELETE_DATES, table=target, business_date=bd),
        render(T_DELETE_ALL, table=target),
        _insert_sql(target, names),
        render(T_COUNT_DATES, table=target, business_date=bd),
        render(T_COUNT_ALL, table=target),
        _audit_sql(),
        render(T_UPDATE_STATE, state=STATE),
        render(T_INSERT_STATE, state=STATE),
        render(T_SELECT_STATE, state=STATE),
        T_GET_APPLOCK,
        T_RELEASE_APPLOCK,
        render(T_ENSURE_SCHEMA, schema=quote(layout.META_SCHEMA)),
        render(T_CREATE_AUDIT, audit=AUDIT),
        render(T_CREATE_STATE, state=STATE),
    ]


def _insert_sql(target: str, names: list[str]) -> str:
    return render(
        T_INSERT,
        table=target,
        columns=", ".join(quote(n) for n in names),
        params=", ".join("?" for _ in names),
    )


def _audit_sql() -> str:
    return render(
        T_INSERT_AUDIT,
        audit=AUDIT,
        columns=", ".join(AUDIT_COLUMNS),
        params=", ".join("?" for _ in AUDIT_COLUMNS),
    )


def connection_string() -> str:
    """ODBC connection string from the environment. Contains the password: never log it."""
    env = {k: os.environ.get(v) for k, v in ENV.items()}
    missing = [ENV[k] for k in ("server", "database") if not env[k]]
    if missing:
        raise ConfigError(
            f"SQL Server warehouse: set {', '.join(missing)} (and IVORIS_WAREHOUSE_USER / _PASSWORD)"
        )
    parts = {
        "DRIVER": "{" + (env["driver"] or "ODBC Driver 18 for SQL Server") + "}",
        "SERVER": f"{env['server']},{env['port'] or 1433}",
        "DATABASE": env["database"],
        "Encrypt": "yes" if (env["encrypt"] or "yes").lower() in ("1", "yes", "true") else "no",
        "TrustServerCertificate": "yes"
        if (env["trust_cert"] or "").lower() in ("1", "yes", "true")
        else "no",
    }
    if env["user"]:
        parts["UID"] = env["user"]
        parts["PWD"] = "{" + (env["password"] or "").replace("}", "}}") + "}"
    else:
        parts["Trusted_Connection"] = "yes"
    return ";".join(f"{k}={v}" for k, v in parts.items())


def describe() -> str:
    return f"sqlserver {os.environ.get(ENV['server'], '?')}/{os.environ.get(ENV['database'], '?')}"


class SQLServerWarehouse:
    name = "sqlserver"
    copies_duckdb_files = False  # every center's rows arrive as Arrow batches

    def __init__(self, connect=None):
        import pyodbc

        self._pyodbc = pyodbc
        self._connect = connect or (lambda: pyodbc.connect(connection_string(), autocommit=False))
        self._local = threading.local()
        self._cons: list = []
        self._guard = threading.Lock()
        self._con()  # fail early, in the calling thread, with a clear message

    def _con(self):
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = self._connect()
            except self._pyodbc.Error as exc:
                raise self._wrap(exc, f"cannot connect to the warehouse {describe()}") from exc
            self._local.con = con
            with self._guard:
                self._cons.append(con)
        return con

    def _wrap(self, exc: BaseException, what: str):
        state = exc.args[0] if getattr(exc, "args", None) else ""
        text = str(exc.args[1] if len(getattr(exc, "args", ())) > 1 else exc).splitlines()[0][:300]
        cls = TransientWarehouseError if self.is_transient(exc) else WarehouseError
        return cls(
            f"{what}: [{state}] {text}; check the server, the credentials in the environment and permissions"
        )

    def is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, TransientWarehouseError):
            return True
        if not isinstance(exc, self._pyodbc.Error):
            return False
        state = str(exc.args[0]) if exc.args else ""
        return state in TRANSIENT_SQLSTATES or "(1205)" in str(exc)

    def lock(self, timeout_s: float):
        return run_lock(timeout_s, self._connect)

    def ensure_meta(self) -> None:
        con = self._con()
        cur = con.cursor()
        cur.execute(render(T_ENSURE_SCHEMA, schema=quote(layout.META_SCHEMA)), [layout.META_SCHEMA])
        cur.execute(render(T_CREATE_AUDIT, audit=AUDIT), [f"{layout.META_SCHEMA}.{layout.AUDIT_TABLE}"])
        cur.execute(render(T_CREATE_STATE, state=STATE), [f"{layout.META_SCHEMA}.{layout.STATE_TABLE}"])
        con.commit()

    def ensure_table(self, table: RawTable) -> None:
        self.ensure_tables([table])

    def ensure_tables(self, tables: list[RawTable]) -> None:
        """Create missing raw tables, add columns a mapping gained; one catalog read for all."""
        con = self._con()
        cur = con.cursor()
        existing: dict[tuple[str, str], dict[str, str]] = {}
        for schema, name, col, dtype in cur.execute(T_RAW_COLUMNS).fetchall():
            existing.setdefault((schema.lower(), name.lower()), {})[col.lower()] = dtype.lower()
        for table in tables:
            target = qualified(table.schema, table.physical)
            have_cols = existing.get((table.schema.lower(), table.physical.lower()))
            if have_cols is None:
                cur.execute(render(T_ENSURE_SCHEMA, schema=quote(table.schema)), [table.schema])
                cur.execute(
                    render(T_CREATE_TABLE, table=target, columns=_columns_ddl(table)),
                    [f"{table.schema}.{table.physical}"],
                )
                continue
            for f in table.arrow_schema():
                want = sql_type(f.type)
                have = have_cols.get(f.name.lower())
                if have is None:
                    log.info("%s: adding column %s %s to %s", table.center_id, f.name, want, target)
                    cur.execute(render(T_ADD_COLUMN, table=target, column=quote(f.name), type=want))
                elif not want.startswith(have):
                    raise WarehouseError(
                        f"raw column {target}.{f.name} is {have} but the approved mapping now makes "
                        f"it {want}; "
                        f"drop {target} and reload its dates",
                        center_id=table.center_id,
                    )
        con.commit()

    def replace_partitions(self, load: PartitionLoad) -> list[AuditRow]:
        con = self._con()
        cur = con.cursor()
        cur.fast_executemany = True
        bd = quote(layout.BUSINESS_DATE)
        inserted: dict[tuple[str, dt.date | None], int] = {}
        try:
            for w in load.writes:
                target = qualified(w.table.schema, w.table.physical)
                if w.table.by_date:
                    cur.execute(
                        render(T_DELETE_DATES, table=target, business_date=bd), [load.date_from, load.date_to]
                    )
                else:
                    cur.execute(render(T_DELETE_ALL, table=target))
                schema = w.table.arrow_schema()
                sql = _insert_sql(target, schema.names)
                sizes = [(self._pyodbc.SQL_WVARCHAR, 0, 0) if f.type == pa.string() else None for f in schema]
                for batch in w.batches:
                    for start in range(0, batch.num_rows, INSERT_ROWS):
                        part = batch.slice(start, INSERT_ROWS)
                        if part.num_rows == 0:
                            continue
                        rows = list(zip(*(col.to_pylist() for col in part.columns), strict=True))
                        cur.setinputsizes(sizes)
                        cur.executemany(sql, rows)
                        key_col = part.column(layout.BUSINESS_DATE).to_pylist() if w.table.by_date else None
                        if key_col is None:
                            inserted[(w.table.canonical, None)] = inserted.get(
                                (w.table.canonical, None), 0
                            ) + len(rows)
                        else:
                            for day in key_col:
                                inserted[(w.table.canonical, day)] = (
                                    inserted.get((w.table.canonical, day), 0) + 1
                                )
            written: dict[tuple[str, dt.date | None], int] = {}
            for w in load.writes:
                target = qualified(w.table.schema, w.table.physical)
                if w.table.by_date:
                    for day, n in cur.execute(
                        render(T_COUNT_DATES, table=target, business_date=bd), [load.date_from, load.date_to]
                    ).fetchall():
                        written[(w.table.canonical, _as_date(day))] = int(n)
                else:
                    written[(w.table.canonical, None)] = int(
                        cur.execute(render(T_COUNT_ALL, table=target)).fetchone()[0]
                    )
            check_written(load, written, inserted)
            finished = utcnow()
            rows_audit = audit_rows(load, written, finished)
            if rows_audit:
                cur.fast_executemany = False  # small; nvarchar(max) message
                cur.executemany(_audit_sql(), [r.values() for r in rows_audit])
            if load.date_to is not None:
                cur.execute(
                    render(T_UPDATE_STATE, state=STATE),
                    [load.date_to, finished, load.center_id, load.date_to],
                )
                cur.execute(
                    render(T_INSERT_STATE, state=STATE),
                    [load.center_id, load.date_to, finished, load.center_id],
                )
            con.commit()
            return rows_audit
        except self._pyodbc.Error as exc:
            _rollback(con)
            raise self._wrap(exc, f"{load.center_id}: replacing partitions failed") from exc
        except BaseException:
            _rollback(con)
            raise

    def record_failure(self, rows: list[AuditRow]) -> None:
        if not rows:
            return
        con = self._con()
        try:
            con.cursor().executemany(_audit_sql(), [r.values() for r in rows])
            con.commit()
        except self._pyodbc.Error:
            _rollback(con)
            raise

    def last_loaded(self) -> dict[str, dt.date]:
        cur = self._con().cursor()
        return {c: _as_date(d) for c, d in cur.execute(render(T_SELECT_STATE, state=STATE)).fetchall()}

    def close(self) -> None:
        with self._guard:
            for con in self._cons:
                try:
                    con.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
            self._cons.clear()


def _rollback(con) -> None:
    try:
        con.rollback()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        pass


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


def run_lock(timeout_s: float, connect=None):
    """sp_getapplock on a session of its own, held for the whole run (re-entrant in this process)."""
    return reentrant("sqlserver:" + describe(), lambda: _applock(timeout_s, connect))


@contextmanager
def _applock(timeout_s: float, connect=None):
    import pyodbc

    con = (connect or (lambda: pyodbc.connect(connection_string(), autocommit=False)))()
    try:
        cur = con.cursor()
        (result,) = cur.execute(T_GET_APPLOCK, [LOCK_RESOURCE, int(timeout_s * 1000)]).fetchone()
        con.commit()
        if result is None or result < 0:
            raise WarehouseBusyError(
                f"the warehouse {describe()} is locked by another run (sp_getapplock returned {result}); "
                f"waited {timeout_s:.0f}s. Wait for it to finish (or raise --lock-timeout) and run again."
            )
        try:
            yield
        finally:
            try:
                cur.execute(T_RELEASE_APPLOCK, [LOCK_RESOURCE])
                con.commit()
            except pyodbc.Error:
                pass  # closing the session releases it too
    finally:
        con.close()


def open_warehouse(**_: object) -> SQLServerWarehouse:
    return SQLServerWarehouse()
