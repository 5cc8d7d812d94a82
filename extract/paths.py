"""Where things live: the dbt project root, the canonical model, the warehouse file."""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The dbt project root (repository root): env IVORIS_PROJECT_DIR, else the checkout holding this package."""
    env = os.environ.get("IVORIS_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[1]
    if (here / "dbt_project.yml").exists():
        return here
    return Path.cwd().resolve()


def canonical_path() -> Path:
    return Path(os.environ.get("IVORIS_CANONICAL", project_dir() / "config" / "canonical.yml"))


def default_config_path() -> Path:
    return Path(os.environ.get("IVORIS_CONFIG", "config/centers.yml"))


def duckdb_warehouse_path() -> Path:
    """The DuckDB warehouse (env IVORIS_DUCKDB_PATH), resolved against the project dir like dbt's profile."""
    raw = Path(os.environ.get("IVORIS_DUCKDB_PATH", "warehouse/ivoris.duckdb"))
    return raw if raw.is_absolute() else (project_dir() / raw)
