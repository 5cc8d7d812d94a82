"""config/centers.yml: the list of centers and how to reach each. Secrets never live here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from extract.errors import ConfigError
from extract.identifiers import check, check_center_id
from extract.paths import default_config_path

SOURCE_TYPES = ("duckdb", "mssql")


@dataclass(frozen=True)
class SourceConfig:
    type: str
    schema: str | None = None  # discovered when absent
    # duckdb
    path: Path | None = None
    # mssql (pyodbc)
    server: str | None = None
    port: int | None = None
    database: str | None = None
    driver: str = "ODBC Driver 18 for SQL Server"
    encrypt: bool = True
    trust_server_certificate: bool = False
    login_timeout_s: int = 15
    query_timeout_s: int = 600
    # names of the environment variables holding the credentials
    user_env: str = "IVORIS_MSSQL_USER"
    password_env: str = "IVORIS_MSSQL_PASSWORD"
    options: dict[str, str] = field(default_factory=dict)  # extra ODBC keywords (no secrets)

    def describe(self) -> str:
        """Where the center lives, without any secret."""
        if self.type == "duckdb":
            return f"duckdb file {self.path}"
        return f"mssql {self.server}:{self.port or 1433}/{self.database}"


@dataclass(frozen=True)
class Center:
    id: str
    name: str
    city: str
    source: SourceConfig


@dataclass(frozen=True)
class Settings:
    config_path: Path
    centers: tuple[Center, ...]
    first_business_date: dt.date | None = None  # where catch-up starts for a center with no loads

    @property
    def mappings_dir(self) -> Path:
        return self.config_path.parent / "mappings"

    def mapping_path(self, center_id: str) -> Path:
        return self.mappings_dir / f"{center_id}.yml"

    def center(self, center_id: str) -> Center:
        for c in self.centers:
            if c.id == center_id:
                return c
        known = ", ".join(c.id for c in self.centers[:10])
        raise ConfigError(f"no center {center_id!r} in {self.config_path} (known: {known}…)")

    def select(self, center_ids: list[str] | None) -> list[Center]:
        if not center_ids:
            return list(self.centers)
        return [self.center(cid) for cid in center_ids]


def _source(center_id: str, doc: dict, base: Path) -> SourceConfig:
    stype = doc.get("type")
    if stype not in SOURCE_TYPES:
        raise ConfigError(f"source.type must be one of {SOURCE_TYPES}, not {stype!r}", center_id=center_id)
    for secret in ("password", "pwd", "user", "uid", "username"):
        if secret in {k.lower() for k in doc} or secret in {k.lower() for k in doc.get("options", {}) or {}}:
            raise ConfigError(
                f"source has a {secret!r} key: credentials come from the environment "
                "(source.user_env / source.password_env), never from config/centers.yml",
                center_id=center_id,
            )
    schema = doc.get("schema")
    if schema is not None:
        check(str(schema), what="schema", center_id=center_id)
    if stype == "duckdb":
        if not doc.get("path"):
            raise ConfigError("duckdb source needs source.path", center_id=center_id)
        path = Path(doc["path"])
        return SourceConfig(type="duckdb", schema=schema, path=path if path.is_absolute() else base / path)
    for key in ("server", "database"):
        if not doc.get(key):
            raise ConfigError(f"mssql source needs source.{key}", center_id=center_id)
    known = {f for f in SourceConfig.__dataclass_fields__} - {"type", "path", "schema"}
    extra = set(doc) - known - {"type", "schema"}
    if extra:
        raise ConfigError(f"unknown source keys {sorted(extra)}", center_id=center_id)
    kwargs = {k: doc[k] for k in known if k in doc}
    if "options" in kwargs:
        kwargs["options"] = {str(k): str(v) for k, v in (kwargs["options"] or {}).items()}
    return SourceConfig(type="mssql", schema=schema, **kwargs)


def parse_settings(doc: dict, config_path: Path, base: Path | None = None) -> Settings:
    base = base or Path.cwd()
    if not isinstance(doc, dict) or not isinstance(doc.get("centers"), list):
        raise ConfigError(f"{config_path}: expected a top-level `centers:` list")
    centers, seen = [], set()
    for i, cdoc in enumerate(doc["centers"]):
        if not isinstance(cdoc, dict) or "id" not in cdoc or "source" not in cdoc:
            raise ConfigError(f"{config_path}: centers[{i}] needs id, name and source")
        cid = check_center_id(str(cdoc["id"]))
        if cid in seen:
            raise ConfigError(f"{config_path}: center {cid} is listed twice")
        seen.add(cid)
        centers.append(
            Center(
                id=cid,
                name=str(cdoc.get("name", cid)),
                city=str(cdoc.get("city", "")),
                source=_source(cid, cdoc["source"], base),
            )
        )
    first = doc.get("first_business_date")
    if isinstance(first, str):
        first = dt.date.fromisoformat(first)
    return Settings(config_path=config_path, centers=tuple(centers), first_business_date=first)


def load_settings(path: Path | str | None = None) -> Settings:
    """Read the center list. Relative source paths resolve against the current directory."""
    config_path = Path(path) if path else default_config_path()
    if not config_path.exists():
        raise ConfigError(
            f"{config_path} not found: run `ivoris demo` to generate demo centers, "
            "or pass --config / set IVORIS_CONFIG"
        )
    try:
        doc = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path} is not valid YAML: {exc}") from exc
    return parse_settings(doc, config_path)
