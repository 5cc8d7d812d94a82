"""`ivoris`: a thin command line over the pipeline's service functions.

Each sub-command names `module:function`; the function takes the parsed arguments and returns
the exit code. Modules are imported lazily so `ivoris --help` stays fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys

from extract import __version__
from extract.errors import IvorisError
from extract.log import log, setup


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _dates(p: argparse.ArgumentParser, *, default_help: str) -> None:
    g = p.add_argument_group("business dates", default_help)
    g.add_argument("--date", type=_date, help="one business date (YYYY-MM-DD)")
    g.add_argument("--from", dest="date_from", type=_date, help="first date of a backfill")
    g.add_argument("--to", dest="date_to", type=_date, help="last date of a backfill (inclusive)")
    g.add_argument("--catch-up", action="store_true", help="every date since each center's last successful load")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ivoris", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"ivoris {__version__}")
    p.add_argument("--config", help="centers file (default config/centers.yml, or env IVORIS_CONFIG)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.add_argument("-q", "--quiet", action="store_true")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="generate demo centers, approve their mappings, run the pipeline")
    d.add_argument("--centers", type=int, default=10)
    d.add_argument("--days", type=int, default=28, help="days of history, ending yesterday")
    d.add_argument("--entries-per-day", type=int, default=12)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--out", default="data/centers", help="folder for the center databases and ground truth")
    d.add_argument("--end-date", type=_date, help="last business date (default yesterday)")
    d.add_argument("--problems", action="store_true",
                   help="also generate problem centers (ambiguous, incomplete, drifted, unreachable, corrupt)")
    d.add_argument("--target", choices=["duckdb", "mssql", "postgres"], default="duckdb",
                   help="where the demo centers live (mssql: T-SQL against docker-compose's server)")
    d.add_argument("--generate-only", action="store_true", help="only write the centers and config")
    d.add_argument("--unrelated-tables", type=int, default=400, help="unrelated tables in the big center")
    d.set_defaults(handler="extract.demo.cli:cmd_demo")

    d = sub.add_parser("discover", help="propose mappings from each center's catalog")
    d.add_argument("--center", action="append", dest="centers", metavar="ID")
    d.add_argument("--workers", type=int, default=8)
    d.set_defaults(handler="extract.discover.cli:cmd_discover")

    d = sub.add_parser("approve", help="mark reviewed mappings approved")
    d.add_argument("ids", nargs="*", metavar="ID")
    d.add_argument("--all", action="store_true")
    d.add_argument("--by", help="reviewer name (default $USER)")
    d.set_defaults(handler="extract.discover.cli:cmd_approve")

    d = sub.add_parser("show", help="print a center's mapping for review")
    d.add_argument("center", metavar="ID")
    d.set_defaults(handler="extract.discover.cli:cmd_show")

    d = sub.add_parser("render", help="generate dbt sources and staging models from approved mappings")
    d.set_defaults(handler="extract.render.cli:cmd_render")

    d = sub.add_parser("load", help="copy business days from the centers into the staging database")
    _dates(d, default_help="--date D, --from D --to D, or --catch-up")
    d.add_argument("--workers", type=int, default=None, help="centers loaded concurrently (default 8)")
    d.add_argument("--center", action="append", dest="centers", metavar="ID")
    d.add_argument("--report", help="write the run report (JSON) here")
    d.add_argument("--lock-timeout", type=float, metavar="S",
                   help="seconds to wait for another run's warehouse lock "
                   "(default 600, or env IVORIS_LOCK_TIMEOUT_S)")
    d.set_defaults(handler="extract.load.cli:cmd_load")

    d = sub.add_parser("build", help="dbt build (only what changed since the last deployment, then marts)")
    d.add_argument("--full", action="store_true", help="rebuild every model, like a plain `dbt build`")
    d.set_defaults(handler="extract.dbt_runner:cmd_build")

    d = sub.add_parser("run", help="nightly: render, check each center and load it, dbt build")
    _dates(d, default_help="default: yesterday")
    d.add_argument("--workers", type=int, default=None)
    d.add_argument("--center", action="append", dest="centers", metavar="ID")
    d.add_argument("--report", help="write the run report (JSON) here")
    d.add_argument("--lock-timeout", type=float, metavar="S",
                   help="seconds to wait for another run's warehouse lock "
                   "(default 600, or env IVORIS_LOCK_TIMEOUT_S)")
    d.set_defaults(handler="extract.pipeline:cmd_run")

    d = sub.add_parser("export", help="write one day's chart entries as csv, json or parquet")
    d.add_argument("--date", type=_date, required=True)
    d.add_argument("--format", choices=["csv", "json", "parquet"], required=True)
    d.add_argument("--out", help="output file (default data/exports/chart_entries_<date>.<format>)")
    d.set_defaults(handler="extract.export:cmd_export")

    d = sub.add_parser("bench", help="measure speed, memory and scale; print a table and write JSON")
    d.add_argument("--quick", action="store_true", help="a few seconds, small sizes (runs in make test)")
    d.add_argument("--out", default="bench-results/bench.json")
    d.add_argument("--repeat", type=int, default=3)
    d.add_argument("--only", action="append", help="nightly, backfill, discovery, dlt")
    d.set_defaults(handler="extract.bench.cli:cmd_bench")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup(-1 if args.quiet else args.verbose)
    module_name, func_name = args.handler.split(":")
    handler = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(handler(args) or 0)
    except IvorisError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
