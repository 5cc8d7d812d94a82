{#- Folder schemas (staging, intermediate, marts, seeds) are used as-is on every target, so the
    canonical table is `marts.chart_entries`, not `<target schema>_marts`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
