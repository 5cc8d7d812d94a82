"""`ivoris bench --quick` runs for real (demo centers, discovery, loader, dbt, DuckDB native copy,
dlt when installed) and writes every section with positive figures. Timings are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extract.bench import dlt_side, machine, report, runner

ROOT = Path(__file__).resolve().parents[1]


def _positive(value) -> bool:
    return isinstance(value, int | float) and value > 0


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVORIS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "extract", "bench", "--quick", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_quick_bench_writes_every_section(quick):
    doc, stdout = quick
    m = doc["machine"]
    assert m["cpu_model"] and m["cores"] >= 1 and m["ram_bytes"] > 0 and m["python"]
    assert m["versions"]["duckdb"] and m["versions"]["dbt-core"]
    res = doc["results"]
    assert set(res) == set(runner.SECTIONS)
    assert not [s for s, r in res.items() if "error" in r]

    nightly = res["nightly"]
    assert set(nightly["sizes"]) == {"3", "6"}
    for size in nightly["sizes"].values():
        phases = size["phases_s"]
        for phase in ("render", "check + load", "dbt build", "end to end"):
            assert _positive(phases[phase]["median"]), phase
        # The phases are parts of the end-to-end run.
        parts = sum(phases[p]["median"] for p in runner.RUN_PARTS)
        assert abs(parts - phases["end to end"]["median"]) <= phases["end to end"]["median"] * 0.001
    assert "end to end" in nightly["marginal_ms_per_center"]

    backfill = res["backfill"]
    assert backfill["same_rows"] is True
    assert backfill["expected_rows"] > 0
    for side in ("ours", "duckdb_native"):
        assert backfill[side]["rows"] == backfill["expected_rows"]
        assert _positive(backfill[side]["rows_per_s"]["median"])
        assert backfill[side]["peak_rss_bytes"]["median"] > backfill[side]["baseline_rss_bytes"]["median"] > 0
    assert _positive(backfill["ratio_to_native_pct"])
    history = backfill["nightly_with_history"]
    assert history["history_days"] == 4
    for phase in ("check + load", "dbt build", "end to end"):
        assert _positive(history["phases_s"][phase]["median"]), phase

    assert res["discovery"]["centers"] == 6 and _positive(res["discovery"]["seconds"]["median"])

    dlt = res["dlt"]
    if dlt_side.available():
        assert dlt["available"] is True
        for case in ("nightly", "backfill"):
            assert dlt[case]["same_rows"] is True and _positive(dlt[case]["speedup"])
            assert dlt[case]["ours"]["rows"] == dlt[case]["dlt"]["rows"] > 0
        assert dlt["sql_database"]  # "ok" or why the DuckDB center files cannot be read that way
    else:
        assert dlt["available"] is False and "not installed" in dlt["note"]

    # The printed table shows each figure; targets are not judged at quick sizes.
    assert "end to end" in stdout and "rows/s" in stdout
    assert "MISSED" not in stdout and "not judged" in stdout
    assert doc["table"] and all(r["met"] is None for r in doc["table"])


def test_dlt_missing_is_reported_not_failed(monkeypatch, tmp_path):
    monkeypatch.setattr(dlt_side, "available", lambda: None)
    plan = runner.Plan.make(quick=True, repeat=1, only=["dlt"])
    results = runner.run(plan, tmp_path)
    assert results["dlt"]["available"] is False and "not installed" in results["dlt"]["note"]
    rows = report.rows_of(results, quick=True)
    assert any("not installed" in r.what for r in rows)
    text = report.table(rows, machine.describe(), quick=True, repeat=1)
    assert "dlt not installed" in text


def test_targets_are_judged_at_full_scale_only():
    results = {
        "discovery": {"centers": 500, "seconds": {"median": 12.0, "runs": [12.0]}},
        "backfill": {
            "centers": 100, "days": 365, "ratio_to_native_pct": 60.0,
            "ours": {"rows": 10, "seconds": {"median": 2.0}, "rows_per_s": {"median": 2e6},
                     "peak_rss_bytes": {"median": 2 * report.GIB}},
            "duckdb_native": {"seconds": {"median": 1.2}, "rows_per_s": {"median": 3e6},
                              "peak_rss_bytes": {"median": 1e8}},
        },
    }
    full = {r.what: r for r in report.rows_of(results, quick=False)}
    assert full["discover 500 centers"].status == "MISSED"
    assert full["ivoris load rows/s"].status == "met"
    assert full["ivoris speed as % of DuckDB native"].status == "met"
    assert full["ivoris load peak RSS (its own process)"].status == "MISSED"
    quick = report.rows_of(results, quick=True)
    assert all(r.met is None for r in quick)


def test_slope_is_the_marginal_cost():
    assert runner.slope([10, 100, 500], [1.0, 1.9, 5.9]) == pytest.approx(0.01, rel=1e-9)
