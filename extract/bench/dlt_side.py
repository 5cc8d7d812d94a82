"""The loader a team would otherwise pick: dlt, into its DuckDB destination, over the same rows.

dlt's `sql_database` source reads through SQLAlchemy; where it cannot read the DuckDB center files
(no duckdb-engine, or duckdb-engine failing to reflect DuckDB 2.0 catalogs) the comparison uses dlt
resources over the very queries our loader runs, yielding Arrow tables — dlt's fastest path
(Arrow -> parquet -> DuckDB, no row-by-row normalisation). The probe's outcome goes into the report.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import time
from pathlib import Path


def available() -> str | None:
    """dlt's version when it can be imported with its DuckDB destination, else None."""
    if importlib.util.find_spec("dlt") is None:
        return None
    try:
        import dlt
        from dlt.destinations import duckdb as _duckdb  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not usable"
        return None
    return dlt.__version__


def probe_sql_database(path: Path, schema: str | None, table: str) -> str | None:
    """None when dlt's sql_database source can read `table` of a DuckDB center file; else why not."""
    for mod in ("sqlalchemy", "duckdb_engine"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (dlt's sql_database reads DuckDB files through duckdb-engine)"
    try:
        import sqlalchemy as sa
        from dlt.sources.sql_database import sql_table

        engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
        try:
            resource = sql_table(credentials=engine, table=table, schema=schema, backend="pyarrow", chunk_size=10)
            next(iter(resource))
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - the reason is the result
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"sql_database cannot read the DuckDB center files here: {type(exc).__name__}: {first[:200]}"
    return None


def run_dlt(config: str, destination: str, pipelines_dir: str, date_from: dt.date, date_to: dt.date) -> dict:
    """One dlt pipeline run loading every center's rows for the dates; returns seconds and rows."""
    import dlt

    from extract.bench.queries import center_queries
    from extract.canonical import load_canonical
    from extract.config import load_settings
    from extract.mapping import load_approved
    from extract.sources import open_source

    settings = load_settings(config)
    canonical = load_canonical()
    plans = [(c, center_queries(settings, c, canonical, date_from, date_to)) for c in settings.centers]
    first_center, first_queries = plans[0]
    schema = load_approved(settings.mapping_path(first_center.id), first_center.id).schema
    probe = probe_sql_database(first_center.source.path, schema, first_queries[0].physical)

    def resources(center, queries):
        for q in queries:

            def rows(center=center, q=q):
                with open_source(center) as src:
                    yield from src.fetch_batches(q.sql(), q.params)

            yield dlt.resource(rows, name=q.physical.lower(), write_disposition="append")

    # One pipeline per center (its own dlt schema and dataset raw_<center>, like our raw schemas), as a
    # team would run dlt's sql_database source per center database. A single pipeline for all centers
    # is slower: its one schema gathers every center's differently named tables, and each run
    # re-processes it (2 s per center at 265 of 500 centers); one run over all centers' resources fails
    # in dlt 1.31 beyond a few hundred resources ("maximum recursion depth exceeded").
    t0 = time.perf_counter()
    destination_factory = dlt.destinations.duckdb(destination)
    rows = 0
    for center, queries in plans:
        pipeline = dlt.pipeline(
            pipeline_name=f"ivoris_{center.id}",
            destination=destination_factory,
            dataset_name=f"raw_{center.id}",
            pipelines_dir=pipelines_dir,
            progress=None,
        )
        info = pipeline.run(list(resources(center, queries)))
        info.raise_on_failed_jobs()
        counts = pipeline.last_trace.last_normalize_info.row_counts
        rows += sum(n for name, n in counts.items() if not name.startswith("_dlt"))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rows": rows,
        "mode": "resources" if probe else "resources (sql_database also works)",
        "sql_database": probe or "ok",
        "dlt_version": dlt.__version__,
    }
