"""`ivoris render`: deterministic generated dbt files from approved mappings only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from extract.config import load_settings
from extract.mapping import load_mapping, save_mapping
from extract.render import synthetic
from extract.render.render import GENERATED_MARK, render_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return synthetic.copy_project(ROOT, tmp_path / "proj")


def _setup(project: Path, n: int = 5, *, approve: bool = True) -> list[synthetic.SyntheticCenter]:
    centers = synthetic.make_centers(n)
    synthetic.write_config(project / "config" / "centers.yml", centers, approve=approve)
    return centers


def _generated(project: Path) -> dict[str, bytes]:
    out = {}
    for root in ("models/staging/centers", "macros/generated"):
        for p in sorted((project / root).rglob("*")):
            if p.is_file():
                out[p.relative_to(project).as_posix()] = p.read_bytes()
    return out


def test_render_writes_sources_staging_unions_and_macro(project: Path) -> None:
    _setup(project, 3)
    result = render_project(load_settings(project / "config" / "centers.yml"), project)
    assert result.centers == ["center_001", "center_002", "center_003"]
    assert result.skipped == {}
    files = _generated(project)
    folder = "models/staging/centers/center_002"
    assert set(f for f in files if f.startswith(folder)) == {
        f"{folder}/_center_002__sources.yml",
        f"{folder}/_center_002__models.yml",
        f"{folder}/stg_center_002__chart_entries.sql",
        f"{folder}/stg_center_002__services.sql",
        f"{folder}/stg_center_002__insurers.sql",
        f"{folder}/stg_center_002__insurance_links.sql",
    }
    # Every generated file says it is generated and from what.
    for name, data in files.items():
        head = data.decode("utf-8").splitlines()[0]
        assert GENERATED_MARK in head and "do not edit" in head, name
    assert (
        "from config/mappings/center_002.yml" in files[f"{folder}/stg_center_002__chart_entries.sql"].decode()
    )

    # The sources YAML points at the loader's layout with the physical names.
    mapping = load_mapping(project / "config" / "mappings" / "center_002.yml")
    src = yaml.safe_load(files[f"{folder}/_center_002__sources.yml"])["sources"][0]
    assert src["name"] == "raw_center_002" and src["schema"] == "raw_center_002"
    assert src["config"]["loaded_at_field"] == "_loaded_at"
    assert src["config"]["freshness"]["warn_after"] == {"count": 36, "period": "hour"}
    tables = {t["name"]: t for t in src["tables"]}
    # snapshot tables are rewritten only when they changed: no freshness judged on them
    assert tables["kassen"]["config"] == {"freshness": None} and "config" not in tables["kartei"]
    assert set(tables) == {"kartei", "leistung", "kassen", "patkasse"}  # PATIENT is never loaded
    assert tables["kartei"]["identifier"] == mapping.tables["KARTEI"].physical
    kartei_cols = [c["name"] for c in tables["kartei"]["columns"]]
    assert mapping.tables["KARTEI"].columns["DATUM"].physical in kartei_cols
    assert "_business_date" in kartei_cols and "_business_date" not in [
        c["name"] for c in tables["kassen"]["columns"]
    ]
    assert all(c["description"] for t in tables.values() for c in t["columns"])
    assert "Grain" in tables["kartei"]["description"]

    # Staging shape: source CTE, renamed CTE with the physical -> canonical names, select * from renamed.
    sql = files[f"{folder}/stg_center_002__chart_entries.sql"].decode()
    datum = mapping.tables["KARTEI"].columns["DATUM"]
    assert "{{ source('raw_center_002', 'kartei') }}" in sql
    assert f"{{{{ ivoris_to_date('\"{datum.physical}\"', '{datum.family}') }}}} as entry_date" in sql
    assert "ivoris_is_deleted('\"DELKZ\"', 'boolean') }} as is_deleted" in sql
    assert "cast('center_002' as {{ ivoris_type_text(64) }}) as center_id" in sql
    assert sql.rstrip().endswith("select * from renamed")
    for personal in ("P_NAME", "P_VORNAME", "patients"):
        assert all(personal not in data.decode() for data in files.values())

    macro = files["macros/generated/ivoris_generated.sql"].decode()
    assert "'center_name': 'Zahnärzte \\'am Hafen\\' 2'" in macro


def test_render_is_deterministic_and_does_not_rewrite(project: Path, tmp_path: Path) -> None:
    _setup(project, 4)
    settings = load_settings(project / "config" / "centers.yml")
    first = render_project(settings, project)
    before = _generated(project)
    mtimes = {p: p.stat().st_mtime_ns for p in first.written}
    second = render_project(settings, project)
    assert second.written == [] and second.removed == []
    assert sorted(second.unchanged) == sorted(first.written)
    assert all(p.stat().st_mtime_ns == mtimes[p] for p in second.unchanged)
    # A second project rendered from the same config is byte-identical.
    other = synthetic.copy_project(ROOT, tmp_path / "other")
    render_project(settings, other)
    assert _generated(other) == before


def test_render_is_skipped_only_while_inputs_and_files_are_unchanged(project: Path) -> None:
    _setup(project, 3)
    settings = load_settings(project / "config" / "centers.yml")
    first = render_project(settings, project)
    expected = _generated(project)
    sql = project / "models/staging/centers/center_002/stg_center_002__services.sql"
    # A file edited or deleted by hand is rendered again, though no input changed.
    sql.write_text("-- edited by hand\n", encoding="utf-8")
    assert render_project(settings, project).written == [sql]
    sql.unlink()
    assert render_project(settings, project).written == [sql]
    assert _generated(project) == expected
    again = render_project(settings, project)
    assert again.written == [] and sorted(again.unchanged) == sorted(first.written)
    assert again.centers == first.centers
    # A changed input (here a center's name) renders again.
    config = project / "config" / "centers.yml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["centers"][0]["name"] = "Renamed Praxis"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    renamed = render_project(load_settings(config), project)
    assert project / "macros/generated/ivoris_generated.sql" in renamed.written
    assert "Renamed Praxis" in (project / "macros/generated/ivoris_generated.sql").read_text(encoding="utf-8")


def test_unapproved_and_edited_mappings_are_skipped(project: Path) -> None:
    _setup(project, 3)
    mdir = project / "config" / "mappings"
    unreviewed = load_mapping(mdir / "center_001.yml")
    unreviewed.reviewed = False
    save_mapping(unreviewed, mdir / "center_001.yml")
    edited = load_mapping(mdir / "center_003.yml")
    edited.tables["KARTEI"].physical = "KARTEI_OTHER"  # changed after approval: fingerprint differs
    save_mapping(edited, mdir / "center_003.yml")
    result = render_project(load_settings(project / "config" / "centers.yml"), project)
    assert result.centers == ["center_002"]
    assert set(result.skipped) == {"center_001", "center_003"}
    assert "not reviewed" in result.skipped["center_001"]
    assert "edited after approval" in result.skipped["center_003"]
    assert not (project / "models/staging/centers/center_001").exists()
    assert "center_003" not in (project / "macros/generated/ivoris_generated.sql").read_text(encoding="utf-8")


def test_dropped_center_files_removed_but_hand_written_files_kept(project: Path) -> None:
    centers = _setup(project, 3)
    config = project / "config" / "centers.yml"
    render_project(load_settings(config), project)
    folder = project / "models/staging/centers/center_003"
    assert folder.is_dir()
    # Generated files of earlier layouts (union parts) are cleaned up as well.
    stale = project / "models/intermediate/generated/int_services_unioned__part_001.sql"
    stale.parent.mkdir(parents=True)
    stale.write_text(
        f"-- {GENERATED_MARK} from config/centers.yml — do not edit\nselect 1\n", encoding="utf-8"
    )
    # A hand-written file in another center's folder must survive any render.
    notes = project / "models/staging/centers/center_002/notes.md"
    notes.write_text("hand-written\n", encoding="utf-8")

    synthetic.write_config(config, centers[:1] + centers[1:2])  # center_003 left the config
    result = render_project(load_settings(config), project)
    assert not folder.exists()
    removed = {p.relative_to(project).as_posix() for p in result.removed}
    assert "models/staging/centers/center_003/stg_center_003__chart_entries.sql" in removed
    assert notes.read_text(encoding="utf-8") == "hand-written\n"
    assert not stale.parent.exists()
    assert "center_003" not in (project / "macros/generated/ivoris_generated.sql").read_text(encoding="utf-8")

    # Nothing configured: only the (empty) macro stays, so the project still builds.
    config.write_text("centers: []\n", encoding="utf-8")
    render_project(load_settings(config), project)
    assert sorted(_generated(project)) == [
        "macros/generated/ivoris_generated.sql",
        "models/staging/centers/center_002/notes.md",
    ]


def test_seeds_mirror_reference_data() -> None:
    import csv

    from extract.demo.reference import INSURANCE_TYPE_CODES, SERVICE_CODES

    with open(ROOT / "seeds/insurance_type_codes.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    assert [tuple(r[:3]) for r in rows] == [tuple(r) for r in INSURANCE_TYPE_CODES]
    assert {r[0] for r in rows if r[3] == "1"} == {"P"}  # only P matches in any case (DESIGN.md rule 2)
    with open(ROOT / "seeds/service_codes.csv", encoding="utf-8", newline="") as fh:
        assert [tuple(r) for r in list(csv.reader(fh))[1:]] == [tuple(r) for r in SERVICE_CODES]
