"""Ground truth beside the demo databases, and a reference implementation of marts.chart_entries.

`<out>/ground_truth.json`: what each center is (kind, schema, physical names of every canonical
table and column, its problems) — discovery tests compare their mappings with it.
`<out>/expected_chart_entries.parquet`: DESIGN.md's chart_entries rules applied in plain Python to
the generator's in-memory rows of the healthy centers — dbt tests compare the mart with it. The
rules are implemented here independently of the SQL, from DESIGN.md's text.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extract.demo.generator import DemoCenter, DemoDataset

TRUTH_FILE = "ground_truth.json"
EXPECTED_FILE = "expected_chart_entries.parquet"

CHART_ENTRIES_SCHEMA = pa.schema(
    [
        ("center_id", pa.string()),
        ("center_name", pa.string()),
        ("entry_id", pa.int64()),
        ("entry_date", pa.date32()),
        ("patient_id", pa.int64()),
        ("insurance_status", pa.string()),
        ("insurance_name", pa.string()),
        ("chart_entry", pa.string()),
        ("service_codes", pa.string()),
    ]
)


def build_truth(dataset: DemoDataset) -> dict:
    return {
        "generated_by": "ivoris demo (extract/demo/generator.py); do not edit",
        "seed": dataset.seed,
        "start_date": dataset.start_date.isoformat(),
        "end_date": dataset.end_date.isoformat(),
        "centers": {c.id: c.truth for c in dataset.centers},
    }


def truth_json(dataset: DemoDataset) -> str:
    return json.dumps(build_truth(dataset), indent=2, ensure_ascii=False) + "\n"


def write_truth(dataset: DemoDataset, out_dir: Path) -> tuple[Path, Path]:
    """Write ground_truth.json and expected_chart_entries.parquet (each atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_path = out_dir / TRUTH_FILE
    tmp = truth_path.with_name(truth_path.name + ".tmp")
    tmp.write_text(truth_json(dataset), encoding="utf-8")
    tmp.replace(truth_path)
    expected_path = out_dir / EXPECTED_FILE
    tmp = expected_path.with_name(expected_path.name + ".tmp")
    pq.write_table(expected_chart_entries(dataset), tmp)
    tmp.replace(expected_path)
    return truth_path, expected_path


def load_truth(out_dir: Path | str) -> dict:
    path = Path(out_dir) / TRUTH_FILE
    return json.loads(path.read_text(encoding="utf-8"))


def load_expected(out_dir: Path | str) -> pa.Table:
    return pq.read_table(Path(out_dir) / EXPECTED_FILE)


# ---- reference implementation ------------------------------------------------------------------


def is_deleted(value: Any) -> bool:
    """Rule 1: DELKZ non-zero or true is deleted; NULL, 0 and false are not."""
    return value is not None and value != 0 and value is not False


def as_date(value: Any) -> dt.date | None:
    """DATUM as a date: INT yyyymmdd, CHAR(8) 'yyyymmdd', DATE or DATETIME (time part dropped)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int):
        return dt.date(value // 10000, value // 100 % 100, value % 100)
    text = str(value).strip()
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def insurance_status(art: str | None) -> str:
    """Rule 2 for an existing, non-deleted insurer: P (any case) PKV; blank, NULL, S Selbstzahler; else GKV"""
    if art is None or art.strip() == "":
        return "Selbstzahler"
    code = art.strip()
    if code.upper() == "P":
        return "PKV"
    if code == "S":
        return "Selbstzahler"
    return "GKV"


def _rows(center: DemoCenter, canon: str) -> list[dict[str, Any]]:
    """The canonical table's rows as {canonical column: value}."""
    table = center.canonical_table(canon)
    cols = center.truth["tables"][canon]["columns"]
    idx = {ccol: table.column_index(pcol) for ccol, pcol in cols.items()}
    return [{ccol: row[i] for ccol, i in idx.items()} for row in table.rows]


def center_chart_entries(
    center: DemoCenter, start: dt.date | None = None, end: dt.date | None = None
) -> list[dict]:
    kassen = {r["ID"]: r for r in _rows(center, "KASSEN") if not is_deleted(r["DELKZ"])}
    current: dict[int, dict] = {}  # patient -> its non-deleted link with the highest ID
    for link in _rows(center, "PATKASSE"):
        if is_deleted(link["DELKZ"]):
            continue
        best = current.get(link["PATNR"])
        if best is None or link["ID"] > best["ID"]:
            current[link["PATNR"]] = link
    services: dict[tuple[int, dt.date], set[str]] = defaultdict(set)
    for s in _rows(center, "LEISTUNG"):
        if is_deleted(s["DELKZ"]) or s["LEISTUNG"] is None:
            continue
        services[(s["PATIENTID"], as_date(s["DATUM"]))].add(s["LEISTUNG"])
    out = []
    for e in _rows(center, "KARTEI"):
        if is_deleted(e["DELKZ"]):
            continue
        day = as_date(e["DATUM"])
        if (start and day < start) or (end and day > end):
            continue
        link = current.get(e["PATNR"])
        insurer = kassen.get(link["KASSENID"]) if link else None
        if insurer is None:
            status, name = "Selbstzahler", None
        else:
            status, name = insurance_status(insurer["ART"]), insurer["NAME"]
        codes = services.get((e["PATNR"], day))
        out.append(
            {
                "center_id": center.id,
                "center_name": center.name,
                "entry_id": e["ID"],
                "entry_date": day,
                "patient_id": e["PATNR"],
                "insurance_status": status,
                "insurance_name": name,
                "chart_entry": e["BEMERKUNG"],
                # Python's str order is codepoint order: a binary collation's order
                "service_codes": ",".join(sorted(codes)) if codes else None,
            }
        )
    return out


def expected_chart_entries(dataset: DemoDataset) -> pa.Table:
    """marts.chart_entries as DESIGN.md defines it, for the healthy (kind ok) centers, by center and entry."""
    rows: list[dict] = []
    for center in dataset.centers:
        if center.kind == "ok":
            rows.extend(center_chart_entries(center, dataset.start_date, dataset.end_date))
    rows.sort(key=lambda r: (r["center_id"], r["entry_id"]))
    return pa.Table.from_pylist(rows, schema=CHART_ENTRIES_SCHEMA)
