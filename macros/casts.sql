{#- Casts used by the generated staging models. `family` is the physical type family recorded in
    the center's approved mapping (config/canonical.yml type_families). -#}

{#- DATUM as a DATE, whatever the center stores: INT yyyymmdd, (VAR)CHAR(8) 'yyyymmdd', DATE or
    DATETIME. A value that is no valid date becomes NULL (and fails the not_null tests) instead
    of failing the whole build. -#}
{% macro ivoris_to_date(column, family) -%}
    {{ return(adapter.dispatch('ivoris_to_date', 'ivoris')(column, family)) }}
{%- endmacro %}

{% macro default__ivoris_to_date(column, family) -%}
    {%- if family == 'integer' -%}
        {{ return("cast(try_strptime(cast(" ~ column ~ " as varchar), '%Y%m%d') as date)") }}
    {%- elif family == 'text' -%}
        {{ return("cast(try_strptime(trim(" ~ column ~ "), '%Y%m%d') as date)") }}
    {%- elif family in ('date', 'datetime') -%}
        {{ return("cast(" ~ column ~ " as date)") }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("ivoris_to_date: unknown type family '" ~ family ~ "' for " ~ column) }}
    {%- endif -%}
{%- endmacro %}

{% macro sqlserver__ivoris_to_date(column, family) -%}
    {%- if family == 'integer' -%}
        {{ return("try_convert(date, cast(" ~ column ~ " as char(8)), 112)") }}
    {%- elif family == 'text' -%}
        {{ return("try_convert(date, trim(" ~ column ~ "), 112)") }}
    {%- elif family in ('date', 'datetime') -%}
        {{ return("cast(" ~ column ~ " as date)") }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("ivoris_to_date: unknown type family '" ~ family ~ "' for " ~ column) }}
    {%- endif -%}
{%- endmacro %}


{#- DELKZ as 0/1: NULL, 0 and false mean not deleted; any other value means deleted. A center
    without a DELKZ column (family none) deletes nothing. -#}
{% macro ivoris_is_deleted(column, family) -%}
    {{ return(adapter.dispatch('ivoris_is_deleted', 'ivoris')(column, family)) }}
{%- endmacro %}

{% macro default__ivoris_is_deleted(column, family) -%}
    {%- if family in ('integer', 'boolean') -%}
        {{ return("case when coalesce(cast(" ~ column ~ " as integer), 0) <> 0 then 1 else 0 end") }}
    {%- elif family is none or family == 'none' -%}
        {{ return("0") }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("ivoris_is_deleted: unknown type family '" ~ family ~ "' for " ~ column) }}
    {%- endif -%}
{%- endmacro %}

{% macro sqlserver__ivoris_is_deleted(column, family) -%}
    {#- bit and int both cast to int; T-SQL has no boolean expressions in a select list. -#}
    {%- if family in ('integer', 'boolean') -%}
        {{ return("case when coalesce(cast(" ~ column ~ " as int), 0) <> 0 then 1 else 0 end") }}
    {%- elif family is none or family == 'none' -%}
        {{ return("0") }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("ivoris_is_deleted: unknown type family '" ~ family ~ "' for " ~ column) }}
    {%- endif -%}
{%- endmacro %}
