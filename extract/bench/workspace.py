"""An isolated place to measure in: a temporary copy of the dbt project, its own warehouse file and
its own centers, with IVORIS_PROJECT_DIR / IVORIS_DUCKDB_PATH / IVORIS_CONFIG pointing there while
the bench runs — so the user's demo, warehouse and generated models are never touched."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from extract.paths import project_dir

# dbt's defaults for the *-paths keys of dbt_project.yml.
DBT_PATH_KEYS = {
    "model-paths": ["models"],
    "macro-paths": ["macros"],
    "seed-paths": ["seeds"],
    "test-paths": ["tests"],
    "analysis-paths": ["analyses"],
    "snapshot-paths": ["snapshots"],
    "docs-paths": [],
}
TOP_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml", "config/canonical.yml")
SKIP_DIRS = {"target", "logs", "dbt_packages", "__pycache__", ".venv"}


def _generated(path: Path) -> bool:
    """Files `ivoris render` generated for the user's centers: the bench renders its own."""
    if path.suffix not in (".sql", ".yml", ".yaml", ".md"):
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            head = fh.read(400).lower()
    except OSError:
        return False
    from extract.render.render import GENERATED_MARK

    return GENERATED_MARK in head


def copy_project(src: Path, dst: Path) -> Path:
    """Copy what dbt and the renderer read (no Python tests, no data, no user-generated models)."""
    dst.mkdir(parents=True, exist_ok=True)
    for rel in TOP_FILES:
        if (src / rel).exists():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dst / rel)
    doc = (
        yaml.safe_load((src / "dbt_project.yml").read_text(encoding="utf-8"))
        if (src / "dbt_project.yml").exists()
        else {}
    )
    dirs: set[str] = set()
    for key, default in DBT_PATH_KEYS.items():
        dirs.update((doc or {}).get(key) or default)
    for rel in sorted(dirs):
        # Python tests live in tests/ too; only copy a test dir dbt_project.yml names explicitly.
        if rel == "tests" and "test-paths" not in (doc or {}):
            continue
        if (src / rel).is_dir():
            shutil.copytree(
                src / rel,
                dst / rel,
                dirs_exist_ok=True,
                ignore=lambda d, names: [n for n in names if n in SKIP_DIRS or _generated(Path(d) / n)],
            )
    return dst


@contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def isolated_project(root: Path, name: str, config_path: Path) -> Iterator[Path]:
    """A fresh project copy + warehouse under root/name, active (env) inside the block."""
    proj = copy_project(project_dir(), root / name / "project")
    warehouse = root / name / "warehouse.duckdb"
    with environment(
        IVORIS_PROJECT_DIR=str(proj),
        IVORIS_DUCKDB_PATH=str(warehouse),
        IVORIS_CONFIG=str(config_path),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    ):
        yield proj
