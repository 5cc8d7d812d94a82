"""The demo generator: determinism, every DESIGN.md variation (in memory and in the written DuckDB
catalogs), problem centers, and the reference implementation of marts.chart_entries."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from extract.canonical import load_canonical
from extract.cli import build_parser
from extract.config import load_settings
from extract.demo.api import create_demo
from extract.demo.cli import cmd_demo
from extract.demo.duckdb_writer import duckdb_type, qident
from extract.demo.generator import (
    DemoCenter,
    DemoDataset,
    PhysicalColumn,
    PhysicalTable,
    candidate_rank,
    candidates,
    check_unambiguous,
    generate_dataset,
)
from extract.demo.truth import (
    expected_chart_entries,
    load_expected,
    load_truth,
    truth_json,
)
from extract.errors import SourceUnavailableError
from extract.mapping import load_approved
from extract.sources.duckdb import DuckDBSource

END = dt.date(2025, 3, 31)
CANON = ("PATIENT", "KASSEN", "PATKASSE", "KARTEI", "LEISTUNG")
SUFFIXED = re.compile(r"^(?P<base>.+)_(?P<sfx>[A-Za-z0-9]{2,4})$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    result = create_demo(
        root / "centers",
        root / "config" / "centers.yml",
        centers=10,
        days=6,
        entries_per_day=8,
        seed=7,
        end_date=END,
        problems=True,
        unrelated_tables=400,
    )
    return result


@pytest.fixture(scope="module")
def healthy(demo):
    return [c for c in demo.dataset.centers if c.kind == "ok"]


def _catalog(path: Path) -> list[tuple[str, str, str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()


def _canon_tables(center: DemoCenter) -> dict[str, PhysicalTable]:
    return {canon: center.canonical_table(canon) for canon in CANON}


def _col(center: DemoCenter, canon: str, ccol: str) -> PhysicalColumn:
    t = center.canonical_table(canon)
    return t.columns[t.column_index(center.truth["tables"][canon]["columns"][ccol])]


def _values(center: DemoCenter, canon: str, ccol: str) -> list:
    t = center.canonical_table(canon)
    i = t.column_index(center.truth["tables"][canon]["columns"][ccol])
    return [r[i] for r in t.rows]


def _records(center: DemoCenter, canon: str) -> list[dict]:
    t = center.canonical_table(canon)
    idx = {c: t.column_index(p) for c, p in center.truth["tables"][canon]["columns"].items()}
    return [{c: r[i] for c, i in idx.items()} for r in t.rows]


def _deleted(v) -> bool:
    return v is not None and v != 0


# ---- determinism -------------------------------------------------------------------------------


def test_same_seed_same_dataset_and_truth(tmp_path):
    a = generate_dataset(
        centers=3, days=3, entries_per_day=4, seed=11, end_date=END, problems=True, unrelated_tables=30
    )
    b = generate_dataset(
        centers=3, days=3, entries_per_day=4, seed=11, end_date=END, problems=True, unrelated_tables=30
    )
    assert truth_json(a).encode() == truth_json(b).encode()
    for ca, cb in zip(a.centers, b.centers, strict=True):
        assert [(t.schema, t.name, t.columns, t.rows) for t in ca.tables] == [
            (t.schema, t.name, t.columns, t.rows) for t in cb.tables
        ]
    assert expected_chart_entries(a).equals(expected_chart_entries(b))
    c = generate_dataset(centers=3, days=3, entries_per_day=4, seed=12, end_date=END, unrelated_tables=30)
    assert truth_json(c) != truth_json(a)

    # written files: byte-identical ground truth from two runs
    r1 = create_demo(
        tmp_path / "one",
        tmp_path / "one.yml",
        centers=2,
        days=2,
        entries_per_day=3,
        seed=5,
        end_date=END,
        problems=True,
        unrelated_tables=10,
    )
    r2 = create_demo(
        tmp_path / "two",
        tmp_path / "two.yml",
        centers=2,
        days=2,
        entries_per_day=3,
        seed=5,
        end_date=END,
        problems=True,
        unrelated_tables=10,
    )
    assert (r1.out_dir / "ground_truth.json").read_bytes() == (r2.out_dir / "ground_truth.json").read_bytes()
    assert load_expected(r1.out_dir).equals(load_expected(r2.out_dir))


def test_a_center_does_not_depend_on_how_many_are_generated():
    small = generate_dataset(centers=2, days=2, entries_per_day=3, seed=3, end_date=END, unrelated_tables=5)
    large = generate_dataset(centers=12, days=2, entries_per_day=3, seed=3, end_date=END, unrelated_tables=5)
    for i in range(2):
        assert small.centers[i].truth == large.centers[i].truth
        assert [t.rows for t in small.centers[i].tables] == [t.rows for t in large.centers[i].tables]
    assert large.centers[11].id == "center_12" and large.centers[11].name and large.centers[11].city


# ---- variations ---------------------------------------------------------------------------------


def test_every_variation_is_in_the_default_ten_centers(healthy):
    assert [c.id for c in healthy] == [f"center_{i:02d}" for i in range(1, 11)]
    assert healthy[0].name == "Zahnarztpraxis München" and healthy[9].city == "Wien"
    check_variations(healthy)


def test_variations_keep_appearing_when_scaled():
    ds = generate_dataset(centers=30, days=2, entries_per_day=3, seed=42, end_date=END, unrelated_tables=50)
    assert len({c.id for c in ds.centers}) == 30
    for block in (ds.centers[10:20], ds.centers[20:30]):
        check_variations(block, big_catalog=50)


def check_variations(centers: list[DemoCenter], big_catalog: int = 400) -> None:
    canonical = load_canonical()
    for c in centers:
        check_unambiguous(c)  # exactly one candidate per canonical table and column

    # suffixes of 2-4 letters/digits on tables and non-key columns; ID/DELKZ usually plain
    suffixes = Counter()
    for c in centers:
        for canon, tdoc in c.truth["tables"].items():
            for name, base in [(tdoc["physical"], canon)] + [(p, k) for k, p in tdoc["columns"].items()]:
                if name.upper() != base:
                    m = SUFFIXED.match(name)
                    assert m and m["base"].upper() == base, name
                    suffixes[len(m["sfx"])] += 1
    assert set(suffixes) == {2, 3, 4}
    ids = [tdoc["columns"]["ID"] for c in centers for tdoc in c.truth["tables"].values()]
    assert Counter(i.upper() == "ID" for i in ids).most_common(1)[0][0] is True

    # a clean center: P_NAME is the column P_NAME
    clean = [c for c in centers if all(t["physical"] == k for k, t in c.truth["tables"].items())]
    assert clean and clean[0].truth["tables"]["PATIENT"]["columns"]["P_NAME"] == "P_NAME"

    # lower and mixed case
    names = [[t["physical"] for t in c.truth["tables"].values()] for c in centers]
    assert any(all(n == n.lower() for n in ns) for ns in names)
    assert any(all(n not in (n.lower(), n.upper()) for n in ns) for ns in names)

    # names are unique case-insensitively (SQL Server compares them so) per schema and per table
    for c in centers:
        assert len({(t.schema, t.name.lower()) for t in c.tables}) == len(c.tables)
        for t in c.tables:
            assert len({col.name.lower() for col in t.columns}) == len(t.columns), (c.id, t.name)
            assert all(len(row) == len(t.columns) for row in t.rows)

    # a schema other than ck; stray tables in another schema (one with an exact canonical name)
    assert {c.schema for c in centers} >= {"ck", "dbo"}
    strays = [(c, t) for c in centers for t in c.tables if t.schema != c.schema]
    assert strays
    assert any(candidate_rank(t.name, "PATIENT") == 0 for _, t in strays)
    assert any(c.schema != "ck" and t.schema == "ck" for c, t in strays)

    # DATUM as INT / CHAR(8) / DATE / DATETIME with a time part; DELKZ INT and BIT with NULLs
    datum_types = {_col(c, t, "DATUM").sql_type for c in centers for t in ("KARTEI", "LEISTUNG")}
    assert datum_types == {"INT", "CHAR(8)", "DATE", "DATETIME"}
    times = [
        v.time()
        for c in centers
        for t in ("KARTEI", "LEISTUNG")
        if _col(c, t, "DATUM").sql_type == "DATETIME"
        for v in _values(c, t, "DATUM")
    ]
    assert any(t != dt.time(0) for t in times)
    assert {_col(c, t, "DELKZ").sql_type for c in centers for t in CANON} == {"INT", "BIT"}
    for c in centers:
        flags = _values(c, "KARTEI", "DELKZ")
        assert None in flags and any(_deleted(f) for f in flags)
    int_flags = {
        v
        for c in centers
        for t in CANON
        if _col(c, t, "DELKZ").sql_type == "INT"
        for v in _values(c, t, "DELKZ")
    }
    assert {0, 1, None} <= int_flags and int_flags - {0, 1, None}  # some centers flag with 2 or -1

    # confusable siblings and archive copies: share a prefix, never a candidate
    for c in centers:
        own = [t.name for t in c.tables if t.schema == c.schema]
        for canon in CANON:
            assert candidates(own, canon) == [c.truth["tables"][canon]["physical"]]
    all_names = {t.name.upper() for c in centers for t in c.tables}
    assert {"KARTEIABRECHNUNG", "LEISTUNGVALID", "PATIENTKASSE"} & all_names
    prefixed = {
        n for n in all_names for canon in CANON if n.startswith(canon) and candidate_rank(n, canon) is None
    }
    assert any("ARCHIV" in n for n in prefixed) and any(n.startswith("ARCHIV_KARTEI") for n in all_names)
    assert any(re.match(r"^(KARTEI|LEISTUNG)_\d{4}_ALT$", n) for n in all_names)

    # extra non-canonical columns in canonical tables
    extra = [
        col
        for c in centers
        for t in _canon_tables(c).values()
        for col in t.columns
        if col.name not in t_names(c, t)
    ]
    assert len(extra) >= 10

    # one center with hundreds of unrelated tables in its schema; a hostile table name
    assert max(sum(t.schema == c.schema for t in c.tables) for c in centers) >= big_catalog
    hostile = [t.name for c in centers for t in c.tables if '"' in t.name or "'" in t.name]
    assert any('"' in n and ";" in n and "--" in n for n in hostile)

    # insurers: GKV digits, P, lower-case p, blank / NULL, S; deleted insurers
    arts = Counter(a for c in centers for a in _values(c, "KASSEN", "ART"))
    assert any(a and a.isdigit() for a in arts) and {"P", "p", "S", None, ""} <= set(arts)
    assert any(_deleted(v) for c in centers for v in _values(c, "KASSEN", "DELKZ"))
    real = {n for c in centers for n in _values(c, "KASSEN", "NAME")}
    assert {"Techniker Krankenkasse", "BARMER"} & real

    # insurance links: none, several, deleted, to deleted and to missing insurers
    for c in centers[:3]:
        patients = {p["ID"] for p in _records(c, "PATIENT")}
        links = _records(c, "PATKASSE")
        per_patient = Counter(link["PATNR"] for link in links)
        assert patients - set(per_patient), "some patients have no insurer"
        assert max(per_patient.values()) >= 2
        assert any(_deleted(link["DELKZ"]) for link in links)
    kassen_state = {}
    for c in centers:
        for k in _records(c, "KASSEN"):
            kassen_state[(c.id, k["ID"])] = _deleted(k["DELKZ"])
    link_targets = [
        kassen_state.get((c.id, link["KASSENID"]), "missing")
        for c in centers
        for link in _records(c, "PATKASSE")
    ]
    assert "missing" in link_targets and True in link_targets

    # chart notes: Unicode, quotes, newlines, long and empty texts; personal names are German-ish
    notes = [n for c in centers for n in _values(c, "KARTEI", "BEMERKUNG")]
    joined = "".join(notes)
    for needle in ("ä", "ß", "'", '"', "\n"):
        assert needle in joined
    assert any(ord(ch) > 0xFFFF for ch in joined), "an emoji (outside the BMP)"
    assert any(
        any(0x0400 <= ord(ch) <= 0x04FF or 0x0370 <= ord(ch) <= 0x03FF or ord(ch) >= 0x3040 for ch in n)
        for n in notes
    )
    assert "" in notes and max(len(n) for n in notes) > 4000
    surnames = {n for c in centers for n in _values(c, "PATIENT", "P_NAME")}
    assert {"Müller", "Schmidt", "Schneider"} & surnames

    # services: duplicates on a day, deleted ones, some on days without any entry
    for c in centers[:3]:
        services = _records(c, "LEISTUNG")
        days = {(e["PATNR"], _day(e["DATUM"])) for e in _records(c, "KARTEI")}
        keys = Counter((s["PATIENTID"], _day(s["DATUM"]), s["LEISTUNG"]) for s in services)
        assert max(keys.values()) >= 2
        assert any(_deleted(s["DELKZ"]) for s in services)
        assert any((s["PATIENTID"], _day(s["DATUM"])) not in days for s in services)
        assert {s["LEISTUNG"] for s in services} <= {
            code
            for code, _, _ in __import__("extract.demo.reference", fromlist=["SERVICE_CODES"]).SERVICE_CODES
        }
    assert canonical  # loaded (the rule's canonical model)


def t_names(center: DemoCenter, table: PhysicalTable) -> set[str]:
    for tdoc in center.truth["tables"].values():
        if tdoc["physical"] == table.name:
            return set(tdoc["columns"].values())
    return set()


def _day(v) -> dt.date:
    from extract.demo.truth import as_date

    return as_date(v)


def test_entries_end_at_end_date_with_the_requested_mean():
    ds = generate_dataset(centers=4, days=10, entries_per_day=12, seed=1, end_date=END, unrelated_tables=5)
    assert ds.start_date == END - dt.timedelta(days=9) and ds.end_date == END
    for c in ds.centers:
        days = [_day(v) for v in _values(c, "KARTEI", "DATUM")]
        assert min(days) >= ds.start_date and max(days) == END
        per_day = Counter(days)
        assert len(per_day) == 10
        assert abs(sum(per_day.values()) / 10 - 12) <= 1.5


def test_written_catalogs_match_the_dataset(demo):
    for c in demo.dataset.centers:
        if c.kind in ("unreachable", "corrupt"):
            continue
        path = demo.out_dir / f"{c.id}.duckdb"
        want = sorted(
            (t.schema, t.name, col.name, duckdb_type(col.sql_type)[0]) for t in c.tables for col in t.columns
        )
        assert sorted(_catalog(path)) == want
        con = duckdb.connect(str(path), read_only=True)
        try:
            for t in c.tables:
                n = con.execute(f"SELECT count(*) FROM {qident(t.schema)}.{qident(t.name)}").fetchone()[0]  # noqa: S608
                assert n == len(t.rows), (c.id, t.name)
        finally:
            con.close()


def test_variations_are_in_the_written_catalogs(demo, healthy):
    types = Counter()
    tables_in_schema = {}
    for c in healthy:
        cat = _catalog(demo.out_dir / f"{c.id}.duckdb")
        by_table = defaultdict(dict)
        for schema, table, column, data_type in cat:
            if schema == c.schema:
                by_table[table][column] = data_type
        tables_in_schema[c.id] = len(by_table)
        names = list(by_table)
        for canon, tdoc in c.truth["tables"].items():
            # the discovery rule over the real catalog finds exactly the truth
            assert candidates(names, canon) == [tdoc["physical"]]
            cols = list(by_table[tdoc["physical"]])
            for ccol, pcol in tdoc["columns"].items():
                assert candidates(cols, ccol) == [pcol]
                types[(canon, ccol, by_table[tdoc["physical"]][pcol])] += 1
    assert {d for (t, col, d) in types if col == "DATUM"} == {"INTEGER", "VARCHAR", "DATE", "TIMESTAMP"}
    assert {d for (t, col, d) in types if col == "DELKZ"} == {"INTEGER", "BOOLEAN"}
    assert max(tables_in_schema.values()) >= 400
    schemas = {s for c in healthy for s, *_ in _catalog(demo.out_dir / f"{c.id}.duckdb")}
    assert {"ck", "dbo"} <= schemas
    hostile = [t for c in healthy for _, t, _, _ in _catalog(demo.out_dir / f"{c.id}.duckdb") if '"' in t]
    assert hostile


# ---- problem centers ----------------------------------------------------------------------------


def test_problem_centers(demo):
    settings = load_settings(demo.config_path)
    truth = load_truth(demo.out_dir)
    kinds = {cid: doc["kind"] for cid, doc in truth["centers"].items()}
    assert [k for k in kinds.values() if k != "ok"] == [
        "ambiguous",
        "incomplete",
        "drifted",
        "unreachable",
        "corrupt",
    ]

    unreachable = settings.center("problem_unreachable")
    assert not unreachable.source.path.exists()
    with pytest.raises(SourceUnavailableError, match="does not exist"):
        DuckDBSource(unreachable)
    corrupt = settings.center("problem_corrupt")
    assert corrupt.source.path.exists()
    with pytest.raises(SourceUnavailableError, match="corrupt or not a DuckDB"):
        DuckDBSource(corrupt)

    def live(cid):
        with DuckDBSource(settings.center(cid)) as src:
            cat = src.catalog()
        tables = defaultdict(list)
        for col in cat:
            if col.schema == truth["centers"][cid]["schema"]:
                tables[col.table].append(col.column)
        return tables

    amb = live("problem_ambiguous")
    assert sorted(candidates(list(amb), "KARTEI")) == ["KARTEI_AB", "KARTEI_CD"]
    patkasse = truth["centers"]["problem_ambiguous"]["tables"]["PATKASSE"]["physical"]
    assert sorted(candidates(amb[patkasse], "PATNR")) == ["PATNR_X1", "PATNR_Y2"]
    # ambiguous objects are not in the truth's tables (a correct discovery maps neither candidate)
    assert "KARTEI" not in truth["centers"]["problem_ambiguous"]["tables"]
    assert "PATNR" not in truth["centers"]["problem_ambiguous"]["tables"]["PATKASSE"]["columns"]
    assert {p["object"] for p in truth["centers"]["problem_ambiguous"]["problems"]} == {
        "KARTEI",
        "PATKASSE.PATNR",
    }

    inc = live("problem_incomplete")
    assert candidates(list(inc), "LEISTUNG") == []
    assert any(n.upper().startswith("LEISTUNG") for n in inc)  # only siblings are left
    kartei = candidates(list(inc), "KARTEI")
    assert len(kartei) == 1 and candidates(inc[kartei[0]], "BEMERKUNG") == []

    drifted = live("problem_drifted")
    mapping = load_approved(settings.mapping_path("problem_drifted"), "problem_drifted")
    assert mapping.is_approved and mapping.reviewed_by == "ivoris demo"
    gone = [
        (canon, ccol, cm.physical)
        for canon, tm in mapping.tables.items()
        for ccol, cm in tm.columns.items()
        if cm.physical not in drifted[tm.physical]
    ]
    assert gone == [("KARTEI", "BEMERKUNG", truth["centers"]["problem_drifted"]["problems"][0]["approved"])]
    new = truth["centers"]["problem_drifted"]["tables"]["KARTEI"]["columns"]["BEMERKUNG"]
    assert new in drifted[mapping.tables["KARTEI"].physical]
    kartei_types = {cm.data_type for cm in mapping.tables["KARTEI"].columns.values()}
    assert kartei_types <= {"INTEGER", "BIGINT", "VARCHAR", "TIMESTAMP", "DATE", "BOOLEAN"}
    # no other center got a mapping from the demo
    assert sorted(p.name for p in settings.mappings_dir.iterdir()) == ["problem_drifted.yml"]


def test_config_paths_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_demo(
        "data/centers",
        "config/centers.yml",
        centers=2,
        days=2,
        entries_per_day=2,
        end_date=END,
        unrelated_tables=5,
    )
    text = (tmp_path / "config/centers.yml").read_text(encoding="utf-8")
    assert text.startswith("# Generated by `ivoris demo`")
    assert "path: data/centers/center_01.duckdb" in text
    settings = load_settings("config/centers.yml")
    assert settings.first_business_date == END - dt.timedelta(days=1)
    assert [c.id for c in settings.centers] == ["center_01", "center_02"]
    assert all(c.source.path.exists() for c in settings.centers)
    assert not list((tmp_path / "data/centers").glob(".*tmp*"))  # no temporary files left


def test_cli_generate_only(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # the parsed command line, without main()'s logging setup (capsys would own its stream)
    args = build_parser().parse_args(
        [
            "--config",
            "cfg/centers.yml",
            "demo",
            "--out",
            "dc",
            "--centers",
            "2",
            "--days",
            "2",
            "--entries-per-day",
            "2",
            "--end-date",
            "2025-03-31",
            "--unrelated-tables",
            "5",
            "--generate-only",
        ]
    )
    code = cmd_demo(args)
    assert code == 0
    out = capsys.readouterr().out
    assert "Generated 2 demo centers" in out and (tmp_path / "dc/ground_truth.json").exists()


# ---- the reference implementation of marts.chart_entries ----------------------------------------


def _table(name: str, cols: list[tuple[str, str]], rows: list[tuple]) -> PhysicalTable:
    from extract.demo.generator import family_of_sql_type

    return PhysicalTable("ck", name, [PhysicalColumn(n, family_of_sql_type(t), t) for n, t in cols], rows)


def _hand_center(cid: str, name: str, kind: str, tables: dict[str, PhysicalTable]) -> DemoCenter:
    truth = {
        "kind": kind,
        "name": name,
        "city": "X",
        "schema": "ck",
        "problems": [],
        "tables": {
            canon: {
                "physical": t.name,
                "columns": dict(
                    zip(
                        load_canonical().tables[canon].columns,
                        [c.name for c in t.columns][: len(load_canonical().tables[canon].columns)],
                        strict=True,
                    )
                ),
            }
            for canon, t in tables.items()
        },
    }
    return DemoCenter(cid, name, "X", kind, "ck", list(tables.values()), truth)


def _hand_dataset() -> DemoDataset:
    kassen = _table(
        "KASSEN",
        [("ID", "INT"), ("NAME", "NVARCHAR(60)"), ("ART", "CHAR(1)"), ("DELKZ", "INT")],
        [
            (1, "AOK Bayern", "1", None),
            (2, "Allianz", "P", 0),
            (3, "DKV", "p", 0),
            (4, "Sozialamt", None, None),
            (5, "Blank", " ", 0),
            (6, "Selbstzahler", "S", 0),
            (7, "Gelöschte BKK", "2", 1),
            (8, "Minus", "4", -1),
            (9, "Leer", "", None),
        ],
    )
    patkasse = _table(
        "PATKASSE",
        [("ID", "INT"), ("PATNR", "INT"), ("KASSENID", "INT"), ("DELKZ", "INT")],
        [
            (20, 101, 2, None),
            (10, 101, 1, 0),  # highest ID wins, whatever the row order
            (30, 102, 2, 0),
            (40, 102, 1, 1),  # the highest is deleted: the next one wins
            (50, 104, 7, 0),  # deleted insurer
            (60, 105, 999, 0),  # missing insurer
            (70, 106, 3, 0),
            (80, 107, 4, 0),
            (90, 108, 5, 0),
            (95, 109, 6, 0),
            (96, 110, 8, 0),
            (97, 111, 9, 0),
            (200, 112, 1, 0),
            (150, 112, 2, 0),
            (300, 113, 1, 2),  # the only link is deleted
        ],
    )
    d2, d3 = dt.datetime(2025, 3, 2, 10, 0), dt.datetime(2025, 3, 3, 9, 30)
    kartei = _table(
        "KARTEI",
        [
            ("ID", "BIGINT"),
            ("PATNR", "INT"),
            ("DATUM", "DATETIME"),
            ("BEMERKUNG", "NVARCHAR(MAX)"),
            ("DELKZ", "INT"),
        ],
        [
            (1, 101, d2, "a", None),
            (2, 101, dt.datetime(2025, 3, 2, 23, 59, 59), 'b "q"\n', 0),
            (3, 102, d2, "gelöscht", 1),
            (4, 103, d3, "", 0),
            (5, 104, d3, "x", 0),
            (6, 105, d3, "y", 0),
            (7, 106, d3, "z", 0),
            (8, 107, d3, "ä", 0),
            (9, 108, d3, "ß", 0),
            (10, 109, d3, "🦷", 0),
            (11, 110, d3, "n", 0),
            (12, 111, d3, "o", 0),
            (13, 112, d3, "p", 0),
            (14, 113, d3, "q", 0),
            (15, 106, dt.datetime(2025, 2, 1, 8, 0), "before the first business date", 0),
            (16, 102, d3, "ok", 0),
        ],
    )
    leistung = _table(
        "LEISTUNG",
        [
            ("ID", "INT"),
            ("PATIENTID", "INT"),
            ("DATUM", "INT"),
            ("LEISTUNG", "NVARCHAR(10)"),
            ("DELKZ", "INT"),
        ],
        [
            (1, 101, 20250302, "13a", 0),
            (2, 101, 20250302, "01", None),
            (3, 101, 20250302, "13a", 0),
            (4, 101, 20250302, "Ä1", 0),
            (5, 101, 20250302, "107", 1),
            (6, 101, 20250303, "43", 0),
            (7, 102, 20250302, "01", 0),
            (8, 103, 20250303, "Ä925a", 0),
            (9, 103, 20250303, "IP1", 0),
            (10, 103, 20250303, "04", 0),
            (11, 104, 20250303, "01", 2),
            (12, 105, 20250304, "01", 0),
        ],
    )
    patient = _table(
        "PATIENT",
        [("ID", "INT"), ("P_NAME", "NVARCHAR(60)"), ("P_VORNAME", "NVARCHAR(60)"), ("DELKZ", "INT")],
        [(101, "Müller", "Anna", 0)],
    )
    c1 = _hand_center(
        "center_a",
        "Praxis A",
        "ok",
        {"PATIENT": patient, "KASSEN": kassen, "PATKASSE": patkasse, "KARTEI": kartei, "LEISTUNG": leistung},
    )
    # a second center: BIT flags, DATE entries, CHAR(8) service dates, lower-case suffixed names
    c2 = _hand_center(
        "center_b",
        "Praxis B",
        "ok",
        {
            "PATIENT": _table(
                "patient_x1",
                [
                    ("id", "INT"),
                    ("p_name_ab", "NVARCHAR(60)"),
                    ("p_vorname_cd", "NVARCHAR(60)"),
                    ("delkz", "BIT"),
                ],
                [],
            ),
            "KASSEN": _table(
                "kassen_q7",
                [("id", "INT"), ("name_zz", "NVARCHAR(60)"), ("art_1", "CHAR(1)"), ("delkz", "BIT")],
                [(1, "Debeka", "P", False), (2, "IKK classic", "3", True)],
            ),
            "PATKASSE": _table(
                "patkasse_9",
                [("id", "INT"), ("patnr_a", "INT"), ("kassenid_b", "INT"), ("delkz", "BIT")],
                [(1, 7, 1, None), (2, 8, 2, False)],
            ),
            "KARTEI": _table(
                "kartei_mn",
                [
                    ("id", "INT"),
                    ("patnr_nan6", "INT"),
                    ("datum_3a4", "DATE"),
                    ("bemerkung_x", "NVARCHAR(MAX)"),
                    ("delkz", "BIT"),
                ],
                [
                    (5, 7, dt.date(2025, 3, 3), "eins", None),
                    (6, 8, dt.date(2025, 3, 3), "zwei", False),
                    (7, 8, dt.date(2025, 3, 3), "drei", True),
                ],
            ),
            "LEISTUNG": _table(
                "leistung_k",
                [
                    ("id", "INT"),
                    ("patientid_p", "INT"),
                    ("datum_d", "CHAR(8)"),
                    ("leistung_l", "NVARCHAR(10)"),
                    ("delkz", "BIT"),
                ],
                [
                    (1, 7, "20250303", "2060", None),
                    (2, 7, "20250303", "0010", False),
                    (3, 8, "20250303", "Ä1", True),
                ],
            ),
        },
    )
    broken = _hand_center("problem_ambiguous", "Praxis C", "ambiguous", {"KARTEI": kartei})
    return DemoDataset(
        start_date=dt.date(2025, 3, 1), end_date=dt.date(2025, 3, 4), seed=0, centers=[c2, broken, c1]
    )


def test_reference_implementation_rules():
    rows = {(r["center_id"], r["entry_id"]): r for r in expected_chart_entries(_hand_dataset()).to_pylist()}
    # only healthy centers; deleted entries and entries before the first business date are absent
    assert {cid for cid, _ in rows} == {"center_a", "center_b"}
    assert ("center_a", 3) not in rows and ("center_a", 15) not in rows and ("center_b", 7) not in rows

    def ins(cid, eid):
        return rows[(cid, eid)]["insurance_status"], rows[(cid, eid)]["insurance_name"]

    assert ins("center_a", 1) == ("PKV", "Allianz")  # highest link id
    assert ins("center_a", 16) == ("PKV", "Allianz")  # highest link deleted -> next one
    assert ins("center_a", 4) == ("Selbstzahler", None)  # no link
    assert ins("center_a", 5) == ("Selbstzahler", None)  # deleted insurer
    assert ins("center_a", 6) == ("Selbstzahler", None)  # missing insurer
    assert ins("center_a", 7) == ("PKV", "DKV")  # lower-case p
    assert ins("center_a", 8) == ("Selbstzahler", "Sozialamt")  # NULL ART
    assert ins("center_a", 9) == ("Selbstzahler", "Blank")  # blank ART
    assert ins("center_a", 10) == ("Selbstzahler", "Selbstzahler")  # S
    assert ins("center_a", 11) == ("Selbstzahler", None)  # insurer deleted with DELKZ -1
    assert ins("center_a", 12) == ("Selbstzahler", "Leer")  # empty ART
    assert ins("center_a", 13) == ("GKV", "AOK Bayern")  # id 200 beats 150
    assert ins("center_a", 14) == ("Selbstzahler", None)  # only link deleted (DELKZ 2)
    assert ins("center_b", 5) == ("PKV", "Debeka")
    assert ins("center_b", 6) == ("Selbstzahler", None)  # BIT-deleted insurer

    codes = {k: r["service_codes"] for k, r in rows.items()}
    # distinct, non-deleted, same patient and date (time part ignored), binary order: digits < letters < Ä
    assert codes[("center_a", 1)] == codes[("center_a", 2)] == "01,13a,Ä1"
    assert codes[("center_a", 4)] == "04,IP1,Ä925a"
    assert codes[("center_a", 5)] is None  # only a deleted service
    assert codes[("center_a", 6)] is None  # its service is on another day
    assert codes[("center_a", 16)] is None  # patient 102's service is on 2025-03-02
    assert codes[("center_b", 5)] == "0010,2060"
    assert codes[("center_b", 6)] is None  # BIT-deleted service

    r = rows[("center_a", 2)]
    assert r["entry_date"] == dt.date(2025, 3, 2) and r["chart_entry"] == 'b "q"\n' and r["patient_id"] == 101
    assert rows[("center_a", 4)]["chart_entry"] == "" and rows[("center_a", 10)]["chart_entry"] == "🦷"
    assert rows[("center_b", 5)]["center_name"] == "Praxis B"
    assert list(rows) == sorted(rows)


def test_reference_matches_sql_over_the_written_files(demo, healthy):
    """An independent SQL version of DESIGN.md's rules over the written files agrees with the reference."""
    expected = sorted(tuple(r.values()) for r in load_expected(demo.out_dir).to_pylist())
    assert expected
    got = []
    for c in healthy:
        con = duckdb.connect(str(demo.out_dir / f"{c.id}.duckdb"), read_only=True)
        try:
            got += con.execute(
                _chart_entries_sql(c), [c.id, c.name, demo.dataset.start_date, demo.dataset.end_date]
            ).fetchall()
        finally:
            con.close()
    assert sorted(got) == expected


def _chart_entries_sql(c: DemoCenter) -> str:
    def rel(canon):
        return f"{qident(c.schema)}.{qident(c.truth['tables'][canon]['physical'])}"

    def col(canon, ccol):
        return qident(c.truth["tables"][canon]["columns"][ccol])

    def alive(canon):
        return f"coalesce(cast({col(canon, 'DELKZ')} as integer), 0) = 0"

    def day(canon):
        family = _col(c, canon, "DATUM").family
        d = col(canon, "DATUM")
        return {
            "integer": f"make_date({d} // 10000, ({d} // 100) % 100, {d} % 100)",
            "text": f"cast(strptime({d}, '%Y%m%d') as date)",
        }.get(family, f"cast({d} as date)")

    kassen, links, services, entries = (rel(t) for t in ("KASSEN", "PATKASSE", "LEISTUNG", "KARTEI"))
    k_id, k_name, k_art = (col("KASSEN", x) for x in ("ID", "NAME", "ART"))
    l_id, l_patnr, l_kid = (col("PATKASSE", x) for x in ("ID", "PATNR", "KASSENID"))
    s_patnr, s_code = col("LEISTUNG", "PATIENTID"), col("LEISTUNG", "LEISTUNG")
    e_id, e_patnr, e_note = (col("KARTEI", x) for x in ("ID", "PATNR", "BEMERKUNG"))
    # identifiers are quoted by qident; values are bound parameters
    return f"""
    with k as (select {k_id} as id, {k_name} as name, {k_art} as art from {kassen} where {alive("KASSEN")}),
    l as (select {l_patnr} as patnr, {l_kid} as kid,
                 row_number() over (partition by {l_patnr} order by {l_id} desc) as rn
          from {links} where {alive("PATKASSE")}),
    s as (select {s_patnr} as patnr, {day("LEISTUNG")} as d,
                 string_agg(distinct {s_code}, ',' order by {s_code}) as codes
          from {services} where {alive("LEISTUNG")} group by all),
    e as (select {e_id} as id, {e_patnr} as patnr, {day("KARTEI")} as d, {e_note} as note
          from {entries} where {alive("KARTEI")})
    select ?::varchar, ?::varchar, cast(e.id as bigint), e.d, cast(e.patnr as bigint),
           case when k.id is null then 'Selbstzahler'
                when upper(trim(k.art)) = 'P' then 'PKV'
                when k.art is null or trim(k.art) in ('', 'S') then 'Selbstzahler'
                else 'GKV' end,
           k.name, e.note, s.codes
    from e left join l on l.patnr = e.patnr and l.rn = 1
    left join k on k.id = l.kid
    left join s on s.patnr = e.patnr and s.d = e.d
    where e.d between ? and ?
    """  # noqa: S608


# ---- scale --------------------------------------------------------------------------------------


def test_500_small_centers(tmp_path):
    started = time.perf_counter()
    create_demo(
        tmp_path / "c",
        tmp_path / "centers.yml",
        centers=500,
        days=1,
        entries_per_day=2,
        unrelated_tables=10,
        end_date=END,
    )
    elapsed = time.perf_counter() - started
    print(f"\n500 small centers generated and written in {elapsed:.1f}s")
    assert len(list((tmp_path / "c").glob("center_*.duckdb"))) == 500
    assert len(load_truth(tmp_path / "c")["centers"]) == 500
