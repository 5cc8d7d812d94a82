"""Crash safety: SIGKILL the loader process at 20+ random moments of a multi-center, multi-day load.

After every kill, each (center, date) partition in the warehouse is either absent or exactly the
uninterrupted run's partition, and every partition's latest ok audit row counts what it holds.
After a final rerun the warehouse equals the uninterrupted run's (no duplicates, no missing rows,
same values) and so does the audit-derived state.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from test_load_helpers import END, content_columns, env_for, make_project, raw_snapshot

pytestmark = pytest.mark.slow

CENTERS = ["center_a", "center_b", "center_c", "center_d"]
DAYS = 10
KILLS = int(os.environ.get("IVORIS_KILL_TEST_KILLS", "22"))


def _cmd(cfg: Path) -> list[str]:
    first = END - dt.timedelta(days=DAYS - 1)
    return [
        sys.executable,
        "-m",
        "extract",
        "--config",
        str(cfg),
        "load",
        "--from",
        str(first),
        "--to",
        str(END),
        "--workers",
        "2",
    ]


def _wait_loading(proc: subprocess.Popen) -> float:
    """Block until the loader logs that its workers start; return that moment (monotonic)."""
    for line in proc.stderr:
        if "centers with" in line:
            return time.monotonic()
    raise AssertionError("the loader exited before starting its workers")


def _partitions(db: Path) -> tuple[dict, dict, dict]:
    """(by_date partitions {(table, date): sorted rows}, snapshot tables {table: rows},
    latest ok audit {(center, canonical, date): rows_written}). Opens read-write: replays the WAL."""
    con = duckdb.connect(str(db))
    try:
        parts: dict = {}
        snaps: dict = {}
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema LIKE 'raw_%'"
        ).fetchall()
        for schema, table in tables:
            cols = content_columns(con, schema, table)
            rows = con.execute(
                f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{schema}"."{table}"'  # noqa: S608 - test SQL over names from our own catalog
            ).fetchall()
            if "_business_date" in cols:
                i = cols.index("_business_date")
                for r in rows:
                    parts.setdefault((f"{schema}.{table}", r[i]), []).append(r)
            else:
                snaps[f"{schema}.{table}"] = sorted(rows, key=repr)
        parts = {k: sorted(v, key=repr) for k, v in parts.items()}
        audit = {}
        runs: dict = {}
        meta = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ivoris_meta'"
        ).fetchone()[0]
        if meta:
            for cid, table, day, written in con.execute(
                "SELECT center_id, canonical_table, business_date, rows_written FROM ("
                " SELECT *, row_number() OVER (PARTITION BY center_id, canonical_table, business_date"
                "  ORDER BY finished_at DESC) AS rn FROM ivoris_meta.load_audit WHERE status = 'ok') "
                "WHERE rn = 1"
            ).fetchall():
                audit[(cid, table, day)] = written
            runs = dict(
                con.execute(
                    "SELECT run_id, count(*) FROM ivoris_meta.load_audit WHERE status = 'ok' GROUP BY run_id"
                ).fetchall()
            )
        return parts, snaps, audit, runs
    finally:
        con.close()


def test_sigkill_at_random_moments_then_rerun_equals_uninterrupted(tmp_path):
    # reference: an uninterrupted run of the same sources into its own warehouse
    root = tmp_path
    cfg = make_project(root, CENTERS, days=DAYS, per_day=30)
    extra = {"IVORIS_LOAD_CHUNK_DAYS": "2"}  # many transactions: 5 spans x 4 centers
    ref_db = root / "reference" / "ivoris.duckdb"
    ref = subprocess.Popen(
        _cmd(cfg),
        cwd=root,
        env=env_for(root, IVORIS_DUCKDB_PATH=str(ref_db), **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = _wait_loading(ref)
    ref.stderr.read()
    assert ref.wait(timeout=120) == 0
    full = time.monotonic() - started  # the load proper: from "loading N centers" to exit
    ref_parts, ref_snaps, ref_audit, ref_runs = _partitions(ref_db)
    assert len(ref_parts) == len(CENTERS) * DAYS * 2

    db = root / "warehouse" / "ivoris.duckdb"
    rnd = random.Random(int(os.environ.get("IVORIS_KILL_SEED", "20261120")))
    env = env_for(root, **extra)
    (full_count,) = ref_runs.values()  # ok audit rows a complete run writes
    landed = {"before any commit": 0, "mid-load": 0, "after the last commit": 0}
    seen_runs: set = set()
    for i in range(KILLS):
        proc = subprocess.Popen(
            _cmd(cfg), cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if i % 5 == 0:  # some kills during start-up (opening the warehouse, creating tables)
            delay = rnd.uniform(0.2, 1.2)
        else:  # most during the load proper: between and inside its transactions
            _wait_loading(proc)
            delay = rnd.uniform(0.0, 1.1) * full
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
        if not db.exists():
            continue
        parts, snaps, audit, runs = _partitions(db)
        new = [n for r, n in runs.items() if r not in seen_runs]
        seen_runs |= set(runs)
        landed[
            "before any commit" if not new else "mid-load" if new[0] < full_count else "after the last commit"
        ] += 1
        # atomic: a partition present is exactly the uninterrupted run's partition
        for key, rows in parts.items():
            assert rows == ref_parts[key], f"kill {i} after {delay:.2f}s: partition {key} differs"
        for key, rows in snaps.items():
            assert rows in ([], ref_snaps[key]), f"kill {i}: snapshot {key} is partial"
        # the audit describes what is there: every partition present has its ok audit row with its count
        for (table, day), rows in parts.items():
            cid = table.split(".")[0].removeprefix("raw_")
            canonical = "KARTEI" if "KARTEI" in table else "LEISTUNG"
            assert audit.get((cid, canonical, day)) == len(rows), f"kill {i}: audit of {table} {day}"
    # the kills really did land between the transactions of a load, not only around it
    print(f"kills (load proper {full:.2f}s): {landed}")
    assert landed["mid-load"] >= KILLS // 3, landed

    final = subprocess.run(_cmd(cfg), cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    parts, snaps, audit, _runs = _partitions(db)
    assert parts == ref_parts
    assert snaps == ref_snaps
    assert audit == ref_audit
    assert raw_snapshot(db) == raw_snapshot(ref_db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        state = dict(
            con.execute("SELECT center_id, last_business_date FROM ivoris_meta.load_state").fetchall()
        )
    finally:
        con.close()
    assert state == {c: END for c in CENTERS}
