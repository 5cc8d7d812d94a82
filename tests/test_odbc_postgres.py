"""The pyodbc code against a real server over ODBC: PostgreSQL through psqlODBC ("PostgreSQL Unicode").

SQL Server cannot run on CI machines; PostgreSQL can (`make odbc-up`: scripts/system-deps.sh and
scripts/odbc-postgres.sh). The same demo centers (same seed) are written to DuckDB files and to
PostgreSQL databases, then discovered and extracted through each backend's real source code:
- discovery over pyodbc proposes the generator's ground-truth mappings, as over DuckDB;
- the loader's own SELECTs over pyodbc return the same rows as over DuckDB;
- end to end (loader + dbt into a DuckDB warehouse) both give the same marts.chart_entries.

When the server is not running these tests FAIL (they are part of the proof): run `make odbc-up`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from extract.canonical import load_canonical
from extract.config import parse_settings
from extract.demo.generator import generate_dataset
from extract.demo.sql_writers import database_name, source_doc, write_center_postgres
from extract.errors import SourceUnavailableError
from extract.sources import open_source

pytestmark = pytest.mark.odbc

REPO = Path(__file__).resolve().parents[1]
SEED = 20240517
END = dt.date(2024, 5, 17)
DAYS = 4
ENV_KEYS = ("IVORIS_PG_HOST", "IVORIS_PG_PORT", "IVORIS_PG_USER", "IVORIS_PG_PASSWORD")


def _env_file() -> Path:
    pg_dir = os.environ.get("IVORIS_PG_DIR")
    return (Path(pg_dir).parent if pg_dir else REPO / ".odbc") / "pg.env"


def pg_credentials() -> dict[str, str]:
    """IVORIS_PG_* from the environment, else from the file scripts/odbc-postgres.sh writes."""
    env = {k: os.environ[k] for k in ENV_KEYS if os.environ.get(k)}
    path = _env_file()
    if len(env) < len(ENV_KEYS) and path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in ENV_KEYS and key not in env:
                env[key] = value.strip()
    env.setdefault("IVORIS_PG_HOST", "127.0.0.1")
    env.setdefault("IVORIS_PG_PORT", os.environ.get("IVORIS_PG_PORT", "54329"))
    return env


@pytest.fixture(scope="module")
def pg_env():
    env = pg_credentials()
    where = f"{env['IVORIS_PG_HOST']}:{env['IVORIS_PG_PORT']}"
    if not env.get("IVORIS_PG_PASSWORD"):
        pytest.fail(f"no credentials for the ODBC test server ({_env_file()} missing): run `make odbc-up`")
    try:
        import pyodbc  # noqa: F401 - needs libodbc
    except ImportError as exc:
        pytest.fail(f"pyodbc cannot load unixODBC ({exc}): run `make odbc-up` (it runs `make system-deps`)")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        try:
            with open_source(_center("probe", _pg_source(env, "postgres"))) as src:
                src.catalog()
        except SourceUnavailableError as exc:
            pytest.fail(
                f"PostgreSQL for the ODBC tests is not reachable at {where}: run `make odbc-up` ({exc})"
            )
        yield env


def _pg_source(env: dict[str, str], database: str) -> dict:
    return {
        "type": "mssql",
        "server": env["IVORIS_PG_HOST"],
        "port": int(env["IVORIS_PG_PORT"]),
        "database": database,
        "driver": "PostgreSQL Unicode",
        "encrypt": False,
        "user_env": "IVORIS_PG_USER",
        "password_env": "IVORIS_PG_PASSWORD",
    }


def _center(cid: str, source: dict):
    return parse_settings({"centers": [{"id": cid, "source": source}]}, Path("centers.yml")).centers[0]


def test_database_name_keeps_case():
    assert database_name("center_01") == "DentalDB_01"
    assert database_name("problem_drifted") == "DentalDB_problem_drifted"


@pytest.fixture(scope="module")
def fleet(pg_env, tmp_path_factory):
    """Four healthy demo centers plus the problem centers, in DuckDB files and in PostgreSQL."""
    from extract.demo.duckdb_writer import write_center

    dataset = generate_dataset(
        centers=4, days=DAYS, entries_per_day=6, seed=SEED, end_date=END, problems=True, unrelated_tables=30
    )
    root = tmp_path_factory.mktemp("odbc_fleet")
    duck_docs, pg_docs = [], []
    for c in dataset.centers:
        path = write_center(c, root / "centers")
        # test databases of their own, so a developer's `ivoris demo --target postgres` is left alone
        db = "pytest_" + database_name(c.id)
        write_center_postgres(
            c, server=pg_env["IVORIS_PG_HOST"], port=int(pg_env["IVORIS_PG_PORT"]), database=db
        )
        base = {"id": c.id, "name": c.name, "city": c.city}
        duck_docs.append({**base, "source": {"type": "duckdb", "path": str(path)}})
        pg_src = source_doc(
            c, "postgres", server=pg_env["IVORIS_PG_HOST"], port=int(pg_env["IVORIS_PG_PORT"])
        )
        pg_docs.append({**base, "source": {**pg_src, "database": db}})
    (root / "duck").mkdir()
    (root / "pg").mkdir()
    duck = parse_settings({"centers": duck_docs}, root / "duck" / "centers.yml")
    pg = parse_settings({"centers": pg_docs}, root / "pg" / "centers.yml")
    return dataset, duck, pg


def test_postgres_centers_have_the_generated_layout(fleet):
    """Every generated table, with its exact (case-kept, hostile) name, is in the catalog read over ODBC."""
    dataset, _, pg = fleet
    for c in dataset.centers:
        if c.kind in ("unreachable", "corrupt"):
            continue
        with open_source(pg.center(c.id)) as src:
            catalog = src.catalog()
        got = {}
        for col in catalog:
            got.setdefault((col.schema, col.table), []).append((col.ordinal, col.column))
        got = {k: [name for _, name in sorted(v)] for k, v in got.items()}
        assert got == {(t.schema, t.name): [col.name for col in t.columns] for t in c.tables}, c.id


def _discover(settings):
    from extract.discover.service import discover_centers

    return {r.center_id: r for r in discover_centers(settings, workers=2)}


def test_discovery_over_odbc_matches_ground_truth_and_duckdb(fleet):
    dataset, duck, pg = fleet
    over_pg, over_duck = _discover(pg), _discover(duck)
    for c in dataset.centers:
        got, ref = over_pg[c.id], over_duck[c.id]
        if c.kind == "ok":
            assert got.status == "proposed", (c.id, got.error, got.problems)
            assert got.mapping.schema == c.truth["schema"]
            for canon, truth in c.truth["tables"].items():
                tm = got.mapping.tables[canon]
                assert tm.physical == truth["physical"], (c.id, canon)
                assert {k: v.physical for k, v in tm.columns.items()} == truth["columns"], (c.id, canon)
        elif c.kind in ("unreachable", "corrupt"):
            # no database: a terminal connection error naming the center, never the password
            assert got.status == "failed" and pg_password() not in (got.error or "")
            assert "pytest_DentalDB_problem" in got.error
            continue
        else:
            assert got.status == ref.status, (c.id, got.status, ref.status)
            assert sorted((p.kind, p.object) for p in got.problems) == sorted(
                (p.kind, p.object) for p in ref.problems
            ), c.id
        # same physical names and type families as discovered from the DuckDB file
        assert got.mapping.schema == ref.mapping.schema
        assert _shape(got.mapping) == _shape(ref.mapping), c.id


def pg_password() -> str:
    return pg_credentials()["IVORIS_PG_PASSWORD"]


def _shape(mapping) -> dict:
    return {
        t: (tm.physical, {c: (cm.physical, cm.family) for c, cm in tm.columns.items()})
        for t, tm in mapping.tables.items()
    }


def _rows(source, plan, date_from, date_to) -> list[tuple]:
    rows = []
    for batch in source.fetch_batches(plan.select_sql(), plan.params(date_from, date_to), batch_rows=50):
        rows += [tuple(r.values()) for r in batch.to_pylist()]
    return sorted(rows, key=repr)


def test_extraction_over_odbc_returns_the_duckdb_rows(fleet):
    """The loader's own SELECTs (extract.load.queries) over pyodbc give exactly the DuckDB rows."""
    from extract.load.queries import plan_tables

    dataset, duck, pg = fleet
    canonical = load_canonical()
    mappings = _discover(pg)
    start = END - dt.timedelta(days=DAYS - 1)
    checked = 0
    for c in dataset.centers:
        if c.kind != "ok":
            continue
        plans = plan_tables(mappings[c.id].mapping, canonical)
        with open_source(pg.center(c.id)) as pg_src, open_source(duck.center(c.id)) as duck_src:
            for plan in plans:
                # one day, and the whole range: date filters in each DATUM representation
                for lo, hi in ((END, END), (start, END)):
                    got, want = _rows(pg_src, plan, lo, hi), _rows(duck_src, plan, lo, hi)
                    assert got == want, (c.id, plan.raw.canonical, lo, hi)
                    checked += len(want)
    assert checked > 200


def test_source_is_read_only_on_the_server(fleet):
    """Even if a write slipped past the SELECT check, the session refuses it (read-only transaction)."""
    _, _, pg = fleet
    center = pg.center("center_01")
    with open_source(center) as src:
        con = src._con
        with pytest.raises(Exception, match="read-only"):
            con.execute('CREATE TABLE "ck"."should_not_exist" (x int)')


def test_wrong_password_is_terminal_and_masked(fleet, monkeypatch):
    _, _, pg = fleet
    wrong = "Wr0ng;Pa55{word}"
    monkeypatch.setenv("IVORIS_PG_PASSWORD", wrong)
    with pytest.raises(SourceUnavailableError) as err:
        open_source(pg.center("center_01"))
    text = str(err.value)
    assert "center_01" in text and "pytest_DentalDB_01" in text and "Wr0ng" not in text


def _healthy_settings(settings, root: Path, name: str):
    """The healthy centers only, in a config of their own (its own mappings folder)."""
    docs = []
    for c in settings.centers:
        if c.id.startswith("center_"):
            src = c.source
            source = (
                {"type": "duckdb", "path": str(src.path)}
                if src.type == "duckdb"
                else {
                    "type": "mssql",
                    "server": src.server,
                    "port": src.port,
                    "database": src.database,
                    "driver": src.driver,
                    "encrypt": src.encrypt,
                    "user_env": src.user_env,
                    "password_env": src.password_env,
                }
            )
            docs.append({"id": c.id, "name": c.name, "city": c.city, "source": source})
    path = root / name / "centers.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    import yaml

    path.write_text(yaml.safe_dump({"centers": docs}, allow_unicode=True), encoding="utf-8")
    from extract.config import load_settings

    return load_settings(path)


def _chart_entries(settings, root: Path, name: str) -> list[dict]:
    """discover -> approve -> `ivoris run` for the demo's dates, in an isolated project copy; the mart."""
    import duckdb

    from extract.bench.workspace import isolated_project
    from extract.discover.review import approve_centers
    from extract.pipeline import run_pipeline

    results = _discover(settings)
    assert all(r.status == "proposed" for r in results.values()), {k: r.status for k, r in results.items()}
    outcomes = approve_centers(settings, None, True, "pytest")
    assert len(outcomes) == len(settings.centers)
    with isolated_project(root, name, settings.config_path):
        code = run_pipeline(settings, date_from=END - dt.timedelta(days=DAYS - 1), date_to=END, workers=2)
        assert code == 0, f"{name}: the pipeline failed (exit {code}); see the run report"
        warehouse = Path(os.environ["IVORIS_DUCKDB_PATH"])
    con = duckdb.connect(str(warehouse))  # same config as the loader's cached in-process connection
    try:
        cur = con.execute("SELECT * FROM marts.chart_entries")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    volatile = {"_loaded_at", "_run_id", "loaded_at", "run_id"}
    return sorted(
        ({k: v for k, v in r.items() if k not in volatile} for r in rows),
        key=lambda r: (r["center_id"], r["entry_id"]),
    )


@pytest.mark.slow
def test_end_to_end_over_odbc_gives_the_duckdb_chart_entries(fleet, tmp_path):
    """Loader + dbt into the DuckDB warehouse: PostgreSQL-over-ODBC centers give the same mart."""
    dataset, duck, pg = fleet
    over_pg = _chart_entries(_healthy_settings(pg, tmp_path, "pg"), tmp_path, "pg")
    over_duck = _chart_entries(_healthy_settings(duck, tmp_path, "duck"), tmp_path, "duck")
    assert len(over_pg) > 50
    assert {r["center_id"] for r in over_pg} == {c.id for c in dataset.centers if c.kind == "ok"}
    assert over_pg == over_duck
