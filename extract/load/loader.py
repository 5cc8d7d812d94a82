"""The loader: copy business dates from every approved center into the warehouse.

Per center (in parallel): open the source read-only, check its live schema against the approved
mapping, then for each span of consecutive dates run ONE warehouse transaction that replaces the
center's KARTEI/LEISTUNG partitions of those dates, together with their audit rows and the catch-up
state. The snapshot tables (KASSEN, PATKASSE) are replaced once per run, in the center's last
transaction (a DuckDB warehouse keeps one that did not change). Spans are sized by rows (about
`chunk_rows` per transaction, from the rows per day seen so far, or counted first in a DuckDB
center file; at most `chunk_days` dates when set): few commits on a backfill, bounded redo work
after a crash. Rows stream from the source in Arrow batches straight into the open transaction, so
memory is bounded by the batch size whatever the date range. A crash leaves each span either as
before or fully replaced; a rerun replaces it again with the same rows (idempotent).

DuckDB center files going into the DuckDB warehouse are copied by the warehouse itself (DirectCopy),
and on a nightly run 16-32 of them share one transaction (load_group): per-statement and
per-commit costs, not rows, bound a nightly load of hundreds of centers.

Transient errors (timeouts, deadlocks, dropped connections, write conflicts) are retried with
exponential backoff; terminal ones fail the center at once. One failing center never stops others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from extract.canonical import Canonical, load_canonical
from extract.config import Center, Settings
from extract.errors import IvorisError, SchemaDriftError
from extract.load.queries import TablePlan, conform_batches, direct_copy, direct_copy_supported, plan_tables
from extract.load.report import CenterResult, RunReport, new_run_id, redact
from extract.log import log, progress
from extract.mapping import Mapping, load_approved
from extract.sources import open_source
from extract.warehouse import open_warehouse, run_lock, target_name
from extract.warehouse.base import AuditRow, PartitionLoad, TableWrite, Warehouse, lock_timeout, utcnow

DEFAULT_WORKERS = 8  # centers are I/O-bound (network reads, warehouse writes): more than the cores
CHUNK_ROWS = 1_000_000  # rows per transaction (about): bounds transaction size and redo after a crash
FIRST_SPAN_DAYS = 31  # dates of a center's first transaction, before its rows per day are known
BATCH_ROWS = 50_000
GROUP_CENTERS = 32  # nightly DirectCopy centers per transaction (load_group)
GROUP_SPAN_DAYS = 7  # ... when their dates are one span of at most this many days
RETRIES = 3


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def yesterday() -> dt.date:
    return dt.date.today() - dt.timedelta(days=1)


def date_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def resolve_dates(
    dates: list[dt.date] | None, date_from: dt.date | None, date_to: dt.date | None
) -> list[dt.date]:
    """--date / --from --to / default yesterday, as a sorted list of distinct dates."""
    if dates:
        return sorted(set(dates))
    if date_from or date_to:
        first, last = date_from or date_to, date_to or date_from
        if last < first:
            raise IvorisError(f"--from {first} is after --to {last}")
        return date_range(first, last)
    return [yesterday()]


def next_span(days: list[dt.date], start: int, max_days: int) -> tuple[tuple[dt.date, dt.date], int]:
    """The consecutive run of sorted, distinct `days` from index `start`, at most max_days long:
    ((first, last), index after it)."""
    first = days[start]
    end = start + 1
    while (
        end < len(days)
        and days[end] == days[end - 1] + dt.timedelta(days=1)
        and (days[end] - first).days < max_days
    ):
        end += 1
    return (first, days[end - 1]), end


def span_days(rows_by_date: int, days_done: int, chunk_rows: int, chunk_days: int | None) -> int:
    """Dates for the next transaction: ~chunk_rows at the rows per day seen so far."""
    cap = chunk_days or 100_000
    if not days_done:
        return max(1, min(cap, FIRST_SPAN_DAYS))
    per_day = max(1.0, rows_by_date / days_done)
    return max(1, min(cap, int(chunk_rows / per_day)))


def spans(days: list[dt.date], chunk_days: int) -> list[tuple[dt.date, dt.date]]:
    """Consecutive runs of `days`, each at most chunk_days long: one transaction each."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if out and day == out[-1][1] + dt.timedelta(days=1) and (day - out[-1][0]).days < chunk_days:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


# --- live schema check -----------------------------------------------------------------------------


def check_live_schema(center: Center, mapping: Mapping, read_catalog: Callable, canonical: Canonical) -> None:
    """Raise SchemaDriftError when the live catalog (`read_catalog(tables)`, e.g. a source's
    `catalog`) no longer matches the approved mapping."""
    from extract.discover.service import live_drift

    drift = live_drift(mapping, read_catalog, canonical)
    if drift:
        raise SchemaDriftError(
            "live schema differs from the approved mapping: "
            + "; ".join(p.message.removeprefix(f"{center.id}: ") for p in drift),
            center_id=center.id,
        )


# --- one center ------------------------------------------------------------------------------------


class _Ctx:
    def __init__(
        self, settings, canonical, wh, run_id, check_schema, chunk_days, batch_rows, retries, backoff_s,
        chunk_rows=CHUNK_ROWS, command="load",
    ):
        self.settings = settings
        self.command = command  # `load` or `run`: what a failed center's hint says to rerun
        self.canonical = canonical
        self.wh: Warehouse = wh
        self.run_id = run_id
        self.check_schema = check_schema
        self.chunk_days = chunk_days  # None: spans sized by chunk_rows only
        self.chunk_rows = chunk_rows
        self.batch_rows = batch_rows
        self.retries = retries
        self.backoff_s = backoff_s

    def direct_copy(self, center: Center, plans: list[TablePlan]) -> bool:
        """Whether the warehouse can copy this center itself: a DuckDB file into the DuckDB
        warehouse, every table of types the SQL conforms exactly (IVORIS_DIRECT_COPY=0: never)."""
        return (
            os.environ.get("IVORIS_DIRECT_COPY", "1") != "0"
            and center.source.type == "duckdb"
            and getattr(self.wh, "copies_duckdb_files", False)
            and all(direct_copy_supported(p) for p in plans)
        )

    def transient(self, exc: BaseException) -> bool:
        return bool(getattr(exc, "transient", False)) or self.wh.is_transient(exc)

    def retrying(self, what: str, center_id: str, fn: Callable, res: CenterResult, on_retry=None):
        attempt = 0
        while True:
            attempt += 1
            res.attempts += 1
            try:
                return fn()
            except Exception as exc:
                if not self.transient(exc) or attempt > self.retries:
                    raise
                delay = self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random())  # noqa: S311 - jitter
                log.warning(
                    "%s: %s failed (%s: %s); retry %d/%d in %.1fs",
                    center_id,
                    what,
                    type(exc).__name__,
                    redact(str(exc).splitlines()[0] if str(exc) else ""),
                    attempt,
                    self.retries,
                    delay,
                )
                time.sleep(delay)
                if on_retry:
                    on_retry()


def _failed_rows(
    ctx: _Ctx, center_id: str, plans: list[TablePlan], span, started: dt.datetime, message: str
) -> list[AuditRow]:
    finished = utcnow()
    rows = []
    for p in plans:
        keys = date_range(*span) if (p.raw.by_date and span) else [None]
        for d in keys:
            rows.append(
                AuditRow(
                    ctx.run_id,
                    center_id,
                    d,
                    p.raw.canonical,
                    p.raw.physical,
                    0,
                    0,
                    "failed",
                    started,
                    finished,
                    round((finished - started).total_seconds(), 3),
                    message[:4000],
                )
            )
    return rows


def load_center(
    ctx: _Ctx,
    center: Center,
    mapping: Mapping,
    plans: list[TablePlan],
    days: list[dt.date],
    res: CenterResult,
) -> None:
    t0 = time.monotonic()
    rerun_hint = _rerun(center.id, days, ctx.command)
    if days:
        res.date_from, res.date_to = days[0].isoformat(), days[-1].isoformat()
    holder: dict = {}
    phase = "source"

    def connect():
        old = holder.pop("source", None)
        if old is not None:
            try:
                old.close()
            except Exception:  # noqa: BLE001 - a dropped connection may not close cleanly
                pass
        holder["source"] = open_source(center)

    span = None
    span_plans = plans
    started = utcnow()
    direct = ctx.direct_copy(center, plans)
    reconnect = None if direct else connect
    stack = contextlib.ExitStack()
    try:
        if direct:  # the warehouse reads the center file itself (see DirectCopy)
            holder["alias"] = ctx.retrying(
                "opening the source",
                center.id,
                lambda: stack.enter_context(ctx.wh.attached(center.source.path, center.id)),
                res,
            )
            read_catalog = ctx.wh.attached_catalog(holder["alias"])
        else:
            ctx.retrying("opening the source", center.id, connect, res)

            def read_catalog(tables=None):
                return holder["source"].catalog(tables)

        if ctx.check_schema:
            phase = "check"
            ctx.retrying(
                "checking the live schema",
                center.id,
                lambda: check_live_schema(center, mapping, read_catalog, ctx.canonical),
                res,
                on_retry=reconnect,
            )
        phase = "load"
        days = sorted(set(days))
        dated = [p for p in plans if p.raw.by_date]
        i = rows_by_date = days_done = 0
        if direct and days and (days[-1] - days[0]).days >= FIRST_SPAN_DAYS:
            # The warehouse counts the rows the center holds for the whole range (a cheap query on
            # the attached file), so the spans are sized from the start: a year of a typical
            # center is one transaction. (Into a table that a first, smaller span left with a
            # partial row group, DuckDB must append the rows again instead of adopting the row
            # groups it wrote while the transaction ran: measured 2x slower.)
            whole = (days[0], days[-1])
            copies = [direct_copy(p, holder["alias"], *whole, started, ctx.run_id) for p in dated]
            rows_by_date, days_done = ctx.wh.count_source_rows(copies), (whole[1] - whole[0]).days + 1
        while i < len(days):
            want = span_days(rows_by_date, days_done, ctx.chunk_rows, ctx.chunk_days)
            span, i = next_span(days, i, want)
            # snapshot tables: once per run, in the center's last transaction
            span_plans = plans if i == len(days) else dated
            started = utcnow()
            audit = ctx.retrying(
                f"loading {span[0]}..{span[1]}",
                center.id,
                lambda s=span, sp=span_plans: _replace(ctx, center, sp, holder, s),
                res,
                on_retry=reconnect,
            )
            rows_by_date += _loaded(res, span, audit)
            days_done += (span[1] - span[0]).days + 1
        res.status = "ok"
    except Exception as exc:  # one center's failure never stops the others
        res.fail(exc, phase, rerun_hint)
        log.error("%s: %s failed: %s: %s", center.id, phase, res.error_class, res.message)
        if phase == "load" and span is not None:
            try:
                ctx.wh.record_failure(
                    _failed_rows(ctx, center.id, span_plans, span, started, f"{res.error_class}: {res.message}")
                )
            except Exception as audit_exc:  # noqa: BLE001 - the audit is best effort after a failure
                log.warning(
                    "%s: could not record the failure in the audit (%s)", center.id, type(audit_exc).__name__
                )
    finally:
        stack.close()
        src = holder.pop("source", None)
        if src is not None:
            try:
                src.close()
            except Exception:  # noqa: BLE001
                pass
        res.duration_s = round(time.monotonic() - t0, 3)


def load_group(ctx: _Ctx, members: list[tuple[Center, Mapping, list[TablePlan], list[dt.date], CenterResult]]) -> None:
    """Several DirectCopy centers, each with one short span of dates (the nightly case), in ONE
    warehouse transaction (replace_many): a nightly load of hundreds of centers is bound by
    DuckDB's fixed cost per statement and per commit, not by its rows. Each center is attached
    and checked first; one that fails there, or every one should the shared transaction fail,
    is loaded again on its own (load_center: retries, its own error in the report), so a bad
    center never fails the others."""
    t0 = time.monotonic()
    started = utcnow()
    alone, attached, loads, loaded = [], [], [], []
    audit: list[AuditRow] = []
    with contextlib.ExitStack() as stack:
        for member in members:
            center = member[0]
            try:
                attached.append((member, stack.enter_context(ctx.wh.attached(center.source.path, center.id))))
            except Exception:  # noqa: BLE001 - load_center reports it (and retries what is transient)
                alone.append(member)
        catalogs: dict[str, list] = {}
        if ctx.check_schema and attached:  # every center's mapped tables, in one catalog query
            names = {t.physical for (_c, mapping, *_rest), _a in attached for t in mapping.tables.values()}
            try:
                catalogs = ctx.wh.attached_catalogs([alias for _m, alias in attached], sorted(names))
            except Exception:  # noqa: BLE001 - each center checks on its own, in load_center
                alone += [member for member, _alias in attached]
                attached = []
        for member, alias in attached:
            center, mapping, plans, days, res = member
            if ctx.check_schema:

                def read(tables, alias=alias):
                    return catalogs[alias] if tables is not None else ctx.wh.attached_catalog(alias)(None)

                try:
                    check_live_schema(center, mapping, read, ctx.canonical)
                except Exception:  # noqa: BLE001 - load_center reports the drift
                    alone.append(member)
                    continue
            span = (min(days), max(days))
            writes = tuple(
                TableWrite(p.raw, batches=(), copy=direct_copy(p, alias, span[0], span[1], started, ctx.run_id))
                for p in plans
            )
            loads.append(PartitionLoad(ctx.run_id, center.id, span[0], span[1], writes, started))
            loaded.append(member)
        if loads:
            try:
                audit = ctx.wh.replace_many(loads)
            except Exception as exc:  # noqa: BLE001 - each center again on its own, see above
                log.warning(
                    "%d centers loaded together failed (%s: %s); loading each on its own",
                    len(loads),
                    type(exc).__name__,
                    redact(str(exc).splitlines()[0] if str(exc) else ""),
                )
                alone += loaded
                loaded = []
    by_center: dict[str, list[AuditRow]] = {}
    for row in audit:
        by_center.setdefault(row.center_id, []).append(row)
    for center, _mapping, _plans, days, res in loaded:
        res.date_from, res.date_to = min(days).isoformat(), max(days).isoformat()
        res.attempts += 1
        _loaded(res, (min(days), max(days)), by_center.get(center.id, []))
        res.status = "ok"
        res.duration_s = round(time.monotonic() - t0, 3)
    for member in alone:
        load_center(ctx, *member)


def _loaded(res: CenterResult, span: tuple[dt.date, dt.date], audit: list[AuditRow]) -> int:
    """Count a committed span into the center's result and log it; returns its rows by date."""
    res.dates_loaded += (span[1] - span[0]).days + 1
    tables: dict[str, int] = {}
    by_date = 0
    for row in audit:
        tables[row.canonical_table] = tables.get(row.canonical_table, 0) + row.rows_written
        by_date += row.rows_written if row.business_date is not None else 0
    for table, n in tables.items():
        res.rows[table] = res.rows.get(table, 0) + n
    counts = ", ".join(f"{t} {n}" for t, n in sorted(tables.items()))
    log.info("%s: loaded %s..%s (%s)", res.center_id, span[0], span[1], counts)
    return by_date


def _replace(ctx: _Ctx, center: Center, plans: list[TablePlan], holder: dict, span) -> list[AuditRow]:
    """One transaction for one center and span: source batches stream into the open transaction."""
    started = utcnow()
    writes, gens = [], []
    alias = holder.get("alias")
    for plan in plans:
        if alias is not None:
            copy = direct_copy(plan, alias, span[0], span[1], started, ctx.run_id)
            writes.append(TableWrite(plan.raw, batches=(), copy=copy))
            continue
        source = holder["source"]
        write = TableWrite(plan.raw, batches=())
        raw_batches = source.fetch_batches(plan.select_sql(), plan.params(*span), ctx.batch_rows)
        write.batches = conform_batches(
            plan,
            raw_batches,
            write,
            date_from=span[0],
            date_to=span[1],
            loaded_at=started,
            run_id=ctx.run_id,
        )
        gens += [write.batches, raw_batches]
        writes.append(write)
    load = PartitionLoad(ctx.run_id, center.id, span[0], span[1], tuple(writes), started)
    try:
        return ctx.wh.replace_partitions(load)
    finally:
        for g in gens:  # release source cursors of batches a failed transaction did not consume
            close = getattr(g, "close", None)
            if close:
                close()


def _rerun(center_id: str, days: list[dt.date], command: str = "load") -> str:
    """What to rerun for one center: the same command (`load`, or the nightly `run`) and dates."""
    if not days:
        return f"rerun `ivoris {command} --catch-up --center {center_id}`"
    if len(days) == 1:
        return f"rerun `ivoris {command} --date {days[0]} --center {center_id}`"
    return f"rerun `ivoris {command} --from {days[0]} --to {days[-1]} --center {center_id}`"


# --- the run ---------------------------------------------------------------------------------------


def load(
    settings: Settings,
    *,
    dates: list[dt.date] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    catch_up: bool = False,
    workers: int | None = None,
    center_ids: list[str] | None = None,
    run_id: str | None = None,
    check_schema: bool = True,
    lock_timeout_s: float | None = None,
    chunk_days: int | None = None,
    chunk_rows: int | None = None,
    batch_rows: int | None = None,
    report: RunReport | None = None,
) -> RunReport:
    """Load the selected centers; returns the run report (not written; see cli.cmd_load)."""
    started_mono = time.monotonic()
    run_id = run_id or new_run_id()
    rep = report or RunReport(
        run_id=run_id,
        command="load",
        target=target_name(),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    canonical = load_canonical()
    centers = settings.select(center_ids)
    explicit = None if catch_up else resolve_dates(dates, date_from, date_to)

    # approved mappings -> table plans (terminal problems fail the center here)
    ready: dict[str, tuple[Center, Mapping, list[TablePlan]]] = {}
    for center in centers:
        res = rep.center(center.id)
        try:
            mapping = load_approved(settings.mapping_path(center.id), center.id)
            ready[center.id] = (center, mapping, plan_tables(mapping, canonical, center.source.schema))
        except Exception as exc:
            res.fail(exc, "mapping", _rerun(center.id, explicit or [], rep.command))
            log.error("%s: %s: %s", center.id, res.error_class, res.message)

    if ready:
        try:
            # the run lock first: the DuckDB file admits one writing process, so a second run must
            # wait here rather than fail to open it
            with run_lock(lock_timeout(lock_timeout_s)):
                wh = open_warehouse()
                try:
                    _load_locked(
                        settings,
                        canonical,
                        wh,
                        ready,
                        explicit,
                        rep,
                        run_id,
                        check_schema,
                        workers,
                        chunk_days,
                        chunk_rows,
                        batch_rows,
                    )
                finally:
                    wh.close()
        except IvorisError as exc:  # the lock, opening the warehouse or its meta tables: nothing written
            for cid in ready:
                if rep.center(cid).status == "pending":
                    rep.center(cid).fail(exc, "warehouse", _rerun(cid, explicit or [], rep.command))
            log.error("%s", redact(str(exc)))
    rep.finish(started_mono, time.monotonic())
    return rep


def _load_locked(
    settings, canonical, wh, ready, explicit, rep, run_id, check_schema, workers, chunk_days, chunk_rows,
    batch_rows,
) -> None:
    wh.ensure_meta()
    # schema changes before the workers start: raw tables exist (empty) for every approved center,
    # even one whose source is down, so dbt's sources always resolve
    try:
        wh.ensure_tables([p.raw for (_c, _m, plans) in ready.values() for p in plans])
    except Exception:  # find the center(s) at fault; the others go on
        for cid, (_center, _mapping, plans) in list(ready.items()):
            try:
                wh.ensure_tables([p.raw for p in plans])
            except Exception as exc:
                rep.center(cid).fail(exc, "warehouse", _rerun(cid, explicit or [], rep.command))
                log.error("%s: %s: %s", cid, rep.center(cid).error_class, rep.center(cid).message)
                ready.pop(cid)
    plan_days = _plan_days(settings, wh, ready, explicit)
    ctx = _Ctx(
        settings,
        canonical,
        wh,
        run_id,
        check_schema,
        chunk_days or (int(_env_float("IVORIS_LOAD_CHUNK_DAYS", 0)) or None),
        batch_rows or BATCH_ROWS,
        RETRIES,
        _env_float("IVORIS_RETRY_BACKOFF_S", 1.0),
        chunk_rows or int(_env_float("IVORIS_LOAD_CHUNK_ROWS", CHUNK_ROWS)),
        rep.command,
    )
    _run_centers(ctx, ready, plan_days, rep, workers)


def _plan_days(
    settings: Settings, wh: Warehouse, ready: dict, explicit: list[dt.date] | None
) -> dict[str, list]:
    if explicit is not None:
        return {cid: explicit for cid in ready}
    last = wh.last_loaded()
    end = yesterday()
    out = {}
    for cid in ready:
        if cid in last:
            first = last[cid] + dt.timedelta(days=1)
        else:
            first = settings.first_business_date or end
        out[cid] = date_range(first, end) if first <= end else []
    return out


def _run_centers(ctx: _Ctx, ready: dict, plan_days: dict, rep: RunReport, workers: int | None) -> None:
    n = len(ready)
    if not n:
        return
    workers = max(1, min(workers or DEFAULT_WORKERS, n))
    groups = _groups(ctx, ready, plan_days, workers)
    grouped = {cid for group in groups for cid in group}
    tasks = groups + [[cid] for cid in ready if cid not in grouped]
    log.info(
        "loading %d centers with %d workers (run %s)%s",
        n,
        workers,
        ctx.run_id,
        f"; {len(grouped)} of them in {len(groups)} shared transactions" if groups else "",
    )
    done_lock = threading.Lock()

    def member(cid: str):
        center, mapping, plans = ready[cid]
        return center, mapping, plans, plan_days[cid], rep.center(cid)

    with progress(f"load {n} centers", total=n) as bar, ThreadPoolExecutor(workers, "load") as pool:
        futures = {}
        for task in tasks:
            if task[0] in grouped:
                futures[pool.submit(load_group, ctx, [member(cid) for cid in task])] = task
            else:
                futures[pool.submit(load_center, ctx, *member(task[0]))] = task
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - load_center and load_group record their own errors
                for cid in task:
                    if rep.center(cid).status == "pending":
                        rep.center(cid).fail(exc, "load", _rerun(cid, plan_days[cid], ctx.command))
            with done_lock:
                bar.advance(len(task))


def _groups(ctx: _Ctx, ready: dict, plan_days: dict, workers: int) -> list[list[str]]:
    """The centers load_group copies together: DirectCopy centers whose dates form one short span
    (a nightly run, a catch-up after a weekend), GROUP_CENTERS at most per transaction and at
    least two groups per worker (the work stays balanced)."""
    max_days = min(GROUP_SPAN_DAYS, ctx.chunk_days or GROUP_SPAN_DAYS)
    candidates = [
        cid
        for cid, (center, _mapping, plans) in ready.items()
        if _one_short_span(plan_days[cid], max_days) and ctx.direct_copy(center, plans)
    ]
    if len(candidates) < 2:
        return []
    size = max(2, min(GROUP_CENTERS, -(-len(candidates) // (2 * workers))))
    return [candidates[i : i + size] for i in range(0, len(candidates), size)]


def _one_short_span(days: list[dt.date], max_days: int) -> bool:
    if not days:
        return False
    first, last = min(days), max(days)
    return (last - first).days < max_days and len(set(days)) == (last - first).days + 1


__all__ = ["load", "load_center", "load_group", "check_live_schema", "resolve_dates", "spans", "next_span", "span_days"]
