"""`ivoris run` end to end in a real process: demo centers (with problem centers) -> check -> render
-> load -> dbt build, in an isolated copy of the dbt project; then reruns, export and leak checks."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_load_helpers import raw_snapshot

from extract.bench.workspace import copy_project
from extract.config import load_settings
from extract.demo.api import create_demo
from extract.demo.truth import load_expected
from extract.discover.review import approve_centers
from extract.discover.service import discover_centers
from extract.paths import project_dir

pytestmark = pytest.mark.slow

END = dt.date(2026, 11, 20)
DAY = END - dt.timedelta(days=1)
SECRET = "Fake-Secret-Pw-0815"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    proj = copy_project(project_dir(), root / "project")
    cfg = proj / "config" / "centers.yml"
    result = create_demo(
        proj / "data" / "centers",
        cfg,
        centers=2,
        days=3,
        entries_per_day=6,
        problems=True,
        unrelated_tables=5,
        end_date=END,
    )
    env_vars = {
        "IVORIS_PROJECT_DIR": str(proj),
        "IVORIS_DUCKDB_PATH": str(proj / "warehouse" / "ivoris.duckdb"),
        "IVORIS_CONFIG": str(cfg),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "CI": "true",
        "IVORIS_RETRY_BACKOFF_S": "0.05",
        "IVORIS_MSSQL_PASSWORD": SECRET,
        "IVORIS_WAREHOUSE_PASSWORD": SECRET,
        "PYTHONPATH": str(project_dir()),
    }
    import os

    saved = {k: os.environ.get(k) for k in env_vars}
    os.environ.update(env_vars)
    try:
        settings = load_settings(cfg)
        discover_centers(settings)
        approve_centers(settings, None, True, "test")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    env = dict(os.environ, **env_vars)
    return proj, cfg, env, result


def _run(proj: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "extract", *args],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _chart_entries(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM marts.chart_entries ORDER BY center_id, entry_id").fetchall()
    finally:
        con.close()


def test_run_reruns_export_and_leaks(demo):
    proj, cfg, env, result = demo
    db = proj / "warehouse" / "ivoris.duckdb"
    outputs, marts, raws = [], [], []
    for i in range(3):
        report = proj / "data" / f"run{i}.json"
        proc = _run(proj, env, "run", "--date", str(DAY), "--report", str(report))
        outputs.append(proc.stdout + proc.stderr)
        # problem centers fail, the healthy ones load and build: exit code 1, not a crash
        assert proc.returncode == 1, proc.stderr[-3000:]
        doc = json.loads(report.read_text(encoding="utf-8"))
        by = {c["center_id"]: c for c in doc["centers"]}
        assert {cid for cid, c in by.items() if c["status"] == "ok"} == {"center_01", "center_02"}
        assert by["problem_drifted"]["error_class"] == "SchemaDriftError"
        assert by["problem_ambiguous"]["error_class"] == "MappingProblemError"
        assert by["problem_incomplete"]["error_class"] == "MappingProblemError"
        for cid in ("problem_unreachable", "problem_corrupt"):  # discovery failed: never approved
            assert by[cid]["error_class"] == "MappingNotApprovedError"
        assert all(c["what_to_do"] for c in doc["centers"] if c["status"] != "ok")
        # the drift is found by the loader's check, and the hint reruns the nightly command
        assert by["problem_drifted"]["phase"] == "check"
        assert f"ivoris run --date {DAY} --center problem_drifted" in by["problem_drifted"]["what_to_do"]
        assert doc["phases"]["render"]["status"] == "ok" and doc["phases"]["dbt build"]["status"] == "ok"
        assert doc["phases"]["load"]["centers_failed"] == len(by) - 2
        # dbt parsed the project while the loader copied; the build (checked below) ran on that parse
        assert doc["phases"]["dbt build"]["parsed_ahead_s"] > 0
        for cid in by:
            assert cid in proc.stdout
        marts.append(_chart_entries(db))
        raws.append(raw_snapshot(db))
    assert marts[0] == marts[1] == marts[2]
    assert raws[0] == raws[1] == raws[2]

    # the day's canonical rows equal the generator's ground truth for the healthy centers
    expected = load_expected(result.out_dir)
    expected = expected.filter(pc.equal(expected["entry_date"], DAY))
    exp_rows = sorted(tuple(r.values()) for r in expected.to_pylist() if r["center_id"].startswith("center_"))
    got = sorted(r for r in marts[0] if r[3] == DAY)
    assert got == exp_rows and got

    # export: json / csv / parquet of that day
    for fmt in ("json", "csv", "parquet"):
        out = proj / "data" / "exports" / f"x.{fmt}"
        proc = _run(proj, env, "export", "--date", str(DAY), "--format", fmt, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    doc = json.loads((proj / "data" / "exports" / "x.json").read_text(encoding="utf-8"))
    assert doc["target_date"] == str(DAY) and doc["record_count"] == len(got) == len(doc["entries"])
    assert pq.read_table(proj / "data" / "exports" / "x.parquet").num_rows == len(got)
    csv_text = (proj / "data" / "exports" / "x.csv").read_text(encoding="utf-8")
    assert csv_text.startswith("center_id,center_name,entry_id,entry_date,")

    # no secret in any output, report, log or artifact; no patient name in the warehouse
    haystack = "\n".join(outputs)
    for path in proj.rglob("*"):
        if path.is_file() and "centers" not in path.relative_to(proj).parts[:2]:
            haystack += path.read_bytes().decode("utf-8", errors="replace")
    assert SECRET not in haystack
    names = []
    for center in result.dataset.centers:
        if center.kind != "ok":
            continue
        ptab = center.canonical_table("PATIENT")
        cols = center.truth["tables"]["PATIENT"]["columns"]
        for col in ("P_NAME", "P_VORNAME"):
            i = ptab.column_index(cols[col])
            names += [r[i] for r in ptab.rows if r[i]]
    assert names
    con = duckdb.connect(str(db), read_only=True)
    try:
        texts = set()
        for schema, table, col in con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR'"
        ).fetchall():
            texts.update(
                str(v)
                for (v,) in con.execute(f'SELECT DISTINCT "{col}" FROM "{schema}"."{table}"').fetchall()  # noqa: S608 - test SQL over names from our own catalog
            )
    finally:
        con.close()
    blob = "\n".join(texts)
    leaked = [n for n in names if n in blob]
    assert not leaked, leaked[:5]
