"""Validation and quoting of identifiers that reach SQL.

Names come from a center's catalog (untrusted) or config. Only names made of letters, digits,
underscores (and, for tables and schemas, spaces/dashes/dollar signs seen in legacy systems)
are accepted; everything is double-quoted, which SQL Server (QUOTED_IDENTIFIER ON, the ODBC
default), DuckDB and PostgreSQL all accept. Values never go through here: they are bound
parameters.
"""

from __future__ import annotations

import re

from extract.errors import UnsafeIdentifierError

SAFE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,127}$")
SAFE_CENTER_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def is_safe(name: str) -> bool:
    return bool(SAFE_IDENTIFIER.fullmatch(name or ""))


def check(name: str, *, what: str = "identifier", center_id: str | None = None) -> str:
    if not is_safe(name):
        raise UnsafeIdentifierError(
            f"{what} {name!r} is not a plain SQL identifier (letters, digits, _ or $); "
            "it is not used. Rename the object or map another one.",
            center_id=center_id,
        )
    return name


def quote(name: str, *, center_id: str | None = None) -> str:
    """Double-quote a validated identifier."""
    check(name, center_id=center_id)
    return '"' + name + '"'


def qualified(*parts: str, center_id: str | None = None) -> str:
    return ".".join(quote(p, center_id=center_id) for p in parts if p)


def check_center_id(center_id: str) -> str:
    if not SAFE_CENTER_ID.fullmatch(center_id or ""):
        raise UnsafeIdentifierError(
            f"center id {center_id!r} must be lower-case letters, digits and _ (starting with a letter), "
            "because it names dbt models and warehouse schemas; fix it in config/centers.yml."
        )
    return center_id
