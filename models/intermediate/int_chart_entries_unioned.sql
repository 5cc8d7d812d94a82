-- Grain: one row per chart entry (KARTEI row) per center, deleted rows included (is_deleted = 1).
{{ config(materialized='ivoris_chunked_union', tags=['ivoris_nightly']) }}
{{ ivoris_union_of_centers('chart_entries', [
    ('center_id', ivoris_type_text(64)),
    ('entry_id', 'bigint'),
    ('patient_id', 'bigint'),
    ('entry_date', 'date'),
    ('chart_entry', ivoris_type_text()),
    ('is_deleted', 'int'),
    ('business_date', 'date'),
    ('loaded_at', ivoris_type_timestamp()),
    ('load_run_id', ivoris_type_text(64)),
]) }}
