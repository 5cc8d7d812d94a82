"""The run report: a JSON file for machines and a summary table for the person on call.

Every failure names its center, the error class, the message and what to do next. Secrets from
the environment are redacted from every message before it is logged or written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from extract.errors import (
    ConfigError,
    MappingNotApprovedError,
    MappingProblemError,
    SchemaDriftError,
    SourceUnavailableError,
    TransientSourceError,
    UnsafeIdentifierError,
    WarehouseBusyError,
)
from extract.paths import project_dir

SUMMARY_WIDTH = 160
SECRET_ENV = re.compile(r"(PASSWORD|PASSWD|PWD|SECRET|TOKEN|CREDENTIAL)", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove the value of every secret-looking environment variable from `text`."""
    if not text:
        return text
    for name, value in os.environ.items():
        if value and len(value) >= 4 and SECRET_ENV.search(name) and value in text:
            text = text.replace(value, "***")
    return text


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def what_to_do(exc: BaseException | None, center_id: str, rerun: str) -> str:
    """The next step for a person, by error class."""
    if exc is None:
        return ""
    if isinstance(exc, SchemaDriftError):
        return (
            f"the live schema changed: run `ivoris discover --center {center_id}`, review it "
            f"(`ivoris show {center_id}`), `ivoris approve {center_id}`, then {rerun}"
        )
    if isinstance(exc, MappingNotApprovedError):
        return (
            f"review the mapping (`ivoris show {center_id}`) and approve it "
            f"(`ivoris approve {center_id}`), then {rerun}"
        )
    if isinstance(exc, MappingProblemError):
        return (
            f"resolve the ambiguous or missing objects in mappings/{center_id}.yml "
            f"(`ivoris show {center_id}`), approve it, then {rerun}"
        )
    if isinstance(exc, SourceUnavailableError):
        return (
            "check the center's source in the config (path or server), the network and credentials, "
            f"then {rerun}"
        )
    if isinstance(exc, TransientSourceError) or getattr(exc, "transient", False):
        return f"retries were exhausted on a transient error; {rerun} later (reruns are idempotent)"
    if isinstance(exc, WarehouseBusyError):
        return "another run holds the warehouse; wait for it and run again"
    if isinstance(exc, (ConfigError, UnsafeIdentifierError)):
        return f"fix the configuration or mapping named in the message, then {rerun}"
    return f"read the message, fix the cause, then {rerun} (reruns replace the same partitions)"


@dataclass
class CenterResult:
    center_id: str
    status: str = "pending"  # ok | failed | skipped
    phase: str = ""  # where it failed: mapping | check | source | load
    date_from: str | None = None
    date_to: str | None = None
    dates_loaded: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # canonical table -> rows written
    attempts: int = 0
    error_class: str | None = None
    message: str | None = None
    what_to_do: str | None = None
    duration_s: float = 0.0

    def fail(self, exc: BaseException, phase: str, rerun: str) -> None:
        self.status = "failed"
        self.phase = phase
        self.error_class = type(exc).__name__
        text = getattr(exc, "message", None) or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        self.message = redact(str(text))[:2000]
        self.what_to_do = redact(what_to_do(exc, self.center_id, rerun))


@dataclass
class RunReport:
    run_id: str
    command: str
    target: str
    started_at: str
    finished_at: str | None = None
    duration_s: float = 0.0
    status: str = "running"
    centers: list[CenterResult] = field(default_factory=list)
    phases: dict[str, dict] = field(default_factory=dict)  # run: render / dbt build outcomes
    report_path: str | None = None

    def center(self, center_id: str) -> CenterResult:
        for c in self.centers:
            if c.center_id == center_id:
                return c
        res = CenterResult(center_id)
        self.centers.append(res)
        return res

    @property
    def failed(self) -> list[CenterResult]:
        return [c for c in self.centers if c.status != "ok"]

    @property
    def ok(self) -> bool:
        return not self.failed and all(p.get("status") == "ok" for p in self.phases.values())

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def finish(self, started_mono: float, now_mono: float) -> None:
        self.finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.duration_s = round(now_mono - started_mono, 3)
        self.status = "ok" if self.ok else "failed"

    def to_dict(self) -> dict:
        return asdict(self)

    def write(self, path: Path | str | None = None) -> Path:
        """Write the JSON report atomically; default data/reports/<command>-<run_id>.json."""
        p = Path(path) if path else project_dir() / "data" / "reports" / f"{self.command}-{self.run_id}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        self.report_path = str(p)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(
            redact(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)) + "\n",
            encoding="utf-8",
        )
        tmp.replace(p)
        return p

    def summary_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for c in sorted(self.centers, key=lambda r: r.center_id):
            dates = (
                f"{c.date_from}..{c.date_to}"
                if c.date_from and c.date_from != c.date_to
                else (c.date_from or "-")
            )
            total = sum(c.rows.values())
            problem = f"{c.error_class}: {c.message}" if c.error_class else ""
            if len(problem) > SUMMARY_WIDTH:  # the JSON report keeps the whole message
                problem = problem[: SUMMARY_WIDTH - 1] + "…"
            rows.append((c.center_id, c.status, dates, str(c.dates_loaded), str(total), problem))
        return rows

    def print_summary(self, stream=None) -> None:
        """Human summary on stdout: a rich table on a terminal, aligned text otherwise."""
        stream = stream or sys.stdout
        header = ("center", "status", "dates", "days", "rows", "problem")
        rows = self.summary_rows()
        if stream.isatty():
            from rich.console import Console
            from rich.table import Table

            table = Table(title=f"ivoris {self.command} {self.run_id}: {self.status}")
            for h in header:
                table.add_column(h, overflow="fold")
            for r in rows:
                table.add_row(*r, style="red" if r[1] != "ok" else None)
            Console(file=stream).print(table)
        else:
            widths = [
                max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header[:-1])
            ]
            print(f"ivoris {self.command} {self.run_id}: {self.status}", file=stream)
            print(
                "  ".join(h.ljust(w) for h, w in zip(header[:-1], widths, strict=True)) + "  problem",
                file=stream,
            )
            for r in rows:
                print(
                    "  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1],
                    file=stream,
                )
        for name, phase in self.phases.items():
            print(f"{name}: {phase.get('status')} {phase.get('message') or ''}".rstrip(), file=stream)
        for c in self.failed:
            print(f"{c.center_id}: {c.what_to_do}", file=stream)
        ok = sum(1 for c in self.centers if c.status == "ok")
        print(f"{ok}/{len(self.centers)} centers ok; report: {self.report_path or '-'}", file=stream)
