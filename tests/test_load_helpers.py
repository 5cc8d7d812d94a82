"""Small center databases + approved mappings for the loader tests (no tests in this module).

Each center stores DATUM and DELKZ in a different physical type, like the field does, under its
own suffixed names. Built here so the loader tests do not depend on the demo generator's output.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from extract.mapping import ColumnMapping, Mapping, TableMapping, save_mapping

REPO = Path(__file__).resolve().parents[1]
END = dt.date(2026, 11, 20)

# center -> (suffix, DATUM SQL type, DELKZ SQL type)
VARIANTS = {
    "center_a": ("MN", "INTEGER", "INTEGER"),
    "center_b": ("X7Q", "VARCHAR", "BOOLEAN"),
    "center_c": ("", "DATE", "INTEGER"),
    "center_d": ("Z9", "TIMESTAMP", "BOOLEAN"),
}
FAMILY = {
    "INTEGER": "integer",
    "VARCHAR": "text",
    "DATE": "date",
    "TIMESTAMP": "datetime",
    "BOOLEAN": "boolean",
}

TEXTS = [
    "Kontrolle o.B.",
    'Füllung 36 mod; Patient sagt "alles gut"',
    "Zeile 1\nZeile 2\r\nZeile 3",
    "Röntgen 'OPG' – unauffällig 😀",
    "",
    "Ästhetik: ß, é, 漢字",
]


def _n(base: str, suffix: str) -> str:
    return f"{base}_{suffix}" if suffix else base


def patient_names(center_id: str, n: int) -> list[tuple[str, str]]:
    return [
        (f"Nachname{center_id[-1].upper()}{i:03d}xq", f"Vorname{center_id[-1].upper()}{i:03d}zk")
        for i in range(n)
    ]


def make_center(
    path: Path, center_id: str, *, days: int = 6, per_day: int = 5, end: dt.date = END, seed: int = 1
) -> Mapping:
    """Write one center's DuckDB file (schema ck); return its approved mapping."""
    suffix, datum_t, delkz_t = VARIANTS[center_id]
    rnd = random.Random(f"{center_id}-{seed}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    names = {
        "PATIENT": (
            _n("PATIENT", suffix),
            {
                "ID": "ID",
                "P_NAME": _n("P_NAME", suffix),
                "P_VORNAME": _n("P_VORNAME", suffix),
                "DELKZ": "DELKZ",
            },
        ),
        "KASSEN": (
            _n("KASSEN", suffix),
            {"ID": "ID", "NAME": _n("NAME", suffix), "ART": _n("ART", suffix), "DELKZ": "DELKZ"},
        ),
        "PATKASSE": (
            _n("PATKASSE", suffix),
            {"ID": "ID", "PATNR": _n("PATNR", suffix), "KASSENID": _n("KASSENID", suffix), "DELKZ": "DELKZ"},
        ),
        "KARTEI": (
            _n("KARTEI", suffix),
            {
                "ID": "ID",
                "PATNR": _n("PATNR", suffix),
                "DATUM": _n("DATUM", suffix),
                "BEMERKUNG": _n("BEMERKUNG", suffix),
                "DELKZ": "DELKZ",
            },
        ),
        "LEISTUNG": (
            _n("LEISTUNG", suffix),
            {
                "ID": "ID",
                "PATIENTID": _n("PATIENTID", suffix),
                "DATUM": _n("DATUM", suffix),
                "LEISTUNG": _n("LEISTUNG", suffix),
                "DELKZ": "DELKZ",
            },
        ),
    }
    types = {
        "ID": "INTEGER",
        "P_NAME": "VARCHAR",
        "P_VORNAME": "VARCHAR",
        "DELKZ": delkz_t,
        "NAME": "VARCHAR",
        "ART": "VARCHAR",
        "PATNR": "INTEGER",
        "KASSENID": "INTEGER",
        "DATUM": datum_t,
        "BEMERKUNG": "VARCHAR",
        "PATIENTID": "INTEGER",
        "LEISTUNG": "VARCHAR",
    }

    def delkz(deleted: bool):
        return deleted if delkz_t == "BOOLEAN" else (1 if deleted else rnd.choice([0, None]))

    def datum(day: dt.date):
        return {
            "INTEGER": int(day.strftime("%Y%m%d")),
            "VARCHAR": day.strftime("%Y%m%d"),
            "DATE": day,
            "TIMESTAMP": dt.datetime.combine(day, dt.time(rnd.randint(7, 18), rnd.randint(0, 59))),
        }[datum_t]

    n_pat = 12
    rows: dict[str, list[tuple]] = {t: [] for t in names}
    for i, (last, first) in enumerate(patient_names(center_id, n_pat)):
        rows["PATIENT"].append((i + 1, last, first, delkz(False)))
    for k, (name, art) in enumerate([("AOK Bayern", "1"), ("Debeka", "P"), ("Selbstzahler", "S")]):
        rows["KASSEN"].append((k + 1, name, art, delkz(False)))
    for i in range(n_pat):
        rows["PATKASSE"].append((i + 1, i + 1, rnd.randint(1, 3), delkz(rnd.random() < 0.1)))
    eid = sid = 0
    for d in range(days):
        day = end - dt.timedelta(days=days - 1 - d)
        for _ in range(per_day):
            eid += 1
            pat = rnd.randint(1, n_pat)
            rows["KARTEI"].append(
                (eid, pat, datum(day), rnd.choice(TEXTS) + f" #{eid}", delkz(rnd.random() < 0.1))
            )
            for code in rnd.sample(["01", "Ä1", "13a", "25"], rnd.randint(0, 2)):
                sid += 1
                rows["LEISTUNG"].append((sid, pat, datum(day), code, delkz(rnd.random() < 0.1)))
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA ck")
    con.execute("CREATE TABLE ck.KARTEIABRECHNUNG (ID INTEGER, X VARCHAR)")  # a sibling, never loaded
    for t, (phys, cols) in names.items():
        ddl = ", ".join(f'"{p}" {types[c]}' for c, p in cols.items())
        con.execute(f'CREATE TABLE ck."{phys}" ({ddl})')
        if rows[t]:
            con.executemany(f'INSERT INTO ck."{phys}" VALUES ({", ".join("?" for _ in cols)})', rows[t])  # noqa: S608 - test SQL over names from our own catalog
    con.close()
    mapping = Mapping(
        center_id=center_id,
        schema="ck",
        tables={
            t: TableMapping(
                physical=phys,
                columns={
                    c: ColumnMapping(physical=p, data_type=types[c].lower(), family=FAMILY[types[c]])
                    for c, p in cols.items()
                },
            )
            for t, (phys, cols) in names.items()
        },
    )
    mapping.approve("test")
    return mapping


def make_project(
    root: Path,
    centers: list[str],
    *,
    days: int = 6,
    per_day: int = 5,
    end: dt.date = END,
    extra: list[dict] | None = None,
) -> Path:
    """Center files, approved mappings and a centers.yml under root; returns the config path."""
    cfg = root / "config" / "centers.yml"
    docs = []
    for cid in centers:
        db = root / "centers" / f"{cid}.duckdb"
        mapping = make_center(db, cid, days=days, per_day=per_day, end=end)
        save_mapping(mapping, cfg.parent / "mappings" / f"{cid}.yml")
        docs.append(
            {
                "id": cid,
                "name": f"Praxis {cid}",
                "city": "Testdorf",
                "source": {"type": "duckdb", "path": str(db)},
            }
        )
    docs += extra or []
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(yaml.safe_dump({"centers": docs}, allow_unicode=True), encoding="utf-8")
    return cfg


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "IVORIS_DUCKDB_PATH": str(root / "warehouse" / "ivoris.duckdb"),
            "IVORIS_CANONICAL": str(REPO / "config" / "canonical.yml"),
            "IVORIS_PROJECT_DIR": str(root),
            "IVORIS_RETRY_BACKOFF_S": "0.05",
            "PYTHONPATH": str(REPO),
            "CI": "true",
        }
    )
    env.update(extra)
    return env


def run_cli(
    root: Path, cfg: Path, *args: str, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "extract", "--config", str(cfg), *args],
        cwd=root,
        env=env or env_for(root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def content_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """A raw table's columns without the load metadata that differs between runs."""
    return [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
        if c not in ("_loaded_at", "_run_id")
    ]


def raw_snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every raw table's rows without load metadata (sorted), plus the ok audit counts."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out: dict[str, list[tuple]] = {}
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema LIKE 'raw_%' ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            cols = content_columns(con, schema, table)
            sel = ", ".join(f'"{c}"' for c in cols)
            out[f"{schema}.{table}"] = sorted(
                con.execute(f'SELECT {sel} FROM "{schema}"."{table}"').fetchall(), key=repr  # noqa: S608 - test SQL over names from our own catalog
            )
        return out
    finally:
        con.close()
