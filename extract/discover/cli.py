"""Handlers of `ivoris discover`, `ivoris approve` and `ivoris show` (see extract/cli.py)."""

from __future__ import annotations

import os

from extract.config import load_settings
from extract.discover.review import approve_centers, format_mapping
from extract.discover.service import DiscoveryResult, discover_centers
from extract.mapping import load_mapping


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    out = []
    for r in [header, *rows]:
        out.append("  ".join(f"{cell:<{w}}" for cell, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return "\n".join(line.rstrip() for line in out)


def _why(res: DiscoveryResult) -> str:
    if res.error:
        return res.error
    shown = [p for p in res.problems if p.blocking] or res.problems
    if not shown:
        return "approved mapping matches the live schema" if res.status == "unchanged" else "ready for review"
    text = "; ".join(f"{p.kind} {p.object}" for p in shown[:4])
    return (
        text
        + (f" (+{len(shown) - 4} more)" if len(shown) > 4 else "")
        + f" — see `ivoris show {res.center_id}`"
    )


def cmd_discover(args) -> int:
    settings = load_settings(args.config)
    results = discover_centers(settings, args.centers, workers=args.workers)
    print(_table(("center", "status", "details"), [(r.center_id, r.status, _why(r)) for r in results]))
    bad = [r for r in results if not r.ok]
    counts = {
        s: sum(1 for r in results if r.status == s)
        for s in ("proposed", "unchanged", "drift", "blocked", "failed")
    }
    print("\n" + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" of {len(results)} centers")
    if bad:
        print(
            f"{len(bad)} center(s) need attention: " + ", ".join(f"{r.center_id} ({r.status})" for r in bad)
        )
    return 1 if bad else 0


def cmd_approve(args) -> int:
    settings = load_settings(args.config)
    by = args.by or os.environ.get("USER") or "unknown"
    outcomes = approve_centers(settings, list(args.ids or []), bool(args.all), by)
    rows = [(o.center_id, "approved" if o.approved else "REFUSED", o.reason) for o in outcomes]
    print(_table(("center", "result", "reason"), rows))
    refused = [o for o in outcomes if not o.approved]
    if refused:
        print(
            f"\n{len(refused)} of {len(outcomes)} center(s) not approved: "
            + ", ".join(o.center_id for o in refused)
        )
    return 1 if refused else 0


def cmd_show(args) -> int:
    settings = load_settings(args.config)
    settings.center(args.center)  # a clear error for an unknown center
    print(format_mapping(load_mapping(settings.mapping_path(args.center))), end="")
    return 0
