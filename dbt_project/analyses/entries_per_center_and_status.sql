-- Chart entries per center and insurance status since a date (var `since`, default 2024-01-01):
-- a starting point for analysts (`dbt compile -s entries_per_center_and_status --vars '{since: 2025-01-01}'`).
select
    center_id,
    center_name,
    insurance_status,
    count(*) as chart_entries,
    count(service_codes) as entries_with_services
from {{ ref('chart_entries') }}
where entry_date >= cast('{{ var("since", "2024-01-01") }}' as date)
group by center_id, center_name, insurance_status
