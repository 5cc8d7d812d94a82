-- Grain: one row per insurer (KASSEN row) per center, deleted rows included (is_deleted = 1).
{{ config(materialized='ivoris_chunked_union', tags=['ivoris_nightly']) }}
{{ ivoris_union_of_centers('insurers', [
    ('center_id', ivoris_type_text(64)),
    ('insurer_id', 'bigint'),
    ('insurer_name', ivoris_type_text()),
    ('insurance_type_code', ivoris_type_text()),
    ('is_deleted', 'int'),
    ('loaded_at', ivoris_type_timestamp()),
    ('load_run_id', ivoris_type_text(64)),
]) }}
