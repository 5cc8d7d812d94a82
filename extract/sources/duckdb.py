"""Embedded demo centers: DuckDB files, opened read-only."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from extract.config import Center
from extract.errors import ConfigError, SourceUnavailableError
from extract.sources.base import CatalogColumn, catalog_filter, require_select

# duckdb_columns() (tables and views) rather than the information_schema view over it: same rows,
# ~2.5x faster, and the loader reads every center's catalog each night
# {databases}: current_database() or ? markers for ATTACHed aliases; {tables}: catalog_filter()
# (the nightly check reads only the mapped tables), or nothing.
T_CATALOG = """
SELECT schema_name, table_name, column_name, data_type, column_index, database_name
FROM duckdb_columns()
WHERE database_name IN ({databases})
  AND schema_name NOT IN ('information_schema', 'pg_catalog'){tables}
ORDER BY database_name, schema_name, table_name, column_index
"""


def catalog_query(tables: Sequence[str] | None = None, databases: Sequence[str] = ()) -> tuple[str, list]:
    """The catalog query of the current database, or of ATTACHed ones by their aliases (bound
    parameters; the rows end with the alias), restricted to `tables` when given."""
    where, params = catalog_filter(tables, "table_name")
    if not databases:
        return T_CATALOG.format(databases="current_database()", tables=where), params
    return T_CATALOG.format(databases=", ".join("?" * len(databases)), tables=where), [*databases, *params]


def catalog_columns(rows: list[tuple]) -> list[CatalogColumn]:
    """catalog_query's rows as CatalogColumns."""
    return [CatalogColumn(s, t, c, d, int(o)) for s, t, c, d, o, _database in rows]


def arrow_reader(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], batch_rows: int
) -> pa.RecordBatchReader:
    """Stream a query as Arrow batches without the extra copy a DB-API result makes.

    DuckDB 2.0: relation.to_arrow_reader(); DuckDB 1.x: execute().fetch_record_batch().
    """
    if hasattr(duckdb.DuckDBPyRelation, "to_arrow_reader"):
        return con.sql(sql, params=list(params)).to_arrow_reader(batch_rows)
    return con.execute(sql, list(params)).fetch_record_batch(batch_rows)


MEMORY_LIMIT_ENV, MEMORY_LIMIT_DEFAULT = "IVORIS_SOURCE_MEMORY_LIMIT", "256MB"

_shared_lock = threading.Lock()
_shared: dict[str, object] = {"pid": None, "instance": None}
_aliases = itertools.count(1)


def _instance() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB instance per process; center files are ATTACHed to it read-only.

    Creating a DuckDB instance costs ~20 ms of CPU (plus ~25 ms for its first catalog query); an
    ATTACH costs ~1.5 ms. With 500 centers that is the difference between ~25 s and ~3 s of
    discovery. Re-created after a fork (an instance must not cross processes).
    """
    with _shared_lock:
        if _shared["pid"] != os.getpid():
            con = duckdb.connect(":memory:")
            # the buffer pool caches the attached files' blocks; DuckDB's default (80 % of RAM) let a
            # backfill grow to gigabytes. Empty env value: DuckDB's default.
            limit = os.environ.get(MEMORY_LIMIT_ENV, MEMORY_LIMIT_DEFAULT).strip().replace("'", "")
            if limit:
                try:
                    con.execute(f"SET memory_limit = '{limit}'")
                except duckdb.Error as exc:
                    con.close()
                    raise ConfigError(
                        f"{MEMORY_LIMIT_ENV}={limit!r} is not a valid DuckDB memory_limit "
                        f"({str(exc).splitlines()[0]}); use a size such as 256MB, or unset it"
                    ) from exc
            _shared["instance"] = con
            _shared["pid"] = os.getpid()
        return _shared["instance"]  # type: ignore[return-value]


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def missing_file_error(path, center_id: str) -> SourceUnavailableError:
    return SourceUnavailableError(
        f"database file {path} does not exist: check source.path in the config "
        "(or run `ivoris demo` for the demo centers)",
        center_id=center_id,
    )


def unreadable_file_error(path, center_id: str, exc: Exception) -> SourceUnavailableError:
    return SourceUnavailableError(
        f"cannot open {path} read-only ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
        "the file may be corrupt or not a DuckDB database",
        center_id=center_id,
    )


def attach_sql(path, alias: str) -> str:
    """ATTACH a center file read-only under a generated alias (ATTACH takes no bound parameter)."""
    return f"ATTACH {sql_string(str(path))} AS {alias} (READ_ONLY)"


class DuckDBSource:
    def __init__(self, center: Center):
        self.center_id = center.id
        path = center.source.path
        if path is None or not path.exists():
            raise missing_file_error(path, center.id)
        # a generated alias (never a name from the center); each source gets its own connection
        self._alias = f"ivoris_src_{next(_aliases)}"
        self._streaming = False  # a fetch_batches stream is open on self._con
        self._con = _instance().cursor()
        try:
            self._con.execute(attach_sql(path, self._alias))
            self._con.execute(f"USE {self._alias}")
        except duckdb.Error as exc:
            self._con.close()
            raise unreadable_file_error(path, center.id, exc) from exc

    def _side_cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self._con.cursor()  # a new connection: select this center's database on it too
        try:
            cur.execute(f"USE {self._alias}")
        except BaseException:
            cur.close()
            raise
        return cur

    def catalog(self, tables: Sequence[str] | None = None) -> list[CatalogColumn]:
        sql, params = catalog_query(tables)
        if self._streaming:  # a query on the main connection would end the open stream
            cur = self._side_cursor()
            try:
                rows = cur.execute(sql, params).fetchall()
            finally:
                cur.close()
        else:
            rows = self._con.execute(sql, params).fetchall()
        return catalog_columns(rows)

    def fetch_batches(self, sql: str, params: Sequence[Any], batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        require_select(sql, self.center_id)
        # the loader reads a center's tables one after the other: they share the main connection
        # (a cursor + USE per query was ~5 % of a nightly load); a second open stream gets its own
        side = self._streaming
        cur = self._side_cursor() if side else self._con
        self._streaming = self._streaming or not side
        try:
            yield from arrow_reader(cur, sql, params, batch_rows)
        finally:
            if side:
                cur.close()
            else:
                self._streaming = False

    def close(self) -> None:
        try:
            self._con.execute("USE memory")
            self._con.execute(f"DETACH {self._alias}")
        except duckdb.Error:  # e.g. a batch cursor still open; the file stays attached read-only
            pass
        finally:
            self._con.close()

    def __enter__(self) -> DuckDBSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(center: Center) -> DuckDBSource:
    return DuckDBSource(center)
