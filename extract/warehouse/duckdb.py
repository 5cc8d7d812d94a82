"""The embedded staging database: one DuckDB file (dbt-duckdb reads the same file).

Worker threads share one DuckDB database instance and each writes through its own cursor
(a DuckDB cursor is a separate connection to the same database, with its own transaction), so
centers insert concurrently; DuckDB's optimistic concurrency control reports a conflict as a
TransactionException, which is retried. Schema changes (create/alter) happen before the workers
start. A crash loses at most the open transactions: DuckDB writes a transaction to its WAL only
at commit, and replays the WAL when the file is opened next.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from extract import layout
from extract.errors import WarehouseBusyError
from extract.identifiers import qualified, quote
from extract.log import log
from extract.paths import duckdb_warehouse_path
from extract.sources.base import CatalogColumn
from extract.warehouse.base import (
    AUDIT_COLUMNS,
    UNCHANGED_NOTE,
    AuditRow,
    DirectCopy,
    PartitionLoad,
    RawTable,
    WarehouseError,
    audit_rows,
    check_written,
    file_lock,
    skipped_note,
    utcnow,
)

ARROW_SQL = {
    pa.int64(): "BIGINT",
    pa.string(): "VARCHAR",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
    pa.bool_(): "BOOLEAN",
}

AUDIT = qualified(layout.META_SCHEMA, layout.AUDIT_TABLE)
STATE = qualified(layout.META_SCHEMA, layout.STATE_TABLE)
BD = quote(layout.BUSINESS_DATE)

# Statement templates: {...} are validated, quoted identifiers; values are always `?` parameters.
T_CREATE_SCHEMA = "CREATE SCHEMA IF NOT EXISTS {schema}"
T_CREATE_TABLE = "CREATE TABLE IF NOT EXISTS {table} ({columns})"
T_ADD_COLUMN = "ALTER TABLE {table} ADD COLUMN {column} {type}"
T_DELETE_DATES = "DELETE FROM {table} WHERE {business_date} BETWEEN ? AND ?"
T_DELETE_ALL = "DELETE FROM {table}"
T_INSERT_BATCH = "INSERT INTO {table} ({columns}) SELECT {columns} FROM __ivoris_batch"
# all tables' counts of one transaction in one query: {i} is the table's position in the load
T_COUNT_PART_DATES = (
    "SELECT {i} AS t, {business_date} AS d, count(*) AS n FROM {table} "
    "WHERE {business_date} BETWEEN ? AND ? GROUP BY {business_date}"
)
T_COUNT_PART_ALL = "SELECT {i} AS t, NULL::DATE AS d, count(*) AS n FROM {table}"
# a raw snapshot table's data columns as a multiset (DirectCopy.digest_sql is the source side)
T_TARGET_DIGEST = "SELECT {i} AS w, 1 AS side, count(*) AS n, sum(hash({names})) AS h FROM {table}"
# audit rows as one Arrow table: executemany runs one statement per row (was 40 % of a backfill)
T_AUDIT_INSERT_ARROW = "INSERT INTO {audit} ({columns}) SELECT {columns} FROM __ivoris_audit"
T_STATE_SELECT_ALL = "SELECT center_id, last_business_date FROM {state}"
# every center of a transaction at once: ? = center ids, their last dates, now, now
T_STATE_MERGE = (
    "MERGE INTO {state} AS old USING (SELECT unnest(?::VARCHAR[]) AS center_id, "
    "unnest(?::DATE[]) AS last_business_date) AS new ON old.center_id = new.center_id "
    "WHEN MATCHED AND old.last_business_date < new.last_business_date THEN "
    "UPDATE SET last_business_date = new.last_business_date, updated_at = ? "
    "WHEN NOT MATCHED THEN INSERT VALUES (new.center_id, new.last_business_date, ?)"
)


def render(template: str, **names: str) -> str:
    return template.format(**names)


AUDIT_INSERT_ARROW = render(T_AUDIT_INSERT_ARROW, audit=AUDIT, columns=", ".join(AUDIT_COLUMNS))
AUDIT_ARROW_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("center_id", pa.string()),
        ("business_date", pa.date32()),
        ("canonical_table", pa.string()),
        ("physical_table", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_written", pa.int64()),
        ("status", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        ("duration_s", pa.float64()),
        ("message", pa.string()),
    ]
)

# DuckDB's buffer pool defaults to 80 % of RAM: a backfill grew to 3 GiB. Bounded, it spills to
# <warehouse>.tmp instead. Auto-checkpoints every 16 MB of WAL cost a backfill ~half its time; with a
# larger threshold the WAL is checkpointed rarely, and once at close.
MEMORY_LIMIT_ENV, MEMORY_LIMIT_DEFAULT = "IVORIS_DUCKDB_MEMORY_LIMIT", "512MB"
CHECKPOINT_ENV, CHECKPOINT_DEFAULT = "IVORIS_DUCKDB_CHECKPOINT_THRESHOLD", "1GB"
# Until the next checkpoint, DuckDB keeps what a transaction wrote to a table in memory: the blocks
# a DELETE touched, the table's appended segments (measured with DuckDB 2.0 at 500 centers, 2000
# tables rewritten: 1 GB, ~500 KiB per table). Without a checkpoint a load of 500 centers outgrew
# the 512 MB limit and failed with OutOfMemoryException. So the warehouse checkpoints between
# transactions once the tables written since the last one, at PINNED_KIB_PER_TABLE each, would
# fill half the memory limit: bounded memory whatever the number of centers. (A checkpoint costs
# ~1.2 ms per table it rewrites and holds every transaction back meanwhile, so not more often.)
PINNED_KIB_PER_TABLE = 512
# The warehouse file is ATTACHed to an in-memory instance instead of being opened directly, for
# one option: ROW_GROUP_SIZE. A backfill appends ~40-60 k rows per table and transaction, fewer
# than DuckDB's default row group (122,880 rows), so every row went into the WAL at commit and
# again into the file at the checkpoint. With 16,384-row groups DuckDB writes the full row
# groups straight to the file while the transaction runs (its "optimistic writes"; the WAL holds
# their addresses): 100 centers x 365 days, one thread, 14.0 s -> 9.0 s. Tables written by dbt
# (which opens the file directly) keep the default size.
WAREHOUSE_ALIAS = "ivoris_warehouse"
ROW_GROUP_ROWS = 16_384
STATE_SELECT_ALL = render(T_STATE_SELECT_ALL, state=STATE)
STATE_MERGE = render(T_STATE_MERGE, state=STATE)


META_DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {quote(layout.META_SCHEMA)}",
    f"""CREATE TABLE IF NOT EXISTS {AUDIT} (
        run_id VARCHAR NOT NULL, center_id VARCHAR NOT NULL, business_date DATE,
        canonical_table VARCHAR NOT NULL, physical_table VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL, rows_written BIGINT NOT NULL, status VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, duration_s DOUBLE NOT NULL,
        message VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {STATE} (
        center_id VARCHAR NOT NULL, last_business_date DATE NOT NULL, updated_at TIMESTAMP NOT NULL)""",
]


def sql_type(arrow_type: pa.DataType) -> str:
    return ARROW_SQL[arrow_type]


class DuckDBWarehouse:
    name = "duckdb"
    # DuckDB center files are ATTACHed and copied by the warehouse itself (DirectCopy, replace_many)
    copies_duckdb_files = True

    def __init__(self, path: Path | None = None, *, read_only: bool = False):
        self.path = Path(path) if path else duckdb_warehouse_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._guard = threading.Lock()
        try:
            self._con = _connect(self.path, read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseBusyError(
                    f"warehouse {self.path} is open in another process (a dbt run, an export or a "
                    "DuckDB shell): close it and run again"
                ) from exc
            raise WarehouseError(
                f"cannot open warehouse {self.path} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "check the path (IVORIS_DUCKDB_PATH) and the disk"
            ) from exc
        self._configure()
        self._gate = _Gate()
        self._pinned = 0  # tables with rows deleted or appended since the last checkpoint
        limit = _bytes(self._con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        self._tables_per_checkpoint = max(16, limit // 2 // (PINNED_KIB_PER_TABLE << 10))

    def _configure(self) -> None:
        settings = (
            ("memory_limit", MEMORY_LIMIT_ENV, MEMORY_LIMIT_DEFAULT),
            ("checkpoint_threshold", CHECKPOINT_ENV, CHECKPOINT_DEFAULT),
        )
        for name, env, default in settings:
            value = os.environ.get(env, default).strip()
            if not value:
                continue  # empty: keep DuckDB's default
            try:
                # SET takes no bound parameter; a quoted literal, validated by DuckDB itself
                self._con.execute(f"SET {name} = '{value.replace(chr(39), '')}'")
            except duckdb.Error as exc:
                self._con.close()
                raise WarehouseError(
                    f"{env}={value!r} is not a valid DuckDB {name} ({str(exc).splitlines()[0]}); "
                    "use a size such as 512MB or 1GB, or unset it"
                ) from exc

    # one cursor (= own connection and transaction) per worker thread
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            cur.execute(f"USE {WAREHOUSE_ALIAS}")  # a new connection starts in the in-memory database
            self._local.cur = cur
            with self._guard:
                self._cursors.append(cur)
        return cur

    def lock(self, timeout_s: float):
        return run_lock(timeout_s, self.path)

    def is_transient(self, exc: BaseException) -> bool:
        # write-write conflicts between concurrent transactions; everything else needs a person
        return isinstance(exc, duckdb.TransactionException) or (
            isinstance(exc, duckdb.Error) and "conflict" in str(exc).lower()
        )

    def ensure_meta(self) -> None:
        cur = self._cur()
        for stmt in META_DDL:
            cur.execute(stmt)

    def ensure_table(self, table: RawTable) -> None:
        self.ensure_tables([table])

    def ensure_tables(self, tables: list[RawTable]) -> None:
        """Create missing raw tables, add columns a mapping gained. One catalog read for all of them
        (information_schema per table is O(tables) in DuckDB: quadratic over hundreds of centers);
        the nightly case runs no DDL at all."""
        cur = self._cur()
        existing: dict[tuple[str, str], dict[str, str]] = {}
        for schema, name, col, dtype in cur.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND starts_with(schema_name, 'raw_')"
        ).fetchall():
            existing.setdefault((schema.lower(), name.lower()), {})[col.lower()] = dtype
        for table in tables:
            target = qualified(table.schema, table.physical)
            fields = list(table.arrow_schema())
            have_cols = existing.get((table.schema.lower(), table.physical.lower()))
            if have_cols is None:
                cur.execute(render(T_CREATE_SCHEMA, schema=quote(table.schema)))
                cols = ", ".join(f"{quote(f.name)} {sql_type(f.type)}" for f in fields)
                cur.execute(render(T_CREATE_TABLE, table=target, columns=cols))
                continue
            for f in fields:
                want = sql_type(f.type)
                have = have_cols.get(f.name.lower())
                if have is None:
                    log.info("%s: adding column %s %s to %s", table.center_id, f.name, want, target)
                    cur.execute(render(T_ADD_COLUMN, table=target, column=quote(f.name), type=want))
                elif have.upper() != want:
                    raise WarehouseError(
                        f"raw column {target}.{f.name} is {have} but the approved mapping now makes it "
                        f"{want}; drop {target} and reload its dates (`ivoris load --from ... --to ... "
                        f"--center {table.center_id}`)",
                        center_id=table.center_id,
                    )

    def replace_partitions(self, load: PartitionLoad) -> list[AuditRow]:
        return self.replace_many([load])

    def replace_many(self, loads: list[PartitionLoad]) -> list[AuditRow]:
        """Several centers' partitions in ONE transaction (the loader groups nightly DirectCopy
        loads: DuckDB's fixed cost per statement and per commit, not the rows, bounds a nightly
        load of hundreds of centers). Per table a delete and an insert; the read-back counts, the
        audit rows, the catch-up state and the commit once for all."""
        with self._gate.transaction():
            rows, pinned = self._replace(loads)
        self._checkpoint_if_pinned(pinned)
        return rows

    def _replace(self, loads: list[PartitionLoad]) -> tuple[list[AuditRow], int]:
        """The transaction; also returns how many tables it wrote (what it left pinned in memory
        until a checkpoint)."""
        cur = self._cur()
        inserted: list[dict[tuple[str, dt.date | None], int]] = [{} for _ in loads]
        copied: list[dict[str, int]] = [{} for _ in loads]  # canonical table -> rows a DirectCopy inserted
        pinned = 0
        cur.begin()
        try:
            unchanged = self._unchanged_snapshots(cur, loads)
            for li, load in enumerate(loads):
                pinned += self._write(cur, load, inserted[li], copied[li], unchanged.get(li, {}))
            counts = self._written(cur, loads)
            finished = utcnow()
            rows: list[AuditRow] = []
            for load, (written, source_rows), load_inserted, load_copied in zip(
                loads, counts, inserted, copied, strict=True
            ):
                _count_copies(load, written, load_copied, source_rows, load_inserted)
                check_written(load, written, load_inserted)
                rows += audit_rows(load, written, finished)
            _insert_audit(cur, rows)
            self._advance_state(cur, [(load.center_id, load.date_to) for load in loads if load.date_to], finished)
            cur.commit()
            return rows, pinned
        except BaseException:
            try:
                cur.rollback()
            except duckdb.Error:
                pass
            raise

    def _unchanged_snapshots(self, cur, loads: list[PartitionLoad]) -> dict[int, dict[int, int]]:
        """The DirectCopy snapshot writes whose raw table already holds exactly the center's rows:
        {load index: {write index: rows}}. Same row count and same sum of row hashes, compared in
        one query for all loads. Insurers and patient links rarely change, yet rewriting them
        each night was half of a nightly load's statements and of its checkpoint work."""
        parts: list[str] = []
        where: list[tuple[int, int]] = []
        for li, load in enumerate(loads):
            for wi, w in enumerate(load.writes):
                if w.copy is None or w.copy.digest_sql is None:
                    continue
                i = len(where)
                where.append((li, wi))
                names = ", ".join(quote(c.name) for c in w.table.columns)
                target = qualified(w.table.schema, w.table.physical)
                parts.append(f"SELECT {i} AS w, 0 AS side, n, h FROM ({w.copy.digest_sql})")  # noqa: S608
                parts.append(render(T_TARGET_DIGEST, i=str(i), names=names, table=target))
        out: dict[int, dict[int, int]] = {}
        if not parts:
            return out
        digests: dict[int, list] = {}
        for i, side, n, h in cur.execute(" UNION ALL ".join(parts)).fetchall():
            digests.setdefault(i, [None, None])[side] = (n, h)
        for i, (source, target) in digests.items():
            if source == target and source is not None and source[0]:
                li, wi = where[i]
                out.setdefault(li, {})[wi] = int(source[0])
        return out

    def _write(
        self, cur, load: PartitionLoad, inserted: dict, copied: dict[str, int], unchanged: dict[int, int]
    ) -> int:
        """Delete one center's partitions and insert their new rows, except the snapshot tables
        that are unchanged; returns the tables written."""
        written = 0
        for wi, w in enumerate(load.writes):
            if wi in unchanged:
                copied[w.table.canonical] = unchanged[wi]
                w.notes.append(UNCHANGED_NOTE)
                continue
            target = qualified(w.table.schema, w.table.physical)
            if w.table.by_date:
                cur.execute(render(T_DELETE_DATES, table=target, business_date=BD), [load.date_from, load.date_to])
            else:
                cur.execute(render(T_DELETE_ALL, table=target))
            deleted = int(cur.fetchone()[0])
            if w.copy is not None:
                copied[w.table.canonical] = int(cur.execute(w.copy.insert_sql, w.copy.insert_params).fetchone()[0])
                written += bool(deleted or copied[w.table.canonical])
                continue
            names = ", ".join(quote(f.name) for f in w.table.arrow_schema())
            appended = 0
            for batch in w.batches:
                if batch.num_rows == 0:
                    continue
                _count(inserted, w.table, batch)
                appended += batch.num_rows
                cur.register("__ivoris_batch", batch)
                try:
                    cur.execute(render(T_INSERT_BATCH, table=target, columns=names))
                finally:
                    cur.unregister("__ivoris_batch")
            written += bool(deleted or appended)
        return written

    def _checkpoint_if_pinned(self, pinned: int) -> None:
        """Checkpoint between transactions once the tables written pinned enough memory
        (PINNED_KIB_PER_TABLE); the gate holds new transactions back and waits for the open ones."""
        if not pinned:
            return
        with self._guard:
            self._pinned += pinned
            if self._pinned < self._tables_per_checkpoint:
                return
            self._pinned = 0
        with self._gate.exclusive():
            try:
                self._cur().execute("CHECKPOINT")
            except duckdb.Error as exc:  # at worst the memory stays pinned until the next one
                log.warning("warehouse: checkpoint during the load failed (%s)", exc)

    @contextmanager
    def attached(self, path: Path, center_id: str) -> Iterator[str]:
        """The center file ATTACHed read-only to this worker's connection, under a generated alias
        (never a name from the center), for DirectCopy writes; detached afterwards."""
        from extract.sources.duckdb import attach_sql, missing_file_error, unreadable_file_error

        if not Path(path).exists():
            raise missing_file_error(path, center_id)
        cur = self._cur()
        alias = f"ivoris_src_{next(_aliases)}"
        try:
            with self._gate.transaction():  # DuckDB refuses a checkpoint while an ATTACH runs
                cur.execute(attach_sql(path, quote(alias)))
        except duckdb.Error as exc:
            raise unreadable_file_error(path, center_id, exc) from exc
        try:
            yield alias
        finally:
            try:
                with self._gate.transaction():
                    cur.execute(f"DETACH {quote(alias)}")
            except duckdb.Error as exc:  # stays attached read-only until the warehouse closes
                log.debug("%s: could not detach %s (%s)", center_id, path, exc)

    def count_source_rows(self, copies: list[DirectCopy]) -> int:
        """The rows the attached sources of DirectCopy writes hold for their spans, in one query."""
        if not copies:
            return 0
        sql = " UNION ALL ".join(f"SELECT n FROM ({c.count_sql})" for c in copies)  # noqa: S608
        params = [v for c in copies for v in c.count_params]
        return sum(int(n) for (n,) in self._cur().execute(sql, params).fetchall())

    def attached_catalogs(
        self, aliases: Sequence[str], tables: Sequence[str] | None = None
    ) -> dict[str, list[CatalogColumn]]:
        """Source.catalog of center files attached under `aliases`, in one query (the nightly
        drift check of DirectCopy centers reads them here, without opening a file twice)."""
        from extract.sources.duckdb import catalog_columns, catalog_query

        sql, params = catalog_query(tables, databases=aliases)
        rows: dict[str, list[tuple]] = {alias: [] for alias in aliases}
        for row in self._cur().execute(sql, params).fetchall():
            rows[row[-1]].append(row)
        return {alias: catalog_columns(found) for alias, found in rows.items()}

    def attached_catalog(self, alias: str) -> Callable[[Sequence[str] | None], list[CatalogColumn]]:
        """Source.catalog of one attached center file (see attached_catalogs)."""
        return lambda tables=None: self.attached_catalogs([alias], tables)[alias]

    def _written(self, cur, loads: list[PartitionLoad]) -> list[tuple[dict, dict[int, int]]]:
        """Per load: the rows now in its replaced partitions, read back inside the transaction,
        and for each dated DirectCopy write (by position) the rows its source holds for the span
        (what a snapshot copy inserts is its whole source). One query for all loads."""
        out: list[tuple[dict, dict[int, int]]] = [({}, {}) for _ in loads]
        parts, params, where = [], [], []  # where[t] = (load index, write index)
        for li, load in enumerate(loads):
            for wi, w in enumerate(load.writes):
                i = len(where)
                where.append((li, wi))
                target = qualified(w.table.schema, w.table.physical)
                if w.copy is not None and len(load.partitions(w.table)) == 1:
                    pass  # the INSERT's own count is what its one partition holds (_count_copies)
                elif w.table.by_date:
                    parts.append(render(T_COUNT_PART_DATES, i=str(i), table=target, business_date=BD))
                    params += [load.date_from, load.date_to]
                else:
                    parts.append(render(T_COUNT_PART_ALL, i=str(i), table=target))
                if w.copy is not None and w.table.by_date:  # rows the source holds for the span
                    parts.append(f"SELECT {-1 - i} AS t, NULL::DATE AS d, n FROM ({w.copy.count_sql})")  # noqa: S608
                    params += w.copy.count_params
        if not parts:
            return out
        for i, day, n in cur.execute(" UNION ALL ".join(parts), params).fetchall():
            li, wi = where[i if i >= 0 else -1 - i]
            written, source_rows = out[li]
            if i < 0:
                source_rows[wi] = int(n)
            else:
                written[(loads[li].writes[wi].table.canonical, day)] = int(n)
        return out

    def _advance_state(self, cur, last_dates: list[tuple[str, dt.date]], now: dt.datetime) -> None:
        """Each center's last business date loaded (catch-up), never moved backwards: one MERGE."""
        latest: dict[str, dt.date] = {}
        for center_id, day in last_dates:
            latest[center_id] = max(day, latest.get(center_id, day))
        if latest:
            cur.execute(STATE_MERGE, [list(latest), list(latest.values()), now, now])

    def record_failure(self, rows: list[AuditRow]) -> None:
        if not rows:
            return
        with self._gate.transaction():
            _insert_audit(self._cur(), rows)

    def last_loaded(self) -> dict[str, dt.date]:
        return dict(self._cur().execute(STATE_SELECT_ALL).fetchall())

    def close(self) -> None:
        with self._guard:
            for cur in self._cursors:
                try:
                    cur.close()
                except duckdb.Error:
                    pass
            self._cursors.clear()
        self._con.close()

    @contextmanager
    def session(self) -> Iterator[DuckDBWarehouse]:
        try:
            yield self
        finally:
            self.close()


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The warehouse file ATTACHed to an in-memory instance (see ROW_GROUP_ROWS) and selected."""
    from extract.sources.duckdb import sql_string

    con = duckdb.connect(":memory:")
    try:
        # spills go beside the warehouse, as when the file is opened directly (not into the cwd)
        con.execute(f"SET temp_directory = {sql_string(str(path) + '.tmp')}")
        mode = "READ_ONLY, " if read_only else ""
        con.execute(
            f"ATTACH {sql_string(str(path))} AS {WAREHOUSE_ALIAS} ({mode}ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
        )
        con.execute(f"USE {WAREHOUSE_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def _insert_audit(cur: duckdb.DuckDBPyConnection, rows: list[AuditRow]) -> None:
    if not rows:
        return
    columns = list(zip(*(r.values() for r in rows), strict=True))
    table = pa.Table.from_arrays(
        [pa.array(col, f.type) for col, f in zip(columns, AUDIT_ARROW_SCHEMA, strict=True)],
        schema=AUDIT_ARROW_SCHEMA,
    )
    cur.register("__ivoris_audit", table)
    try:
        cur.execute(AUDIT_INSERT_ARROW)
    finally:
        cur.unregister("__ivoris_audit")


_aliases = itertools.count(1)


class _Gate:
    """Transactions enter side by side; `exclusive()` (a checkpoint) waits until none is open and
    holds new ones back meanwhile."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = 0
        self._exclusive = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._open += 1
        try:
            yield
        finally:
            with self._cond:
                self._open -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._exclusive = True
            self._cond.wait_for(lambda: self._open == 0)
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


_UNITS = {"B": 0, "KB": 10, "KIB": 10, "MB": 20, "MIB": 20, "GB": 30, "GIB": 30, "TB": 40, "TIB": 40}


def _bytes(setting: str) -> int:
    """DuckDB's display of a size ('488.2 MiB') in bytes."""
    number, _, unit = setting.strip().partition(" ")
    return int(float(number) * (1 << _UNITS.get(unit.strip().upper() or "B", 0)))


def _count_copies(
    load: PartitionLoad, written: dict, copied: dict[str, int], source_rows: dict[int, int], inserted: dict
) -> None:
    """For DirectCopy writes, inserted and rows_read per partition come from what landed (the
    partitions were emptied first); the INSERT's own row count must agree with it. A write of
    one partition (a nightly date, a snapshot) is not read back: a DuckDB transaction sees no
    other writer's rows (snapshot isolation), so the partition it emptied holds exactly what
    its INSERT reported."""
    for i, w in enumerate(load.writes):
        if w.copy is None:
            continue
        keys = load.partitions(w.table)
        if len(keys) == 1:
            written[(w.table.canonical, keys[0])] = copied.get(w.table.canonical, 0)
        landed = {d: written.get((w.table.canonical, d), 0) for d in keys}
        total = sum(landed.values())
        if total != copied.get(w.table.canonical, 0):
            raise WarehouseError(
                f"{w.table.canonical}: INSERT reported {copied.get(w.table.canonical, 0)} rows but "
                f"{total} landed; the transaction was rolled back. Check for another writer and rerun.",
                center_id=load.center_id,
            )
        for d, n in landed.items():
            inserted[(w.table.canonical, d)] = n
            w.rows_read[d] = n
        if source_rows.get(i, total) != total:
            w.notes.append(skipped_note(source_rows[i] - total))


def _count(acc: dict, table: RawTable, batch: pa.RecordBatch) -> None:
    if not table.by_date:
        acc[(table.canonical, None)] = acc.get((table.canonical, None), 0) + batch.num_rows
        return
    counts = batch.column(layout.BUSINESS_DATE).value_counts()
    for item in counts:
        day = item["values"].as_py()
        acc[(table.canonical, day)] = acc.get((table.canonical, day), 0) + item["counts"].as_py()


def run_lock(timeout_s: float, path: Path | None = None):
    """The run lock of a DuckDB warehouse: an flock on <warehouse>.lock beside the file."""
    path = Path(path) if path else duckdb_warehouse_path()
    return file_lock(path.with_name(path.name + ".lock"), timeout_s, f"warehouse {path}")


def open_warehouse(*, path: Path | None = None, read_only: bool = False) -> DuckDBWarehouse:
    return DuckDBWarehouse(path, read_only=read_only)
