"""Synthetic approved centers and raw warehouse tables for tests and the dbt benchmark.

Follows the loader's warehouse contract (extract/layout.py): schema raw_<center_id>, the center's
physical table and column names with the source's types, `_business_date` (by-date tables),
`_loaded_at`, `_run_id`, and one ivoris_meta.load_audit row per (run, center, date, table).
The physical variants cycle over what the field holds (DATUM as INT, VARCHAR, DATE, TIMESTAMP;
DELKZ as INT or BOOLEAN; suffixed, clean and lower-case names), so every staging cast is built.
`expected_chart_entries()` computes DESIGN.md's semantics in plain Python from the same rows,
independent of the SQL under test.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from extract import layout
from extract.canonical import load_canonical
from extract.mapping import ColumnMapping, Mapping, TableMapping, save_mapping

DATE_FAMILIES = ("integer", "text", "date", "datetime")
PHYSICAL_TYPES = {
    "integer": "INTEGER",
    "text": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "boolean": "BOOLEAN",
}
ART_CODES = ["1", "2", "4", "P", "p", "S", "s", "", " ", None, "X"]
CODES = ["01", "Ä1", "13a", "13b", "IP1", "0010", "2060", "107", "04", "Z9"]
TEXTS = ["Kontrolle o.B.", 'Patient sagt "au"', "Zahn 36:\nFüllung erneuert", "It's fine — ✓", "ß ü ö ä 你好"]


@dataclass
class SyntheticCenter:
    center_id: str
    name: str
    date_family: str
    delkz_family: str
    style: str  # suffixed | clean | lower
    rows: dict[str, list[dict]] = field(default_factory=dict)  # canonical table -> rows (canonical names)


def _physical(name: str, center: SyntheticCenter, keep: bool = False) -> str:
    if center.style == "clean" or keep:
        out = name
    else:
        suffix = "".join(random.Random(center.center_id + name).choices("ABCDEFGHJKMN0123456789", k=3))
        out = f"{name}_{suffix}"
    return out.lower() if center.style == "lower" else out


def make_centers(n: int, *, seed: int = 7) -> list[SyntheticCenter]:
    centers = []
    for i in range(1, n + 1):
        centers.append(
            SyntheticCenter(
                center_id=f"center_{i:03d}",
                name=["Zahnarztpraxis München", "Praxis Dr. Özdemir & Kollegen", "Zahnärzte 'am Hafen'"][
                    i % 3
                ]
                + f" {i}",
                date_family=DATE_FAMILIES[(i - 1) % 4],
                delkz_family="boolean" if i % 2 == 0 else "integer",
                style=["suffixed", "clean", "lower", "suffixed"][(i - 1) % 4],
            )
        )
    return centers


def mapping_for(center: SyntheticCenter) -> Mapping:
    canonical = load_canonical()
    tables = {}
    for ctable in canonical.tables.values():
        cols = {}
        for ccol in ctable.columns.values():
            if ccol.type == "date":
                family = center.date_family
            elif ccol.type == "deleted_flag":
                family = center.delkz_family
            else:
                family = ccol.accepts[0]
            keep = ccol.name in ("ID", "DELKZ")
            cols[ccol.name] = ColumnMapping(
                physical=_physical(ccol.name, center, keep),
                data_type=PHYSICAL_TYPES[family].lower(),
                family=family,
            )
        tables[ctable.name] = TableMapping(physical=_physical(ctable.name, center), columns=cols)
    mapping = Mapping(center_id=center.center_id, schema="ck", tables=tables)
    mapping.approve("synthetic")
    return mapping


def write_config(config_path: Path, centers: list[SyntheticCenter], *, approve: bool = True) -> None:
    """config/centers.yml plus approved mappings beside it (mappings/<id>.yml)."""
    config_path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "centers": [
            {
                "id": c.center_id,
                "name": c.name,
                "city": "Teststadt",
                "source": {"type": "duckdb", "path": f"data/{c.center_id}.duckdb"},
            }
            for c in centers
        ]
    }
    config_path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for c in centers:
        mapping = mapping_for(c)
        if not approve:
            mapping.reviewed = False
        save_mapping(mapping, config_path.parent / "mappings" / f"{c.center_id}.yml")


def generate_rows(
    center: SyntheticCenter, dates: list[dt.date], *, entries_per_day: int = 4, patients: int = 6
) -> None:
    rnd = random.Random(center.center_id)
    insurers = [
        {"ID": i, "NAME": f"Kasse {i}", "ART": code, "DELKZ": 1 if i == 3 else 0}
        for i, code in enumerate(ART_CODES, start=1)
    ]
    links, link_id = [], 100
    for p in range(1, patients + 1):
        for _ in range(rnd.randint(0, 3)):  # no link, one, several
            link_id += rnd.randint(1, 5)
            links.append(
                {
                    "ID": link_id,
                    "PATNR": p,
                    "KASSENID": rnd.randint(1, len(insurers) + 1),
                    "DELKZ": 1 if rnd.random() < 0.2 else None,
                }
            )
    # ids unique across calls for later dates (the bench loads one new date per night)
    base = (dates[0].toordinal() % 100_000) * 1_000 if dates else 0
    entries, services, eid, sid = [], [], base, base
    for day in dates:
        for _ in range(entries_per_day):
            eid += 1
            entries.append(
                {
                    "ID": eid,
                    "PATNR": rnd.randint(1, patients),
                    "DATUM": day,
                    "BEMERKUNG": rnd.choice(TEXTS),
                    "DELKZ": 1 if rnd.random() < 0.1 else 0,
                }
            )
        for _ in range(entries_per_day + 2):
            sid += 1
            services.append(
                {
                    "ID": sid,
                    "PATIENTID": rnd.randint(1, patients),
                    "DATUM": day,
                    "LEISTUNG": rnd.choice(CODES),
                    "DELKZ": 1 if rnd.random() < 0.1 else None,
                }
            )
    center.rows = {"KASSEN": insurers, "PATKASSE": links, "KARTEI": entries, "LEISTUNG": services}


def _physical_value(value, family: str):
    if value is None:
        return None
    if isinstance(value, dt.date):
        return {
            "integer": int(value.strftime("%Y%m%d")),
            "text": value.strftime("%Y%m%d"),
            "date": value,
            "datetime": dt.datetime.combine(value, dt.time(9, 30)),
        }[family]
    if family == "boolean":
        return bool(value)
    return value


def load_warehouse(warehouse: Path, centers: list[SyntheticCenter], *, run_id: str = "synthetic-run") -> None:
    """Write raw tables and audit rows the way the loader does (replace per center)."""
    canonical = load_canonical()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    now = dt.datetime(2024, 1, 31, 2, 0, 0)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"create schema if not exists {layout.META_SCHEMA}")
        con.execute(
            f"create table if not exists {layout.META_SCHEMA}.{layout.AUDIT_TABLE} ("
            "run_id varchar, center_id varchar, business_date date, canonical_table varchar, "
            "physical_table varchar, rows_read bigint, rows_written bigint, status varchar, "
            "started_at timestamp, finished_at timestamp, duration_s double, message varchar)"
        )
        for center in centers:
            mapping = mapping_for(center)
            schema = layout.raw_schema(center.center_id)
            con.execute(f'create schema if not exists "{schema}"')
            for ctable in canonical.loaded_tables:
                tm = mapping.tables[ctable.name]
                cols = [(c, tm.columns[c.name]) for c in ctable.loaded_columns]
                defs = [f'"{cm.physical}" {PHYSICAL_TYPES[cm.family]}' for _, cm in cols]
                if ctable.load == "by_date":
                    defs.append(f'"{layout.BUSINESS_DATE}" DATE')
                defs += [f'"{layout.LOADED_AT}" TIMESTAMP', f'"{layout.RUN_ID}" VARCHAR']
                table = f'"{schema}"."{tm.physical}"'
                con.execute(f"create table if not exists {table} ({', '.join(defs)})")
                rows = center.rows.get(ctable.name, [])
                # Like the loader: replace the business dates being loaded; snapshots entirely.
                if ctable.load == "by_date":
                    for day in sorted({r[ctable.date_column] for r in rows}):
                        con.execute(f'delete from {table} where "{layout.BUSINESS_DATE}" = ?', [day])  # noqa: S608
                else:
                    con.execute(f"delete from {table}")  # noqa: S608
                out = []
                for r in rows:
                    vals = [_physical_value(r[c.name], cm.family) for c, cm in cols]
                    if ctable.load == "by_date":
                        vals.append(r[ctable.date_column])
                    out.append(vals + [now, run_id])
                if out:
                    marks = ", ".join("?" for _ in out[0])
                    # names: synthetic and validated by the mapping; values: bound parameters
                    con.executemany(f"insert into {table} values ({marks})", out)  # noqa: S608
                partitions: dict[dt.date | None, int] = {}
                for r in rows:
                    key = r[ctable.date_column] if ctable.load == "by_date" else None
                    partitions[key] = partitions.get(key, 0) + 1
                if ctable.load == "snapshot":
                    partitions.setdefault(None, 0)
                con.executemany(
                    f"insert into {layout.META_SCHEMA}.{layout.AUDIT_TABLE} "  # noqa: S608 - constant names
                    "values (?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, 0.1, null)",
                    [
                        [run_id, center.center_id, d, ctable.name, tm.physical, n, n, now, now]
                        for d, n in partitions.items()
                    ],
                )
    finally:
        con.close()


def _deleted(value) -> bool:
    return bool(value)


def expected_chart_entries(
    centers: list[SyntheticCenter],
    insurance_codes: dict[str, str],
    any_case: frozenset[str] = frozenset({"P"}),
) -> list[tuple]:
    """DESIGN.md semantics in plain Python: rows (center_id, center_name, entry_id, entry_date,
    patient_id, insurance_status, insurance_name, chart_entry, service_codes), sorted."""
    out = []
    for c in centers:
        insurers = {r["ID"]: r for r in c.rows["KASSEN"] if not _deleted(r["DELKZ"])}
        current: dict[int, dict] = {}
        for link in c.rows["PATKASSE"]:
            if not _deleted(link["DELKZ"]) and (
                link["PATNR"] not in current or link["ID"] > current[link["PATNR"]]["ID"]
            ):
                current[link["PATNR"]] = link
        codes: dict[tuple, set] = {}
        for s in c.rows["LEISTUNG"]:
            if not _deleted(s["DELKZ"]) and s["LEISTUNG"] is not None:
                codes.setdefault((s["PATIENTID"], s["DATUM"]), set()).add(s["LEISTUNG"])
        for e in c.rows["KARTEI"]:
            if _deleted(e["DELKZ"]):
                continue
            link = current.get(e["PATNR"])
            insurer = insurers.get(link["KASSENID"]) if link else None
            art = (insurer["ART"] or "").strip() if insurer else ""
            if insurer is None or art == "":
                status = "Selbstzahler"
            elif art in insurance_codes:  # exact, case-sensitive
                status = insurance_codes[art]
            elif art.upper() in any_case:  # "P in any case"
                status = insurance_codes[art.upper()]
            else:
                status = "GKV"
            svc = codes.get((e["PATNR"], e["DATUM"]))
            out.append(
                (
                    c.center_id,
                    c.name,
                    e["ID"],
                    e["DATUM"],
                    e["PATNR"],
                    status,
                    insurer["NAME"] if insurer else None,
                    e["BEMERKUNG"],
                    ",".join(sorted(svc)) if svc else None,
                )
            )
    return sorted(out, key=lambda r: (r[0], r[2]))


PROJECT_FILES = (
    "dbt_project.yml",
    "profiles.yml",
    ".sqlfluff",
    "macros",
    "models",
    "seeds",
    "dbt_project",
    "config/canonical.yml",
)


def copy_project(src: Path, dest: Path) -> Path:
    """A throw-away copy of the dbt project (without generated files, targets or data)."""
    ignore = shutil.ignore_patterns("generated", "centers", "target", "logs", "__pycache__")
    for name in PROJECT_FILES:
        s, d = src / name, dest / name
        if s.is_dir():
            shutil.copytree(s, d, ignore=ignore, dirs_exist_ok=True)
        elif s.exists():
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
    return dest
