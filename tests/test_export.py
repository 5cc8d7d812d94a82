"""`ivoris export` against a real DuckDB warehouse holding marts.chart_entries."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys

import duckdb
import pyarrow.parquet as pq
import pytest
from test_load_helpers import REPO

from extract.warehouse.base import file_lock

DAY = dt.date(2026, 11, 19)
ROWS = [
    (
        "center_01",
        "Zahnarztpraxis München",
        1,
        DAY,
        7,
        "GKV",
        "AOK Bayern",
        'Füllung "36"; Zeile 1\nZeile 2',
        "13a,Ä1",
    ),
    ("center_01", "Zahnarztpraxis München", 2, DAY, 8, "Selbstzahler", None, "漢字 😀, comma", None),
    ("center_02", "Praxis Köln", 5, DAY, 1, "PKV", "Debeka", "", "01"),
    ("center_02", "Praxis Köln", 6, DAY + dt.timedelta(days=1), 1, "PKV", "Debeka", "other day", None),
]


@pytest.fixture()
def warehouse(tmp_path):
    db = tmp_path / "warehouse" / "ivoris.duckdb"
    db.parent.mkdir()
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.chart_entries (center_id VARCHAR, center_name VARCHAR, entry_id BIGINT, "
        "entry_date DATE, patient_id BIGINT, insurance_status VARCHAR, insurance_name VARCHAR, "
        "chart_entry VARCHAR, service_codes VARCHAR)"
    )
    con.executemany("INSERT INTO marts.chart_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    con.close()
    return tmp_path, db


def _export(tmp_path, db, *args, timeout=60):
    env = {
        "IVORIS_DUCKDB_PATH": str(db),
        "IVORIS_PROJECT_DIR": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "IVORIS_CANONICAL": str(REPO / "config" / "canonical.yml"),
        "CI": "true",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "extract", "export", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_export_three_formats(warehouse):
    tmp_path, db = warehouse
    for fmt in ("csv", "json", "parquet"):
        proc = _export(tmp_path, db, "--date", str(DAY), "--format", fmt)
        assert proc.returncode == 0, proc.stderr
    out = tmp_path / "data" / "exports"
    assert sorted(p.name for p in out.iterdir()) == [
        f"chart_entries_{DAY}.{f}" for f in ("csv", "json", "parquet")
    ]
    day_rows = [r for r in ROWS if r[3] == DAY]

    doc = json.loads((out / f"chart_entries_{DAY}.json").read_text(encoding="utf-8"))
    assert set(doc) == {"extracted_at", "target_date", "record_count", "entries"}
    assert doc["target_date"] == "2026-11-19" and doc["record_count"] == 3 == len(doc["entries"])
    assert doc["entries"][0]["chart_entry"] == 'Füllung "36"; Zeile 1\nZeile 2'
    assert doc["entries"][0]["entry_date"] == "2026-11-19"
    assert doc["entries"][1]["insurance_name"] is None
    assert "漢字 😀" in (out / f"chart_entries_{DAY}.json").read_text(encoding="utf-8")  # not \u-escaped
    dt.datetime.fromisoformat(doc["extracted_at"])

    with (out / f"chart_entries_{DAY}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "center_id",
        "center_name",
        "entry_id",
        "entry_date",
        "patient_id",
        "insurance_status",
        "insurance_name",
        "chart_entry",
        "service_codes",
    ]
    assert [r[7] for r in rows[1:]] == [r[7] for r in day_rows]  # quotes, newlines, unicode survive

    table = pq.read_table(out / f"chart_entries_{DAY}.parquet")
    assert [tuple(r.values()) for r in table.to_pylist()] == day_rows


def test_export_explicit_out_is_atomic_and_empty_day_has_header(warehouse):
    tmp_path, db = warehouse
    target = tmp_path / "x" / "day.csv"
    proc = _export(tmp_path, db, "--date", "2026-01-01", "--format", "csv", "--out", str(target))
    assert proc.returncode == 0, proc.stderr
    assert target.read_text(encoding="utf-8").splitlines() == [
        "center_id,center_name,entry_id,entry_date,patient_id,insurance_status,insurance_name,chart_entry,"
        "service_codes"
    ]
    assert [p.name for p in target.parent.iterdir()] == ["day.csv"]  # no temp file left


def test_export_without_mart_or_warehouse_says_what_to_do(tmp_path):
    proc = _export(tmp_path, tmp_path / "none.duckdb", "--date", str(DAY), "--format", "json")
    assert proc.returncode != 0 and "ivoris run" in proc.stderr
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    proc = _export(tmp_path, db, "--date", str(DAY), "--format", "json")
    assert proc.returncode != 0 and "marts.chart_entries is missing" in proc.stderr


def test_export_waits_for_a_running_load(warehouse):
    tmp_path, db = warehouse
    with file_lock(db.with_name("ivoris.duckdb.lock"), 1, "test"):
        env_timeout = {"IVORIS_LOCK_TIMEOUT_S": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "extract", "export", "--date", str(DAY), "--format", "json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={
                "IVORIS_DUCKDB_PATH": str(db),
                "IVORIS_PROJECT_DIR": str(tmp_path),
                "PYTHONPATH": str(REPO),
                "CI": "true",
                "PATH": "/usr/bin:/bin",
                **env_timeout,
            },
        )
    assert proc.returncode != 0 and "locked by another run" in proc.stderr
    assert not (tmp_path / "data" / "exports").exists()
