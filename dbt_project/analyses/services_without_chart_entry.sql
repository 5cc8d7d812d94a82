-- Billed services with no chart entry of the same center, patient and date.
select
    services.center_id,
    services.service_date,
    services.patient_id,
    services.service_code
from {{ ref('services') }} as services
left join {{ ref('chart_entries') }} as chart_entries
    on
        services.center_id = chart_entries.center_id
        and services.patient_id = chart_entries.patient_id
        and services.service_date = chart_entries.entry_date
where chart_entries.entry_id is null
