{#- Column types the models cast to. dbt.type_string() is varchar(8000) on SQL Server, which
    would drop non-Latin-1 characters: text is nvarchar there. -#}
{% macro ivoris_type_text(size=none) -%}
    {{ return(adapter.dispatch('ivoris_type_text', 'ivoris')(size)) }}
{%- endmacro %}

{% macro default__ivoris_type_text(size=none) -%}
    {{ return('varchar') }}
{%- endmacro %}

{% macro sqlserver__ivoris_type_text(size=none) -%}
    {{ return('nvarchar(' ~ (size if size else 'max') ~ ')') }}
{%- endmacro %}


{#- A string literal for a value from config (center names): quotes doubled; N'' on SQL Server
    so that any Unicode character survives. -#}
{% macro ivoris_string_literal(value) -%}
    {{ return(adapter.dispatch('ivoris_string_literal', 'ivoris')(value)) }}
{%- endmacro %}

{% macro default__ivoris_string_literal(value) -%}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}

{% macro sqlserver__ivoris_string_literal(value) -%}
    {{ return("N'" ~ (value | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}


{#- A text expression compared and sorted by code point (binary), the same on both targets: DuckDB
    compares strings bytewise by default; SQL Server's default collation is case-insensitive
    ('s' = 'S', '13a' = '13A'), so it gets an explicit binary collation. -#}
{% macro ivoris_binary_collation(expression) -%}
    {{ return(adapter.dispatch('ivoris_binary_collation', 'ivoris')(expression)) }}
{%- endmacro %}

{% macro default__ivoris_binary_collation(expression) -%}
    {{ return(expression) }}
{%- endmacro %}

{% macro sqlserver__ivoris_binary_collation(expression) -%}
    {{ return(expression ~ ' collate Latin1_General_BIN2') }}
{%- endmacro %}


{#- Timestamp type of the load metadata (dbt.type_timestamp() is upper case on SQL Server). -#}
{% macro ivoris_type_timestamp() -%}
    {{ return(adapter.dispatch('ivoris_type_timestamp', 'ivoris')()) }}
{%- endmacro %}

{% macro default__ivoris_type_timestamp() -%}
    {{ return('timestamp') }}
{%- endmacro %}

{% macro sqlserver__ivoris_type_timestamp() -%}
    {{ return('datetime2(6)') }}
{%- endmacro %}


{#- The values of a group joined with ',' in binary (code point) order: chart_entries' service
    codes. dbt.listagg (string_agg ... order by) everywhere; on DuckDB a sorted list instead,
    the same string at half the cost of the ordered aggregate (a year of 100 centers: the
    chart_entries build 9.0 s -> 4.7 s). -#}
{% macro ivoris_sorted_list(expression) -%}
    {{ return(adapter.dispatch('ivoris_sorted_list', 'ivoris')(expression)) }}
{%- endmacro %}

{% macro default__ivoris_sorted_list(expression) -%}
    {{ return(dbt.listagg(expression, "','", 'order by ' ~ ivoris_binary_collation(expression))) }}
{%- endmacro %}

{% macro duckdb__ivoris_sorted_list(expression) -%}
    {{ return("array_to_string(list_sort(list(" ~ expression ~ ")), ',')") }}
{%- endmacro %}
