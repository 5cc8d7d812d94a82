"""`ivoris build`: dbt build in-process, rebuilding only what changed since the last deployment.

Recreating every per-center staging view each night costs minutes at 500 centers (2000 views,
dbt's per-node overhead), yet a view only changes when `ivoris render` changes its files. So
after each build the deployed state is fingerprinted in target/ivoris_deployed.json: per staging
model its SQL and its center's sources YAML; globally dbt's version, dbt_project.yml,
profiles.yml, the hand-written macros and the target; the hand-written models, seeds and tests;
the generated macro. A nightly build then selects the staging views whose fingerprint changed
(or that are missing from the DuckDB warehouse), the union tables (tonight's rows), the
marts and all their data tests; the union views, seeds and unit tests only when their definition
changed. Anything global changed, no fingerprint, another target: a full build. A plain
`dbt build` needs none of this and stays correct.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from extract.errors import IvorisError
from extract.log import log
from extract.paths import project_dir as default_project_dir

STATE_FILE = "ivoris_deployed.json"
LAST_BUILD_FILE = "ivoris_last_build.json"  # mode, failures and every node's status
STATE_VERSION = 2
STAGING_GLOB = "models/staging/centers/*/stg_*.sql"
STAGING_SCHEMA = "staging"
# Above this many changed staging models a full build is simpler and not slower.
MAX_SELECTED_STAGING = 400
STAGING_CENTERS = "models/staging/centers"
GENERATED_MODELS = "models/intermediate/generated"
# Hand-written relations a nightly build skips while their definition is unchanged.
INTERMEDIATE_VIEWS = {"int_centers"}
SEEDS = {"insurance_type_codes", "service_codes"}
NIGHTLY_TAG = "ivoris_nightly"


class DbtBuildError(IvorisError):
    """dbt could not run at all (invalid project or profile)."""


@dataclass
class DbtResult:
    success: bool
    elapsed_s: float
    failures: list[str] = field(default_factory=list)
    mode: str = "full"  # full | nightly | select
    staging_rebuilt: int = 0  # staging models selected (all of them for a full build)
    nodes: int = 0  # nodes dbt executed


@contextlib.contextmanager
def dbt_environment(root: Path):
    """An absolute IVORIS_DUCKDB_PATH (what profiles.yml reads), restored afterwards. The same
    value for a parse ahead and the build: dbt re-parses everything when the profile changes."""
    old_env = os.environ.get("IVORIS_DUCKDB_PATH")
    raw = Path(old_env or "warehouse/ivoris.duckdb")
    path = raw if raw.is_absolute() else (root / raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["IVORIS_DUCKDB_PATH"] = str(path.resolve())
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        yield path.resolve()
    finally:
        if old_env is None:
            os.environ.pop("IVORIS_DUCKDB_PATH", None)
        else:
            os.environ["IVORIS_DUCKDB_PATH"] = old_env


@contextlib.contextmanager
def _project_env(root: Path):
    """cwd = project dir and dbt_environment, restored afterwards."""
    old_cwd = Path.cwd()
    with dbt_environment(root) as path:
        os.chdir(root)
        try:
            yield path
        finally:
            os.chdir(old_cwd)


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()[:20]


def _target() -> str:
    return os.environ.get("IVORIS_TARGET", "duckdb")


def _target_identity(warehouse: Path) -> str:
    target = _target()
    if target == "duckdb":
        return f"duckdb:{warehouse}"
    keys = ("IVORIS_WAREHOUSE_SERVER", "IVORIS_WAREHOUSE_PORT", "IVORIS_WAREHOUSE_DATABASE")
    return f"{target}:" + "/".join(os.environ.get(k, "") for k in keys)


def _global_fingerprint(root: Path) -> str:
    """What every staging view's DDL depends on besides its own files."""
    from importlib.metadata import version  # not dbt.version: importing dbt costs seconds

    parts = [f"{version('dbt-core')} {version('dbt-duckdb')} {version('dbt-sqlserver')}".encode()]
    for name in ("dbt_project.yml", "profiles.yml"):
        p = root / name
        parts.append(p.read_bytes() if p.exists() else b"")
    for p in sorted((root / "macros").rglob("*")):
        if p.is_file() and "generated" not in p.relative_to(root / "macros").parts:
            parts.append(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return _sha(*parts)


def staging_fingerprints(root: Path) -> dict[str, str]:
    """model name -> fingerprint of its SQL and its center's generated sources YAML."""
    out: dict[str, str] = {}
    yml_cache: dict[Path, bytes] = {}
    for sql in sorted(root.glob(STAGING_GLOB)):
        folder = sql.parent
        if folder not in yml_cache:
            yml_cache[folder] = b"".join(p.read_bytes() for p in sorted(folder.glob("_*__sources.yml")))
        out[sql.stem] = _sha(sql.read_bytes(), yml_cache[folder])
    return out


def _state_path(root: Path) -> Path:
    return root / "target" / STATE_FILE


def _read_state(root: Path) -> dict | None:
    try:
        state = json.loads(_state_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if state.get("version") == STATE_VERSION else None


def _write_state(root: Path, state: dict) -> None:
    path = _state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True, indent=0), encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class BuildPlan:
    mode: str  # full | nightly | select
    args: list[str]  # dbt selection arguments
    staging: list[str] | None  # staging models selected (None: all)
    current: dict  # fingerprints to record after the build
    reason: str = ""


def _project_fingerprint(root: Path) -> str:
    """The hand-written models, seeds, tests and analyses (what the unit tests and seeds depend on)."""
    parts = []
    skip = {STAGING_CENTERS, GENERATED_MODELS}
    for top in ("models", "seeds", "dbt_project"):
        for p in sorted((root / top).rglob("*")):
            rel = p.relative_to(root).as_posix()
            if p.is_file() and not any(rel.startswith(s + "/") for s in skip):
                parts.append(rel.encode() + b"\0" + p.read_bytes())
    return _sha(*parts)


def _generated_fingerprint(root: Path) -> str:
    """The generated macro (rendered centers and union parts): what the union views depend on."""
    return _sha(*(p.read_bytes() for p in sorted((root / "macros" / "generated").glob("*.sql"))))


def _relations_present(warehouse: Path) -> dict[str, set[str]] | None:
    """Relations per schema in the DuckDB warehouse (None: cannot tell, e.g. SQL Server)."""
    if _target() != "duckdb":
        return None
    if not warehouse.exists():
        return {}
    import duckdb

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        log.warning("build: cannot inspect %s (%s); assuming the deployment is intact", warehouse, exc)
        return None
    try:
        rows = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in (?, ?, ?)",
            [STAGING_SCHEMA, "intermediate", "seeds"],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for schema, name in rows:
        out.setdefault(schema, set()).add(name)
    return out


def plan_build(root: Path, warehouse: Path, *, full: bool = False, inspect: bool = False) -> BuildPlan:
    """What to build: everything, or (nightly) the changed staging views plus what must run.
    inspect=True also compares with the relations present in the DuckDB warehouse (opening it
    costs a second at 500 centers, so dbt_build does it only to recover from a failed build)."""
    current = {
        "version": STATE_VERSION,
        "target": _target_identity(warehouse),
        "global": _global_fingerprint(root),
        "project": _project_fingerprint(root),
        "generated": _generated_fingerprint(root),
        "staging": staging_fingerprints(root),
    }
    if full:
        return BuildPlan("full", ["--full-refresh"], None, current, "requested")
    state = _read_state(root)
    if _target() == "duckdb" and not warehouse.exists():
        state = None  # a new warehouse file: nothing is deployed in it
    if state is None or state.get("target") != current["target"] or state.get("global") != current["global"]:
        reason = (
            "no deployment recorded" if state is None else "dbt, macros, project config or target changed"
        )
        log.info("build: %s; building everything", reason)
        return BuildPlan("full", ["--full-refresh"], None, current, reason)
    deployed = state.get("staging", {})
    changed = {m for m, fp in current["staging"].items() if deployed.get(m) != fp}
    present = _relations_present(warehouse) if inspect else None
    if present is not None:
        missing = {m for m in current["staging"] if m not in present.get(STAGING_SCHEMA, set())} - changed
        if missing:
            log.info("build: %d staging views missing from the warehouse; rebuilding them", len(missing))
        changed |= missing
    if len(changed) > MAX_SELECTED_STAGING:
        log.info("build: %d staging models changed; building everything", len(changed))
        return BuildPlan("full", ["--full-refresh"], None, current, f"{len(changed)} staging models changed")
    # Always: the union tables (tonight's rows), the marts and their tests, and the
    # singular tests (reconciliation with the loader's audit, unknown insurance codes).
    # (Tag ivoris_nightly, set in dbt_project.yml and the singular tests: one cheap selector;
    # path selectors cost seconds over 4000 nodes.)
    select = sorted(changed) + [f"tag:{NIGHTLY_TAG}"]
    project_changed = state.get("project") != current["project"]
    views_changed = project_changed or state.get("generated") != current["generated"]
    if present is not None and not INTERMEDIATE_VIEWS <= present.get("intermediate", set()):
        views_changed = True
    if views_changed:  # int_centers (a view; only when its definition changed)
        select.append("int_centers")
    seeds_missing = present is not None and not SEEDS <= present.get("seeds", set())
    if project_changed or seeds_missing:
        select.append("resource_type:seed")
    # Cache only the schemas of selected nodes, not the 2000 unchanged staging views.
    args = ["--select", *select, "--cache-selected-only"]
    if project_changed or seeds_missing:
        # Seeds are recreated, not truncated: a reviewed seed may have gained a column, which
        # dbt only applies with --full-refresh (no model here is incremental).
        args.append("--full-refresh")
    if not project_changed:
        # Unit tests check model logic on fixed rows: same code, same result. They ran when the
        # project last changed (and run in every full build).
        args += ["--exclude-resource-type", "unit_test"]
    return BuildPlan(
        "nightly",
        args,
        sorted(changed),
        current,
        f"{len(changed)} staging models changed" + ("; project changed" if project_changed else ""),
    )


def _release_duckdb() -> None:
    """dbt-duckdb keeps the warehouse open in-process after a run; close it so the loader, the
    export and the next checks can open the file (with any configuration)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        with contextlib.suppress(Exception):
            env.close()
    DuckDBConnectionManager.close_all_connections()


def _invoke(args: list[str], manifest=None):
    from dbt.cli.main import dbtRunner

    log.debug("dbt %s", " ".join(args))
    try:
        return dbtRunner(manifest=manifest).invoke(args)
    finally:
        _release_duckdb()


def parse_manifest(root: Path):
    """`dbt parse` in-process without writing files: the manifest, or None (the build then parses
    again itself and reports what is wrong)."""
    try:
        from dbt.cli.main import dbtRunner

        args = ["--quiet", "parse", "--project-dir", str(root), "--profiles-dir", str(root), "--no-write-json"]
        res = dbtRunner().invoke(args)
    except Exception as exc:  # noqa: BLE001 - the build parses again and reports it
        log.warning("build: parsing ahead failed (%s: %s); the build parses again", type(exc).__name__, exc)
        return None
    if not res.success:
        log.warning("build: parsing ahead failed (%s); the build parses again", res.exception)
        return None
    return res.result


class BuildAhead:
    """The nightly run's dbt build in a child process started before the load. The child imports
    dbt and parses the rendered project (~7 s at 500 centers) while the loader copies, then waits
    for `build()` and builds on that manifest. In a thread of the loader's process the parse held
    the GIL and slowed the copy by more than it saved; a process runs on the other core.
    Closing without `build()` (a failed load, Ctrl-C, a crash) ends the child unbuilt: its stdin
    reaches EOF."""

    def __init__(self, project_dir: Path | None = None):
        self.root = Path(project_dir).resolve() if project_dir else default_project_dir()
        self._result = self.root / "target" / "ivoris_build_ahead.json"
        self._result.parent.mkdir(parents=True, exist_ok=True)
        self._result.unlink(missing_ok=True)
        self.parse_s = 0.0
        self.waited_s = 0.0
        serve = "import sys; from extract.dbt_runner import serve_build_ahead as s; sys.exit(s(*sys.argv[1:]))"
        cmd = [sys.executable, "-c", serve, str(self.root), str(self._result)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, text=True)  # noqa: S603 - our own module

    def build(self) -> DbtResult:
        """Let the child build (it first finishes its parse) and return its result."""
        go = time.time()
        with contextlib.suppress(BrokenPipeError, OSError):
            self._proc.stdin.write("build\n")
            self._proc.stdin.close()
        code = self._proc.wait()
        try:
            doc = json.loads(self._result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DbtBuildError(
                f"the dbt build process exited with code {code} and no result; see its output above, "
                "then run `ivoris build`"
            ) from None
        if doc.get("error"):
            raise DbtBuildError(doc["error"])
        self.parse_s = float(doc["parse_s"])
        self.waited_s = max(0.0, float(doc["parsed_at"]) - go)  # the part of the parse the load did not hide
        return DbtResult(**doc["result"])

    def close(self) -> None:
        """End the child if it has not built (EOF on its stdin), waiting briefly for it."""
        if self._proc.poll() is not None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def serve_build_ahead(project_dir: str, result_file: str) -> int:
    """The child of BuildAhead: parse, wait for the word `build` on stdin, build, write the result."""
    from extract.log import setup

    setup()
    root, result_path = Path(project_dir), Path(result_file)
    started = time.perf_counter()
    with _project_env(root):
        manifest = parse_manifest(root)
    doc: dict = {"parse_s": round(time.perf_counter() - started, 3), "parsed_at": time.time()}
    if sys.stdin.readline().strip() != "build":
        return 0  # the run ended without a build
    try:
        doc["result"] = asdict(dbt_build(root, manifest=manifest))
    except IvorisError as exc:
        doc["error"] = str(exc)
    tmp = result_path.with_name(result_path.name + ".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, result_path)
    # Done: skip the interpreter's teardown of dbt's objects (~2 s at 500 centers); the warehouse
    # connection is closed and the result written. What a normal exit must still do: remove the
    # semaphores dbt's multiprocessing locks created (else Python's resource tracker warns).
    import multiprocessing.util

    multiprocessing.util._exit_function()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _summarize(res) -> tuple[list[str], dict[str, str], int]:
    """failures, {node name: status}, executed nodes."""
    failures: list[str] = []
    statuses: dict[str, str] = {}
    results = getattr(res.result, "results", None) or []
    for r in results:
        node = r.node
        status = str(getattr(r.status, "value", r.status))
        statuses[node.name] = status
        if status in ("error", "fail", "runtime error"):
            msg = (r.message or "").strip().splitlines()
            failures.append(f"{node.resource_type} {node.name}: {status}" + (f" — {msg[0]}" if msg else ""))
    if not res.success and not failures and res.exception is not None:
        failures.append(f"dbt: {res.exception}")
    return failures, statuses, len(results)


def _record(
    root: Path, plan: BuildPlan, previous: dict | None, statuses: dict[str, str], success: bool
) -> None:
    """Remember what is deployed now: a staging model that built, or that was deployed before and
    did not change; the project fingerprints only after a successful build (else next time the
    unit tests, seeds and union views run again)."""
    current = plan.current
    same_base = (
        previous is not None
        and previous.get("target") == current["target"]
        and previous.get("global") == current["global"]
    )
    if plan.mode == "select" and not same_base:
        return
    before = previous.get("staging", {}) if same_base else {}
    staging = {}
    for model, fp in current["staging"].items():
        status = statuses.get(model)
        if status == "success" or (status is None and before.get(model) == fp):
            staging[model] = fp
    state = {**current, "staging": staging}
    if plan.mode == "select" or not success:
        for key in ("project", "generated"):
            state[key] = previous.get(key) if same_base else None
    _write_state(root, state)


def _run(root: Path, plan: BuildPlan, *, quiet: bool, manifest=None):
    args = ["build", "--project-dir", str(root), "--profiles-dir", str(root)]
    if quiet:
        args.insert(0, "--quiet")
    if plan.mode == "nightly":
        # manifest.json, graph.gpickle and run_results.json of 4000+ nodes cost seconds each
        # night; `ivoris build --full`, `dbt build` and `dbt docs generate` write them.
        args.append("--no-write-json")
        with contextlib.suppress(OSError):
            (root / "target" / "run_results.json").unlink()  # would describe an older run
    log.info("build: %s (%s)", plan.mode, plan.reason)
    res = _invoke(args + plan.args, manifest)
    if res.result is None and res.exception is not None:
        raise DbtBuildError(
            f"dbt could not run in {root}: {res.exception}; check dbt_project.yml and profiles.yml"
        )
    return res


def dbt_build(
    project_dir: Path | None = None,
    *,
    full: bool = False,
    select: list[str] | str | None = None,
    quiet: bool = False,
    manifest=None,
) -> DbtResult:
    """Run `dbt build` in-process in the project dir. Nightly (default): the changed staging
    views plus everything that must run (see plan_build); full=True: every node, like a plain
    `dbt build`; select: exactly that dbt selection. Never raises for failing models or tests:
    they are in DbtResult.failures (and target/ivoris_last_build.json)."""
    root = Path(project_dir).resolve() if project_dir else default_project_dir()
    started = time.perf_counter()
    with _project_env(root) as warehouse:
        previous = _read_state(root)
        if select:
            current = plan_build(root, warehouse, full=True).current
            selection = [select] if isinstance(select, str) else list(select)
            plan = BuildPlan("select", ["--select", *selection], None, current, "requested")
        else:
            plan = plan_build(root, warehouse, full=full)
        res = _run(root, plan, quiet=quiet, manifest=manifest)
        failures, statuses, nodes = _summarize(res)
        _record(root, plan, previous, statuses, bool(res.success))
        if plan.mode == "nightly" and not res.success and _target() == "duckdb":
            # Something deployed may have gone from the warehouse (a view dropped by hand, a
            # restored backup): compare with what is there and build the difference once more.
            retry = plan_build(root, warehouse, inspect=True)
            if retry.args != plan.args:
                log.warning("build: the warehouse lacks deployed relations (%s); building them", retry.reason)
                previous = _read_state(root)
                plan = retry
                res = _run(root, plan, quiet=quiet)
                failures, retry_statuses, retry_nodes = _summarize(res)
                statuses.update(retry_statuses)
                nodes += retry_nodes
                _record(root, plan, previous, retry_statuses, bool(res.success))
        rebuilt = sum(1 for m in plan.current["staging"] if m in statuses)
        result = DbtResult(
            success=bool(res.success),
            elapsed_s=round(time.perf_counter() - started, 2),
            failures=failures,
            mode=plan.mode,
            staging_rebuilt=rebuilt,
            nodes=nodes,
        )
        summary = {**asdict(result), "reason": plan.reason, "statuses": statuses}
        (root / "target" / LAST_BUILD_FILE).write_text(json.dumps(summary, indent=1, sort_keys=True), "utf-8")
    log.info(
        "build: %s, %d nodes (%d staging) in %.1f s: %s",
        result.mode,
        nodes,
        rebuilt,
        result.elapsed_s,
        "ok" if result.success else f"{len(failures)} failures",
    )
    return result


def cmd_build(args: argparse.Namespace) -> int:
    result = dbt_build(full=bool(getattr(args, "full", False)))
    print(
        f"dbt build ({result.mode}): {result.nodes} nodes, {result.staging_rebuilt} staging views rebuilt, "
        f"{result.elapsed_s:.1f} s — {'ok' if result.success else 'FAILED'}"
    )
    for failure in result.failures:
        print(f"  {failure}")
    return 0 if result.success else 1
