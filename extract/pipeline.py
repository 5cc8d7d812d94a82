"""`ivoris run`: the nightly pipeline.

    check each approved mapping against the live schema -> render -> load -> dbt build

Rendering needs only the approved mappings, so it comes first; each center's live schema is then
checked by the loader right before it copies that center, on the connection it copies with
(one catalog query, no second connection; see extract.load.loader). A failed, drifted,
ambiguous or unapproved center never stops the others: it is reported and skipped, and the rest
load and build. The exit code is 0 only when every configured (selected) center succeeded and
render and dbt build succeeded; the run report names each failure and why. The warehouse run
lock is held from load through dbt build, so two runs never interleave.
"""

from __future__ import annotations

import datetime as dt
import time
from contextlib import ExitStack

from extract.config import Settings, load_settings
from extract.dbt_runner import BuildAhead, dbt_environment
from extract.errors import IvorisError
from extract.load.loader import load, resolve_dates
from extract.load.report import RunReport, new_run_id, redact
from extract.log import log, progress
from extract.paths import project_dir
from extract.warehouse import run_lock, target_name
from extract.warehouse.base import lock_timeout


def _phase(rep: RunReport, name: str, fn) -> object:
    t0 = time.monotonic()
    with progress(name, total=1) as bar:
        try:
            result = fn()
        except Exception as exc:  # a failed phase is reported, the run goes on where it can
            rep.phases[name] = {
                "status": "failed",
                "error_class": type(exc).__name__,
                "message": redact(str(exc))[:2000],
                "duration_s": round(time.monotonic() - t0, 3),
            }
            log.error("%s failed: %s: %s", name, type(exc).__name__, rep.phases[name]["message"])
            return None
        finally:
            bar.advance()
    rep.phases[name] = {"status": "ok", "duration_s": round(time.monotonic() - t0, 3)}
    return result


def _render(settings: Settings):
    from extract.render.render import render_project

    return render_project(settings)


def _dbt_build(ahead: BuildAhead | None):
    if ahead is not None:
        result = ahead.build()
    else:
        from extract.dbt_runner import dbt_build

        result = dbt_build()
    if not getattr(result, "success", False):
        raise IvorisError(
            "dbt build failed: see the dbt output above and target/run_results.json; "
            "fix the failing model or "
            "test, then `ivoris build`"
        )
    return result


def run_pipeline(
    settings: Settings,
    *,
    date: dt.date | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    catch_up: bool = False,
    workers: int | None = None,
    center_ids: list[str] | None = None,
    report_path: str | None = None,
    lock_timeout_s: float | None = None,
) -> int:
    started_mono = time.monotonic()
    run_id = new_run_id()
    rep = RunReport(
        run_id=run_id,
        command="run",
        target=target_name(),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    centers = settings.select(center_ids)
    days = None if catch_up else resolve_dates([date] if date else None, date_from, date_to)
    log.info(
        "run %s: %d centers, %s",
        run_id,
        len(centers),
        "catch-up" if catch_up else f"{days[0]}..{days[-1]}" if len(days) > 1 else str(days[0]),
    )

    # 1. render sources and staging models from the approved mappings
    _phase(rep, "render", lambda: _render(settings))
    rendered = rep.phases["render"]["status"] == "ok"

    # 2 + 3. check and load every center, then dbt build, under one run lock; a dbt process parses
    # the rendered project meanwhile and builds when the load is done
    try:
        with run_lock(lock_timeout(lock_timeout_s)), dbt_environment(project_dir()), ExitStack() as stack:
            ahead = BuildAhead() if rendered else None
            if ahead is not None:
                stack.callback(ahead.close)  # never leave dbt running behind
            t0 = time.monotonic()
            load(
                settings,
                dates=days,
                catch_up=catch_up,
                workers=workers,
                center_ids=[c.id for c in centers],
                run_id=run_id,
                lock_timeout_s=lock_timeout_s,
                report=rep,
            )
            rep.phases["load"] = {
                "status": "ok",
                "duration_s": round(time.monotonic() - t0, 3),
                "centers_ok": sum(1 for c in rep.centers if c.status == "ok"),
                "centers_failed": len(rep.failed),
            }
            if rendered:
                _phase(rep, "dbt build", lambda: _dbt_build(ahead))
                if ahead is not None:  # off the critical path: it ran while the loader copied
                    rep.phases["dbt build"]["parsed_ahead_s"] = round(ahead.parse_s, 3)
                    rep.phases["dbt build"]["waited_for_parse_s"] = round(ahead.waited_s, 3)
            else:
                rep.phases["dbt build"] = {"status": "failed", "message": "skipped: render failed"}
    except IvorisError as exc:  # the lock: another run is busy
        rep.phases["load"] = {
            "status": "failed",
            "error_class": type(exc).__name__,
            "message": redact(str(exc)),
        }
        for center in centers:
            if rep.center(center.id).status == "pending":
                rep.center(center.id).fail(exc, "warehouse", "rerun `ivoris run` when the other run finished")
        log.error("%s", redact(str(exc)))

    rep.finish(started_mono, time.monotonic())
    path = rep.write(report_path)
    log.info("run %s: %s; report %s", run_id, rep.status, path)
    rep.print_summary()
    return rep.exit_code


def cmd_run(args) -> int:
    settings = load_settings(getattr(args, "config", None))
    return run_pipeline(
        settings,
        date=getattr(args, "date", None),
        date_from=getattr(args, "date_from", None),
        date_to=getattr(args, "date_to", None),
        catch_up=bool(getattr(args, "catch_up", False)),
        workers=getattr(args, "workers", None),
        center_ids=getattr(args, "centers", None),
        report_path=getattr(args, "report", None),
        lock_timeout_s=getattr(args, "lock_timeout", None),
    )
