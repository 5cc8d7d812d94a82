"""Small real DuckDB centers for the discovery and review tests (no dependency on the demo generator)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from extract.config import load_settings

# canonical table -> columns (physical names of a suffixed center) and DuckDB types
SUFFIXED = {
    "KARTEI_MN": {
        "ID": "INTEGER",
        "PATNR_NAN6": "INTEGER",
        "DATUM_3A4": "INTEGER",
        "BEMERKUNG_X1": "VARCHAR",
        "DELKZ": "INTEGER",
        "ZAHN_X1": "VARCHAR",
    },
    "LEISTUNG_Q7": {
        "ID": "INTEGER",
        "PATIENTID_Q7": "INTEGER",
        "DATUM_Q7": "DATE",
        "LEISTUNG_Q7": "VARCHAR",
        "DELKZ": "BOOLEAN",
    },
    "PATIENT_AB": {"ID": "INTEGER", "P_NAME_AB": "VARCHAR", "P_VORNAME_AB": "VARCHAR", "DELKZ": "INTEGER"},
    "KASSEN_K2": {"ID": "INTEGER", "NAME_K2": "VARCHAR", "ART_K2": "VARCHAR", "DELKZ": "INTEGER"},
    "PATKASSE_PK": {"ID": "INTEGER", "PATNR_PK": "INTEGER", "KASSENID_PK": "INTEGER", "DELKZ": "INTEGER"},
}
CLEAN = {
    "kartei": {
        "id": "INTEGER",
        "patnr": "INTEGER",
        "datum": "TIMESTAMP",
        "bemerkung": "VARCHAR",
        "delkz": "BOOLEAN",
    },
    "leistung": {
        "id": "INTEGER",
        "patientid": "INTEGER",
        "datum": "VARCHAR",
        "leistung": "VARCHAR",
        "delkz": "INTEGER",
    },
    "patient": {"id": "INTEGER", "p_name": "VARCHAR", "p_vorname": "VARCHAR", "delkz": "INTEGER"},
    "kassen": {"id": "INTEGER", "name": "VARCHAR", "art": "VARCHAR", "delkz": "INTEGER"},
    "patkasse": {"id": "INTEGER", "patnr": "INTEGER", "kassenid": "INTEGER", "delkz": "INTEGER"},
}
HOSTILE = [
    'x"; DROP TABLE y; --',
    "O'Brien Export",
    "KARTEI_MN; --",
    "KARTEI_/*",
    "Kartei [alt]",
    "KARTEI_ÄÖ",
]


def qident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_center(path: Path, schemas: dict[str, dict[str, dict[str, str]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        for schema, tables in schemas.items():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {qident(schema)}")
            for table, cols in tables.items():
                body = ", ".join(f"{qident(c)} {t}" for c, t in cols.items())
                con.execute(f"CREATE TABLE {qident(schema)}.{qident(table)} ({body})")
    finally:
        con.close()
    return path


def alter(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def write_config(tmp: Path, centers: dict[str, Path], schema: dict[str, str] | None = None):
    docs = []
    for cid, path in centers.items():
        source = {"type": "duckdb", "path": str(path)}
        if schema and cid in schema:
            source["schema"] = schema[cid]
        docs.append({"id": cid, "name": f"Praxis {cid}", "city": "Berlin", "source": source})
    cfg = tmp / "config" / "centers.yml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(yaml.safe_dump({"centers": docs}, allow_unicode=True), encoding="utf-8")
    return load_settings(cfg)


def small_fleet(tmp: Path):
    """Five centers: two healthy (one with traps), one ambiguous, one missing file, one corrupt file."""
    data = tmp / "centers"
    traps = {
        t: {"ID": "INTEGER", "WERT": "VARCHAR"}
        for t in [
            "KARTEIABRECHNUNG",
            "LEISTUNGVALID",
            "KARTEI_MN_ARCHIV",
            "ARCHIV_KARTEI_MN",
            "TERMINE",
            *HOSTILE,
        ]
    }
    good = write_center(
        data / "good.duckdb", {"ck": {**SUFFIXED, **traps}, "dbo": {"KARTEI_OLD": SUFFIXED["KARTEI_MN"]}}
    )
    clean = write_center(data / "clean.duckdb", {"main": CLEAN})
    amb = write_center(data / "amb.duckdb", {"ck": {**SUFFIXED, "KARTEI_ZZ": SUFFIXED["KARTEI_MN"]}})
    corrupt = data / "corrupt.duckdb"
    corrupt.write_bytes(b"not a duckdb file\n" * 100)
    return write_config(
        tmp, {"good": good, "clean": clean, "amb": amb, "gone": data / "gone.duckdb", "corrupt": corrupt}
    )
