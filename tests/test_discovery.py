"""Discovery over real DuckDB center files: proposals, failure isolation, drift, the CLI."""

from __future__ import annotations

import argparse
import hashlib

import pytest
from discover_helpers import SUFFIXED, alter, small_fleet, write_center, write_config

from extract.discover.cli import cmd_discover
from extract.discover.review import approve_centers
from extract.discover.service import check_center, check_live_schema, discover_centers, read_catalog
from extract.errors import MappingNotApprovedError, MappingProblemError, SchemaDriftError
from extract.mapping import load_mapping


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fleet(tmp_path):
    return small_fleet(tmp_path)


def test_discovery_of_a_small_fleet(fleet):
    results = {r.center_id: r for r in discover_centers(fleet, workers=3)}
    assert {cid: r.status for cid, r in results.items()} == {
        "good": "proposed",
        "clean": "proposed",
        "amb": "blocked",
        "gone": "failed",
        "corrupt": "failed",
    }

    good = load_mapping(fleet.mapping_path("good"))
    assert good.reviewed is False and good.schema == "ck"
    assert {t: tm.physical for t, tm in good.tables.items()} == {
        "KARTEI": "KARTEI_MN",
        "LEISTUNG": "LEISTUNG_Q7",
        "PATIENT": "PATIENT_AB",
        "KASSEN": "KASSEN_K2",
        "PATKASSE": "PATKASSE_PK",
    }
    for _tname, tm in good.tables.items():
        for _cname, cm in tm.columns.items():
            assert cm.physical in SUFFIXED[tm.physical]
            assert cm.data_type == SUFFIXED[tm.physical][cm.physical]
    assert good.tables["KARTEI"].columns["DATUM"].physical == "DATUM_3A4"
    assert good.tables["KARTEI"].unmatched_columns == ["ZAHN_X1"]
    assert "dbo.KARTEI_OLD" in good.tables["KARTEI"].evidence
    assert {"KARTEIABRECHNUNG", "LEISTUNGVALID", "KARTEI_MN_ARCHIV", "ARCHIV_KARTEI_MN", "TERMINE"} <= set(
        good.unmatched_tables
    )
    unsafe = [p for p in good.problems if p.kind == "unsafe_name"]
    assert len(unsafe) == 1 and not unsafe[0].blocking and "DROP TABLE" in unsafe[0].message

    clean = load_mapping(fleet.mapping_path("clean"))
    assert clean.schema == "main" and not clean.blocking_problems
    assert clean.tables["PATIENT"].columns["P_NAME"].physical == "p_name"
    assert clean.tables["KARTEI"].columns["DATUM"].family == "datetime"
    assert clean.tables["LEISTUNG"].columns["DATUM"].family == "text"

    amb = results["amb"]
    (p,) = [p for p in amb.problems if p.blocking]
    assert p.kind == "ambiguous" and p.candidates == ["KARTEI_MN", "KARTEI_ZZ"]
    assert load_mapping(fleet.mapping_path("amb")).blocking_problems  # written for review

    assert "does not exist" in results["gone"].error
    assert "corrupt" in results["corrupt"].error or "cannot open" in results["corrupt"].error
    assert not fleet.mapping_path("gone").exists() and not fleet.mapping_path("corrupt").exists()


def test_cmd_discover_exit_code_and_summary(fleet, capsys):
    code = cmd_discover(argparse.Namespace(config=str(fleet.config_path), centers=None, workers=4))
    out = capsys.readouterr().out
    assert code == 1
    for cid, status in [("good", "proposed"), ("amb", "blocked"), ("gone", "failed"), ("corrupt", "failed")]:
        assert any(line.split()[:2] == [cid, status] for line in out.splitlines()), out
    assert "ambiguous KARTEI" in out
    code = cmd_discover(
        argparse.Namespace(config=str(fleet.config_path), centers=["good", "clean"], workers=2)
    )
    assert code == 0
    assert "2 proposed of 2 centers" in capsys.readouterr().out


def test_approved_mapping_is_never_overwritten_and_drift_is_reported(fleet, tmp_path):
    discover_centers(fleet, ["good", "clean"])
    outcomes = approve_centers(fleet, ["good", "clean"], False, "tester")
    assert all(o.approved for o in outcomes), outcomes
    path = fleet.mapping_path("good")
    before = digest(path)

    (res,) = discover_centers(fleet, ["good"])
    assert res.status == "unchanged" and res.problems == [] and digest(path) == before
    assert check_center(fleet, fleet.center("good")).is_approved

    # rename a column, retype another, drop a table: three kinds of drift
    db = fleet.center("good").source.path
    alter(
        db,
        'ALTER TABLE ck."KARTEI_MN" RENAME COLUMN "BEMERKUNG_X1" TO "BEMERKUNG_NEU"',
        'ALTER TABLE ck."LEISTUNG_Q7" ALTER COLUMN "DATUM_Q7" TYPE BOOLEAN USING false',
        'ALTER TABLE ck."KASSEN_K2" RENAME TO "KASSEN_K9"',
    )
    (res,) = discover_centers(fleet, ["good"])
    assert res.status == "drift" and digest(path) == before
    by_obj = {p.object: p for p in res.problems}
    assert set(by_obj) == {"KARTEI.BEMERKUNG", "LEISTUNG.DATUM", "KASSEN"}
    assert all(p.kind == "drift" and p.blocking for p in res.problems)
    assert (
        "BEMERKUNG_X1" in by_obj["KARTEI.BEMERKUNG"].message
        and "BEMERKUNG_NEU" in by_obj["KARTEI.BEMERKUNG"].message
    )
    assert (
        "date" in by_obj["LEISTUNG.DATUM"].message and "BOOLEAN (boolean)" in by_obj["LEISTUNG.DATUM"].message
    )
    assert "KASSEN_K2" in by_obj["KASSEN"].message and "KASSEN_K9" in by_obj["KASSEN"].message
    assert all(m.startswith("good: ") for m in (p.message for p in res.problems))

    with pytest.raises(SchemaDriftError) as err:
        check_center(fleet, fleet.center("good"))
    assert "BEMERKUNG_NEU" in str(err.value) and err.value.center_id == "good"
    assert load_mapping(path).is_approved  # still approved; a person decides

    code = cmd_discover(
        argparse.Namespace(config=str(fleet.config_path), centers=["good", "clean"], workers=2)
    )
    assert code == 1

    # approving again is refused while the live schema differs
    (o,) = approve_centers(fleet, ["good"], False, "tester")
    assert not o.approved and "BEMERKUNG_NEU" in o.reason


def test_case_only_changes_are_not_drift(fleet):
    discover_centers(fleet, ["good"])
    approve_centers(fleet, ["good"], False, "tester")
    mapping = load_mapping(fleet.mapping_path("good"))
    from extract.canonical import load_canonical

    cat = read_catalog(fleet.center("good"))
    shouted = [
        type(c)(c.schema.upper(), c.table.lower(), c.column.lower(), c.data_type.upper(), c.ordinal)
        for c in cat
    ]
    assert check_live_schema(mapping, shouted, load_canonical()) == []


def test_check_center_refuses_unapproved_and_blocked(fleet):
    discover_centers(fleet, ["good", "amb"])
    with pytest.raises(MappingNotApprovedError):
        check_center(fleet, fleet.center("good"))
    with pytest.raises(MappingProblemError):
        check_center(fleet, fleet.center("amb"))
    with pytest.raises(MappingNotApprovedError):
        check_center(fleet, fleet.center("gone"))  # never discovered


def test_unapproved_proposal_is_replaced_on_rediscovery(fleet):
    discover_centers(fleet, ["amb"])
    alter(fleet.center("amb").source.path, 'DROP TABLE ck."KARTEI_ZZ"')
    (res,) = discover_centers(fleet, ["amb"])
    assert res.status == "proposed"
    assert load_mapping(fleet.mapping_path("amb")).tables["KARTEI"].physical == "KARTEI_MN"


def test_schema_from_config(tmp_path):
    db = write_center(tmp_path / "c.duckdb", {"ck": {"KARTEI_AA": SUFFIXED["KARTEI_MN"]}, "ivoris": SUFFIXED})
    settings = write_config(
        tmp_path, {"hinted": db, "auto": db, "wrong": db}, schema={"hinted": "ivoris", "wrong": "nope"}
    )
    res = {r.center_id: r for r in discover_centers(settings)}
    assert res["hinted"].status == "proposed" and res["hinted"].mapping.schema == "ivoris"
    assert res["auto"].status == "proposed" and res["auto"].mapping.schema == "ivoris"
    assert res["wrong"].status == "blocked" and res["wrong"].problems[0].kind == "missing_schema"


def test_sources_are_opened_read_only(fleet):
    """Discovery must not change a center file at all."""
    path = fleet.center("good").source.path
    before = digest(path)
    discover_centers(fleet, ["good"])
    assert digest(path) == before


# ---- 50 generated demo centers + the problem centers, against the generator's ground truth ----------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import datetime as dt

    from extract.config import load_settings
    from extract.demo.api import create_demo
    from extract.demo.truth import load_truth

    out = tmp_path_factory.mktemp("demo50")
    result = create_demo(
        out / "centers",
        out / "config" / "centers.yml",
        centers=50,
        days=3,
        entries_per_day=3,
        problems=True,
        unrelated_tables=400,
        end_date=dt.date(2026, 11, 20),
    )
    settings = load_settings(result.config_path)
    drifted = settings.mapping_path("problem_drifted")
    before = digest(drifted)
    results = {r.center_id: r for r in discover_centers(settings, workers=4)}
    return settings, load_truth(out / "centers")["centers"], results, before


def test_demo_healthy_centers_reproduce_ground_truth(demo):
    settings, truth, results, _ = demo
    healthy = [cid for cid, t in truth.items() if t["kind"] == "ok"]
    assert len(healthy) == 50
    for cid in healthy:
        res = results[cid]
        assert res.status == "proposed", (cid, [p.message for p in res.problems])
        mapping = load_mapping(settings.mapping_path(cid))
        assert mapping.schema == truth[cid]["schema"], cid
        got = {
            t: {"physical": tm.physical, "columns": {c: cm.physical for c, cm in tm.columns.items()}}
            for t, tm in mapping.tables.items()
        }
        assert got == truth[cid]["tables"], cid
        assert not mapping.blocking_problems


def test_demo_flags_exactly_the_problem_centers(demo):
    settings, truth, results, drifted_before = demo
    expected_status = {
        "ok": "proposed",
        "ambiguous": "blocked",
        "incomplete": "blocked",
        "drifted": "drift",
        "unreachable": "failed",
        "corrupt": "failed",
    }
    assert {cid: r.status for cid, r in results.items()} == {
        cid: expected_status[t["kind"]] for cid, t in truth.items()
    }
    for cid, t in truth.items():
        res = results[cid]
        if t["kind"] in ("ambiguous", "incomplete", "drifted"):
            flagged = {(p.kind, p.object) for p in res.problems if p.blocking}
            assert flagged == {(p["kind"], p["object"]) for p in t["problems"]}, cid
            for want in t["problems"]:
                got = next(p for p in res.problems if (p.kind, p.object) == (want["kind"], want["object"]))
                assert cid in got.message and want["object"].split(".")[-1] in got.message
                for name in want.get("candidates", []):
                    assert name in got.candidates and name in got.message
            # what could be matched still matches the truth
            for tname, tt in t["tables"].items():
                if tt["physical"] and tname in res.mapping.tables:
                    tm = res.mapping.tables[tname]
                    assert tm.physical == tt["physical"]
                    for cname, phys in tt["columns"].items():
                        if phys and t["kind"] != "drifted":
                            assert tm.columns[cname].physical == phys
        if t["kind"] in ("unreachable", "corrupt"):
            assert res.mapping is None and not settings.mapping_path(cid).exists()
            assert "does not exist" in res.error or "not a valid DuckDB" in res.error

    drift = results["problem_drifted"]
    (p,) = drift.problems
    want = truth["problem_drifted"]["problems"][0]
    assert want["approved"] in p.message and want["live"] in p.message
    assert digest(settings.mapping_path("problem_drifted")) == drifted_before  # approval never overwritten
    with pytest.raises(SchemaDriftError):
        check_center(settings, settings.center("problem_drifted"))


def test_demo_cli_exit_code_and_approval_gate(demo, capsys):
    settings, truth, _, _ = demo
    code = cmd_discover(argparse.Namespace(config=str(settings.config_path), centers=None, workers=4))
    out = capsys.readouterr().out
    assert code == 1
    for cid, t in truth.items():
        if t["kind"] != "ok":
            assert cid in out.split("need attention:")[1]
    outcomes = {o.center_id: o for o in approve_centers(settings, None, True, "reviewer")}
    assert {cid for cid, o in outcomes.items() if o.approved} == {
        cid for cid, t in truth.items() if t["kind"] == "ok"
    }
    for cid, t in truth.items():
        if t["kind"] == "ok":
            assert check_center(settings, settings.center(cid)).is_approved
    code = cmd_discover(
        argparse.Namespace(config=str(settings.config_path), centers=["center_01", "center_02"], workers=2)
    )
    assert code == 0 and "2 unchanged of 2 centers" in capsys.readouterr().out
