"""`ivoris discover`: read each center's catalog (one bulk query), propose or check its mapping.

A center without an approved mapping gets a proposal (mappings/<id>.yml, reviewed: false). An
approved mapping is never overwritten: the live schema is compared with it and differences are
reported as drift. One failing center never stops the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import yaml

from extract.canonical import Canonical, load_canonical
from extract.config import Center, Settings
from extract.discover.matcher import match_center
from extract.errors import ConfigError, IvorisError, SchemaDriftError
from extract.log import log, progress
from extract.mapping import Mapping, Problem, load_approved, load_mapping, save_mapping
from extract.sources import CatalogColumn, Source, open_source

STATUSES = ("proposed", "unchanged", "drift", "blocked", "failed")


@dataclass
class DiscoveryResult:
    center_id: str
    status: str  # proposed | unchanged | drift | blocked | failed
    mapping: Mapping | None = None
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Discovered without failure, blocking problem or drift."""
        return self.status in ("proposed", "unchanged")


def read_catalog(center: Center, source: Source | None = None) -> list[CatalogColumn]:
    """The center's catalog in one query; opens (read-only) and closes the source unless given one."""
    if source is not None:
        return source.catalog()
    with open_source(center) as src:
        return src.catalog()


def check_live_schema(mapping: Mapping, catalog: list[CatalogColumn], canonical: Canonical) -> list[Problem]:
    """Drift of the live schema from an (approved) mapping: renamed/dropped tables or columns, changed
    type families. Empty when the mapping still describes the center. Names compare case-insensitively."""
    cid = mapping.center_id
    again = f"delete mappings/{cid}.yml, run `ivoris discover --center {cid}`, review it and approve it again"
    live: dict[str, dict[str, dict[str, CatalogColumn]]] = {}  # schema -> table -> column (all lower)
    for col in catalog:
        live.setdefault(col.schema.lower(), {}).setdefault(col.table.lower(), {})[col.column.lower()] = col
    schema = (mapping.schema or "").lower()
    if schema not in live:
        return [
            Problem(
                kind="drift",
                object=f"schema {mapping.schema}",
                message=f"{cid}: approved schema {mapping.schema!r} no longer exists in the center; {again}",
            )
        ]
    rediscovered: Mapping | None = None

    def now_looks_like(table: str, column: str | None = None) -> str | None:
        nonlocal rediscovered
        if rediscovered is None:
            rediscovered = match_center(cid, catalog, canonical, mapping.schema, discovered_at="-")
        tm = rediscovered.tables.get(table)
        if tm is None:
            return None
        if column is None:
            return tm.physical
        cm = tm.columns.get(column)
        return cm.physical if cm else None

    problems: list[Problem] = []
    tables = live[schema]
    for tname, tm in mapping.tables.items():
        cols = tables.get(tm.physical.lower())
        if cols is None:
            new = now_looks_like(tname)
            hint = f"; the live schema now has {mapping.schema}.{new} for it" if new else ""
            problems.append(
                Problem(
                    kind="drift",
                    object=tname,
                    candidates=[new] if new else [],
                    message=(
                        f"{cid}: {tname}: approved table {mapping.schema}.{tm.physical} was renamed or "
                        f"dropped{hint}; {again}"
                    ),
                )
            )
            continue
        for cname, cm in tm.columns.items():
            obj = f"{tname}.{cname}"
            col = cols.get(cm.physical.lower())
            if col is None:
                new = now_looks_like(tname, cname)
                hint = f"; the table now has {new} for it" if new else ""
                problems.append(
                    Problem(
                        kind="drift",
                        object=obj,
                        candidates=[new] if new else [],
                        message=(
                            f"{cid}: {obj}: approved column {mapping.schema}.{tm.physical}.{cm.physical} was "
                            f"renamed or dropped{hint}; {again}"
                        ),
                    )
                )
                continue
            family = canonical.family_of(col.data_type) or "unknown"
            if family != cm.family:
                problems.append(
                    Problem(
                        kind="drift",
                        object=obj,
                        candidates=[col.column],
                        message=(
                            f"{cid}: {obj}: column {mapping.schema}.{tm.physical}.{cm.physical} changed type "
                            f"from {cm.data_type} ({cm.family}) to {col.data_type} ({family}); {again}"
                        ),
                    )
                )
    return problems


def live_drift(
    mapping: Mapping, read: Callable[[Sequence[str] | None], list[CatalogColumn]], canonical: Canonical
) -> list[Problem]:
    """check_live_schema for the nightly run, where `read(tables)` queries the live catalog. Only
    the mapped tables' columns are read (a center's catalog holds ~500 tables); when they differ
    from the mapping, the whole catalog is read once more, so the messages can say what the
    table or column is called now."""
    drift = check_live_schema(mapping, read([t.physical for t in mapping.tables.values()]), canonical)
    return check_live_schema(mapping, read(None), canonical) if drift else drift


def check_center(
    settings: Settings, center: Center, source: Source | None = None, canonical: Canonical | None = None
) -> Mapping:
    """For the nightly run: the approved mapping, verified against the live schema.

    Raises MappingNotApprovedError / MappingProblemError (no usable approval) or SchemaDriftError."""
    mapping = load_approved(settings.mapping_path(center.id), center.id)
    canonical = canonical or load_canonical()
    if source is None:
        with open_source(center) as src:
            drift = live_drift(mapping, src.catalog, canonical)
    else:
        drift = live_drift(mapping, source.catalog, canonical)
    if drift:
        raise SchemaDriftError(
            "live schema differs from the approved mapping: "
            + "; ".join(p.message.removeprefix(f"{center.id}: ") for p in drift),
            center_id=center.id,
        )
    return mapping


def discover_center(
    settings: Settings, center: Center, canonical: Canonical, discovered_at: str
) -> DiscoveryResult:
    try:
        catalog = read_catalog(center)
    except IvorisError as exc:
        return DiscoveryResult(center.id, "failed", error=exc.message)
    except Exception as exc:  # a driver error we did not anticipate must not stop the other centers
        return DiscoveryResult(
            center.id,
            "failed",
            error=f"cannot read the catalog of {center.source.describe()} ({type(exc).__name__}: {exc})",
        )
    proposal = match_center(center.id, catalog, canonical, center.source.schema, discovered_at=discovered_at)
    path = settings.mapping_path(center.id)
    existing: Mapping | None = None
    if path.exists():
        try:
            existing = load_mapping(path)
        except (
            ConfigError,
            ValueError,
            yaml.YAMLError,
        ) as exc:  # unreadable and therefore not approved: replace it
            log.warning("%s: replacing unreadable mapping %s (%s)", center.id, path, exc)
    if existing is not None and existing.is_approved:
        drift = check_live_schema(existing, catalog, canonical)
        return DiscoveryResult(center.id, "drift" if drift else "unchanged", existing, drift)
    if existing is not None and existing.reviewed:
        log.warning(
            "%s: %s was edited after approval; it no longer counts as approved and is replaced "
            "by a new proposal",
            center.id,
            path,
        )
    save_mapping(proposal, path)
    status = "blocked" if proposal.blocking_problems else "proposed"
    return DiscoveryResult(center.id, status, proposal, list(proposal.problems))


def discover_centers(
    settings: Settings,
    center_ids: list[str] | None = None,
    workers: int = 8,
    canonical: Canonical | None = None,
) -> list[DiscoveryResult]:
    """Discover the selected centers (all by default) in parallel; results in config order."""
    centers = settings.select(center_ids)
    canonical = canonical or load_canonical()
    discovered_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    results: dict[str, DiscoveryResult] = {}
    with progress("discover", len(centers)) as bar, ThreadPoolExecutor(max(1, workers)) as pool:
        futures = {pool.submit(discover_center, settings, c, canonical, discovered_at): c for c in centers}
        for fut in as_completed(futures):
            center = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # e.g. the mappings folder is not writable
                res = DiscoveryResult(center.id, "failed", error=f"{type(exc).__name__}: {exc}")
            results[center.id] = res
            if res.status == "failed":
                log.error("%s: discovery failed: %s", center.id, res.error)
            else:
                log.debug("%s: %s", center.id, res.status)
            bar.advance()
    return [results[c.id] for c in centers]
