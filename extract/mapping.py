"""A center's mapping from physical to canonical names: config/mappings/<center_id>.yml.

`ivoris discover` proposes it (reviewed: false); a person reads it (`ivoris show`) and approves it
(`ivoris approve`). Approval stores a fingerprint of the mapped names and types: a file edited
after approval no longer counts as reviewed, so the flag cannot be bypassed by accident.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from extract.errors import ConfigError, MappingNotApprovedError, MappingProblemError

# libyaml's safe dumper/loader when present: ~6-10x faster than pure Python (500 centers), same output.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

HEADER = (
    "# Mapping of center {center_id}: physical -> canonical names.\n"
    "# Proposed by `ivoris discover`; a person reviews it (`ivoris show {center_id}`) and approves it\n"
    "# (`ivoris approve {center_id}`). Re-discovery never overwrites an approved mapping; it reports drift.\n"
)


@dataclass
class ColumnMapping:
    physical: str
    data_type: str  # as the catalog reports it, e.g. int, varchar, datetime
    family: str  # integer | text | date | datetime | boolean
    evidence: str = ""


@dataclass
class TableMapping:
    physical: str
    columns: dict[str, ColumnMapping]  # canonical column -> physical
    evidence: str = ""
    unmatched_columns: list[str] = field(default_factory=list)


@dataclass
class Problem:
    kind: str  # ambiguous | missing_table | missing_column | wrong_type | unsafe_name | drift
    object: str  # canonical object, e.g. KARTEI or KARTEI.DATUM
    message: str
    candidates: list[str] = field(default_factory=list)
    blocking: bool = True


@dataclass
class Mapping:
    center_id: str
    schema: str | None
    tables: dict[str, TableMapping]
    problems: list[Problem] = field(default_factory=list)
    unmatched_tables: list[str] = field(default_factory=list)
    reviewed: bool = False
    reviewed_at: str | None = None
    reviewed_by: str | None = None
    fingerprint: str | None = None
    discovered_at: str | None = None

    @property
    def blocking_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.blocking]

    def compute_fingerprint(self) -> str:
        """Hash of what the pipeline uses: schema and every mapped name and type."""
        core = {
            "schema": self.schema,
            "tables": {
                t: {
                    "physical": tm.physical,
                    "columns": {c: [cm.physical, cm.data_type] for c, cm in tm.columns.items()},
                }
                for t, tm in sorted(self.tables.items())
            },
        }
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def is_approved(self) -> bool:
        return self.reviewed and self.fingerprint == self.compute_fingerprint() and not self.blocking_problems

    def approve(self, by: str) -> None:
        if self.blocking_problems:
            reasons = "; ".join(p.message for p in self.blocking_problems)
            raise MappingProblemError(f"approval refused: {reasons}", center_id=self.center_id)
        self.reviewed = True
        self.reviewed_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        self.reviewed_by = by
        self.fingerprint = self.compute_fingerprint()

    def to_dict(self) -> dict:
        return {
            "center_id": self.center_id,
            "reviewed": self.reviewed,
            "reviewed_at": self.reviewed_at,
            "reviewed_by": self.reviewed_by,
            "fingerprint": self.fingerprint,
            "discovered_at": self.discovered_at,
            "schema": self.schema,
            "problems": [asdict(p) for p in self.problems],
            "tables": {
                t: {
                    "physical": tm.physical,
                    "evidence": tm.evidence,
                    "columns": {c: asdict(cm) for c, cm in tm.columns.items()},
                    "unmatched_columns": list(tm.unmatched_columns),
                }
                for t, tm in self.tables.items()
            },
            "unmatched_tables": list(self.unmatched_tables),
        }

    @classmethod
    def from_dict(cls, doc: dict, source: str = "mapping") -> Mapping:
        try:
            return cls(
                center_id=doc["center_id"],
                schema=doc.get("schema"),
                tables={
                    t: TableMapping(
                        physical=td["physical"],
                        evidence=td.get("evidence", ""),
                        columns={c: ColumnMapping(**cd) for c, cd in (td.get("columns") or {}).items()},
                        unmatched_columns=list(td.get("unmatched_columns") or []),
                    )
                    for t, td in (doc.get("tables") or {}).items()
                },
                problems=[Problem(**p) for p in doc.get("problems") or []],
                unmatched_tables=list(doc.get("unmatched_tables") or []),
                reviewed=bool(doc.get("reviewed", False)),
                reviewed_at=doc.get("reviewed_at"),
                reviewed_by=doc.get("reviewed_by"),
                fingerprint=doc.get("fingerprint"),
                discovered_at=doc.get("discovered_at"),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{source}: malformed mapping ({exc!r}); re-run `ivoris discover`") from exc


def save_mapping(mapping: Mapping, path: Path) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a mapping."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER.format(center_id=mapping.center_id) + yaml.dump(
        mapping.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120
    )
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def load_mapping(path: Path) -> Mapping:
    if not path.exists():
        raise ConfigError(f"no mapping at {path}: run `ivoris discover` first")
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    return Mapping.from_dict(doc, str(path))


# load_approved results by file content: `ivoris run` reads every approved mapping in its check,
# render and load phases (~6 ms of YAML parsing each, 500 centers; reading and hashing the bytes
# costs microseconds, and unlike mtimes cannot miss an edit). Callers treat them as read-only.
_approved_cache: dict[tuple[str, str], Mapping] = {}
_approved_guard = threading.Lock()


def load_approved(path: Path, center_id: str) -> Mapping:
    """The mapping if a person approved it and it was not edited since; else a terminal error."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise MappingNotApprovedError(
            f"no mapping at {path}: run `ivoris discover --center {center_id}`, review it, then approve it",
            center_id=center_id,
        ) from None
    key = (str(path), hashlib.sha256(text).hexdigest())
    with _approved_guard:
        cached = _approved_cache.get(key)
    if cached is not None and cached.center_id == center_id:
        return cached
    doc = _parse_cached(text, key[1])
    mapping = _check_approved(Mapping.from_dict(doc, str(path)), path, center_id)
    with _approved_guard:
        if len(_approved_cache) > 10_000:
            _approved_cache.clear()
        _approved_cache[key] = mapping
    return mapping


def _parse_cached(text: bytes, digest: str) -> dict:
    """The YAML document, through a JSON copy in target/ivoris_mapping_cache/<sha256>.json: every
    nightly process reads 500 unchanged mappings, and json parses them ~20x faster than YAML.
    Keyed by content, so an edited mapping is never served stale; any cache problem: parse the YAML."""
    from extract.paths import project_dir

    cache = project_dir() / "target" / "ivoris_mapping_cache" / f"{digest}.json"
    try:
        return json.loads(cache.read_bytes())
    except (OSError, ValueError):
        pass
    doc = yaml.load(text.decode("utf-8"), Loader=_Loader) or {}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cache)
    except (OSError, TypeError, ValueError):  # read-only checkout, a value JSON cannot hold: no cache
        pass
    return doc


def _check_approved(mapping: Mapping, path: Path, center_id: str) -> Mapping:
    if mapping.blocking_problems:
        reasons = "; ".join(p.message for p in mapping.blocking_problems)
        raise MappingProblemError(f"mapping has unresolved problems: {reasons}", center_id=center_id)
    if not mapping.reviewed:
        raise MappingNotApprovedError(
            f"mapping {path} is not reviewed: check it with `ivoris show {center_id}`, "
            f"then `ivoris approve {center_id}`",
            center_id=center_id,
        )
    if mapping.fingerprint != mapping.compute_fingerprint():
        raise MappingNotApprovedError(
            f"mapping {path} was edited after approval (fingerprint differs): review it and approve it again",
            center_id=center_id,
        )
    return mapping
