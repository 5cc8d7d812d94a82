"""What the loader asks a center for, built from its approved mapping and config/canonical.yml.

Only canonical columns marked for loading are selected (never personal ones; nothing from
`load: none` tables). Identifiers are validated and quoted; dates are bound parameters, in the
form the center stores DATUM in (its type family). Each row's business date is derived from DATUM
in Arrow after the fetch, so the SQL stays the portable subset every source dialect accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from extract import layout
from extract.canonical import Canonical
from extract.errors import ConfigError
from extract.identifiers import check, qualified, quote
from extract.mapping import Mapping
from extract.warehouse.base import (
    FAMILY_ARROW,
    METADATA_COLUMNS,
    DirectCopy,
    RawColumn,
    RawTable,
    TableWrite,
    skipped_note,
)


@dataclass(frozen=True)
class TablePlan:
    """One canonical table of one center: the raw table it lands in and how to select it."""

    raw: RawTable
    source_schema: str | None
    date_column: str | None  # physical DATUM column (by_date tables)
    date_family: str | None  # integer | text | date | datetime
    physical_types: tuple[str, ...] = ()  # the mapped catalog type of each of raw.columns

    @property
    def from_clause(self) -> str:
        if self.source_schema:
            return qualified(self.source_schema, self.raw.physical, center_id=self.raw.center_id)
        return quote(self.raw.physical, center_id=self.raw.center_id)

    def select_sql(self) -> str:
        cols = ", ".join(quote(c.name, center_id=self.raw.center_id) for c in self.raw.columns)
        return f"SELECT {cols} FROM {self.from_clause}{self.date_filter()}"  # noqa: S608 - quoted identifiers

    def date_filter(self) -> str:
        """The WHERE clause on DATUM for params(); empty for snapshot tables."""
        if not self.raw.by_date:
            return ""
        datum = quote(self.date_column or "", center_id=self.raw.center_id)
        if self.date_family == "datetime":
            return f" WHERE {datum} >= ? AND {datum} < ?"
        return f" WHERE {datum} BETWEEN ? AND ?"

    def params(self, date_from: dt.date, date_to: dt.date) -> list:
        """Bound parameters for the date filter, in the center's DATUM representation."""
        if not self.raw.by_date:
            return []
        fam = self.date_family
        if fam == "integer":
            return [int(date_from.strftime("%Y%m%d")), int(date_to.strftime("%Y%m%d"))]
        if fam == "text":
            return [date_from.strftime("%Y%m%d"), date_to.strftime("%Y%m%d")]
        if fam == "date":
            return [date_from, date_to]
        if fam == "datetime":
            start = dt.datetime.combine(date_from, dt.time())
            return [start, dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time())]
        raise ConfigError(
            f"{self.raw.canonical}.{self.date_column}: cannot filter dates stored as {fam!r}",
            center_id=self.raw.center_id,
        )


def plan_tables(mapping: Mapping, canonical: Canonical, schema: str | None = None) -> list[TablePlan]:
    """The loaded tables of a center, in canonical order. Raises ConfigError if the mapping lacks one."""
    plans = []
    cid = mapping.center_id
    src_schema = mapping.schema or schema
    if src_schema:
        check(src_schema, what="schema", center_id=cid)
    for ct in canonical.loaded_tables:
        tm = mapping.tables.get(ct.name)
        if tm is None:
            raise ConfigError(
                f"approved mapping has no table for {ct.name}: run `ivoris discover --center {cid}`",
                center_id=cid,
            )
        check(tm.physical, what="table", center_id=cid)
        cols, types = [], []
        for cc in ct.loaded_columns:
            cm = tm.columns.get(cc.name)
            if cm is None:
                raise ConfigError(f"approved mapping has no column for {ct.name}.{cc.name}", center_id=cid)
            check(cm.physical, what="column", center_id=cid)
            if cm.family not in FAMILY_ARROW:
                raise ConfigError(
                    f"{ct.name}.{cc.name} ({cm.physical}) has unsupported type family {cm.family!r}",
                    center_id=cid,
                )
            if cm.physical.lower() in METADATA_COLUMNS:
                raise ConfigError(
                    f"{ct.name}.{cm.physical} collides with a load metadata column", center_id=cid
                )
            cols.append(RawColumn(cm.physical, cm.family, cc.name))
            types.append(cm.data_type)
        date_col = date_fam = None
        if ct.load == "by_date":
            dm = tm.columns[ct.date_column]
            date_col, date_fam = dm.physical, dm.family
        plans.append(
            TablePlan(
                raw=RawTable(
                    center_id=cid, canonical=ct.name, physical=tm.physical, load=ct.load, columns=tuple(cols)
                ),
                source_schema=src_schema,
                date_column=date_col,
                date_family=date_fam,
                physical_types=tuple(types),
            )
        )
    return plans


def business_dates(values: pa.Array, family: str) -> pa.Array:
    """DATUM as date32 per row; NULL where the stored value is not a valid date."""
    if family == "date":
        return pc.cast(values, pa.date32())
    if family == "datetime":
        if pa.types.is_timestamp(values.type) and values.type.tz is not None:
            values = pc.cast(values, pa.timestamp(values.type.unit))
        return pc.cast(values, pa.date32())
    if family == "integer":
        text = pc.cast(values, pa.string())
    elif family == "text":
        text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    else:
        raise ValueError(family)
    # strptime alone would accept '2026113'; demand exactly eight ASCII digits (4x faster than a regex)
    ok = pc.and_(pc.equal(pc.binary_length(text), 8), pc.ascii_is_decimal(text))
    text = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    parsed = pc.strptime(text, format="%Y%m%d", unit="s", error_is_null=True)
    return pc.cast(parsed, pa.date32())


def _column(values: pa.Array, target: pa.DataType, what: str, center_id: str) -> pa.Array:
    if values.type == target:
        return values
    try:
        if pa.types.is_timestamp(target) and pa.types.is_timestamp(values.type):
            if values.type.tz is not None:
                values = pc.cast(values, pa.timestamp(values.type.unit))
            return pc.cast(values, target, safe=False)  # sub-microsecond precision is not kept
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConfigError(
            f"{what}: the source returned {values.type}, which does not convert to {target} ({exc}); "
            "the live type no longer matches the approved mapping: run discovery and review",
            center_id=center_id,
        ) from exc


def conform_batches(
    plan: TablePlan,
    batches: Iterator[pa.RecordBatch],
    write: TableWrite,
    *,
    date_from: dt.date | None,
    date_to: dt.date | None,
    loaded_at: dt.datetime,
    run_id: str,
) -> Iterator[pa.RecordBatch]:
    """Source batches -> batches in the raw table's schema (mapped types, business date, metadata).

    Counts what the source returned into `write.rows_read`; rows whose DATUM is not a readable date
    in the requested range are not written, and a note says how many.
    """
    raw = plan.raw
    schema = raw.arrow_schema()
    date_idx = [c.name for c in raw.columns].index(plan.date_column) if raw.by_date else None
    skipped = 0
    loaded_at_value = pa.scalar(loaded_at, pa.timestamp("us"))
    run_id_value = pa.scalar(run_id, pa.string())
    if raw.by_date:
        lo, hi = pa.scalar(date_from, pa.date32()), pa.scalar(date_to, pa.date32())
    for batch in batches:
        if batch.num_columns != len(raw.columns):
            raise ConfigError(
                f"{raw.physical}: expected {len(raw.columns)} columns, got {batch.num_columns}",
                center_id=raw.center_id,
            )
        arrays = [
            _column(batch.column(i), c.arrow_type, f"{raw.physical}.{c.name}", raw.center_id)
            for i, c in enumerate(raw.columns)
        ]
        n = batch.num_rows
        if raw.by_date:
            bdates = business_dates(batch.column(date_idx), plan.date_family or "")
            # NULL (not a date) compares to NULL: and_kleene + fill_null drop those rows too
            keep = pc.fill_null(pc.and_kleene(pc.greater_equal(bdates, lo), pc.less_equal(bdates, hi)), False)
            for item in pc.value_counts(bdates):
                day = item["values"].as_py()
                write.rows_read[day] = write.rows_read.get(day, 0) + item["counts"].as_py()
            kept = pc.sum(keep).as_py() or 0
            if kept != n:
                skipped += n - kept
                arrays = [pc.filter(a, keep) for a in arrays]
                bdates = pc.filter(bdates, keep)
                n = kept
            arrays.append(bdates)
        else:
            write.rows_read[None] = write.rows_read.get(None, 0) + n
        # constant columns built in Arrow, never as n Python objects
        arrays.append(pa.repeat(loaded_at_value, n))
        arrays.append(pa.repeat(run_id_value, n))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    if skipped:
        write.notes.append(skipped_note(skipped))


# --- in-warehouse copy (a DuckDB center file into the DuckDB warehouse) ---------------------------
# The warehouse ATTACHes the center file read-only and runs INSERT … SELECT: the rows never pass
# through Python, which makes a backfill ~2.5x faster. The SQL conforms rows exactly as
# conform_batches does in Arrow (tests load the demo both ways and compare every raw row).

# What pc.utf8_trim_whitespace trims in practice: ASCII whitespace and the no-break space.
_WHITESPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)"
_SQL_TYPE = {"integer": "BIGINT", "text": "VARCHAR", "date": "DATE", "datetime": "TIMESTAMP", "boolean": "BOOLEAN"}
# Physical types whose conversion the SQL reproduces exactly; any other (a TIMESTAMPTZ, say) is
# copied through Arrow.
_DIRECT_TYPES = {
    "integer": {"tinyint", "smallint", "integer", "int", "bigint", "int1", "int2", "int4", "int8"},
    "text": {"varchar", "char", "text", "string", "bpchar"},
    "date": {"date"},
    "datetime": {"timestamp", "datetime", "timestamp_us"},
    "boolean": {"boolean", "bool"},
}


# {...}: validated, quoted identifiers and the SQL built from them; values are always ? parameters
T_DIRECT_CONFORM = "SELECT {casts}, {business_date} AS {bd} FROM {source}{where}"
T_DIRECT_INSERT_DATED = (
    "INSERT INTO {target} ({columns}) SELECT {names}, {bd}, ?, ? FROM ({inner}) AS conformed "
    "WHERE {bd} BETWEEN ? AND ?"
)
T_DIRECT_INSERT_SNAPSHOT = "INSERT INTO {target} ({columns}) SELECT {casts}, ?, ? FROM {source}"
# a snapshot's rows as a multiset: row count and the sum of the row hashes (see DirectCopy.digest_sql)
T_DIRECT_DIGEST = "SELECT count(*) AS n, sum(hash({names})) AS h FROM (SELECT {casts} FROM {source}) AS conformed"


def business_date_sql(column: str, family: str) -> str:
    """business_dates() as DuckDB SQL: DATUM as a DATE, NULL where it is not a valid date."""
    if family in ("date", "datetime"):
        return f"CAST({column} AS DATE)"
    if family == "integer":  # eight decimal digits: exactly the integers 10000000..99999999
        return (
            f"CASE WHEN {column} BETWEEN 10000000 AND 99999999 "
            f"THEN CAST(try_strptime(CAST({column} AS VARCHAR), '%Y%m%d') AS DATE) END"
        )
    if family == "text":
        text = f"trim({column}, {_WHITESPACE})"
        return (
            f"CASE WHEN regexp_full_match({text}, '[0-9]{{8}}') "
            f"THEN CAST(try_strptime({text}, '%Y%m%d') AS DATE) END"
        )
    raise ValueError(family)


def direct_copy_supported(plan: TablePlan) -> bool:
    """Whether direct_copy reproduces conform_batches for this table (by the mapped physical types)."""
    if len(plan.physical_types) != len(plan.raw.columns):
        return False
    for col, data_type in zip(plan.raw.columns, plan.physical_types, strict=True):
        if data_type.lower().split("(")[0].strip() not in _DIRECT_TYPES.get(col.family, ()):
            return False
    return True


def direct_copy(
    plan: TablePlan, alias: str, date_from: dt.date | None, date_to: dt.date | None, loaded_at, run_id: str
) -> DirectCopy:
    raw = plan.raw
    cid = raw.center_id
    schema = plan.source_schema or "main"
    source = f"{quote(alias)}.{qualified(schema, raw.physical, center_id=cid)}"
    names = [quote(c.name, center_id=cid) for c in raw.columns]
    casts = [f"CAST({n} AS {_SQL_TYPE[c.family]}) AS {n}" for n, c in zip(names, raw.columns, strict=True)]
    where = plan.date_filter()
    params = plan.params(date_from, date_to) if raw.by_date else []
    bd = quote(layout.BUSINESS_DATE)
    meta = [quote(layout.LOADED_AT), quote(layout.RUN_ID)]
    target = qualified(raw.schema, raw.physical)
    if raw.by_date:
        inner = T_DIRECT_CONFORM.format(
            casts=", ".join(casts),
            business_date=business_date_sql(quote(plan.date_column or "", center_id=cid), plan.date_family or ""),
            bd=bd,
            source=source,
            where=where,
        )
        insert = T_DIRECT_INSERT_DATED.format(
            target=target, columns=", ".join([*names, bd, *meta]), names=", ".join(names), bd=bd, inner=inner
        )
        insert_params = [loaded_at, run_id, *params, date_from, date_to]  # in the order of the ?s
    else:
        insert = T_DIRECT_INSERT_SNAPSHOT.format(
            target=target, columns=", ".join([*names, *meta]), casts=", ".join(casts), source=source
        )
        insert_params = [loaded_at, run_id]
    count = f"SELECT count(*) AS n FROM {source}{where}"  # noqa: S608 - validated, quoted identifiers
    digest = None
    if not raw.by_date:
        digest = T_DIRECT_DIGEST.format(names=", ".join(names), casts=", ".join(casts), source=source)
    return DirectCopy(insert, insert_params, count, list(params), digest)
