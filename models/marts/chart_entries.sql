-- Grain: one row per non-deleted chart entry per center; (center_id, entry_id) is unique.
-- Semantics: DESIGN.md "Canonical output" (deletions, current insurer, service codes).
with

entries as (

    select
        center_id,
        entry_id,
        patient_id,
        entry_date,
        chart_entry
    from {{ ref('int_chart_entries_unioned') }}
    where is_deleted = 0

),

centers as (

    select
        center_id,
        center_name
    from {{ ref('int_centers') }}

),

ranked_links as (

    -- of a patient's non-deleted links, the highest id is the current insurer
    select
        center_id,
        patient_id,
        insurer_id,
        row_number() over (
            partition by center_id, patient_id
            order by link_id desc
        ) as link_rank
    from {{ ref('int_insurance_links_unioned') }}
    where is_deleted = 0

),

current_links as (

    select
        center_id,
        patient_id,
        insurer_id
    from ranked_links
    where link_rank = 1

),

insurers as (

    select
        center_id,
        insurer_id,
        insurer_name,
        trim(insurance_type_code) as insurance_type_code
    from {{ ref('int_insurers_unioned') }}
    where is_deleted = 0

),

insurance_types as (

    select
        insurance_type_code,
        insurance_status,
        match_any_case
    from {{ ref('insurance_type_codes') }}

),

patient_insurance as (

    -- a link to a missing or deleted insurer, or a blank code, means self-pay; codes match the
    -- seed exactly (binary), or in any case where the seed says so (P); a code the seed does not
    -- know counts as statutory and is reported by the warning test assert_insurance_type_codes_known
    select
        current_links.center_id,
        current_links.patient_id,
        insurers.insurer_name as insurance_name,
        case
            when insurers.insurer_id is null then 'Selbstzahler'
            when coalesce(insurers.insurance_type_code, '') = '' then 'Selbstzahler'
            when exact_types.insurance_status is not null then exact_types.insurance_status
            when any_case_types.insurance_status is not null then any_case_types.insurance_status
            else 'GKV'
        end as insurance_status
    from current_links
    left join insurers
        on
            current_links.center_id = insurers.center_id
            and current_links.insurer_id = insurers.insurer_id
    left join insurance_types as exact_types
        on
            {{ ivoris_binary_collation('insurers.insurance_type_code') }}
            = {{ ivoris_binary_collation('exact_types.insurance_type_code') }}
    left join insurance_types as any_case_types
        on
            upper(insurers.insurance_type_code) = upper(any_case_types.insurance_type_code)
            and any_case_types.match_any_case = 1

),

distinct_services as (

    -- distinct in binary: '13a' and '13A' are two codes on both targets
    select distinct
        center_id,
        patient_id,
        service_date,
        {{ ivoris_binary_collation('service_code') }} as service_code
    from {{ ref('int_services_unioned') }}
    where
        is_deleted = 0
        and service_code is not null

),

service_lists as (

    select
        center_id,
        patient_id,
        service_date,
        {{ ivoris_sorted_list('service_code') }} as service_codes
    from distinct_services
    group by center_id, patient_id, service_date

),

final as (

    select
        entries.center_id,
        centers.center_name,
        entries.entry_id,
        entries.entry_date,
        entries.patient_id,
        coalesce(patient_insurance.insurance_status, 'Selbstzahler') as insurance_status,
        patient_insurance.insurance_name,
        entries.chart_entry,
        service_lists.service_codes
    from entries
    left join centers
        on entries.center_id = centers.center_id
    left join patient_insurance
        on
            entries.center_id = patient_insurance.center_id
            and entries.patient_id = patient_insurance.patient_id
    left join service_lists
        on
            entries.center_id = service_lists.center_id
            and entries.patient_id = service_lists.patient_id
            and entries.entry_date = service_lists.service_date

)

select * from final
