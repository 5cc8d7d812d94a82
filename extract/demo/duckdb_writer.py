"""Write demo centers to DuckDB files: one file per center, bulk-inserted from Arrow.

Each file is written under a temporary name and renamed when complete, so a crash never leaves a
half-written center behind. Names are the generator's own (some deliberately hostile): they are
quoted here by doubling embedded quotes, never validated away.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa

from extract.demo.generator import DemoCenter, PhysicalTable

CORRUPT_BYTES = b"This is not a DuckDB database: the demo writes it to show a corrupt center file.\n" * 64

# Declared T-SQL-ish type -> (DuckDB column type, Arrow type of the rows)
_TYPES: dict[str, tuple[str, pa.DataType]] = {
    "INT": ("INTEGER", pa.int32()),
    "BIGINT": ("BIGINT", pa.int64()),
    "SMALLINT": ("SMALLINT", pa.int16()),
    "TINYINT": ("UTINYINT", pa.uint8()),
    "BIT": ("BOOLEAN", pa.bool_()),
    "DATE": ("DATE", pa.date32()),
    "DATETIME": ("TIMESTAMP", pa.timestamp("us")),
    "DATETIME2": ("TIMESTAMP", pa.timestamp("us")),
}


def duckdb_type(sql_type: str) -> tuple[str, pa.DataType]:
    """CHAR(8)/VARCHAR(n)/NVARCHAR(MAX) -> VARCHAR, DATETIME -> TIMESTAMP, BIT -> BOOLEAN, ..."""
    base = sql_type.upper().split("(")[0].strip()
    if base in ("CHAR", "VARCHAR", "NCHAR", "NVARCHAR"):
        return "VARCHAR", pa.string()
    return _TYPES[base]


BLOCK_SIZE = 16384


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def qident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow(table: PhysicalTable) -> pa.Table:
    columns = list(zip(*table.rows, strict=True)) if table.rows else [[] for _ in table.columns]
    arrays = [
        pa.array(list(values), type=duckdb_type(col.sql_type)[1])
        for values, col in zip(columns, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(table.columns))])


def center_file(out_dir: Path, center_id: str) -> Path:
    return Path(out_dir) / f"{center_id}.duckdb"


def write_center(center: DemoCenter, out_dir: Path, con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Write one center to `<out_dir>/<id>.duckdb` (atomically); returns the path.

    unreachable centers get no file (any stale one is removed); corrupt ones get a file that is not
    a DuckDB database.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = center_file(out_dir, center.id)
    if center.kind == "unreachable":
        final.unlink(missing_ok=True)
        return final
    tmp = out_dir / f".{center.id}.duckdb.tmp{os.getpid()}"
    staged = _staging_dir() / f"{center.id}.{os.getpid()}.duckdb"
    try:
        if center.kind == "corrupt":
            tmp.write_bytes(CORRUPT_BYTES)
        else:
            # DuckDB fsyncs each file it writes; on a busy disk that costs more than the rows, so build
            # the file in memory-backed /dev/shm when there is one, then copy it next to its final name
            _remove(staged)
            _write_duckdb(center, staged, con)
            shutil.copyfile(staged, tmp)
        os.replace(tmp, final)
    finally:
        _remove(tmp)
        _remove(staged)
    return final


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(str(path) + ".wal").unlink(missing_ok=True)


def _staging_dir() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def _connect() -> duckdb.DuckDBPyConnection:
    # one in-memory connection attaches file after file: opening a connection costs more than a small center
    return duckdb.connect(config={"threads": 1})


def _write_duckdb(center: DemoCenter, path: Path, con: duckdb.DuckDBPyConnection | None = None) -> None:
    own = con is None
    con = con or _connect()
    attached = False
    try:
        # small blocks: a center is small, and the default 256 KiB blocks made 500 centers 2 GB
        con.execute(f"ATTACH '{_sql_string(str(path))}' AS center_db (BLOCK_SIZE {BLOCK_SIZE})")
        attached = True
        con.execute("USE center_db")
        # one script for the whole center (DDL and bulk inserts from registered Arrow tables):
        # per-statement round trips cost more than the rows of a small center
        script = [
            f"CREATE SCHEMA IF NOT EXISTS {qident(s)};" for s in sorted({t.schema for t in center.tables})
        ]
        registered = []
        for i, t in enumerate(center.tables):
            target = f"{qident(t.schema)}.{qident(t.name)}"
            cols = ", ".join(f"{qident(c.name)} {duckdb_type(c.sql_type)[0]}" for c in t.columns)
            script.append(f"CREATE TABLE {target} ({cols});")
            if t.rows:
                view = f"demo_rows_{i}"
                con.register(view, _arrow(t))
                registered.append(view)
                script.append(f"INSERT INTO {target} SELECT * FROM {view};")  # noqa: S608 - quoted names
        try:
            con.execute("BEGIN;\n" + "\n".join(script) + "\nCOMMIT;")
        finally:
            for view in registered:
                con.unregister(view)
    except BaseException:
        if attached:
            try:
                con.execute("ROLLBACK")  # a failed script leaves its transaction open
            except duckdb.Error:
                pass
        raise
    finally:
        if attached:
            con.execute("USE memory")
            con.execute("DETACH center_db")
        if own:
            con.close()


def _write_many(centers: list[DemoCenter], out_dir: str) -> list[str]:
    con = _connect()
    try:
        return [str(write_center(c, Path(out_dir), con)) for c in centers]
    finally:
        con.close()


def write_centers(
    centers: Iterable[DemoCenter],
    out_dir: Path,
    *,
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write many centers, in a process pool when there are enough of them to pay for it."""
    centers = list(centers)
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 1 or len(centers) < 60:
        paths = []
        con = _connect()
        try:
            for c in centers:
                paths.append(write_center(c, out_dir, con))
                if on_done:
                    on_done(1)
        finally:
            con.close()
        return paths
    chunk = max(1, min(25, len(centers) // (workers * 4)))
    batches = [centers[i : i + chunk] for i in range(0, len(centers), chunk)]
    paths = []
    # spawn, not fork: forking a process that may hold DuckDB or other threads can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for done in pool.map(_write_many, batches, [str(out_dir)] * len(batches)):
            paths.extend(Path(p) for p in done)
            if on_done:
                on_done(len(done))
    return paths
