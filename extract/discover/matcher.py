"""Match a center's catalog against the canonical model. Pure functions: no I/O, no SQL.

Rules (DESIGN.md): names compare case-insensitively (SQL Server's default). For a canonical name N
the candidates are, first, a physical name equal to N; only when there is none, names of the form
`N_<2-4 ASCII letters/digits>`. Two candidates of the same rank make the mapping ambiguous — never
pick one silently. A name equal to one canonical name is never a suffixed candidate for another
(`P_NAME` in a clean center is P_NAME, not P + `_NAME`). Catalog names that are not plain SQL
identifiers (extract.identifiers.is_safe) are never candidates and are reported as ignored.

Matching is linear in the catalog size: every name is split once at its last underscore and
looked up in a dict of canonical names, so ~500 tables per center cost microseconds.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from extract.canonical import Canonical, CanonicalTable
from extract.identifiers import is_safe
from extract.mapping import ColumnMapping, Mapping, Problem, TableMapping
from extract.sources.base import CatalogColumn

# ASCII only and no IGNORECASE: with IGNORECASE Python's [A-Za-z] also matches the Kelvin sign
# and the long s.
SUFFIX = re.compile(r"[A-Za-z0-9]{2,4}")

UNMATCHED_TABLES_LISTED = 50  # keeps the mapping file readable next to ~500 unrelated tables
LOOKALIKES_LISTED = 5
UNSAFE_LISTED = 20


@dataclass(frozen=True)
class Candidates:
    exact: tuple[str, ...]
    suffixed: tuple[str, ...]

    @property
    def best(self) -> tuple[str, ...]:
        """The candidates of the best rank present (exact names win over suffixed ones)."""
        return self.exact or self.suffixed


def suffix_base(name: str) -> tuple[str, str] | None:
    """'KARTEI_MN' -> ('KARTEI', 'MN'); None unless the part after the last '_' is 2-4 letters/digits."""
    base, sep, suffix = name.upper().rpartition("_")
    if sep and base and SUFFIX.fullmatch(suffix):
        return base, suffix
    return None


def candidates(names: Iterable[str], wanted: Iterable[str]) -> dict[str, Candidates]:
    """For each wanted canonical name (upper case), its exact and suffixed candidates among `names`."""
    wanted = set(wanted)
    exact: dict[str, list[str]] = defaultdict(list)
    suffixed: dict[str, list[str]] = defaultdict(list)
    for name in names:
        up = name.upper()
        if up in wanted:
            exact[up].append(name)
            continue
        split = suffix_base(name)
        if split and split[0] in wanted:
            suffixed[split[0]].append(name)
    return {w: Candidates(tuple(sorted(exact[w])), tuple(sorted(suffixed[w]))) for w in wanted}


def _how(physical: str, canonical_name: str) -> str:
    if physical.upper() == canonical_name:
        return "exact name"
    return f"{canonical_name} + suffix _{physical.rpartition('_')[2]}"


def _capped(names: list[str], limit: int) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


class _Catalog:
    """The catalog grouped by schema and table, with unsafe names set aside."""

    def __init__(self, catalog: list[CatalogColumn]):
        self.tables: dict[str, dict[str, list[CatalogColumn]]] = defaultdict(dict)  # schema -> table -> cols
        self.unsafe_schemas: set[str] = set()
        self.unsafe_tables: set[tuple[str, str]] = set()
        for col in catalog:
            if not is_safe(col.schema):
                self.unsafe_schemas.add(col.schema)
                continue
            if not is_safe(col.table):
                self.unsafe_tables.add((col.schema, col.table))
                continue
            self.tables[col.schema].setdefault(col.table, []).append(col)
        for tables in self.tables.values():
            for cols in tables.values():
                cols.sort(key=lambda c: c.ordinal)


def match_center(
    center_id: str,
    catalog: list[CatalogColumn],
    canonical: Canonical,
    schema_hint: str | None = None,
    *,
    discovered_at: str | None = None,
) -> Mapping:
    """Propose a mapping (reviewed: false) of `center_id` from its catalog."""
    cat = _Catalog(catalog)
    problems: list[Problem] = []
    wanted_tables = list(canonical.tables)
    discovered_at = discovered_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()

    def mapping(schema: str | None, tables: dict[str, TableMapping], unmatched: list[str]) -> Mapping:
        return Mapping(
            center_id=center_id,
            schema=schema,
            tables=tables,
            problems=problems,
            unmatched_tables=unmatched,
            reviewed=False,
            discovered_at=discovered_at,
        )

    problems.extend(_unsafe_problems(center_id, cat))

    # --- the schema ------------------------------------------------------------------------
    per_schema = {s: candidates(tables, wanted_tables) for s, tables in cat.tables.items()}
    if schema_hint:
        hits = [s for s in cat.tables if s.lower() == schema_hint.lower()]
        if len(hits) != 1:
            known = ", ".join(sorted(cat.tables)) or "none"
            what = "does not exist" if not hits else f"matches several schemas ({', '.join(sorted(hits))})"
            problems.append(
                Problem(
                    kind="missing_schema" if not hits else "ambiguous",
                    object=f"schema {schema_hint}",
                    candidates=sorted(hits),
                    message=(
                        f"{center_id}: configured schema {schema_hint!r} (source.schema) {what} in the "
                        f"catalog (schemas: {known}); fix source.schema in the config or remove it to let "
                        "discovery choose, then re-run `ivoris discover`"
                    ),
                )
            )
            return mapping(None, {}, [])
        schema = hits[0]
        schema_why = f"schema {schema} set by source.schema"
    else:
        counts = {s: sum(1 for c in cands.values() if c.best) for s, cands in per_schema.items()}
        top = max(counts.values(), default=0)
        leaders = sorted(s for s, n in counts.items() if n == top and top > 0)
        if not leaders:
            problems.extend(
                Problem(
                    kind="missing_table",
                    object=t,
                    message=(
                        f"{center_id}: no schema holds a table {t} or {t}_<2-4 letters/digits> "
                        f"(schemas: {', '.join(sorted(cat.tables)) or 'none'}); check that "
                        "source points at the Ivoris database, then re-run `ivoris discover`"
                    ),
                )
                for t in wanted_tables
            )
            return mapping(None, {}, [])
        if len(leaders) > 1:
            problems.append(
                Problem(
                    kind="ambiguous",
                    object="schema",
                    candidates=leaders,
                    message=(
                        f"{center_id}: schemas {', '.join(leaders)} each hold {top} of the "
                        f"{len(wanted_tables)} canonical tables; set source.schema for this center in the "
                        "config, then re-run `ivoris discover`"
                    ),
                )
            )
            return mapping(None, {}, [])
        schema = leaders[0]
        schema_why = f"schema {schema} holds {top} of {len(wanted_tables)} canonical tables"

    tables_here = cat.tables[schema]
    cands = per_schema[schema]
    others = {s: c for s, c in per_schema.items() if s != schema}

    # --- tables ------------------------------------------------------------------------------
    result: dict[str, TableMapping] = {}
    for tname, ctable in canonical.tables.items():
        found = cands[tname].best
        lookalikes = sorted(
            n
            for n in tables_here
            if tname in n.upper() and n not in cands[tname].exact and n not in cands[tname].suffixed
        )
        stray = sorted(f"{s}.{n}" for s, c in others.items() for n in c[tname].best)
        if not found:
            note = f" (ignored look-alikes: {_capped(lookalikes, LOOKALIKES_LISTED)})" if lookalikes else ""
            problems.append(
                Problem(
                    kind="missing_table",
                    object=tname,
                    message=(
                        f"{center_id}: no table {tname} or {tname}_<2-4 letters/digits> in schema {schema}"
                        f"{note}; check the center's database or source.schema, then re-run `ivoris discover`"
                    ),
                )
            )
            continue
        if len(found) > 1:
            problems.append(_ambiguous(center_id, tname, f"schema {schema}", found))
            continue
        physical = found[0]
        evidence = f"{_how(physical, tname)}; {schema_why}"
        if lookalikes:
            evidence += f"; ignored look-alikes: {_capped(lookalikes, LOOKALIKES_LISTED)}"
        if stray:
            evidence += f"; ignored in other schemas: {_capped(stray, LOOKALIKES_LISTED)}"
        result[tname] = _match_table(
            center_id, schema, physical, tables_here[physical], ctable, canonical, evidence, problems
        )

    chosen = {tm.physical for tm in result.values()}
    unmatched = sorted((n for n in tables_here if n not in chosen), key=str.upper)
    if len(unmatched) > UNMATCHED_TABLES_LISTED:
        rest = len(unmatched) - UNMATCHED_TABLES_LISTED
        unmatched = unmatched[:UNMATCHED_TABLES_LISTED] + [f"... and {rest} more tables in schema {schema}"]
    return mapping(schema, result, unmatched)


def _ambiguous(center_id: str, obj: str, where: str, found: tuple[str, ...]) -> Problem:
    return Problem(
        kind="ambiguous",
        object=obj,
        candidates=list(found),
        message=(
            f"{center_id}: {obj} is ambiguous: {', '.join(found)} in {where} could each be {obj}; "
            "rename or drop the extra object in the center"
            f"{'' if '.' in obj else ' (or set source.schema if it lives in another schema)'} and re-run "
            f"`ivoris discover`, or pick one in mappings/{center_id}.yml, delete this problem and run "
            f"`ivoris approve {center_id}`"
        ),
    )


def _match_table(
    center_id: str,
    schema: str,
    physical: str,
    columns: list[CatalogColumn],
    ctable: CanonicalTable,
    canonical: Canonical,
    evidence: str,
    problems: list[Problem],
) -> TableMapping:
    safe_cols = [c for c in columns if is_safe(c.column)]
    by_name = {c.column: c for c in safe_cols}
    cands = candidates(by_name, ctable.columns)
    mapped: dict[str, ColumnMapping] = {}
    for cname, ccol in ctable.columns.items():
        obj = f"{ctable.name}.{cname}"
        found = cands[cname].best
        if not found:
            problems.append(
                Problem(
                    kind="missing_column",
                    object=obj,
                    message=(
                        f"{center_id}: table {schema}.{physical} ({ctable.name}) has no column {cname} or "
                        f"{cname}_<2-4 letters/digits>; check the center's table, "
                        "then re-run `ivoris discover`"
                    ),
                )
            )
            continue
        if len(found) > 1:
            problems.append(_ambiguous(center_id, obj, f"table {schema}.{physical}", found))
            continue
        col = by_name[found[0]]
        family = canonical.family_of(col.data_type)
        fits = family in ccol.accepts
        mapped[cname] = ColumnMapping(
            physical=col.column,
            data_type=col.data_type,
            family=family or "unknown",
            evidence=(
                f"{_how(col.column, cname)}; {col.data_type} is "
                f"{family or 'an unknown type family'}, {'accepted' if fits else 'NOT accepted'} "
                f"for {ccol.type} ({'/'.join(ccol.accepts)})"
            ),
        )
        if not fits:
            problems.append(
                Problem(
                    kind="wrong_type",
                    object=obj,
                    candidates=[col.column],
                    message=(
                        f"{center_id}: column {schema}.{physical}.{col.column} ({obj}) has type "
                        f"{col.data_type} ({family or 'unknown family'}); {ccol.type} needs one of "
                        f"{', '.join(ccol.accepts)}. Check that this is the right column; "
                        "if the type family is valid, add it to config/canonical.yml, "
                        "then re-run `ivoris discover`"
                    ),
                )
            )
    used = {cm.physical for cm in mapped.values()}
    return TableMapping(
        physical=physical,
        columns=mapped,
        evidence=evidence,
        unmatched_columns=[c.column for c in safe_cols if c.column not in used],
    )


def _unsafe_problems(center_id: str, cat: _Catalog) -> list[Problem]:
    """Non-blocking notes on names never used because they are not plain identifiers."""
    names = [f"schema {s!r}" for s in sorted(cat.unsafe_schemas)]
    names += [f"table {s}.{t!r}" for s, t in sorted(cat.unsafe_tables)]
    names += [
        f"column {s}.{t}.{c.column!r}"
        for s, tables in sorted(cat.tables.items())
        for t, cols in sorted(tables.items())
        for c in cols
        if not is_safe(c.column)
    ]
    if not names:
        return []
    return [
        Problem(
            kind="unsafe_name",
            object="catalog",
            blocking=False,
            candidates=[],
            message=(
                f"{center_id}: ignored {len(names)} object(s) whose names are not plain SQL identifiers "
                f"(never used in SQL): {_capped(names, UNSAFE_LISTED)}; rename them in the center if one of "
                "them is an Ivoris table or column"
            ),
        )
    ]
