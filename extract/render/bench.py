"""Measure the dbt part of a nightly run at scale (issue item 6): N synthetic centers rendered
into a throw-away copy of the project, one full deployment, then nightly builds after each
night's load. Prints timings; never asserts them.

    python -m extract.render.bench --centers 500 --nights 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

from extract.config import load_settings
from extract.dbt_runner import dbt_build
from extract.paths import project_dir
from extract.render import synthetic
from extract.render.render import render_project


def measure_dbt_nightly(
    n_centers: int = 500, *, nights: int = 2, workdir: Path | None = None, entries_per_day: int = 4
) -> dict:
    """Timings in seconds: render, first (full) build, each nightly build, and a nightly build
    after one center's staging changed. The returned dict is what the bench can record."""
    owned = workdir is None
    base = Path(tempfile.mkdtemp(prefix="ivoris-dbt-bench-")) if owned else Path(workdir)
    project = synthetic.copy_project(project_dir(), base / "proj")
    warehouse = base / "warehouse.duckdb"
    old_env = {k: os.environ.get(k) for k in ("IVORIS_DUCKDB_PATH", "IVORIS_PROJECT_DIR", "IVORIS_TARGET")}
    os.environ["IVORIS_DUCKDB_PATH"] = str(warehouse)
    os.environ["IVORIS_PROJECT_DIR"] = str(project)
    os.environ.pop("IVORIS_TARGET", None)
    out: dict = {"centers": n_centers}
    try:
        centers = synthetic.make_centers(n_centers)
        day = dt.date(2024, 1, 2)
        for c in centers:
            synthetic.generate_rows(c, [day], entries_per_day=entries_per_day)
        synthetic.write_config(project / "config" / "centers.yml", centers)
        synthetic.load_warehouse(warehouse, centers)
        t = time.perf_counter()
        rendered = render_project(load_settings(project / "config" / "centers.yml"), project)
        out["render_s"] = round(time.perf_counter() - t, 2)
        out["rendered_files"] = len(rendered.written)
        first = dbt_build(project, quiet=True)
        out["first_build"] = {"s": first.elapsed_s, "nodes": first.nodes, "ok": first.success}
        print(
            f"{n_centers} centers: render {out['render_s']} s, first full build {first.elapsed_s} s "
            f"({first.nodes} nodes, {'ok' if first.success else first.failures[:3]})"
        )
        out["nightly"] = []
        for night in range(1, nights + 1):
            day = day + dt.timedelta(days=1)
            for c in centers:  # the loader's night: a new business date everywhere
                synthetic.generate_rows(c, [day], entries_per_day=entries_per_day)
            synthetic.load_warehouse(warehouse, centers, run_id=f"night-{night}")
            res = dbt_build(project, quiet=True)
            out["nightly"].append(
                {"s": res.elapsed_s, "nodes": res.nodes, "staging": res.staging_rebuilt, "ok": res.success}
            )
            print(
                f"  nightly build {night}: {res.elapsed_s} s ({res.mode}, {res.nodes} nodes, "
                f"{res.staging_rebuilt} staging views rebuilt, {'ok' if res.success else res.failures[:3]})"
            )
        # One center's mapping changed and was re-rendered: its four views are rebuilt too.
        for sql in (project / "models/staging/centers" / centers[0].center_id).glob("stg_*.sql"):
            sql.write_text(sql.read_text(encoding="utf-8") + "-- re-rendered\n", encoding="utf-8")
        res = dbt_build(project, quiet=True)
        out["nightly_one_center_changed"] = {
            "s": res.elapsed_s,
            "nodes": res.nodes,
            "staging": res.staging_rebuilt,
            "ok": res.success,
        }
        print(
            f"  nightly build, one center re-rendered: {res.elapsed_s} s "
            f"({res.staging_rebuilt} staging views)"
        )
    finally:
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if owned:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--centers", type=int, default=500)
    p.add_argument("--nights", type=int, default=2)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--json", type=Path, help="also write the timings here")
    args = p.parse_args(argv)
    result = measure_dbt_nightly(args.centers, nights=args.nights, workdir=args.workdir)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
