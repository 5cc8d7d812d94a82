"""`ivoris load`: the loader from the command line."""

from __future__ import annotations

from extract.config import load_settings
from extract.load.loader import load
from extract.log import log


def cmd_load(args) -> int:
    """Exit 0 only when every selected center loaded; the report names each failure."""
    settings = load_settings(getattr(args, "config", None))
    report = load(
        settings,
        dates=[args.date] if getattr(args, "date", None) else None,
        date_from=getattr(args, "date_from", None),
        date_to=getattr(args, "date_to", None),
        catch_up=bool(getattr(args, "catch_up", False)),
        workers=getattr(args, "workers", None),
        center_ids=getattr(args, "centers", None),
        lock_timeout_s=getattr(args, "lock_timeout", None),
    )
    path = report.write(getattr(args, "report", None))
    log.info("run %s: %s; report %s", report.run_id, report.status, path)
    report.print_summary()
    return report.exit_code
