"""`ivoris approve` and `ivoris show`: the review gate between discovery and loading.

Approval is refused, with the reason, for a missing mapping, one with blocking problems, one that
does not cover every canonical table and column (e.g. after a hand edit), or one that no longer
matches the center's live schema. Approving an approved, unchanged mapping changes nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import yaml

from extract.canonical import Canonical, load_canonical
from extract.config import Settings
from extract.discover.service import check_live_schema, read_catalog
from extract.errors import ConfigError, IvorisError
from extract.identifiers import is_safe
from extract.mapping import Mapping, Problem, load_mapping, save_mapping


@dataclass
class ApproveOutcome:
    center_id: str
    approved: bool
    reason: str


def completeness_problems(mapping: Mapping, canonical: Canonical) -> list[Problem]:
    """What a hand-edited mapping may lack: a canonical table or column, or a usable name/type."""
    cid = mapping.center_id
    out: list[Problem] = []
    if not mapping.schema or not is_safe(mapping.schema):
        out.append(
            Problem(
                kind="missing_schema",
                object="schema",
                message=f"{cid}: the mapping names no valid schema ({mapping.schema!r})",
            )
        )
    for tname, ctable in canonical.tables.items():
        tm = mapping.tables.get(tname)
        if tm is None:
            out.append(
                Problem(
                    kind="missing_table", object=tname, message=f"{cid}: the mapping has no table {tname}"
                )
            )
            continue
        if not is_safe(tm.physical):
            out.append(
                Problem(
                    kind="unsafe_name",
                    object=tname,
                    message=f"{cid}: {tname} maps to {tm.physical!r}, not a plain SQL identifier",
                )
            )
        for cname, ccol in ctable.columns.items():
            cm = tm.columns.get(cname)
            if cm is None:
                out.append(
                    Problem(
                        kind="missing_column",
                        object=f"{tname}.{cname}",
                        message=f"{cid}: the mapping has no column {tname}.{cname}",
                    )
                )
            elif not is_safe(cm.physical):
                out.append(
                    Problem(
                        kind="unsafe_name",
                        object=f"{tname}.{cname}",
                        message=f"{cid}: {tname}.{cname} maps to {cm.physical!r}, not a plain SQL identifier",
                    )
                )
            elif cm.family not in ccol.accepts:
                out.append(
                    Problem(
                        kind="wrong_type",
                        object=f"{tname}.{cname}",
                        message=(
                            f"{cid}: {tname}.{cname} is {cm.data_type} ({cm.family}); "
                            f"{ccol.type} needs one of {', '.join(ccol.accepts)}"
                        ),
                    )
                )
    return out


def approve_center(settings: Settings, center_id: str, by: str, canonical: Canonical) -> ApproveOutcome:
    def refuse(reason: str) -> ApproveOutcome:
        return ApproveOutcome(center_id, False, reason)

    try:
        center = settings.center(center_id)
    except ConfigError as exc:
        return refuse(str(exc))
    path = settings.mapping_path(center_id)
    if not path.exists():
        return refuse(f"no mapping at {path}: run `ivoris discover --center {center_id}` first")
    try:
        mapping = load_mapping(path)
    except (ConfigError, ValueError, yaml.YAMLError) as exc:
        return refuse(f"unreadable mapping {path} ({exc}); re-run `ivoris discover --center {center_id}`")
    if mapping.blocking_problems:
        return refuse(
            "blocking problems: " + "; ".join(_short(p, center_id) for p in mapping.blocking_problems)
        )
    incomplete = completeness_problems(mapping, canonical)
    if incomplete:
        return refuse("incomplete mapping: " + "; ".join(_short(p, center_id) for p in incomplete))
    try:
        catalog = read_catalog(center)
    except IvorisError as exc:
        return refuse(f"cannot check the mapping against the live schema: {exc.message}")
    except Exception as exc:  # any driver error: refuse rather than approve unchecked
        return refuse(f"cannot check the mapping against the live schema ({type(exc).__name__}: {exc})")
    drift = check_live_schema(mapping, catalog, canonical)
    if drift:
        return refuse(
            "the live schema differs from the mapping: " + "; ".join(_short(p, center_id) for p in drift)
        )
    if mapping.is_approved:
        return ApproveOutcome(
            center_id, True, f"already approved by {mapping.reviewed_by} at {mapping.reviewed_at}; unchanged"
        )
    mapping.approve(by)
    save_mapping(mapping, path)
    return ApproveOutcome(center_id, True, f"approved by {by}")


def _short(problem: Problem, center_id: str) -> str:
    return problem.message.removeprefix(f"{center_id}: ")


def approve_centers(
    settings: Settings,
    ids: list[str] | None,
    all_: bool,
    by: str,
    canonical: Canonical | None = None,
    workers: int = 8,
) -> list[ApproveOutcome]:
    """Approve the named centers (or all configured ones with all_); results in the requested order."""
    if all_:
        ids = [c.id for c in settings.centers]
    if not ids:
        raise ConfigError("name the centers to approve (`ivoris approve ID...`) or pass --all")
    canonical = canonical or load_canonical()
    ids = list(dict.fromkeys(ids))
    with ThreadPoolExecutor(max(1, min(workers, len(ids)))) as pool:
        return list(pool.map(lambda cid: approve_center(settings, cid, by, canonical), ids))


def review_status(mapping: Mapping) -> str:
    if mapping.is_approved:
        return f"APPROVED by {mapping.reviewed_by} at {mapping.reviewed_at}"
    if mapping.reviewed:
        return "NOT APPROVED: edited after approval (fingerprint differs); review and approve again"
    if mapping.blocking_problems:
        return "NOT APPROVED: blocking problems must be resolved first"
    return f"NOT REVIEWED: check it, then `ivoris approve {mapping.center_id}`"


def format_mapping(mapping: Mapping) -> str:
    """Plain text for the terminal: canonical -> physical, type, evidence, problems, review status."""
    lines = [
        f"center {mapping.center_id}   schema {mapping.schema or '-'}   "
        f"discovered {mapping.discovered_at or '-'}",
        f"review: {review_status(mapping)}",
        "",
    ]
    rows: list[tuple[str, str, str, str]] = []
    for tname, tm in mapping.tables.items():
        rows.append((tname, tm.physical, "table", tm.evidence))
        for cname, cm in tm.columns.items():
            rows.append((f"  {tname}.{cname}", cm.physical, f"{cm.data_type} ({cm.family})", cm.evidence))
        if tm.unmatched_columns:
            rows.append(("  (unmatched columns)", ", ".join(tm.unmatched_columns), "", ""))
    if rows:
        w0 = max(len(r[0]) for r in rows + [("canonical", "", "", "")])
        w1 = max(len(r[1]) for r in rows if not r[0].startswith("  (")) if rows else 8
        w1 = max(w1, len("physical"))
        w2 = max(len(r[2]) for r in rows + [("", "", "type", "")])
        lines.append(f"{'canonical':<{w0}}  {'physical':<{w1}}  {'type':<{w2}}  evidence")
        for r in rows:
            lines.append(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<{w2}}  {r[3]}".rstrip())
    else:
        lines.append("(no tables mapped)")
    if mapping.unmatched_tables:
        lines += ["", f"unmatched tables in schema {mapping.schema}: {', '.join(mapping.unmatched_tables)}"]
    lines.append("")
    if mapping.problems:
        lines.append("problems:")
        for p in mapping.problems:
            flag = "BLOCKING" if p.blocking else "note"
            lines.append(f"  [{flag}] {p.kind} {p.object}: {_short(p, mapping.center_id)}")
    else:
        lines.append("problems: none")
    return "\n".join(lines) + "\n"
