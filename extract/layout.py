"""Names in the staging database (warehouse) shared by the loader, the renderer and dbt.

Raw tables keep each center's physical names so the generated dbt sources describe them
faithfully: schema `raw_<center_id>`, table = the center's physical table name, columns = the
physical names of the canonical columns marked for loading, plus the load metadata below.
"""

from __future__ import annotations

META_SCHEMA = "ivoris_meta"
AUDIT_TABLE = "load_audit"  # one row per (run, center, business date or snapshot, canonical table)
STATE_TABLE = "load_state"  # last successful business date per center (for --catch-up)

# Metadata columns the loader adds to every raw table.
BUSINESS_DATE = "_business_date"  # DATE; by_date tables only: the partition key with the center
LOADED_AT = "_loaded_at"  # TIMESTAMP (UTC) of the transaction that wrote the partition
RUN_ID = "_run_id"  # the run that wrote it (also in the audit table)


def raw_schema(center_id: str) -> str:
    return f"raw_{center_id}"


def staging_model(center_id: str, model: str) -> str:
    """dbt model name of a center's staging model, e.g. stg_center_01__chart_entries."""
    return f"stg_{center_id}__{model}"


def source_name(center_id: str) -> str:
    """dbt source name of a center's raw tables."""
    return f"raw_{center_id}"
