"""The canonical model (config/canonical.yml) as typed objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from extract.errors import ConfigError
from extract.paths import canonical_path

LOAD_MODES = ("by_date", "snapshot", "none")


@dataclass(frozen=True)
class CanonicalColumn:
    name: str
    alias: str  # canonical column name in staging models (`as:`), e.g. entry_id
    type: str  # integer | text | date | deleted_flag
    accepts: tuple[str, ...]  # physical type families allowed
    description: str = ""
    personal: bool = False


@dataclass(frozen=True)
class CanonicalTable:
    name: str
    model: str  # entity name in staging models: stg_<center>__<model>
    load: str
    columns: dict[str, CanonicalColumn]
    description: str = ""
    date_column: str | None = None

    @property
    def loaded_columns(self) -> list[CanonicalColumn]:
        """Columns the loader copies: never personal ones, nothing for load: none."""
        if self.load == "none":
            return []
        return [c for c in self.columns.values() if not c.personal]


@dataclass(frozen=True)
class Canonical:
    tables: dict[str, CanonicalTable]
    type_families: dict[str, str] = field(default_factory=dict)  # physical data_type -> family

    def family_of(self, data_type: str) -> str | None:
        """Type family of a physical DATA_TYPE ('varchar(8)' and 'VARCHAR' both -> 'text')."""
        base = data_type.strip().lower().split("(")[0].strip()
        return self.type_families.get(base)

    @property
    def loaded_tables(self) -> list[CanonicalTable]:
        return [t for t in self.tables.values() if t.load != "none"]


def parse_canonical(doc: dict, source: str = "canonical.yml") -> Canonical:
    try:
        types = doc["types"]
        families: dict[str, str] = {}
        for family, names in doc["type_families"].items():
            for name in names:
                families[str(name).lower()] = family
        tables: dict[str, CanonicalTable] = {}
        for tname, tdoc in doc["tables"].items():
            load = tdoc.get("load", "none")
            if load not in LOAD_MODES:
                raise ConfigError(f"{source}: table {tname}: load must be one of {LOAD_MODES}, not {load!r}")
            cols = {}
            for cname, cdoc in tdoc["columns"].items():
                ctype = cdoc["type"]
                if ctype not in types:
                    raise ConfigError(f"{source}: {tname}.{cname}: unknown type {ctype!r}; define it under types:")
                cols[cname.upper()] = CanonicalColumn(
                    name=cname.upper(),
                    alias=str(cdoc["as"]),
                    type=ctype,
                    accepts=tuple(types[ctype]["accepts"]),
                    description=str(cdoc.get("description", "")),
                    personal=bool(cdoc.get("personal", False)),
                )
            date_column = tdoc.get("date_column")
            if load == "by_date" and (not date_column or date_column.upper() not in cols):
                raise ConfigError(f"{source}: table {tname} loads by_date but names no date_column among its columns")
            tables[tname.upper()] = CanonicalTable(
                name=tname.upper(),
                model=str(tdoc["model"]),
                load=load,
                columns=cols,
                description=str(tdoc.get("description", "")),
                date_column=date_column.upper() if date_column else None,
            )
        return Canonical(tables=tables, type_families=families)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{source}: malformed canonical model ({exc!r}); compare with config/canonical.yml") from exc


@lru_cache(maxsize=8)
def _load(path: str) -> Canonical:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"canonical model {p} not found; set IVORIS_CANONICAL or run from the project checkout")
    return parse_canonical(yaml.safe_load(p.read_text(encoding="utf-8")), str(p))


def load_canonical(path: Path | None = None) -> Canonical:
    return _load(str(path or canonical_path()))
