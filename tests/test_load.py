"""The loader against real DuckDB center files and a real DuckDB warehouse (in-process and CLI)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from test_load_helpers import END, env_for, make_center, make_project, patient_names, raw_snapshot, run_cli

from extract import layout
from extract.config import load_settings
from extract.errors import TransientSourceError
from extract.load import loader
from extract.load.loader import load, spans
from extract.load.queries import business_dates
from extract.mapping import load_mapping, save_mapping
from extract.warehouse.base import UNCHANGED_NOTE, file_lock

FROM, TO = END - dt.timedelta(days=5), END
ALL = ["center_a", "center_b", "center_c", "center_d"]


@pytest.fixture()
def project(tmp_path, monkeypatch):
    cfg = make_project(tmp_path, ALL)
    for k, v in env_for(tmp_path).items():
        if k.startswith("IVORIS_"):
            monkeypatch.setenv(k, v)
    return tmp_path, cfg


def wh_path(root: Path) -> Path:
    return root / "warehouse" / "ivoris.duckdb"


def source_rows(db: Path, table: str, cols: list[str]) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        sel = ", ".join(f'"{c}"' for c in cols)
        return sorted(con.execute(f'SELECT {sel} FROM ck."{table}"').fetchall(), key=repr)  # noqa: S608 - test SQL over names from our own catalog
    finally:
        con.close()


def test_load_copies_mapped_columns_per_date_with_audit_and_state(project):
    root, cfg = project
    settings = load_settings(cfg)
    rep = load(settings, date_from=FROM, date_to=TO, batch_rows=7)  # small batches: many per partition
    assert rep.exit_code == 0, [(c.center_id, c.message) for c in rep.centers]
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        for cid in ALL:
            m = load_mapping(settings.mapping_path(cid))
            kt = m.tables["KARTEI"]
            cols = [kt.columns[c].physical for c in ("ID", "PATNR", "DATUM", "BEMERKUNG", "DELKZ")]
            src = source_rows(root / "centers" / f"{cid}.duckdb", kt.physical, cols)
            sel = ", ".join(f'"{c}"' for c in cols)
            got = con.execute(f'SELECT {sel} FROM "raw_{cid}"."{kt.physical}"').fetchall()  # noqa: S608 - test SQL over names from our own catalog
            # the source holds exactly FROM..TO, so everything must arrive, values and types unchanged
            assert sorted(got, key=repr) == src
            # business date derived from DATUM, whatever its physical type
            bad = con.execute(
                f'SELECT count(*) FROM "raw_{cid}"."{kt.physical}" '  # noqa: S608 - test SQL over names from our own catalog
                f'WHERE "_business_date" IS NULL OR "_business_date" NOT BETWEEN ? AND ?',
                [FROM, TO],
            ).fetchone()[0]
            assert bad == 0
            # personal columns and load: none tables never leave the center
            tables = {
                t
                for (t,) in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [f"raw_{cid}"]
                ).fetchall()
            }
            assert tables == {m.tables[t].physical for t in ("KASSEN", "PATKASSE", "KARTEI", "LEISTUNG")}
            # audit: one ok row per date and by_date table, rows_written = what the partition holds
            for t in ("KARTEI", "LEISTUNG"):
                phys = m.tables[t].physical
                counts = dict(
                    con.execute(
                        f'SELECT "_business_date", count(*) FROM "raw_{cid}"."{phys}" GROUP BY 1'  # noqa: S608 - test SQL over names from our own catalog
                    ).fetchall()
                )
                audit = con.execute(
                    "SELECT business_date, rows_read, rows_written FROM ivoris_meta.load_audit "
                    "WHERE center_id = ? AND canonical_table = ? AND status = 'ok'",
                    [cid, t],
                ).fetchall()
                assert sorted(d for d, _, _ in audit) == loader.date_range(FROM, TO)
                for d, read, written in audit:
                    assert read == written == counts.get(d, 0)
        state = dict(
            con.execute("SELECT center_id, last_business_date FROM ivoris_meta.load_state").fetchall()
        )
        assert state == {cid: TO for cid in ALL}
    finally:
        con.close()


def _audit_transactions(root: Path, run_id: str) -> dict[str, set]:
    """center -> the distinct (started_at, finished_at) of its audit rows in a run: its transactions."""
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        rows = con.execute(
            "SELECT center_id, started_at, finished_at FROM ivoris_meta.load_audit WHERE run_id = ? AND status = 'ok'",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, set] = {}
    for cid, started, finished in rows:
        out.setdefault(cid, set()).add((started, finished))
    return out


def test_nightly_centers_share_one_transaction_and_fall_back_one_by_one(project, monkeypatch):
    root, cfg = project
    settings = load_settings(cfg)
    rep = load(settings, dates=[END])
    assert rep.exit_code == 0
    tx = _audit_transactions(root, rep.run_id)
    # every center in one transaction, each shared with another center (two groups of two here)
    assert set(tx) == set(ALL) and all(len(t) == 1 for t in tx.values())
    shared = [sum(1 for t in tx.values() if one in t) for one in set.union(*tx.values())]
    assert sorted(shared) == [2, 2]
    expected = raw_snapshot(wh_path(root))

    # The shared transaction fails (as a write conflict or a full disk would): it rolls back as a
    # whole, then each center is loaded on its own, and nothing is lost or duplicated.
    from extract.warehouse.duckdb import DuckDBWarehouse

    real = DuckDBWarehouse.replace_many

    def shared_fails(self, loads):
        if len(loads) > 1:
            raise duckdb.IOException("disk full (simulated)")
        return real(self, loads)

    monkeypatch.setattr(DuckDBWarehouse, "replace_many", shared_fails)
    rep = load(settings, dates=[END])
    assert rep.exit_code == 0 and all(c.status == "ok" and c.rows for c in rep.centers)
    tx = _audit_transactions(root, rep.run_id)
    assert set(tx) == set(ALL) and all(len(t) == 1 for t in tx.values())
    assert len(set.union(*tx.values())) == len(ALL)  # one transaction each
    assert raw_snapshot(wh_path(root)) == expected


def test_unchanged_snapshot_tables_are_not_rewritten_changed_ones_are(project):
    root, cfg = project
    settings = load_settings(cfg)
    first = load(settings, dates=[END], center_ids=["center_a"])
    # the center changes one insurer's name; its patient links stay as they were
    src = duckdb.connect(str(root / "centers" / "center_a.duckdb"))
    try:
        src.execute("UPDATE ck.KASSEN_MN SET NAME_MN = 'Neue Kasse' WHERE ID = (SELECT min(ID) FROM ck.KASSEN_MN)")
    finally:
        src.close()
    second = load(settings, dates=[END], center_ids=["center_a"])
    assert second.exit_code == 0
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        run_ids = dict(
            (table, {r for (r,) in con.execute(f'SELECT DISTINCT "_run_id" FROM raw_center_a."{table}"').fetchall()})  # noqa: S608 - test SQL over our own names
            for table in ("KASSEN_MN", "PATKASSE_MN", "KARTEI_MN")
        )
        assert run_ids["KASSEN_MN"] == {second.run_id}  # changed: rewritten
        assert run_ids["PATKASSE_MN"] == {first.run_id}  # unchanged: its rows as first written
        assert run_ids["KARTEI_MN"] == {second.run_id}  # a business date is always replaced
        names = {n for (n,) in con.execute("SELECT NAME_MN FROM raw_center_a.KASSEN_MN").fetchall()}
        assert "Neue Kasse" in names
        audit = dict(
            (table, (read, written, message))
            for table, read, written, message in con.execute(
                "SELECT canonical_table, rows_read, rows_written, message FROM ivoris_meta.load_audit "
                "WHERE run_id = ? AND business_date IS NULL",
                [second.run_id],
            ).fetchall()
        )
        links = con.execute("SELECT count(*) FROM raw_center_a.PATKASSE_MN").fetchone()[0]
        # both snapshots are accounted for in the audit (the reconciliation test relies on it)
        assert audit["PATKASSE"] == (links, links, UNCHANGED_NOTE)
        assert audit["KASSEN"][2] == ""
    finally:
        con.close()


def _strings_in_warehouse(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        parts = []
        for schema, table, col in con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR'"
        ).fetchall():
            parts += [str(v) for (v,) in con.execute(f'SELECT "{col}" FROM "{schema}"."{table}"').fetchall()]  # noqa: S608 - test SQL over names from our own catalog
        return "\n".join(parts)
    finally:
        con.close()


def test_rerun_same_date_three_times_gives_identical_partitions(project):
    root, cfg = project
    snaps = []
    for _ in range(3):
        proc = run_cli(root, cfg, "load", "--date", str(END - dt.timedelta(days=1)))
        assert proc.returncode == 0, proc.stderr
        snaps.append(raw_snapshot(wh_path(root)))
    assert snaps[0] == snaps[1] == snaps[2]
    assert sum(len(v) for v in snaps[0].values()) > 0
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        for cid in ALL:
            (dups,) = con.execute(
                f'SELECT count(*) - count(DISTINCT "ID") FROM "raw_{cid}"."{_phys(cfg, cid, "KARTEI")}"'  # noqa: S608 - test SQL over names from our own catalog
            ).fetchone()
            assert dups == 0
        runs = con.execute(
            "SELECT count(DISTINCT run_id) FROM ivoris_meta.load_audit WHERE status = 'ok'"
        ).fetchone()
        assert runs == (3,)
    finally:
        con.close()


def _phys(cfg: Path, cid: str, table: str) -> str:
    return load_mapping(cfg.parent / "mappings" / f"{cid}.yml").tables[table].physical


def test_faults_missing_corrupt_drifted_unapproved_others_load(project):
    root, cfg = project
    settings_doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    # center_b: file missing; center_c: corrupt file; center_d: a column renamed after approval
    (root / "centers" / "center_b.duckdb").unlink()
    (root / "centers" / "center_c.duckdb").write_bytes(b"this is not a duckdb database\n" * 200)
    con = duckdb.connect(str(root / "centers" / "center_d.duckdb"))
    con.execute('ALTER TABLE ck."KARTEI_Z9" RENAME COLUMN "BEMERKUNG_Z9" TO "BEMERKUNG_NEU"')
    con.close()
    # center_e: proposed but not reviewed
    m = make_center(root / "centers" / "center_e.duckdb", "center_a")
    m.center_id, m.reviewed, m.fingerprint = "center_e", False, None
    save_mapping(m, cfg.parent / "mappings" / "center_e.yml")
    settings_doc["centers"].append(
        {
            "id": "center_e",
            "name": "E",
            "city": "X",
            "source": {"type": "duckdb", "path": str(root / "centers" / "center_e.duckdb")},
        }
    )
    cfg.write_text(yaml.safe_dump(settings_doc), encoding="utf-8")
    report = root / "report.json"
    proc = run_cli(root, cfg, "load", "--from", str(FROM), "--to", str(TO), "--report", str(report))
    assert proc.returncode != 0
    doc = json.loads(report.read_text(encoding="utf-8"))
    by = {c["center_id"]: c for c in doc["centers"]}
    assert by["center_a"]["status"] == "ok" and by["center_a"]["dates_loaded"] == 6
    assert by["center_b"]["status"] == "failed" and by["center_b"]["error_class"] == "SourceUnavailableError"
    assert "does not exist" in by["center_b"]["message"]
    assert by["center_c"]["status"] == "failed" and by["center_c"]["error_class"] == "SourceUnavailableError"
    assert by["center_d"]["status"] == "failed" and by["center_d"]["error_class"] == "SchemaDriftError"
    assert "BEMERKUNG_Z9" in by["center_d"]["message"]
    assert by["center_e"]["status"] == "failed" and by["center_e"]["error_class"] == "MappingNotApprovedError"
    for cid in ("center_b", "center_c", "center_d", "center_e"):
        assert by[cid]["what_to_do"], cid
        assert cid in proc.stdout  # the human summary names each failure
    # terminal errors are not retried
    assert by["center_b"]["attempts"] == 1 and by["center_d"]["attempts"] <= 2
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        assert con.execute('SELECT count(*) FROM raw_center_a."KARTEI_MN"').fetchone()[0] == 30
        # raw tables of approved-but-failing centers exist (empty) so dbt sources resolve
        assert con.execute('SELECT count(*) FROM raw_center_b."KARTEI_X7Q"').fetchone()[0] == 0
        assert (
            con.execute(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'raw_center_e'"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()


def test_transient_errors_are_retried_terminal_are_not(project, monkeypatch):
    root, cfg = project
    settings = load_settings(cfg)
    real_open = loader.open_source
    failures = {"center_a": 2}

    class Flaky:
        def __init__(self, inner, cid):
            self.inner, self.cid = inner, cid

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def fetch_batches(self, sql, params, batch_rows=100_000):
            if failures.get(self.cid, 0) > 0 and "KARTEI" in sql:
                failures[self.cid] -= 1
                raise TransientSourceError("connection dropped", center_id=self.cid)
            return self.inner.fetch_batches(sql, params, batch_rows)

    monkeypatch.setattr(loader, "open_source", lambda c: Flaky(real_open(c), c.id))
    # the rows go through the source reader (as from SQL Server), not the in-warehouse copy
    monkeypatch.setenv("IVORIS_DIRECT_COPY", "0")
    rep = load(settings, dates=[END], center_ids=["center_a", "center_b"])
    a, b = rep.center("center_a"), rep.center("center_b")
    assert a.status == "ok" and b.status == "ok"
    assert failures["center_a"] == 0
    assert a.attempts == b.attempts + 2  # two retried transactions, then success

    failures["center_a"] = 99  # never recovers: retries are bounded, the center fails, the other loads
    rep = load(settings, dates=[END], center_ids=["center_a", "center_b"])
    assert rep.center("center_a").status == "failed"
    assert rep.center("center_a").error_class == "TransientSourceError"
    assert rep.center("center_b").status == "ok"
    assert rep.exit_code == 1
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        failed = con.execute(
            "SELECT count(*) FROM ivoris_meta.load_audit WHERE status = 'failed' AND center_id = 'center_a'"
        ).fetchone()[0]
        assert failed > 0
        # the failed rerun rolled back: the earlier partition is still whole
        assert con.execute('SELECT count(*) FROM raw_center_a."KARTEI_MN"').fetchone()[0] == 5
    finally:
        con.close()


def test_catch_up_loads_every_date_since_the_last_success(tmp_path, monkeypatch):
    yesterday = dt.date.today() - dt.timedelta(days=1)
    cfg = make_project(tmp_path, ["center_a", "center_c"], days=8, end=yesterday)
    for k, v in env_for(tmp_path).items():
        if k.startswith("IVORIS_"):
            monkeypatch.setenv(k, v)
    settings = load_settings(cfg)
    first = yesterday - dt.timedelta(days=4)
    assert load(settings, dates=[first], center_ids=["center_a"]).exit_code == 0
    assert load(settings, dates=[first - dt.timedelta(days=1)], center_ids=["center_c"]).exit_code == 0
    rep = load(settings, catch_up=True, chunk_days=2)
    assert rep.exit_code == 0
    assert rep.center("center_a").date_from == str(first + dt.timedelta(days=1))
    assert rep.center("center_c").date_from == str(first)
    assert rep.center("center_a").dates_loaded == 4
    con = duckdb.connect(str(tmp_path / "warehouse" / "ivoris.duckdb"), read_only=True)
    try:
        state = dict(
            con.execute("SELECT center_id, last_business_date FROM ivoris_meta.load_state").fetchall()
        )
        assert state == {"center_a": yesterday, "center_c": yesterday}
        days = {
            d
            for (d,) in con.execute(
                'SELECT DISTINCT "_business_date" FROM raw_center_a."KARTEI_MN"'
            ).fetchall()
        }
        assert days == set(loader.date_range(first, yesterday))
        # 4 dates in spans of 2 = 2 transactions for center_a
        assert con.execute(
            "SELECT count(DISTINCT started_at) FROM ivoris_meta.load_audit WHERE center_id = "
            "'center_a' AND run_id = ?",
            [rep.run_id],
        ).fetchone() == (2,)
        # snapshot tables are replaced once per run (in the last transaction), not per span
        assert con.execute(
            "SELECT count(*), count(DISTINCT canonical_table) FROM ivoris_meta.load_audit WHERE center_id = "
            "'center_a' AND run_id = ? AND business_date IS NULL",
            [rep.run_id],
        ).fetchone() == (2, 2)
    finally:
        con.close()
    assert load(settings, catch_up=True).center("center_a").dates_loaded == 0  # nothing left to do


def test_concurrent_runs_wait_for_each_other_and_never_duplicate(project):
    root, cfg = project
    day = str(END)
    env = env_for(root)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "extract", "--config", str(cfg), "load", "--date", day],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    snap = raw_snapshot(wh_path(root))
    assert len(snap["raw_center_a.KARTEI_MN"]) == 5
    for rows in snap.values():
        assert len(rows) == len(set(rows))

    # a run that cannot get the lock in time stops with a clear message and writes nothing
    with file_lock(wh_path(root).with_name("ivoris.duckdb.lock"), 1, "test"):
        t0 = time.monotonic()
        proc = run_cli(root, cfg, "load", "--date", day, "--lock-timeout", "1")
        assert time.monotonic() - t0 < 30
    assert proc.returncode != 0
    assert "locked by another run" in proc.stdout + proc.stderr
    assert raw_snapshot(wh_path(root)) == snap


def test_fake_password_and_patient_names_never_leave(project):
    root, cfg = project
    secret = "Fake-Pa55word-4711!"
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    doc["centers"].append(
        {
            "id": "center_sql",
            "name": "SQL",
            "city": "Berlin",
            "source": {
                "type": "mssql",
                "server": "127.0.0.1",
                "port": 1,
                "database": "DentalDB",
                "login_timeout_s": 1,
            },
        }
    )
    cfg.write_text(yaml.safe_dump(doc), encoding="utf-8")
    m = load_mapping(cfg.parent / "mappings" / "center_a.yml")
    m.center_id = "center_sql"
    save_mapping(m, cfg.parent / "mappings" / "center_sql.yml")
    env = env_for(root, IVORIS_MSSQL_USER="loader", IVORIS_MSSQL_PASSWORD=secret)
    report = root / "data" / "report.json"
    proc = run_cli(
        root, cfg, "-v", "load", "--from", str(FROM), "--to", str(TO), "--report", str(report), env=env
    )
    assert proc.returncode != 0  # the SQL Server center is unreachable
    assert json.loads(report.read_text())["centers"]
    haystack = proc.stdout + proc.stderr
    for path in root.rglob("*"):
        if path.is_file() and "centers" not in path.parts:
            haystack += path.read_bytes().decode("utf-8", errors="replace")
    assert secret not in haystack
    # no patient name anywhere in the warehouse (all text columns of all tables)
    text = _strings_in_warehouse(wh_path(root))
    assert "Kontrolle" in text  # the scan does see loaded text
    for cid in ALL:
        for last, first in patient_names(cid, 12):
            assert last not in text and first not in text
            assert last.encode() not in wh_path(root).read_bytes()


def test_business_dates_per_physical_family():
    ints = pa.array([20261120, 2026112, None, 20261301], pa.int32())
    assert business_dates(ints, "integer").to_pylist() == [dt.date(2026, 11, 20), None, None, None]
    texts = pa.array(["20261120", "2026112 ", "abc", " 20261119"])
    assert business_dates(texts, "text").to_pylist() == [
        dt.date(2026, 11, 20),
        None,
        None,
        dt.date(2026, 11, 19),
    ]
    stamps = pa.array([dt.datetime(2026, 11, 20, 23, 59, 59)], pa.timestamp("us"))
    assert business_dates(stamps, "datetime").to_pylist() == [dt.date(2026, 11, 20)]


def test_rows_with_unreadable_dates_are_counted_not_loaded(project):
    root, cfg = project
    con = duckdb.connect(str(root / "centers" / "center_b.duckdb"))
    con.execute("INSERT INTO ck.\"KARTEI_X7Q\" VALUES (9999, 1, '2026111x', 'kaputt', false)")
    con.close()
    rep = load(load_settings(cfg), date_from=FROM, date_to=TO, center_ids=["center_b"])
    assert rep.exit_code == 0
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        assert con.execute('SELECT count(*) FROM raw_center_b."KARTEI_X7Q" WHERE "ID" = 9999').fetchone() == (
            0,
        )
        notes = con.execute(
            "SELECT message FROM ivoris_meta.load_audit WHERE canonical_table = 'KARTEI' AND message <> ''"
        ).fetchall()
        assert notes and "not a date" in notes[0][0]
    finally:
        con.close()


def test_spans_split_consecutive_dates():
    d = dt.date(2026, 1, 1)
    days = [d + dt.timedelta(days=i) for i in (0, 1, 2, 3, 4, 10, 11)]
    assert spans(days, 2) == [(days[0], days[1]), (days[2], days[3]), (days[4], days[4]), (days[5], days[6])]
    assert len(spans(loader.date_range(d, d + dt.timedelta(days=364)), 31)) == 12


def test_layout_names_are_used(project):
    root, cfg = project
    assert load(load_settings(cfg), dates=[END], center_ids=["center_c"]).exit_code == 0
    con = duckdb.connect(str(wh_path(root)), read_only=True)
    try:
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = 'KARTEI' "
                "ORDER BY ordinal_position",
                [layout.raw_schema("center_c")],
            ).fetchall()
        ]
        assert cols == [
            "ID",
            "PATNR",
            "DATUM",
            "BEMERKUNG",
            "DELKZ",
            layout.BUSINESS_DATE,
            layout.LOADED_AT,
            layout.RUN_ID,
        ]
    finally:
        con.close()
    assert os.path.exists(wh_path(root).with_name("ivoris.duckdb.lock"))


def test_spans_sized_by_rows_and_capped_by_days():
    d = dt.date(2024, 1, 1)
    days = loader.date_range(d, d + dt.timedelta(days=364))
    # first transaction: FIRST_SPAN_DAYS; then ~chunk_rows at the rows per day seen so far
    assert loader.span_days(0, 0, 1_000_000, None) == loader.FIRST_SPAN_DAYS
    assert loader.span_days(31 * 300, 31, 1_000_000, None) == 3333
    assert loader.span_days(31 * 100_000, 31, 1_000_000, None) == 10
    assert loader.span_days(10**9, 31, 1_000_000, None) == 1  # never less than one date
    assert loader.span_days(31 * 300, 31, 1_000_000, 2) == 2  # chunk_days caps
    (first, last), nxt = loader.next_span(days, 0, 31)
    assert (first, last, nxt) == (d, d + dt.timedelta(days=30), 31)
    (first, last), nxt = loader.next_span(days, nxt, 3333)
    assert (first, last, nxt) == (d + dt.timedelta(days=31), days[-1], 365)
    gap = [d, d + dt.timedelta(days=1), d + dt.timedelta(days=5)]
    assert loader.next_span(gap, 0, 100) == ((d, d + dt.timedelta(days=1)), 2)


def test_long_ranges_are_split_by_the_rows_the_center_holds(tmp_path, monkeypatch):
    """A backfill of a DuckDB center counts the center's rows for the whole range first: the
    spans are sized from that count, not from a fixed first span."""
    cfg = make_project(tmp_path, ["center_a", "center_c"], days=60, per_day=3)
    for k, v in env_for(tmp_path).items():
        if k.startswith("IVORIS_"):
            monkeypatch.setenv(k, v)
    settings = load_settings(cfg)
    first = END - dt.timedelta(days=59)
    held = {}
    for cid in ("center_a", "center_c"):  # the rows each center holds in the range, dated tables
        src = duckdb.connect(str(tmp_path / "centers" / f"{cid}.duckdb"), read_only=True)
        try:
            m = load_mapping(settings.mapping_path(cid))
            held[cid] = sum(
                src.execute(f'SELECT count(*) FROM ck."{m.tables[t].physical}"').fetchone()[0]  # noqa: S608 - test SQL over our own names
                for t in ("KARTEI", "LEISTUNG")
            )
        finally:
            src.close()
    # a range that fits one transaction is one transaction (a fixed first span made it two)
    rep = load(settings, date_from=first, date_to=END, chunk_rows=10_000)
    assert rep.exit_code == 0
    tx = _audit_transactions(tmp_path, rep.run_id)
    assert {cid: len(t) for cid, t in tx.items()} == {"center_a": 1, "center_c": 1}
    # about a third of a center's rows per transaction: three spans (four when rounding leaves
    # a last date over), all rows loaded
    rep = load(settings, date_from=first, date_to=END, chunk_rows=min(held.values()) // 3)
    assert rep.exit_code == 0
    tx = _audit_transactions(tmp_path, rep.run_id)
    for cid in ("center_a", "center_c"):
        assert len(tx[cid]) in (3, 4), cid
        assert rep.center(cid).dates_loaded == 60
        assert sum(n for t, n in rep.center(cid).rows.items() if t in ("KARTEI", "LEISTUNG")) == held[cid]


def _partitions_and_audit(db: Path) -> tuple[dict, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        parts = {}
        for schema, table in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema LIKE 'raw_%'"
        ).fetchall():
            cols = {r[0] for r in con.execute(f"DESCRIBE \"{schema}\".\"{table}\"").fetchall()}  # noqa: S608
            if layout.BUSINESS_DATE in cols:
                parts[f"{schema}.{table}"] = sorted(
                    con.execute(
                        f'SELECT "ID", "{layout.BUSINESS_DATE}" FROM "{schema}"."{table}"'  # noqa: S608
                    ).fetchall()
                )
        audit = sorted(
            con.execute(
                "SELECT center_id, business_date, canonical_table, rows_read, rows_written, status, message "
                "FROM ivoris_meta.load_audit"
            ).fetchall(),
            key=repr,
        )
        return parts, audit
    finally:
        con.close()


def test_in_warehouse_copy_equals_the_arrow_path_row_for_row(project, monkeypatch):
    """DuckDB center files are copied by the warehouse itself (INSERT … SELECT); the rows, their
    business dates, the audit counts and the notes must be exactly what the Arrow path gives,
    including DATUM values that are not dates or lie outside the range."""
    root, cfg = project
    tricky = {
        "center_a": ("KARTEI_MN", [20261132, 2026111, -20261119, 20261119, 99999999]),
        "center_b": ("KARTEI_X7Q", ["2026111x", " 20261119 ", "\t20261118\n", "20261131", "2026-11-19", ""]),
        "center_c": ("KARTEI", [dt.date(2026, 11, 15), dt.date(2026, 11, 21)]),
        "center_d": ("KARTEI_Z9", [dt.datetime(2026, 11, 20, 23, 59, 59, 999999), dt.datetime(2026, 11, 21)]),
    }
    for cid, (table, values) in tricky.items():
        con = duckdb.connect(str(root / "centers" / f"{cid}.duckdb"))
        delkz = con.execute(
            f"SELECT data_type FROM information_schema.columns WHERE table_name = '{table}' AND column_name = 'DELKZ'"  # noqa: S608
        ).fetchone()[0]
        for i, value in enumerate(values):
            con.execute(
                f'INSERT INTO ck."{table}" VALUES (?, 1, ?, ?, ?)',  # noqa: S608
                [9000 + i, value, f"tricky {i}", False if delkz == "BOOLEAN" else 0],
            )
        con.close()
    settings = load_settings(cfg)
    results = {}
    for mode in ("1", "0"):
        monkeypatch.setenv("IVORIS_DIRECT_COPY", mode)
        db = root / "warehouse" / f"mode_{mode}.duckdb"
        monkeypatch.setenv("IVORIS_DUCKDB_PATH", str(db))
        rep = load(settings, date_from=FROM, date_to=TO)
        assert rep.exit_code == 0, [(c.center_id, c.message) for c in rep.centers]
        results[mode] = (raw_snapshot(db), *_partitions_and_audit(db))
    direct, arrow = results["1"], results["0"]
    assert direct[0] == arrow[0]  # every raw row, every column
    assert direct[1] == arrow[1]  # business dates
    assert direct[2] == arrow[2]  # audit: rows read and written per partition, notes
    # only center_b's text DATUMs fall in the range without being dates ('2026111x' sorts inside it)
    assert {a[0] for a in direct[2] if a[6]} == {"center_b"}
    assert dict(direct[1]["raw_center_a.KARTEI_MN"])[9003] == dt.date(2026, 11, 19)
    loaded_d = dict(direct[1]["raw_center_d.KARTEI_Z9"])
    assert loaded_d[9000] == dt.date(2026, 11, 20) and 9001 not in loaded_d
    # padded text sorts outside the range; '2026111x' is read and counted, never loaded
    assert not {i for i, _ in direct[1]["raw_center_b.KARTEI_X7Q"]} & set(range(9000, 9010))
