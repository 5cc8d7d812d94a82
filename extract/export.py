"""`ivoris export`: one business day of `marts.chart_entries` as csv, json or parquet.

Reads the DuckDB warehouse read-only (after waiting for a running load to release the run lock,
so an export never sees a day half-built) and writes the file atomically: a temp file beside the
target, renamed into place, so a reader never finds half a file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from extract.errors import IvorisError, WarehouseBusyError
from extract.log import log
from extract.paths import duckdb_warehouse_path, project_dir
from extract.warehouse.base import lock_timeout
from extract.warehouse.duckdb import run_lock

FORMATS = ("csv", "json", "parquet")
QUERY = "SELECT * FROM marts.chart_entries WHERE entry_date = ? ORDER BY center_id, entry_id"


def read_day(day: dt.date, warehouse: Path | None = None) -> pa.Table:
    path = Path(warehouse) if warehouse else duckdb_warehouse_path()
    if not path.exists():
        raise IvorisError(f"warehouse {path} does not exist: run `ivoris run --date {day}` first")
    with run_lock(lock_timeout(None), path):
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:
            raise WarehouseBusyError(
                f"warehouse {path} is open for writing by another process; retry when it ends"
            ) from exc
        try:
            return con.sql(QUERY, params=[day]).to_arrow_table()
        except duckdb.CatalogException as exc:
            raise IvorisError(
                f"marts.chart_entries is missing in {path}: "
                f"run `ivoris run --date {day}` (or `ivoris build`) first"
            ) from exc
        finally:
            con.close()


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def write_export(table: pa.Table, day: dt.date, fmt: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if fmt == "csv":
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(table.column_names)
                for row in table.to_pylist():
                    writer.writerow(["" if v is None else _jsonable(v) for v in row.values()])
        elif fmt == "json":
            doc = {
                "extracted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "target_date": day.isoformat(),
                "record_count": table.num_rows,
                "entries": [{k: _jsonable(v) for k, v in row.items()} for row in table.to_pylist()],
            }
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        elif fmt == "parquet":
            pq.write_table(table, tmp)
        else:
            raise IvorisError(f"unknown export format {fmt!r}: use one of {FORMATS}")
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def default_out(day: dt.date, fmt: str) -> Path:
    return project_dir() / "data" / "exports" / f"chart_entries_{day.isoformat()}.{fmt}"


def cmd_export(args) -> int:
    day: dt.date = args.date
    fmt: str = args.format
    out = Path(args.out) if getattr(args, "out", None) else default_out(day, fmt)
    table = read_day(day)
    path = write_export(table, day, fmt, out)
    log.info("exported %d chart entries of %s to %s", table.num_rows, day, path)
    print(f"{table.num_rows} chart entries of {day} -> {path}")
    return 0
