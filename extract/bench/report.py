"""The bench's table and its targets. Timings are compared with the targets and printed met/missed;
they are never asserted (a busy machine must not fail a build)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from extract.bench.runner import RUN_PARTS

GIB = 1024**3


@dataclass
class Row:
    section: str
    what: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None  # None: no target, or not judged at this scale

    @property
    def status(self) -> str:
        if not self.target:
            return ""
        if self.met is None:
            return "not judged (quick sizes)"
        return "met" if self.met else "MISSED"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / 2**20:,.0f} MiB"
    if unit == "rows/s":
        return f"{value:,.0f} rows/s"
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "%":
        return f"{value:.0f} %"
    if unit == "ms/center":
        return f"{value:.1f} ms/center"
    if unit == "rows":
        return f"{value:,.0f}"
    return f"{value:.2f} s"


def _judge(full: bool, ok: bool) -> bool | None:
    return ok if full else None


def rows_of(results: dict[str, Any], *, quick: bool) -> list[Row]:
    full = not quick
    out: list[Row] = []
    n = results.get("nightly", {})
    if "sizes" in n:
        for size, s in n["sizes"].items():
            ph = s["phases_s"]
            at500 = full and int(size) == 500
            for phase in RUN_PARTS:
                tgt = "<= 10 s" if phase == "dbt build" and int(size) == 500 else ""
                out.append(
                    Row(
                        "nightly",
                        f"{size} centers: {phase}",
                        ph[phase]["median"],
                        "s",
                        tgt,
                        (ph[phase]["median"] <= 10) if at500 and tgt else None,
                    )
                )
            e2e = ph["end to end"]["median"]
            out.append(
                Row(
                    "nightly",
                    f"{size} centers: end to end",
                    e2e,
                    "s",
                    "<= 20 s" if int(size) == 500 else "",
                    (e2e <= 20) if at500 else None,
                )
            )
        m = n["marginal_ms_per_center"]
        out.append(
            Row(
                "nightly",
                "marginal cost per extra center (end to end)",
                m["end to end"],
                "ms/center",
                "<= 25 ms/center",
                _judge(full, m["end to end"] <= 25),
            )
        )
        for phase in ("check + load", "dbt build"):
            out.append(Row("nightly", f"marginal cost per extra center ({phase})", m[phase], "ms/center"))
    b = results.get("backfill", {})
    if "ours" in b:
        label = f"{b['centers']} centers x {b['days']} days"
        ours, nat = b["ours"], b["duckdb_native"]
        out.append(Row("backfill", f"{label}: rows", ours["rows"], "rows"))
        out.append(Row("backfill", f"{label}: ivoris load", ours["seconds"]["median"], "s"))
        out.append(
            Row(
                "backfill",
                "ivoris load rows/s",
                ours["rows_per_s"]["median"],
                "rows/s",
                ">= 1,000,000 rows/s",
                _judge(full, ours["rows_per_s"]["median"] >= 1e6),
            )
        )
        out.append(Row("backfill", "DuckDB native ATTACH + INSERT…SELECT", nat["seconds"]["median"], "s"))
        out.append(Row("backfill", "DuckDB native rows/s", nat["rows_per_s"]["median"], "rows/s"))
        ratio = b["ratio_to_native_pct"]
        out.append(
            Row(
                "backfill",
                "ivoris speed as % of DuckDB native",
                ratio,
                "%",
                ">= 50 %",
                _judge(full, ratio >= 50),
            )
        )
        rss = ours["peak_rss_bytes"]["median"]
        out.append(
            Row(
                "backfill",
                "ivoris load peak RSS (its own process)",
                rss,
                "bytes",
                "<= 1 GiB",
                _judge(full, rss <= GIB),
            )
        )
        out.append(Row("backfill", "DuckDB native peak RSS", nat["peak_rss_bytes"]["median"], "bytes"))
        h = b.get("nightly_with_history")
        if h:
            label = f"nightly after {h['history_days']} days of history, {h['centers']} centers"
            for phase in ("check + load", "dbt build", "end to end"):
                out.append(Row("backfill", f"{label}: {phase}", h["phases_s"][phase]["median"], "s"))
    d = results.get("discovery", {})
    if "seconds" in d:
        at500 = full and d["centers"] >= 500
        out.append(
            Row(
                "discovery",
                f"discover {d['centers']} centers",
                d["seconds"]["median"],
                "s",
                "<= 10 s (500 centers)",
                (d["seconds"]["median"] <= 10) if at500 else None,
            )
        )
    x = results.get("dlt", {})
    if x and not x.get("available", True):
        out.append(Row("dlt", "dlt not installed: comparison skipped", None, "s"))
    for case, target, ok in (("nightly", ">= 10x", lambda v: v >= 10), ("backfill", "> 1x", lambda v: v > 1)):
        if case not in x:
            continue
        c = x[case]
        what = (
            f"{c['centers']} centers, one date" if case == "nightly" else f"{c['centers']} centers x {c['days']} days"
        )
        out.append(Row("dlt", f"dlt {case} load, {what}", c["dlt"]["seconds"]["median"], "s"))
        out.append(Row("dlt", f"ivoris {case} load, same rows, same harness", c["ours"]["seconds"]["median"], "s"))
        out.append(Row("dlt", f"dlt {case} peak RSS", c["dlt"]["peak_rss_bytes"]["median"], "bytes"))
        out.append(
            Row("dlt", f"ivoris speed-up over dlt ({case})", c["speedup"], "x", target, _judge(full, ok(c["speedup"])))
        )
    for section, res in results.items():
        if isinstance(res, dict) and "error" in res:
            out.append(Row(section, f"FAILED: {res['error'].splitlines()[0][:90]}", None, "s"))
    return out


def table(rows: list[Row], machine: dict, *, quick: bool, repeat: int) -> str:
    head = (
        f"ivoris bench{' --quick' if quick else ''}: median of {repeat} run(s) on {machine['cpu_model']}, "
        f"{machine['cores']} cores, {(machine['ram_bytes'] or 0) / GIB:.0f} GiB RAM, "
        f"Python {machine['python']}, "
        f"duckdb {machine['versions'].get('duckdb')}, dbt-core {machine['versions'].get('dbt-core')}"
    )
    cols = [("section", 9), ("measure", 62), ("value", 18), ("target", 22), ("", 24)]
    lines = [head, "", "  ".join(name.ljust(w) for name, w in cols).rstrip()]
    lines.append("  ".join("-" * w for _, w in cols[:-1]))
    for r in rows:
        cells = [r.section, r.what, _fmt(r.value, r.unit), r.target, r.status]
        lines.append("  ".join(str(c).ljust(w) for c, (_, w) in zip(cells, cols, strict=True)).rstrip())
    return "\n".join(lines)


def as_json_rows(rows: list[Row]) -> list[dict]:
    return [{**asdict(r), "status": r.status} for r in rows]
