"""The four measurements. Each figure is the median of `repeat` runs; setup (demo centers, discovery,
approval, first deployment) is done once and never timed.

Demo data are generated with a fixed seed and end date, so two bench runs measure the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from extract.bench import adapters, dlt_side
from extract.bench.queries import expected_rows
from extract.bench.workspace import environment, isolated_project
from extract.canonical import load_canonical
from extract.config import Settings
from extract.errors import IvorisError
from extract.log import log

SECTIONS = ("nightly", "backfill", "discovery", "dlt")
# The split of one `ivoris run`. The loader checks each center's live schema right before copying
# it (one catalog query on the connection it copies with), so the check is part of "check + load";
# "start and report" is the rest: interpreter start, run lock, the run report.
RUN_PARTS = ("render", "check + load", "dbt build", "start and report")
PHASES = (*RUN_PARTS, "end to end")
END_DATE = dt.date(2024, 12, 31)  # fixed: two bench runs measure the same demo rows


@dataclass
class Plan:
    quick: bool
    repeat: int
    nightly_sizes: tuple[int, ...]
    entries_per_day: int
    backfill_centers: int
    backfill_days: int
    discovery_centers: int
    unrelated_tables: int
    sections: tuple[str, ...]
    workers: int | None = None

    @classmethod
    def make(cls, *, quick: bool, repeat: int, only: list[str] | None) -> Plan:
        sections = tuple(s for s in SECTIONS if not only or s in only)
        if quick:
            return cls(
                quick=True,
                repeat=1,  # quick: one run of each, so `make test` stays short
                nightly_sizes=(3, 6),
                entries_per_day=20,
                backfill_centers=3,
                backfill_days=5,
                discovery_centers=6,
                unrelated_tables=20,
                sections=sections,
            )
        return cls(
            quick=False,
            repeat=max(1, repeat),
            nightly_sizes=(10, 100, 500),
            entries_per_day=100,
            backfill_centers=100,
            backfill_days=365,
            discovery_centers=500,
            unrelated_tables=400,
            sections=sections,
        )


def figure(runs: list[float]) -> dict:
    return {"median": statistics.median(runs), "runs": [round(r, 6) for r in runs]}


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope: the marginal cost of one more center."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


@dataclass
class Demo:
    settings: Settings
    config_path: Path
    days: int
    entries_per_day: int
    end_date: dt.date
    seconds: float

    def first_day(self) -> dt.date:
        return self.end_date - dt.timedelta(days=self.days - 1)


@dataclass
class Bench:
    plan: Plan
    root: Path
    demos: dict[tuple[int, int], Demo] = field(default_factory=dict)
    canonical: Any = None

    # -- data ------------------------------------------------------------------------------
    def demo(self, centers: int, days: int) -> Demo:
        """Approved demo centers, generated once per (days, entries) and shared by sections."""
        key = (days, self.plan.entries_per_day)
        have = self.demos.get(key)
        if have and len(have.settings.centers) >= centers:
            return replace(have, settings=adapters.subset(have.settings, centers))
        out = self.root / f"centers_{centers}x{days}d"
        log.info(
            "bench: generating %d demo centers x %d days (%d entries/day)",
            centers,
            days,
            self.plan.entries_per_day,
        )
        t0 = time.perf_counter()
        settings = adapters.make_demo(
            out,
            out / "centers.yml",
            centers=centers,
            days=days,
            entries_per_day=self.plan.entries_per_day,
            end_date=END_DATE,
            unrelated_tables=self.plan.unrelated_tables,
        )
        adapters.discover(settings)
        adapters.approve_all(settings)
        demo = Demo(
            settings,
            settings.config_path,
            days,
            self.plan.entries_per_day,
            END_DATE,
            time.perf_counter() - t0,
        )
        self.demos[key] = demo
        return demo

    def nightly_demo(self) -> Demo:
        # One day for the first deployment, then one new business date per timed run.
        return self.demo(max(self.plan.nightly_sizes), self.plan.repeat + 1)

    def _canonical(self):
        if self.canonical is None:
            self.canonical = load_canonical()
        return self.canonical

    # -- 1. nightly ------------------------------------------------------------------------
    def nightly(self) -> dict:
        demo = self.nightly_demo()
        dates = [demo.first_day() + dt.timedelta(days=i) for i in range(demo.days)]
        sizes: dict[str, dict] = {}
        for n in self.plan.nightly_sizes:
            cfg = self._subset_config(replace(demo, settings=adapters.subset(demo.settings, n)), f"nightly_{n}")
            work = self.root / f"nightly_{n}"
            with isolated_project(self.root, f"nightly_{n}", cfg):
                # First deployment (untimed): render, load the first date, build everything.
                self.ivoris_run(cfg, dates[0], work / "first.json")
                runs: list[dict[str, float]] = []
                loaded: list[dict] = []
                for day in dates[1:]:
                    total, doc = self.ivoris_run(cfg, day, work / f"{day}.json")
                    phases = run_phases(total, doc)
                    runs.append(phases)
                    rows = sum(sum((c.get("rows") or {}).values()) for c in doc.get("centers", []))
                    loaded.append(
                        {
                            "date": day.isoformat(),
                            "rows": rows,
                            "seconds": round(total, 3),
                            "dbt_nodes": doc["dbt_nodes"],
                        }
                    )
                sizes[str(n)] = {
                    "centers": n,
                    "runs": loaded,
                    "phases_s": {p: figure([r[p] for r in runs]) for p in PHASES},
                }
            e2e = sizes[str(n)]["phases_s"]["end to end"]["median"]
            log.info("bench: nightly %d centers: %.2f s end to end", n, e2e)
        ns = [float(n) for n in self.plan.nightly_sizes]
        marginal = {p: slope(ns, [sizes[str(int(n))]["phases_s"][p]["median"] for n in ns]) * 1000 for p in PHASES}
        return {
            "command": "ivoris --config <centers> run --date D --report R (a fresh process per run)",
            "entries_per_center_per_day": demo.entries_per_day,
            "sizes": sizes,
            "marginal_ms_per_center": marginal,
            "demo_generation_s": round(demo.seconds, 2),
        }

    def ivoris_run(self, config: Path, day: dt.date | tuple[dt.date, dt.date], report: Path) -> tuple[float, dict]:
        """`ivoris run --date DAY` (or --from --to) as the scheduler starts it: a fresh process.
        Returns (wall seconds, run report)."""
        report.parent.mkdir(parents=True, exist_ok=True)
        log_path = report.with_suffix(".log")
        dates = (
            ["--from", day[0].isoformat(), "--to", day[1].isoformat()]
            if isinstance(day, tuple)
            else ["--date", day.isoformat()]
        )
        cmd = [
            sys.executable,
            "-m",
            "extract",
            "--config",
            str(config),
            "run",
            *dates,
            "--report",
            str(report),
        ]
        _last_build_path().unlink(missing_ok=True)  # a stale summary must not pass for this run's build
        t0 = time.perf_counter()
        with log_path.open("w") as out:
            code = subprocess.run(cmd, stdout=out, stderr=out, env=dict(os.environ), check=False).returncode  # noqa: S603
        total = time.perf_counter() - t0
        if code != 0:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-12:]
            raise IvorisError(f"bench: `ivoris run --date {day}` exited {code}:\n" + "\n".join(tail))
        doc = json.loads(report.read_text(encoding="utf-8"))
        doc["dbt_nodes"] = dbt_nodes_run()
        if not doc["dbt_nodes"].get("nodes"):
            raise IvorisError(f"bench: `ivoris run --date {day}` ran no dbt node: the marts were not refreshed")
        return total, doc

    # -- 2. backfill -----------------------------------------------------------------------
    def backfill(self) -> dict:
        p = self.plan
        demo = self.demo(p.backfill_centers, p.backfill_days)
        date_from, date_to = demo.first_day(), demo.end_date
        expected = expected_rows(demo.settings, self._canonical(), date_from, date_to)
        base = {
            "config": str(demo.config_path),
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        }
        cfg = self._subset_config(demo, "backfill")
        base["config"] = str(cfg)
        ours, native = [], []
        for i in range(p.repeat):
            wh = self.root / "backfill" / f"ours_{i}.duckdb"
            r = self.subprocess("load", {**base, "workers": p.workers}, warehouse=wh)
            r["rows"] = warehouse_rows(wh)
            ours.append(r)
            nwh = self.root / "backfill" / f"native_{i}.duckdb"
            native.append(self.subprocess("native", {**base, "warehouse": str(nwh)}, warehouse=nwh))
            for f in (wh, nwh):  # keep the disk small between runs
                f.unlink(missing_ok=True)
        ours_s, native_s = summarize(ours), summarize(native)
        history = self.nightly_after_history(demo, cfg)
        return {
            "nightly_with_history": history,
            "centers": len(demo.settings.centers),
            "days": p.backfill_days,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            "expected_rows": expected,
            "ours": ours_s,
            "duckdb_native": native_s,
            # our speed as a share of DuckDB's own copy of the same rows (100 = as fast)
            "ratio_to_native_pct": 100 * native_s["seconds"]["median"] / ours_s["seconds"]["median"],
            "same_rows": all(r["rows"] == expected for r in ours + native),
        }

    def nightly_after_history(self, demo: Demo, cfg: Path) -> dict:
        """The nightly run once the warehouse holds the whole backfilled history: the dbt models
        rebuilt every night read all of it, so this shows how the nightly grows with history."""
        last = demo.end_date
        work = self.root / "history"
        with isolated_project(self.root, "history", cfg):
            # First deployment (untimed): every date but the last, render, full build.
            self.ivoris_run(cfg, (demo.first_day(), last - dt.timedelta(days=1)), work / "first.json")
            runs = []
            for i in range(self.plan.repeat):
                # The same last date each time: the loader replaces its partition, the same work.
                total, doc = self.ivoris_run(cfg, last, work / f"run_{i}.json")
                runs.append(run_phases(total, doc))
        return {
            "centers": len(demo.settings.centers),
            "history_days": demo.days - 1,
            "date": last.isoformat(),
            "phases_s": {p: figure([r[p] for r in runs]) for p in PHASES},
        }

    # -- 3. discovery ----------------------------------------------------------------------
    def discovery(self) -> dict:
        p = self.plan
        demo = self.nightly_demo() if "nightly" in p.sections else self.demo(p.discovery_centers, 1)
        settings = adapters.subset(demo.settings, p.discovery_centers)
        runs = []
        for i in range(p.repeat):
            # A fresh mappings folder each run: discovery proposes every mapping from scratch.
            fresh = replace(settings, config_path=self.root / "discovery" / f"run_{i}" / "centers.yml")
            fresh.config_path.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            result = adapters.discover(fresh)
            runs.append(time.perf_counter() - t0)
            written = len(list(fresh.mappings_dir.glob("*.yml")))
            if written != len(settings.centers):
                raise IvorisError(
                    f"bench: discovery wrote {written} mappings for {len(settings.centers)} centers ({result!r})"
                )
        return {
            "centers": len(settings.centers),
            "unrelated_tables": p.unrelated_tables,
            "seconds": figure(runs),
        }

    # -- 4. dlt ----------------------------------------------------------------------------
    def dlt(self, results: dict) -> dict:
        """dlt and our loader over the same rows, in the same harness (a fresh process each, empty
        destination), runs alternating so machine load hits both alike: the nightly case (largest
        nightly size, the timed dates) and the backfill case (section 2's centers and dates)."""
        version = dlt_side.available()
        if version is None:
            return {
                "available": False,
                "note": "dlt is not installed: `pip install -e '.[bench]'` adds it; comparison skipped",
            }
        p = self.plan
        demo = self.nightly_demo()
        dates = [demo.first_day() + dt.timedelta(days=i) for i in range(1, demo.days)]
        nightly = self._side_by_side("nightly", demo, [(d, d) for d in dates])
        ours_run = results.get("nightly", {}).get("sizes", {}).get(str(max(p.nightly_sizes)), {})
        if ours_run:
            nightly["ours_load_phase_of_ivoris_run_s"] = ours_run["phases_s"]["check + load"]["median"]
        bdemo = self.demo(p.backfill_centers, p.backfill_days)
        backfill = self._side_by_side("backfill", bdemo, [(bdemo.first_day(), bdemo.end_date)] * p.repeat)
        backfill["days"] = p.backfill_days
        first = nightly["dlt"]
        return {
            "available": True,
            "dlt_version": version,
            "mode": first.get("mode"),
            "sql_database": first.get("sql_database"),
            "nightly": nightly,
            "backfill": backfill,
        }

    def _side_by_side(self, name: str, demo: Demo, spans: list[tuple[dt.date, dt.date]]) -> dict:
        cfg = self._subset_config(demo, f"dlt_{name}")
        work = self.root / "dlt"
        dlt_runs, our_runs, same = [], [], True
        for i, (first, last) in enumerate(spans):
            dates = {"config": str(cfg), "date_from": first.isoformat(), "date_to": last.isoformat()}
            expected = expected_rows(demo.settings, self._canonical(), first, last)
            dest = work / f"{name}_{i}.duckdb"
            r = self.subprocess(
                "dlt", {**dates, "destination": str(dest), "pipelines_dir": str(work / f"pl_{name}_{i}")}
            )
            dest.unlink(missing_ok=True)
            wh = work / f"ours_{name}_{i}.duckdb"
            # Like dlt: copy only (the nightly run checks the mappings in its own phase).
            o = self.subprocess("load", {**dates, "workers": self.plan.workers, "check_schema": False}, warehouse=wh)
            o["rows"] = warehouse_rows(wh)
            wh.unlink(missing_ok=True)
            same = same and r["rows"] == expected and o["rows"] == expected
            dlt_runs.append(r)
            our_runs.append(o)
        out = {
            "centers": len(demo.settings.centers),
            "dlt": summarize(dlt_runs),
            "ours": summarize(our_runs),
            "same_rows": same,
        }
        out["speedup"] = out["dlt"]["seconds"]["median"] / out["ours"]["seconds"]["median"]
        return out

    # -- helpers ---------------------------------------------------------------------------
    def _subset_config(self, demo: Demo, name: str) -> Path:
        """A centers file listing exactly demo.settings' centers (absolute paths), beside their mappings."""
        import yaml

        path = demo.config_path.parent / f"centers.{name}.yml"
        doc = {
            "centers": [
                {
                    "id": c.id,
                    "name": c.name,
                    "city": c.city,
                    "source": {
                        "type": c.source.type,
                        "path": str(Path(c.source.path).resolve()),
                        **({"schema": c.source.schema} if c.source.schema else {}),
                    },
                }
                for c in demo.settings.centers
            ]
        }
        path.write_text(
            "# generated by `ivoris bench` from "
            + str(demo.config_path)
            + "\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        return path

    def subprocess(self, job: str, spec: dict, warehouse: Path | None = None) -> dict:
        """Run one job in a fresh interpreter; its peak RSS is its own."""
        work = self.root / "jobs"
        work.mkdir(parents=True, exist_ok=True)
        stamp = f"{job}_{time.monotonic_ns()}"
        result_path, err_path = work / f"{stamp}.json", work / f"{stamp}.stderr"
        if warehouse is not None:
            warehouse.parent.mkdir(parents=True, exist_ok=True)
            warehouse.unlink(missing_ok=True)
        env = dict(os.environ)
        if warehouse is not None:
            env["IVORIS_DUCKDB_PATH"] = str(warehouse)
        spec = {**spec, "job": job, "result": str(result_path)}
        with err_path.open("w") as err:
            proc = subprocess.run(
                [sys.executable, "-m", "extract.bench.worker", json.dumps(spec)],  # noqa: S603
                env=env,
                stdout=err,
                stderr=err,
                check=False,
            )
        if proc.returncode != 0 or not result_path.exists():
            tail = err_path.read_text(errors="replace").strip().splitlines()[-15:]
            raise IvorisError(f"bench: the {job} job failed (exit {proc.returncode}):\n" + "\n".join(tail))
        return json.loads(result_path.read_text())


def _last_build_path() -> Path:
    from extract.dbt_runner import LAST_BUILD_FILE

    return Path(os.environ["IVORIS_PROJECT_DIR"]) / "target" / LAST_BUILD_FILE


def dbt_nodes_run() -> dict:
    """What the run's dbt build did (extract.dbt_runner's summary file): mode and nodes executed."""
    try:
        doc = json.loads(_last_build_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: doc.get(k) for k in ("mode", "nodes", "staging_rebuilt", "elapsed_s")}


def run_phases(total: float, doc: dict) -> dict[str, float]:
    """The split of one `ivoris run` (RUN_PARTS), from the durations its report records."""
    ph = {k: float(v.get("duration_s") or 0.0) for k, v in doc.get("phases", {}).items()}
    phases = {part: ph.get(key, 0.0) for part, key in zip(RUN_PARTS, ("render", "load", "dbt build"), strict=False)}
    phases["start and report"] = max(0.0, total - sum(phases.values()))
    phases["end to end"] = total
    return phases


def summarize(runs: list[dict]) -> dict:
    seconds = [r["seconds"] for r in runs]
    rows = runs[0].get("rows")
    out = {
        "seconds": figure(seconds),
        "rows": rows,
        "peak_rss_bytes": figure([r["peak_rss_bytes"] for r in runs]),
        "baseline_rss_bytes": figure([r.get("baseline_rss_bytes", 0) for r in runs]),
    }
    if rows:
        out["rows_per_s"] = figure([r["rows"] / r["seconds"] for r in runs])
    for key in ("mode", "sql_database", "report"):
        if key in runs[0]:
            out[key] = runs[0][key]
    return out


def warehouse_rows(path: Path) -> int:
    """Rows in the raw_* schemas of a warehouse file (what a loader wrote)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name LIKE 'raw\\_%' ESCAPE '\\'"
        ).fetchall()
        from extract.identifiers import qualified

        return sum(con.execute(f"SELECT count(*) FROM {qualified(s, t)}").fetchone()[0] for s, t in tables)  # noqa: S608
    finally:
        con.close()


def run(plan: Plan, root: Path) -> dict:
    """Every selected section; an error in one is recorded and the others still run."""
    bench = Bench(plan, root)
    results: dict[str, Any] = {}
    with environment(IVORIS_BENCH="1"):
        for section in plan.sections:
            log.info("bench: %s", section)
            t0 = time.perf_counter()
            try:
                results[section] = bench.dlt(results) if section == "dlt" else getattr(bench, section)()
            except Exception as exc:  # noqa: BLE001 - recorded; the other sections still run
                log.error("bench: %s failed: %s: %s", section, type(exc).__name__, exc)
                log.debug("bench: %s traceback", section, exc_info=True)
                results[section] = {"error": f"{type(exc).__name__}: {exc}"}
            results[section]["section_wall_s"] = round(time.perf_counter() - t0, 2)
    return results
