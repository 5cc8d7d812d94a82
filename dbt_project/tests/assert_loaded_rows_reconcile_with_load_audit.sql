-- Every partition the loader reports as written (the latest 'ok' row of ivoris_meta.load_audit per
-- center, business date and canonical table) holds exactly that many rows in the unions, and the
-- unions hold no partition the loader did not report. Only rendered centers are compared.
-- Grain of the result: one row per center, business date (NULL for snapshots) and canonical table
-- whose counts differ.
{{ config(tags=['ivoris_nightly']) }}
{%- set audit = source('ivoris_meta', 'load_audit') %}

with

{% if ivoris_relation_exists(audit) -%}
ranked_audit as (

    select
        center_id,
        business_date,
        canonical_table,
        rows_written,
        row_number() over (
            partition by center_id, business_date, canonical_table
            order by finished_at desc, run_id desc
        ) as audit_rank
    from {{ audit }}
    where status = 'ok'

),

expected as (

    select
        ranked_audit.center_id,
        ranked_audit.business_date,
        ranked_audit.canonical_table,
        ranked_audit.rows_written
    from ranked_audit
    inner join {{ ref('int_centers') }} as centers
        on ranked_audit.center_id = centers.center_id
    where ranked_audit.audit_rank = 1

),
{%- else -%}
expected as (

    -- no audit table yet (nothing loaded): every staged row is unexplained
    select
        cast(null as {{ ivoris_type_text(64) }}) as center_id,
        cast(null as date) as business_date,
        cast(null as {{ ivoris_type_text(64) }}) as canonical_table,
        cast(null as bigint) as rows_written
    where 1 = 0

),
{%- endif %}

actual as (

    select
        center_id,
        business_date,
        'KARTEI' as canonical_table,
        count(*) as rows_staged
    from {{ ref('int_chart_entries_unioned') }}
    group by center_id, business_date

    union all

    select
        center_id,
        business_date,
        'LEISTUNG' as canonical_table,
        count(*) as rows_staged
    from {{ ref('int_services_unioned') }}
    group by center_id, business_date

    union all

    select
        center_id,
        cast(null as date) as business_date,
        'KASSEN' as canonical_table,
        count(*) as rows_staged
    from {{ ref('int_insurers_unioned') }}
    group by center_id

    union all

    select
        center_id,
        cast(null as date) as business_date,
        'PATKASSE' as canonical_table,
        count(*) as rows_staged
    from {{ ref('int_insurance_links_unioned') }}
    group by center_id

)

select
    coalesce(expected.center_id, actual.center_id) as center_id,
    coalesce(expected.business_date, actual.business_date) as business_date,
    coalesce(expected.canonical_table, actual.canonical_table) as canonical_table,
    expected.rows_written,
    actual.rows_staged
from expected
full outer join actual
    on
        expected.center_id = actual.center_id
        and expected.canonical_table = actual.canonical_table
        and coalesce(expected.business_date, cast('1900-01-01' as date))
        = coalesce(actual.business_date, cast('1900-01-01' as date))
where coalesce(expected.rows_written, 0) <> coalesce(actual.rows_staged, 0)
