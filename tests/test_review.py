"""The review gate: approve, refuse with reasons, edits after approval, `ivoris show`."""

from __future__ import annotations

import argparse
import copy

import pytest
import yaml
from discover_helpers import small_fleet

from extract.discover.cli import cmd_approve, cmd_show
from extract.discover.review import approve_centers, format_mapping
from extract.discover.service import check_center, discover_centers
from extract.errors import ConfigError, MappingNotApprovedError
from extract.mapping import load_approved, load_mapping


@pytest.fixture
def fleet(tmp_path):
    settings = small_fleet(tmp_path)
    discover_centers(settings)
    return settings


def test_approve_healthy_refuse_blocked_and_missing(fleet):
    outcomes = {o.center_id: o for o in approve_centers(fleet, None, True, "dr.review")}
    assert {cid: o.approved for cid, o in outcomes.items()} == {
        "good": True,
        "clean": True,
        "amb": False,
        "gone": False,
        "corrupt": False,
    }
    assert "ambiguous" in outcomes["amb"].reason and "KARTEI_ZZ" in outcomes["amb"].reason
    assert "no mapping" in outcomes["gone"].reason and "ivoris discover" in outcomes["gone"].reason
    good = load_approved(fleet.mapping_path("good"), "good")
    assert good.reviewed_by == "dr.review" and good.reviewed_at and good.is_approved
    assert not load_mapping(fleet.mapping_path("amb")).reviewed


def test_approving_again_is_a_no_op(fleet):
    approve_centers(fleet, ["good"], False, "first")
    before = fleet.mapping_path("good").read_bytes()
    (o,) = approve_centers(fleet, ["good"], False, "second")
    assert o.approved and "already approved by first" in o.reason
    assert fleet.mapping_path("good").read_bytes() == before


def test_unknown_center_and_empty_selection(fleet):
    (o,) = approve_centers(fleet, ["nope"], False, "x")
    assert not o.approved and "nope" in o.reason
    with pytest.raises(ConfigError):
        approve_centers(fleet, [], False, "x")


def test_edited_approved_mapping_stops_counting(fleet):
    approve_centers(fleet, ["good"], False, "x")
    path = fleet.mapping_path("good")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["tables"]["KARTEI"]["columns"]["BEMERKUNG"]["physical"] = "ZAHN_X1"  # a hand edit
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    edited = load_mapping(path)
    assert edited.reviewed and not edited.is_approved
    with pytest.raises(MappingNotApprovedError, match="edited after approval"):
        load_approved(path, "good")
    with pytest.raises(MappingNotApprovedError):
        check_center(fleet, fleet.center("good"))
    assert "edited after approval" in format_mapping(edited)


def test_hand_resolved_ambiguity_can_be_approved_but_is_checked_live(fleet):
    """A reviewer picks one candidate in the file and deletes the problem; approve verifies it live."""
    path = fleet.mapping_path("amb")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["problems"] = [p for p in doc["problems"] if p["kind"] != "ambiguous"]
    good = load_mapping(fleet.mapping_path("good"))  # same shape in this fleet
    kartei = good.to_dict()["tables"]["KARTEI"]
    doc["tables"]["KARTEI"] = copy.deepcopy({**kartei, "physical": "KARTEI_NOPE"})
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (o,) = approve_centers(fleet, ["amb"], False, "x")
    assert not o.approved and "KARTEI_NOPE" in o.reason

    doc["tables"]["KARTEI"]["physical"] = "KARTEI_ZZ"
    del doc["tables"]["KARTEI"]["columns"]["DATUM"]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (o,) = approve_centers(fleet, ["amb"], False, "x")
    assert not o.approved and "KARTEI.DATUM" in o.reason

    doc["tables"]["KARTEI"]["columns"]["DATUM"] = kartei["columns"]["DATUM"]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (o,) = approve_centers(fleet, ["amb"], False, "x")
    assert o.approved, o.reason
    assert check_center(fleet, fleet.center("amb")).tables["KARTEI"].physical == "KARTEI_ZZ"


def test_cli_approve_and_show(fleet, capsys, monkeypatch):
    monkeypatch.setenv("USER", "envuser")
    code = cmd_approve(
        argparse.Namespace(config=str(fleet.config_path), ids=["good", "amb"], all=False, by=None)
    )
    out = capsys.readouterr().out
    assert code == 1
    assert any(line.split()[:2] == ["good", "approved"] for line in out.splitlines())
    assert any(line.split()[:2] == ["amb", "REFUSED"] for line in out.splitlines())
    assert load_mapping(fleet.mapping_path("good")).reviewed_by == "envuser"

    assert cmd_show(argparse.Namespace(config=str(fleet.config_path), center="good")) == 0
    out = capsys.readouterr().out
    assert "APPROVED by envuser" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("KARTEI.DATUM"))
    assert "DATUM_3A4" in line and "INTEGER (integer)" in line and "suffix _3A4" in line
    assert "KARTEIABRECHNUNG" in out and "unsafe_name" in out

    assert cmd_show(argparse.Namespace(config=str(fleet.config_path), center="amb")) == 0
    out = capsys.readouterr().out
    assert "[BLOCKING] ambiguous KARTEI" in out and "NOT APPROVED" in out

    assert (
        cmd_approve(argparse.Namespace(config=str(fleet.config_path), ids=["clean"], all=False, by="me")) == 0
    )
    with pytest.raises(ConfigError):
        cmd_show(argparse.Namespace(config=str(fleet.config_path), center="gone"))
