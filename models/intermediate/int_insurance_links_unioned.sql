-- Grain: one row per patient-to-insurer link (PATKASSE row) per center, deleted rows included.
{{ config(materialized='ivoris_chunked_union', tags=['ivoris_nightly']) }}
{{ ivoris_union_of_centers('insurance_links', [
    ('center_id', ivoris_type_text(64)),
    ('link_id', 'bigint'),
    ('patient_id', 'bigint'),
    ('insurer_id', 'bigint'),
    ('is_deleted', 'int'),
    ('loaded_at', ivoris_type_timestamp()),
    ('load_run_id', ivoris_type_text(64)),
]) }}
