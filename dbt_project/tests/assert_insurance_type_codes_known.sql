-- Reports (warning) every KASSEN.ART code of a non-deleted insurer that seed insurance_type_codes
-- does not list: chart_entries counts it as GKV until a reviewer adds it to the seed.
-- Grain of the result: one row per center and unknown code.
{{ config(severity='warn', tags=['ivoris_nightly']) }}

with

insurers as (

    select
        center_id,
        trim(insurance_type_code) as insurance_type_code
    from {{ ref('int_insurers_unioned') }}
    where
        is_deleted = 0
        and coalesce(trim(insurance_type_code), '') <> ''

),

known_codes as (

    select
        insurance_type_code,
        match_any_case
    from {{ ref('insurance_type_codes') }}

)

select
    insurers.center_id,
    insurers.insurance_type_code,
    count(*) as insurers
from insurers
where not exists (
    select 1
    from known_codes
    where
        {{ ivoris_binary_collation('known_codes.insurance_type_code') }}
        = {{ ivoris_binary_collation('insurers.insurance_type_code') }}
        or (
            known_codes.match_any_case = 1
            and upper(known_codes.insurance_type_code) = upper(insurers.insurance_type_code)
        )
)
group by insurers.center_id, insurers.insurance_type_code
