"""Center readers. One module per backend, each exposing `open_source(center) -> Source`.

Adding a backend = one new module here plus its entry in BACKENDS.
"""

from __future__ import annotations

import importlib

from extract.config import Center
from extract.sources.base import CatalogColumn, Source

BACKENDS = {"duckdb": "extract.sources.duckdb", "mssql": "extract.sources.mssql"}


def open_source(center: Center) -> Source:
    """Open a center read-only. Raises SourceUnavailableError naming the center on failure."""
    module = importlib.import_module(BACKENDS[center.source.type])
    return module.open_source(center)


__all__ = ["CatalogColumn", "Source", "open_source", "BACKENDS"]
