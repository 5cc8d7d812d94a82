"""The dbt project end to end on a small fixture warehouse (real DuckDB file, real dbt runs).

The raw tables and audit rows follow the loader's contract (extract/layout.py) and are written
by extract.render.synthetic; chart_entries is compared row for row with DESIGN.md's semantics
computed in plain Python from the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from extract.config import load_settings
from extract.dbt_runner import dbt_build
from extract.mapping import load_mapping, save_mapping
from extract.render import synthetic
from extract.render.render import render_project

ROOT = Path(__file__).resolve().parents[1]
DATES = [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]

pytestmark = pytest.mark.slow


def _insurance_codes(project: Path) -> tuple[dict[str, str], frozenset[str]]:
    with open(project / "seeds/insurance_type_codes.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = {r["insurance_type_code"]: r["insurance_status"] for r in rows}
    return codes, frozenset(r["insurance_type_code"] for r in rows if r["match_any_case"] == "1")


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _run_results(project: Path) -> dict[str, str]:
    doc = json.loads((project / "target/run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"]: r["status"] for r in doc["results"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """4 approved centers (every DATUM and DELKZ variant) + 1 unapproved, loaded, rendered, built."""
    tmp = tmp_path_factory.mktemp("dbt")
    project = synthetic.copy_project(ROOT, tmp / "proj")
    # Chunks of 3 centers: the unions create their table from 3 and insert the 4th.
    dbt_project = project / "dbt_project.yml"
    text = dbt_project.read_text(encoding="utf-8")
    assert "ivoris_union_chunk_size: 100" in text
    dbt_project.write_text(
        text.replace("ivoris_union_chunk_size: 100", "ivoris_union_chunk_size: 3"), "utf-8"
    )
    warehouse = project / "warehouse" / "ivoris.duckdb"
    centers = synthetic.make_centers(5)
    for c in centers:
        synthetic.generate_rows(c, DATES)
    synthetic.write_config(project / "config" / "centers.yml", centers)
    mpath = project / "config" / "mappings" / "center_005.yml"
    unapproved = load_mapping(mpath)
    unapproved.reviewed = False
    save_mapping(unapproved, mpath)
    approved = centers[:4]
    synthetic.load_warehouse(warehouse, approved)
    mp = pytest.MonkeyPatch()
    mp.setenv("IVORIS_DUCKDB_PATH", str(warehouse))
    mp.setenv("IVORIS_PROJECT_DIR", str(project))
    mp.delenv("IVORIS_TARGET", raising=False)
    result = render_project(load_settings(project / "config" / "centers.yml"), project)
    assert result.centers == [c.center_id for c in approved]
    assert "center_005" in result.skipped
    build = dbt_build(project, quiet=True)
    yield project, warehouse, approved, build
    mp.undo()


def test_full_build_passes_and_chart_entries_match_the_semantics(built) -> None:
    project, warehouse, centers, build = built
    assert build.success, build.failures
    assert build.mode == "full" and build.staging_rebuilt == 16
    got = _query(warehouse, "select * from marts.chart_entries order by center_id, entry_id")
    expected = synthetic.expected_chart_entries(centers, *_insurance_codes(project))
    assert len(expected) > 20
    assert got == expected
    # The fixture exercises every branch of the rules.
    statuses = {row[5] for row in got}
    assert statuses == {"GKV", "PKV", "Selbstzahler"}
    assert any(row[8] and "," in row[8] for row in got) and any(row[8] is None for row in got)
    assert any("\n" in row[7] for row in got) and any('"' in row[7] for row in got)
    columns = [r[0] for r in _query(warehouse, "describe marts.chart_entries")]
    assert columns == [
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
    services = _query(warehouse, "select count(*), count(distinct center_id) from marts.services")
    assert services[0][1] == 4 and services[0][0] > 0


def test_unions_are_built_in_chunks(built) -> None:
    project, warehouse, centers, _ = built
    compiled = (project / "target/compiled/ivoris/models/intermediate/int_services_unioned.sql").read_text(
        "utf-8"
    )
    chunks = compiled.split("union all /* ivoris: next chunk */")
    assert [c.count('"staging"."stg_center_') for c in chunks] == [3, 1]
    counted = _query(
        warehouse, "select center_id, count(*) from intermediate.int_services_unioned group by 1 order by 1"
    )
    assert counted == [(c.center_id, len(c.rows["LEISTUNG"])) for c in centers]


def test_unit_tests_and_warning_test_ran(built) -> None:
    project, _, _, build = built
    results = _run_results(project)
    unit = {k: v for k, v in results.items() if k.startswith("unit_test.")}
    assert set(unit) == {
        "unit_test.ivoris.chart_entries.chart_entries_insurance_rule",
        "unit_test.ivoris.chart_entries.chart_entries_service_aggregation",
    }
    assert set(unit.values()) == {"pass"}
    # ART 'X' is not in the seed: reported as a warning, the build still passes.
    assert results["test.ivoris.assert_insurance_type_codes_known"] == "warn"
    assert results["test.ivoris.assert_loaded_rows_reconcile_with_load_audit"] == "pass"


def test_nightly_build_rebuilds_only_changed_staging(built) -> None:
    project, warehouse, _, _ = built
    nightly = dbt_build(project, quiet=True)
    assert nightly.success, nightly.failures
    assert nightly.mode == "nightly" and nightly.staging_rebuilt == 0
    assert nightly.nodes > 10  # unions, marts and their tests still run

    # A re-rendered staging model (changed file) is rebuilt, and only it.
    changed = project / "models/staging/centers/center_002/stg_center_002__services.sql"
    original = changed.read_text(encoding="utf-8")
    changed.write_text(
        original.replace("select * from renamed", "select * from renamed\n-- changed"), "utf-8"
    )
    try:
        res = dbt_build(project, quiet=True)
        assert res.success and res.mode == "nightly" and res.staging_rebuilt == 1
    finally:
        changed.write_text(original, encoding="utf-8")
    assert dbt_build(project, quiet=True).staging_rebuilt == 1  # changed back: rebuilt once more

    # A hand-written change (here the seed's YAML): seeds (recreated) and unit tests run again.
    seeds_yml = project / "seeds/_seeds.yml"
    seeds_yml.write_text(seeds_yml.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    res = dbt_build(project, quiet=True)
    last = json.loads((project / "target/ivoris_last_build.json").read_text(encoding="utf-8"))
    assert res.success and res.staging_rebuilt == 0
    assert last["statuses"]["insurance_type_codes"] == "success"
    assert last["statuses"]["chart_entries_insurance_rule"] == "pass"
    res = dbt_build(project, quiet=True)  # and the night after, not any more
    last = json.loads((project / "target/ivoris_last_build.json").read_text(encoding="utf-8"))
    assert (
        "insurance_type_codes" not in last["statuses"]
        and "chart_entries_insurance_rule" not in last["statuses"]
    )

    # A deployed view that vanished from the warehouse is rebuilt.
    con = duckdb.connect(str(warehouse))
    con.execute("drop view staging.stg_center_003__insurers")
    con.close()
    res = dbt_build(project, quiet=True)
    assert res.success and res.staging_rebuilt == 1
    assert _query(warehouse, "select count(*) from staging.stg_center_003__insurers")[0][0] > 0


def test_reconciliation_test_fails_when_audit_and_warehouse_disagree(built) -> None:
    project, warehouse, _, _ = built
    con = duckdb.connect(str(warehouse))
    con.execute(
        "update ivoris_meta.load_audit set rows_written = rows_written + 1 "
        "where center_id = 'center_001' and canonical_table = 'KARTEI' and business_date = '2024-01-03'"
    )
    con.close()
    try:
        res = dbt_build(project, select="assert_loaded_rows_reconcile_with_load_audit", quiet=True)
        assert not res.success
        assert any("assert_loaded_rows_reconcile_with_load_audit" in f for f in res.failures)
    finally:
        con = duckdb.connect(str(warehouse))
        con.execute(
            "update ivoris_meta.load_audit set rows_written = rows_written - 1 "
            "where center_id = 'center_001' and canonical_table = 'KARTEI' and business_date = '2024-01-03'"
        )
        con.close()
    assert dbt_build(project, select="assert_loaded_rows_reconcile_with_load_audit", quiet=True).success


def test_project_builds_with_zero_centers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = synthetic.copy_project(ROOT, tmp_path / "fresh")
    warehouse = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("IVORIS_DUCKDB_PATH", str(warehouse))
    monkeypatch.delenv("IVORIS_TARGET", raising=False)
    res = dbt_build(project, quiet=True)  # nothing rendered, no audit table: a fresh clone
    assert res.success, res.failures
    assert _query(warehouse, "select count(*) from marts.chart_entries") == [(0,)]
    assert [r[0] for r in _query(warehouse, "select schema_name from information_schema.schemata")].count(
        "marts"
    ) == 1
