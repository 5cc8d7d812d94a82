"""The interface every staging writer (warehouse backend) implements, and what they share.

A backend writes a center's raw tables (schema raw_<center_id>, the center's physical names) and the
load metadata in ivoris_meta. The only write path is `replace_partitions`: one transaction that
deletes a center's (business-date range) partitions and its snapshot tables, inserts the new rows,
checks what landed, writes the audit rows and the catch-up state, and commits - or rolls back.
(The DuckDB warehouse's `replace_many` does the same for several centers in one transaction.)
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from extract import layout
from extract.errors import IvorisError, WarehouseBusyError

# Physical type family (config/canonical.yml type_families) -> Arrow type of the raw column.
# Integers are widened to 64 bits so that INT/SMALLINT/BIGINT centers share one column type.
FAMILY_ARROW: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "text": pa.string(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "boolean": pa.bool_(),
}

METADATA_COLUMNS = (layout.BUSINESS_DATE, layout.LOADED_AT, layout.RUN_ID)

# ivoris_meta.load_audit columns, in order (teammate C's reconciliation test reads them by name).
AUDIT_COLUMNS = (
    "run_id",
    "center_id",
    "business_date",
    "canonical_table",
    "physical_table",
    "rows_read",
    "rows_written",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "message",
)
STATE_COLUMNS = ("center_id", "last_business_date", "updated_at")


class WarehouseError(IvorisError):
    """A warehouse statement failed for a reason retrying will not fix."""


class TransientWarehouseError(IvorisError):
    """A write conflict, deadlock or dropped connection in the warehouse: retried with backoff."""

    transient = True


@dataclass(frozen=True)
class RawColumn:
    name: str  # the center's physical column name
    family: str  # integer | text | date | datetime | boolean
    canonical: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        return FAMILY_ARROW[self.family]


@dataclass(frozen=True)
class RawTable:
    """One raw table of one center, derived from its approved mapping (so it exists before any row)."""

    center_id: str
    canonical: str  # KARTEI
    physical: str  # KARTEI_MN
    load: str  # by_date | snapshot
    columns: tuple[RawColumn, ...]

    @property
    def schema(self) -> str:
        return layout.raw_schema(self.center_id)

    @property
    def by_date(self) -> bool:
        return self.load == "by_date"

    def arrow_schema(self) -> pa.Schema:
        """Data columns, then the load metadata (snapshot tables have no business date)."""
        fields = [pa.field(c.name, c.arrow_type) for c in self.columns]
        if self.by_date:
            fields.append(pa.field(layout.BUSINESS_DATE, pa.date32()))
        fields.append(pa.field(layout.LOADED_AT, pa.timestamp("us")))
        fields.append(pa.field(layout.RUN_ID, pa.string()))
        return pa.schema(fields)


@dataclass(frozen=True)
class DirectCopy:
    """A raw table's rows of one span that the warehouse copies itself from a center it has attached
    (DuckDB file into DuckDB warehouse): INSERT … SELECT, the rows never pass through Python."""

    insert_sql: str  # conforms the rows as conform_batches does; returns the rows inserted
    insert_params: list
    count_sql: str  # rows the source holds for the span: rows_read (the difference was not loaded)
    count_params: list
    # Snapshot tables: the conformed rows' count and hash sum (no parameters). When the raw table
    # holds the same, it is not rewritten (see DuckDBWarehouse._unchanged_snapshots).
    digest_sql: str | None = None


@dataclass
class TableWrite:
    """The new content of one raw table's partitions: a stream of batches in `table.arrow_schema()`.

    `rows_read` is filled by whoever produces the batches (rows the source returned, per business
    date; key None for snapshot tables) while the backend consumes them.
    """

    table: RawTable
    batches: Iterable[pa.RecordBatch]
    rows_read: dict[dt.date | None, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    copy: DirectCopy | None = None  # instead of batches: the warehouse reads the attached source


@dataclass(frozen=True)
class PartitionLoad:
    """What one transaction replaces for one center."""

    run_id: str
    center_id: str
    date_from: dt.date | None  # inclusive; None when only snapshot tables are written
    date_to: dt.date | None
    writes: tuple[TableWrite, ...]
    started_at: dt.datetime  # UTC, naive

    def dates(self) -> list[dt.date]:
        if self.date_from is None or self.date_to is None:
            return []
        n = (self.date_to - self.date_from).days + 1
        return [self.date_from + dt.timedelta(days=i) for i in range(n)]

    def partitions(self, table: RawTable) -> list[dt.date | None]:
        """The partitions this load replaces in `table`: its business dates, or None (snapshot)."""
        return self.dates() if table.by_date else [None]


@dataclass(frozen=True, slots=True)
class AuditRow:
    run_id: str
    center_id: str
    business_date: dt.date | None
    canonical_table: str
    physical_table: str
    rows_read: int
    rows_written: int
    status: str  # ok | failed
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_s: float
    message: str = ""

    def values(self) -> tuple:
        """In AUDIT_COLUMNS order (spelled out: a backfill writes ~700 audit rows per center)."""
        return (
            self.run_id,
            self.center_id,
            self.business_date,
            self.canonical_table,
            self.physical_table,
            self.rows_read,
            self.rows_written,
            self.status,
            self.started_at,
            self.finished_at,
            self.duration_s,
            self.message,
        )


UNCHANGED_NOTE = "unchanged since it was last written: not rewritten"


def skipped_note(n: int) -> str:
    """The audit note of a partition whose source held rows that are not dates in the range."""
    return f"{n} rows with a DATUM that is not a date in the range were not loaded"


def utcnow() -> dt.datetime:
    """UTC wall clock as a naive timestamp (the warehouse columns are TIMESTAMP / datetime2)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def audit_rows(
    load: PartitionLoad,
    written: dict[tuple[str, dt.date | None], int],
    finished_at: dt.datetime,
    status: str = "ok",
    message: str = "",
) -> list[AuditRow]:
    """One row per by_date table and business date, one per snapshot table (business_date NULL)."""
    rows = []
    duration = round((finished_at - load.started_at).total_seconds(), 3)
    for w in load.writes:
        keys = load.partitions(w.table)
        note = "; ".join([message, *w.notes]).strip("; ")
        for d in keys:
            rows.append(
                AuditRow(
                    run_id=load.run_id,
                    center_id=load.center_id,
                    business_date=d,
                    canonical_table=w.table.canonical,
                    physical_table=w.table.physical,
                    rows_read=int(w.rows_read.get(d, 0)),
                    rows_written=int(written.get((w.table.canonical, d), 0)),
                    status=status,
                    started_at=load.started_at,
                    finished_at=finished_at,
                    duration_s=duration,
                    message=note,
                )
            )
    return rows


def check_written(
    load: PartitionLoad,
    written: dict[tuple[str, dt.date | None], int],
    inserted: dict[tuple[str, dt.date | None], int],
) -> None:
    """What the warehouse holds for the partitions must be exactly what this transaction inserted."""
    for key in set(written) | set(inserted):
        if written.get(key, 0) != inserted.get(key, 0):
            table, day = key
            raise WarehouseError(
                f"{table} {day or 'snapshot'}: the warehouse holds {written.get(key, 0)} rows after the "
                f"replace but {inserted.get(key, 0)} were inserted; the transaction was rolled back. "
                "Check for another writer "
                "outside `ivoris` and rerun the date.",
                center_id=load.center_id,
            )


class Warehouse(Protocol):
    """A staging database. Instances are shared by the loader's worker threads."""

    name: str
    # Whether the warehouse reads DuckDB center files itself (DirectCopy writes, `attached`,
    # `attached_catalogs`, `count_source_rows` and `replace_many`, one transaction for several
    # centers): DuckDB only.
    copies_duckdb_files: bool

    def ensure_meta(self) -> None:
        """Create ivoris_meta.load_audit and load_state when missing."""
        ...

    def ensure_tables(self, tables: list[RawTable]) -> None:
        """Create raw tables (and schemas) that are missing; add columns a mapping gained.
        Called before the workers start, so no DDL runs concurrently with the loads."""
        ...

    def replace_partitions(self, load: PartitionLoad) -> list[AuditRow]:
        """One transaction: delete, insert, verify, audit, state; commit. Rollback on any error."""
        ...

    def record_failure(self, rows: list[AuditRow]) -> None:
        """Write audit rows with status 'failed' (after the failed transaction rolled back)."""
        ...

    def last_loaded(self) -> dict[str, dt.date]:
        """center_id -> last business date loaded successfully (for --catch-up)."""
        ...

    def lock(self, timeout_s: float) -> AbstractContextManager[None]:
        """The run lock: held for a whole load; a second run waits up to timeout_s, then stops."""
        ...

    def is_transient(self, exc: BaseException) -> bool: ...

    def close(self) -> None: ...


# --- run locks -----------------------------------------------------------------------------------

_held: dict[str, int] = {}
_held_guard = threading.Lock()


@contextmanager
def reentrant(key: str, acquire) -> Iterator[None]:
    """Hold the lock made by `acquire()` (a context manager) once per process: the pipeline holds
    the run lock around load and dbt build, and load takes it again without waiting for itself."""
    with _held_guard:
        nested = bool(_held.get(key))
        if nested:
            _held[key] += 1
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    with acquire():
        with _held_guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)


def lock_timeout(value: float | None = None) -> float:
    """Seconds a run waits for another run's lock: --lock-timeout, env IVORIS_LOCK_TIMEOUT_S, else 600."""
    if value is not None:
        return float(value)
    return float(os.environ.get("IVORIS_LOCK_TIMEOUT_S", "600"))


def file_lock(path: Path, timeout_s: float, what: str):
    """An exclusive flock on `path`. The kernel drops it when the process dies, so a killed run
    never leaves a stale lock."""
    return reentrant("file:" + str(path.resolve()), lambda: _flock(path, timeout_s, what))


@contextmanager
def _flock(path: Path, timeout_s: float, what: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(0.0, timeout_s)
    waited = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    raise WarehouseBusyError(
                        f"{what} is locked by another run{holder}; waited {timeout_s:.0f}s. "
                        "Wait for it to finish (or raise --lock-timeout) and run again."
                    ) from None
                if not waited:
                    from extract.log import log

                    log.info("another run holds the lock on %s; waiting up to %.0fs", what, timeout_s)
                    waited = True
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {utcnow().isoformat(timespec='seconds')}Z\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""
