"""`ivoris demo`: generate demo centers, approve their mappings, run the nightly pipeline with catch-up."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from extract.config import load_settings
from extract.demo.api import create_demo
from extract.log import progress
from extract.paths import default_config_path

APPROVAL_NOTE = (
    "Demo: mappings approved automatically. In production a person reviews each mapping "
    "(`ivoris show ID`) before `ivoris approve ID`."
)


def cmd_demo(args: argparse.Namespace) -> int:
    config_path = Path(args.config) if getattr(args, "config", None) else default_config_path()
    n_total = args.centers + (5 if args.problems else 0)
    started = time.perf_counter()
    with progress("Writing demo centers", n_total) as bar:
        result = create_demo(
            args.out,
            config_path,
            centers=args.centers,
            days=args.days,
            entries_per_day=args.entries_per_day,
            seed=args.seed,
            end_date=args.end_date,
            problems=args.problems,
            unrelated_tables=args.unrelated_tables,
            target=args.target,
            on_center=bar.advance,
        )
    ds = result.dataset
    kinds = Counter(c.kind for c in ds.centers)
    n_entries = sum(len(c.canonical_table("KARTEI").rows) for c in ds.centers if c.kind == "ok")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(
        f"Generated {len(ds.centers)} demo centers ({summary}) "
        f"in {time.perf_counter() - started:.1f}s: {ds.start_date} .. {ds.end_date}, "
        f"{n_entries} chart entries in the healthy centers."
    )
    print(f"  databases and ground truth: {result.out_dir}/   config: {result.config_path}")
    if args.generate_only:
        return 0

    settings = load_settings(config_path)
    from extract.discover.review import approve_centers
    from extract.discover.service import discover_centers
    from extract.paths import duckdb_warehouse_path
    from extract.pipeline import run_pipeline

    discovered = discover_centers(settings)
    outcomes = approve_centers(settings, None, True, "ivoris demo")
    approved = [o.center_id for o in outcomes if o.approved]
    print(
        f"Discovered {len(discovered)} centers "
        f"({', '.join(f'{n} {s}' for s, n in sorted(Counter(r.status for r in discovered).items()))}); "
        f"approved {len(approved)}."
    )
    for o in outcomes:
        if not o.approved:
            print(f"  not approved: {o.center_id}: {o.reason}")
    print(APPROVAL_NOTE)
    # The demo's whole history, not --catch-up: a re-generated demo (other seed or end date)
    # replaces every partition it covers, whatever an earlier demo recorded as loaded.
    code = int(run_pipeline(settings, date_from=ds.start_date, date_to=ds.end_date) or 0)
    if code == 0:
        print(
            f"\nDone: marts.chart_entries is in {duckdb_warehouse_path()} "
            "; a look:\n"
            f"  .venv/bin/python -c \"import duckdb; duckdb.connect('{duckdb_warehouse_path()}', read_only=True)"
            ".sql('from marts.chart_entries limit 5').show()\"\n"
            f"  one day as a file:  .venv/bin/ivoris export --date {ds.end_date} --format csv\n"
            "  docs lineage site:  make docs, then .venv/bin/dbt docs serve --port 8080\n"
            "  problem centers and the review gate:  .venv/bin/ivoris demo --problems"
        )
    return code
