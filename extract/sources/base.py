"""The interface every center reader implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

# One bulk catalog query per center; every backend answers it (SQL Server, DuckDB, PostgreSQL).
CATALOG_COLUMNS = ("TABLE_SCHEMA", "TABLE_NAME", "COLUMN_NAME", "DATA_TYPE", "ORDINAL_POSITION")


@dataclass(frozen=True)
class CatalogColumn:
    schema: str
    table: str
    column: str
    data_type: str
    ordinal: int


class Source(Protocol):
    """A center opened read-only. Only SELECT statements are ever sent to it."""

    center_id: str

    def catalog(self, tables: Sequence[str] | None = None) -> list[CatalogColumn]:
        """Every column of every user table, from INFORMATION_SCHEMA in one query; with `tables`,
        only the columns of tables of those names (case-insensitive, any schema)."""
        ...

    def fetch_batches(self, sql: str, params: Sequence[Any], batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Run one SELECT with bound parameters; stream the result as Arrow record batches."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...


def catalog_filter(tables: Sequence[str] | None, column: str = "TABLE_NAME") -> tuple[str, list[str]]:
    """The catalog query's restriction to some tables: ` AND UPPER(col) IN (?, …)` and its
    parameters (the names upper-cased; names compare case-insensitively), or nothing."""
    if tables is None:
        return "", []
    names = sorted({t.upper() for t in tables}) or [""]  # no table: a filter that matches none
    return f" AND UPPER({column}) IN ({', '.join('?' * len(names))})", names


def require_select(sql: str, center_id: str) -> None:
    """Defence in depth: a center only ever receives SELECTs."""
    from extract.errors import IvorisError

    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    if head not in ("SELECT", "WITH"):
        raise IvorisError(f"refusing to send a non-SELECT statement to a center ({head})", center_id=center_id)
