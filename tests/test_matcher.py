"""Unit tests of the discovery matcher over synthetic catalogs: every variation of DESIGN.md."""

from __future__ import annotations

import time

import pytest

from extract.canonical import load_canonical
from extract.discover.matcher import match_center, suffix_base
from extract.sources.base import CatalogColumn

CANON = load_canonical()

# canonical column -> a physical type per table, as a typical center stores it
TYPES = {
    "PATIENT": {"ID": "INTEGER", "P_NAME": "VARCHAR", "P_VORNAME": "VARCHAR", "DELKZ": "INTEGER"},
    "KASSEN": {"ID": "INTEGER", "NAME": "VARCHAR", "ART": "VARCHAR", "DELKZ": "INTEGER"},
    "PATKASSE": {"ID": "INTEGER", "PATNR": "INTEGER", "KASSENID": "INTEGER", "DELKZ": "INTEGER"},
    "KARTEI": {
        "ID": "INTEGER",
        "PATNR": "INTEGER",
        "DATUM": "INTEGER",
        "BEMERKUNG": "VARCHAR",
        "DELKZ": "INTEGER",
    },
    "LEISTUNG": {
        "ID": "INTEGER",
        "PATIENTID": "INTEGER",
        "DATUM": "DATE",
        "LEISTUNG": "VARCHAR",
        "DELKZ": "BOOLEAN",
    },
}
KEEP = {"ID", "DELKZ"}  # keep their names even in suffixed centers


def physical(tables: dict[str, dict[str, str]], suffix: str | None, case=str) -> dict[str, dict[str, str]]:
    """Canonical tables -> physical names with a suffix (None = clean names), in a given case."""
    out = {}
    for i, (t, cols) in enumerate(tables.items()):
        tname = f"{t}_{suffix}{i}" if suffix else t
        out[case(tname)] = {
            case(c if (not suffix or c in KEEP) else f"{c}_{suffix}{j}"): typ
            for j, (c, typ) in enumerate(cols.items())
        }
    return out


def catalog(schemas: dict[str, dict[str, dict[str, str]]]) -> list[CatalogColumn]:
    return [
        CatalogColumn(schema, table, col, typ, pos)
        for schema, tables in schemas.items()
        for table, cols in tables.items()
        for pos, (col, typ) in enumerate(cols.items(), start=1)
    ]


def healthy(suffix: str | None = "X", case=str) -> dict[str, dict[str, str]]:
    return physical(TYPES, suffix, case)


def kinds(mapping, blocking=True) -> set[tuple[str, str]]:
    return {(p.kind, p.object) for p in mapping.problems if p.blocking == blocking}


def assert_complete(mapping) -> None:
    assert not mapping.blocking_problems, [p.message for p in mapping.problems]
    assert set(mapping.tables) == set(CANON.tables)
    for t, ct in CANON.tables.items():
        assert set(mapping.tables[t].columns) == set(ct.columns)


def test_clean_center_p_name_is_p_name():
    m = match_center("c1", catalog({"ck": healthy(None)}), CANON)
    assert_complete(m)
    assert m.schema == "ck"
    assert m.tables["PATIENT"].physical == "PATIENT"
    assert m.tables["PATIENT"].columns["P_NAME"].physical == "P_NAME"
    assert m.tables["PATIENT"].columns["P_VORNAME"].physical == "P_VORNAME"
    assert "exact name" in m.tables["PATIENT"].columns["P_NAME"].evidence
    assert m.reviewed is False and m.discovered_at


@pytest.mark.parametrize("suffix", ["M", "NA", "3A4", "NAN"])  # + table index digit -> 2, 3, 4 characters
def test_suffixes_of_two_to_four_characters(suffix):
    m = match_center("c1", catalog({"ck": healthy(suffix)}), CANON)
    assert_complete(m)
    assert m.tables["KARTEI"].physical == f"KARTEI_{suffix}3"
    assert m.tables["KARTEI"].columns["DATUM"].physical == f"DATUM_{suffix}2"
    assert m.tables["KARTEI"].columns["ID"].physical == "ID"
    assert f"suffix _{suffix}3" in m.tables["KARTEI"].evidence


def test_suffix_base():
    assert suffix_base("KARTEI_MN") == ("KARTEI", "MN")
    assert suffix_base("kartei_3a4x") == ("KARTEI", "3A4X")
    assert suffix_base("KARTEI_M") is None  # 1 character
    assert suffix_base("KARTEI_MNOPQ") is None  # 5 characters
    assert suffix_base("KARTEI_M-1") is None
    assert suffix_base("P_NAME") == ("P", "NAME")  # the matcher never asks for P: see the clean-center test


@pytest.mark.parametrize("bad", ["KARTEI_M", "KARTEI_ABCDE", "KARTEI_", "KARTEI__MN"])
def test_suffix_of_one_or_five_characters_never_matches(bad):
    tables = healthy("X")
    tables[bad] = tables.pop("KARTEI_X3")
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert ("missing_table", "KARTEI") in kinds(m)
    assert bad in m.unmatched_tables
    assert "KARTEI" not in m.tables


def test_column_suffix_of_five_characters_is_missing():
    tables = healthy("AB")
    tables["KARTEI_AB3"] = {
        "ID": "INTEGER",
        "PATNR_AB1": "INTEGER",
        "DATUM_ABCDE": "INTEGER",
        "BEMERKUNG_AB3": "VARCHAR",
        "DELKZ": "INTEGER",
    }
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert kinds(m) == {("missing_column", "KARTEI.DATUM")}
    assert "DATUM_ABCDE" in m.tables["KARTEI"].unmatched_columns
    msg = next(p.message for p in m.problems if p.kind == "missing_column")
    assert "c1" in msg and "DATUM" in msg and "KARTEI_AB3" in msg


def test_prefix_siblings_and_archive_copies_never_match():
    tables = healthy("MN")
    for extra in [
        "KARTEIABRECHNUNG",
        "KARTEIABRECHNUNG_X1",
        "LEISTUNGVALID",
        "LEISTUNGVALID_Q7",
        "KARTEI_MN3_ARCHIV",
        "KARTEI_MN_ARCHIV",
        "ARCHIV_KARTEI_MN",
        "PATIENTEN",
        "KASSENARTEN_AB",
    ]:
        tables[extra] = {"ID": "INTEGER", "DATUM": "INTEGER"}
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert_complete(m)
    assert m.tables["KARTEI"].physical == "KARTEI_MN3"
    assert m.tables["LEISTUNG"].physical == "LEISTUNG_MN4"
    assert {"KARTEIABRECHNUNG", "ARCHIV_KARTEI_MN", "KARTEI_MN_ARCHIV", "LEISTUNGVALID"} <= set(
        m.unmatched_tables
    )
    assert "ignored look-alikes" in m.tables["KARTEI"].evidence
    assert "ARCHIV_KARTEI_MN" in m.tables["KARTEI"].evidence


@pytest.mark.parametrize("case", [str.lower, str.title, lambda s: s[0].lower() + s[1:]])
def test_lower_and_mixed_case(case):
    m = match_center("c1", catalog({"ck": healthy("Ab", case)}), CANON)
    assert_complete(m)
    # physical names keep the catalog's spelling
    assert m.tables["KARTEI"].physical == case("KARTEI_Ab3")
    assert m.tables["KARTEI"].columns["BEMERKUNG"].physical == case("BEMERKUNG_Ab3")


def test_clean_lower_case_center():
    m = match_center("c1", catalog({"dbo": healthy(None, str.lower)}), CANON)
    assert_complete(m)
    assert m.schema == "dbo"
    assert m.tables["PATIENT"].columns["P_NAME"].physical == "p_name"


def test_stray_schema_is_ignored_and_mentioned():
    stray = {"KARTEI_ZZ": TYPES["KARTEI"], "LEISTUNG_OLD": TYPES["LEISTUNG"]}
    m = match_center("c1", catalog({"ivoris": healthy("QX"), "dbo": stray}), CANON)
    assert_complete(m)
    assert m.schema == "ivoris"
    assert "dbo.KARTEI_ZZ" in m.tables["KARTEI"].evidence
    assert "KARTEI_ZZ" not in m.unmatched_tables


def test_schema_hint_wins_and_missing_hint_blocks():
    stray = {"KARTEI_ZZ": TYPES["KARTEI"]}
    m = match_center("c1", catalog({"ck": stray, "main": healthy("QX")}), CANON, schema_hint="CK")
    assert m.schema == "ck"
    assert ("missing_table", "PATIENT") in kinds(m)
    assert m.tables["KARTEI"].physical == "KARTEI_ZZ"
    m = match_center("c1", catalog({"main": healthy("QX")}), CANON, schema_hint="ck")
    assert m.schema is None and not m.tables
    (p,) = m.blocking_problems
    assert p.kind == "missing_schema" and "'ck'" in p.message and "source.schema" in p.message


def test_schema_tie_is_ambiguous():
    m = match_center("c1", catalog({"a": healthy("QX"), "b": healthy("ZY")}), CANON)
    assert m.schema is None and not m.tables
    (p,) = m.blocking_problems
    assert p.kind == "ambiguous" and p.candidates == ["a", "b"]
    assert "c1" in p.message and "source.schema" in p.message


def test_empty_catalog_is_missing_every_table():
    m = match_center("c1", [], CANON)
    assert kinds(m) == {("missing_table", t) for t in CANON.tables}


@pytest.mark.parametrize(
    "typ",
    [
        "INTEGER",
        "int",
        "VARCHAR",
        "char(8)",
        "nvarchar",
        "DATE",
        "datetime",
        "TIMESTAMP",
        "datetime2",
        "timestamp with time zone",
    ],
)
def test_datum_date_like_types_fit(typ):
    tables = healthy("X")
    tables["KARTEI_X3"]["DATUM_X2"] = typ
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert_complete(m)
    col = m.tables["KARTEI"].columns["DATUM"]
    assert col.data_type == typ  # exactly as the catalog reports it
    assert col.family in {"integer", "text", "date", "datetime"}


@pytest.mark.parametrize(
    "typ,family", [("INTEGER", "integer"), ("BOOLEAN", "boolean"), ("bit", "boolean"), ("tinyint", "integer")]
)
def test_delkz_int_or_bit(typ, family):
    tables = healthy("X")
    tables["KARTEI_X3"]["DELKZ"] = typ
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert_complete(m)
    assert m.tables["KARTEI"].columns["DELKZ"].family == family


@pytest.mark.parametrize(
    "table,col,typ",
    [
        ("KARTEI_X3", "DATUM_X2", "BOOLEAN"),
        ("KARTEI_X3", "DATUM_X2", "DOUBLE"),
        ("KARTEI_X3", "PATNR_X1", "VARCHAR"),
        ("KARTEI_X3", "BEMERKUNG_X3", "INTEGER"),
        ("KARTEI_X3", "DELKZ", "VARCHAR"),
        ("KARTEI_X3", "DELKZ", "DATE"),
        ("KASSEN_X1", "ART_X2", "BLOB"),
    ],
)
def test_wrong_types_block(table, col, typ):
    tables = healthy("X")
    tables[table][col] = typ
    m = match_center("c1", catalog({"ck": tables}), CANON)
    (p,) = m.blocking_problems
    assert p.kind == "wrong_type" and p.candidates == [col]
    assert typ in p.message and "c1" in p.message
    canon_table = table.rsplit("_", 1)[0]
    assert p.object.startswith(canon_table + ".")
    assert m.tables[canon_table].columns[p.object.split(".")[1]].data_type == typ  # shown for review


HOSTILE = [
    'KARTEI_MN"; DROP TABLE x; --',
    "KARTEI_MN'",
    "KARTEI_MN;",
    "KARTEI_MN--",
    "KARTEI_MN/*",
    "[KARTEI_MN]",
    "KARTEI MN",
    "KARTEI_MÄ",
    "KARTEİ_MN",  # dotted capital I
    "KARTEI_\u212aA",  # Kelvin sign K, matches [a-z] under re.IGNORECASE
    "KARTEI_MN\n",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_table_name_is_never_a_candidate(name):
    tables = healthy("X")
    tables[name] = tables.pop("KARTEI_X3")
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert ("missing_table", "KARTEI") in kinds(m)
    assert name not in m.unmatched_tables
    notes = [p for p in m.problems if p.kind == "unsafe_name"]
    assert notes and not notes[0].blocking and repr(name) in notes[0].message


@pytest.mark.parametrize("name", HOSTILE[:-1])
def test_hostile_sibling_does_not_make_it_ambiguous(name):
    tables = healthy("X")
    tables[name.replace("_MN", "_X9")] = TYPES["KARTEI"]
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert_complete(m)
    assert kinds(m, blocking=False) == {("unsafe_name", "catalog")}


@pytest.mark.parametrize("name", ['DATUM_X2"--', "DATUM_X2;", "DATUM X2", "DATUM_XÖ", "DATUM_X2\n"])
def test_hostile_column_is_ignored(name):
    tables = healthy("X")
    cols = tables["KARTEI_X3"]
    tables["KARTEI_X3"] = {(name if c == "DATUM_X2" else c): t for c, t in cols.items()}
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert kinds(m) == {("missing_column", "KARTEI.DATUM")}
    assert name not in m.tables["KARTEI"].unmatched_columns
    assert any(p.kind == "unsafe_name" and repr(name) in p.message for p in m.problems)


def test_hostile_schema_is_ignored():
    m = match_center("c1", catalog({'ck"; --': healthy("X"), "ck": healthy("Y")}), CANON)
    assert_complete(m)
    assert m.schema == "ck"


def test_ambiguous_tables():
    tables = healthy("MN")
    tables["KARTEI_ZZ"] = TYPES["KARTEI"]
    m = match_center("c7", catalog({"ck": tables}), CANON)
    (p,) = m.blocking_problems
    assert p.kind == "ambiguous" and p.object == "KARTEI"
    assert p.candidates == ["KARTEI_MN3", "KARTEI_ZZ"]
    for part in ("c7", "KARTEI_MN3", "KARTEI_ZZ", "rename or drop", "ivoris discover"):
        assert part in p.message
    assert "KARTEI" not in m.tables  # never picked silently
    assert set(m.tables) == set(CANON.tables) - {"KARTEI"}


def test_ambiguous_exact_names_differing_in_case():
    tables = healthy(None)
    tables["kartei"] = TYPES["KARTEI"]
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert kinds(m) == {("ambiguous", "KARTEI")}


def test_ambiguous_columns():
    tables = healthy("MN")
    tables["KARTEI_MN3"]["DATUM_ALT"] = "DATE"
    m = match_center("c1", catalog({"ck": tables}), CANON)
    (p,) = m.blocking_problems
    assert (p.kind, p.object) == ("ambiguous", "KARTEI.DATUM")
    assert p.candidates == ["DATUM_ALT", "DATUM_MN2"]
    assert "DATUM" not in m.tables["KARTEI"].columns
    assert {"DATUM_ALT", "DATUM_MN2"} <= set(m.tables["KARTEI"].unmatched_columns)


def test_missing_table_and_column():
    tables = healthy("MN")
    del tables["PATKASSE_MN2"]
    del tables["LEISTUNG_MN4"]["LEISTUNG_MN3"]
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert kinds(m) == {("missing_table", "PATKASSE"), ("missing_column", "LEISTUNG.LEISTUNG")}
    assert all("c1" in p.message for p in m.problems)


def test_exact_name_wins_over_suffixed():
    tables = healthy(None)
    tables["KARTEI_MN"] = TYPES["KARTEI"]  # a suffixed look-alike next to the exact name
    tables["KARTEI"]["DATUM_ALT"] = "DATE"
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert_complete(m)
    assert m.tables["KARTEI"].physical == "KARTEI"
    assert m.tables["KARTEI"].columns["DATUM"].physical == "DATUM"
    assert "DATUM_ALT" in m.tables["KARTEI"].unmatched_columns
    assert "KARTEI_MN" in m.unmatched_tables


def test_extra_columns_are_listed_unmatched():
    tables = healthy("Q1")
    tables["KARTEI_Q13"]["ZAHN_Q1"] = "VARCHAR"
    tables["KARTEI_Q13"]["ARZT"] = "INTEGER"
    m = match_center("c1", catalog({"ck": tables}), CANON)
    assert_complete(m)
    assert m.tables["KARTEI"].unmatched_columns == ["ZAHN_Q1", "ARZT"]


def test_many_unrelated_tables_are_capped_and_fast():
    tables = healthy("AB")
    for i in range(495):
        tables[f"T{i:03d}_X"] = {"ID": "INTEGER", "WERT": "VARCHAR", "DATUM": "DATE"}
    cat = catalog({"ck": tables})
    start = time.perf_counter()
    for _ in range(20):
        m = match_center("c1", cat, CANON)
    per_center = (time.perf_counter() - start) / 20
    assert_complete(m)
    assert len(m.unmatched_tables) == 51 and m.unmatched_tables[-1].startswith("... and 445 more")
    assert per_center < 0.05, per_center
