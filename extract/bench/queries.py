"""The source queries the comparison loaders run: the same rows our loader copies, built from the
approved mappings (loaded columns of each loaded canonical table; by_date tables filtered to the
business dates in their own date representation, snapshot tables whole)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from extract.canonical import Canonical
from extract.config import Center, Settings
from extract.identifiers import quote
from extract.mapping import load_approved


@dataclass(frozen=True)
class TableQuery:
    center_id: str
    canonical: str  # KARTEI
    physical: str  # KARTEI_MN (the raw table keeps the center's name)
    by_date: bool
    select_sql: str  # SELECT … FROM "schema"."table" [WHERE date filter with ? placeholders]
    params: tuple[Any, ...]

    def sql(self, catalog: str | None = None) -> str:
        """The query; with `catalog`, its FROM names the table inside an ATTACHed database."""
        if not catalog:
            return self.select_sql
        head, sep, rest = self.select_sql.partition(" FROM ")
        return f"{head}{sep}{quote(catalog)}.{rest}"


def center_queries(
    settings: Settings, center: Center, canonical: Canonical, date_from: dt.date, date_to: dt.date
) -> list[TableQuery]:
    """The loader's own SELECTs (extract.load.queries.plan_tables) for one center and date range."""
    from extract.load.queries import plan_tables

    mapping = load_approved(settings.mapping_path(center.id), center.id)
    return [
        TableQuery(
            center_id=center.id,
            canonical=p.raw.canonical,
            physical=p.raw.physical,
            by_date=p.raw.by_date,
            select_sql=p.select_sql(),
            params=tuple(p.params(date_from, date_to)),
        )
        for p in plan_tables(mapping, canonical, center.source.schema)
    ]


def expected_rows(settings: Settings, canonical: Canonical, date_from: dt.date, date_to: dt.date) -> int:
    """What every loader must copy for these dates: counted at the sources with the same filters."""
    from extract.sources import open_source

    total = 0
    for center in settings.centers:
        with open_source(center) as src:
            for q in center_queries(settings, center, canonical, date_from, date_to):
                batches = list(src.fetch_batches(f"SELECT count(*) AS n FROM ({q.sql()}) AS q", q.params))  # noqa: S608
                total += int(batches[0].column(0)[0].as_py())
    return total
