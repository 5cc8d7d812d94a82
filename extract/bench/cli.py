"""`ivoris bench [--quick] [--repeat N] [--only SECTION] [--out FILE]`: print a table, write JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from extract import __version__
from extract.bench import machine, report, runner
from extract.errors import ConfigError
from extract.log import log


def cmd_bench(args: argparse.Namespace) -> int:
    only = [s.strip() for item in (args.only or []) for s in item.split(",") if s.strip()]
    unknown = sorted(set(only) - set(runner.SECTIONS))
    if unknown:
        raise ConfigError(f"--only {', '.join(unknown)}: choose from {', '.join(runner.SECTIONS)}")
    plan = runner.Plan.make(quick=args.quick, repeat=args.repeat, only=only)
    desc = machine.describe()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="ivoris-bench-"))
    log.info("bench: workspace %s (removed at the end)", root)
    try:
        results = runner.run(plan, root)
    finally:
        if os.environ.get("IVORIS_BENCH_KEEP"):  # for a look at the runs' logs and reports
            log.warning("bench: workspace kept at %s (IVORIS_BENCH_KEEP)", root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    rows = report.rows_of(results, quick=plan.quick)
    doc = {
        "bench": {
            "ivoris_version": __version__,
            "command": "ivoris " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("ivoris") else "ivoris bench",
            "quick": plan.quick,
            "repeat": plan.repeat,
            "sections": list(plan.sections),
            "sizes": {
                "nightly_centers": list(plan.nightly_sizes),
                "entries_per_center_per_day": plan.entries_per_day,
                "backfill": [plan.backfill_centers, plan.backfill_days],
                "discovery_centers": plan.discovery_centers,
            },
            "started_at": started.isoformat(),
            "wall_s": round(time.perf_counter() - t0, 1),
        },
        "machine": desc,
        "results": results,
        "table": report.as_json_rows(rows),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print(report.table(rows, desc, quick=plan.quick, repeat=plan.repeat))
    print(f"\nwritten: {out}  ({doc['bench']['wall_s']} s)")
    failed = [s for s, r in results.items() if "error" in r]
    if failed:
        log.error("bench: sections failed: %s", ", ".join(failed))
        return 1
    return 0
