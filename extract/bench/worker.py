"""One measured job in its own process, so its peak RSS is its own: `python -m extract.bench.worker JSON`.

Prints one JSON line: {"seconds", "peak_rss_bytes", "baseline_rss_bytes", ...}. The clock starts after
the imports and stops when the job's data is committed.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path


def _rss_now() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _peak_rss() -> int:
    """This process's own peak RSS: VmHWM of its memory map. (getrusage's ru_maxrss is not: Linux carries
    the parent's RSS at fork over the exec, so a small job would report the bench's own footprint.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: KiB or bytes


def _dates(spec: dict) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(spec["date_from"]), dt.date.fromisoformat(spec["date_to"])


def job_load(spec: dict) -> dict:
    """Our loader, as `ivoris load --from --to` runs it."""
    import extract.load.loader  # noqa: F401 - imported before the baseline and the clock
    from extract.bench import adapters
    from extract.config import load_settings

    settings = load_settings(spec["config"])
    date_from, date_to = _dates(spec)
    base = _rss_now()
    t0 = time.perf_counter()
    report = adapters.load_range(
        settings, date_from, date_to, workers=spec.get("workers"), check_schema=spec.get("check_schema", True)
    )
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "baseline_rss_bytes": base, "report": adapters.describe_report(report)}


def job_native(spec: dict) -> dict:
    """DuckDB's own copy: ATTACH each center read-only, INSERT … SELECT the same rows."""
    import duckdb

    from extract.bench.queries import center_queries
    from extract.canonical import load_canonical
    from extract.config import load_settings
    from extract.identifiers import qualified, quote

    settings = load_settings(spec["config"])
    canonical = load_canonical()
    date_from, date_to = _dates(spec)
    plans = [(c, center_queries(settings, c, canonical, date_from, date_to)) for c in settings.centers]
    base = _rss_now()
    t0 = time.perf_counter()
    con = duckdb.connect(spec["warehouse"])
    rows = 0
    for center, queries in plans:
        path = str(center.source.path).replace("'", "''")  # ATTACH takes no bound parameter
        con.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
        schema = f"raw_{center.id}"
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for q in queries:
            target = qualified(schema, q.physical)
            con.execute(f"CREATE TABLE {target} AS {q.sql('src')} LIMIT 0", list(q.params))
            con.execute(f"INSERT INTO {target} {q.sql('src')}", list(q.params))
            rows += con.fetchone()[0]
        con.execute("DETACH src")
    con.close()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "baseline_rss_bytes": base, "rows": rows}


def job_dlt(spec: dict) -> dict:
    import dlt  # noqa: F401 - imported before the baseline, like the other jobs' libraries

    from extract.bench.dlt_side import run_dlt

    date_from, date_to = _dates(spec)
    base = _rss_now()
    result = run_dlt(spec["config"], spec["destination"], spec["pipelines_dir"], date_from, date_to)
    return {"baseline_rss_bytes": base, **result}


JOBS = {"load": job_load, "native": job_native, "dlt": job_dlt}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    from extract.log import setup

    setup(-1)
    result = JOBS[spec["job"]](spec)
    result["peak_rss_bytes"] = _peak_rss()
    Path(spec["result"]).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
