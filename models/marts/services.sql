-- Grain: one row per non-deleted billed service (LEISTUNG row) per center; (center_id, service_id)
-- is unique. The relational form of chart_entries.service_codes (join on center, patient, date).
with

services as (

    select
        center_id,
        service_id,
        patient_id,
        service_date,
        service_code
    from {{ ref('int_services_unioned') }}
    where is_deleted = 0

),

centers as (

    select
        center_id,
        center_name
    from {{ ref('int_centers') }}

),

catalogue as (

    select
        service_code,
        catalogue,
        description
    from {{ ref('service_codes') }}

),

final as (

    select
        services.center_id,
        centers.center_name,
        services.service_id,
        services.service_date,
        services.patient_id,
        services.service_code,
        catalogue.catalogue as service_catalogue,
        catalogue.description as service_description
    from services
    left join centers
        on services.center_id = centers.center_id
    left join catalogue
        on services.service_code = catalogue.service_code

)

select * from final
