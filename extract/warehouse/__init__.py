"""Staging writers (the warehouse dbt builds from). One module per backend, same interface
(extract.warehouse.base.Warehouse); adding a backend = one new module plus its entry in BACKENDS.

The backend is chosen by env IVORIS_TARGET (the dbt target name: `duckdb`, the default, or
`sqlserver`).
"""

from __future__ import annotations

import importlib
import os

from extract.errors import ConfigError
from extract.warehouse.base import Warehouse

BACKENDS = {"duckdb": "extract.warehouse.duckdb", "sqlserver": "extract.warehouse.sqlserver"}


def target_name() -> str:
    return os.environ.get("IVORIS_TARGET", "duckdb")


def open_warehouse(name: str | None = None, **kwargs) -> Warehouse:
    name = name or target_name()
    if name not in BACKENDS:
        raise ConfigError(f"unknown warehouse target {name!r} (IVORIS_TARGET): use one of {sorted(BACKENDS)}")
    return importlib.import_module(BACKENDS[name]).open_warehouse(**kwargs)


def run_lock(timeout_s: float, name: str | None = None):
    """The target's run lock without opening the warehouse (the pipeline holds it around load and
    dbt build; load takes it again re-entrantly)."""
    name = name or target_name()
    return importlib.import_module(BACKENDS[name]).run_lock(timeout_s)


__all__ = ["BACKENDS", "Warehouse", "open_warehouse", "run_lock", "target_name"]
