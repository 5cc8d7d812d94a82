"""Embedded demo centers: DuckDB files, opened read-only."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from extract.config import Center
from extract.errors import SourceUnavailableError
from extract.sources.base import CatalogColumn, require_select

CATALOG_SQL = """
SELECT table_schema, table_name, column_name, data_type, ordinal_position
FROM information_schema.columns
WHERE table_catalog = current_database()
  AND table_schema NOT IN ('information_schema', 'pg_catalog')
ORDER BY table_schema, table_name, ordinal_position
"""


def arrow_reader(con: duckdb.DuckDBPyConnection, batch_rows: int) -> pa.RecordBatchReader:
    """DuckDB 2.0 renamed fetch_record_batch() to to_arrow_reader(); support both."""
    if hasattr(con, "to_arrow_reader"):
        return con.to_arrow_reader(batch_rows)
    return con.fetch_record_batch(batch_rows)


class DuckDBSource:
    def __init__(self, center: Center):
        self.center_id = center.id
        path = center.source.path
        if path is None or not path.exists():
            raise SourceUnavailableError(
                f"database file {path} does not exist: check source.path in the config "
                "(or run `ivoris demo` for the demo centers)",
                center_id=center.id,
            )
        try:
            self._con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise SourceUnavailableError(
                f"cannot open {path} read-only ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "the file may be corrupt or not a DuckDB database",
                center_id=center.id,
            ) from exc

    def catalog(self) -> list[CatalogColumn]:
        rows = self._con.execute(CATALOG_SQL).fetchall()
        return [CatalogColumn(s, t, c, d, int(o)) for s, t, c, d, o in rows]

    def fetch_batches(self, sql: str, params: Sequence[Any], batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        require_select(sql, self.center_id)
        cur = self._con.cursor()
        try:
            cur.execute(sql, list(params))
            yield from arrow_reader(cur, batch_rows)
        finally:
            cur.close()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> DuckDBSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(center: Center) -> DuckDBSource:
    return DuckDBSource(center)
