{#- The marker between two chunks of a chunked union (materialization ivoris_chunked_union).
    In the compiled SQL it reads as a comment after `union all`, so the whole model is still
    one valid union for `dbt show`, compilation and lint. -#}
{% macro ivoris_chunk_separator() -%}
    {{ return('union all /* ivoris: next chunk */') }}
{%- endmacro %}


{#- `union all` of one staging entity over every rendered center, with an explicit column list
    and chunked for ivoris_chunked_union. With no rendered center (fresh clone) a typed empty
    relation instead, so every downstream model and test still builds. -#}
{% macro ivoris_union_of_centers(model, columns) -%}
    {%- set centers = ivoris_centers() -%}
    {%- set chunk_size = var('ivoris_union_chunk_size', 100) | int -%}
    {%- if centers | length > 0 -%}
        {%- for center in centers %}
select
    {%- for column in columns %}
    {{ column[0] }}{% if not loop.last %},{% endif %}
    {%- endfor %}
from {{ ref('stg_' ~ center.center_id ~ '__' ~ model) }}
            {%- if not loop.last %}
{{ ivoris_chunk_separator() if loop.index % chunk_size == 0 else 'union all' }}
            {%- endif %}
        {%- endfor %}
    {%- else %}
-- no center rendered yet (`ivoris render`): a typed empty relation
select
    {%- for column in columns %}
    cast(null as {{ column[1] }}) as {{ column[0] }}{% if not loop.last %},{% endif %}
    {%- endfor %}
where 1 = 0
    {%- endif %}
{%- endmacro %}


{#- Does a relation exist? Asks the catalog only while executing with introspection; the offline
    compile (`--no-introspect`) assumes it does, so the full SQL is compiled and linted. -#}
{% macro ivoris_relation_exists(relation) -%}
    {%- if execute and flags.INTROSPECT -%}
        {%- set found = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {{ return(found is not none) }}
    {%- else -%}
        {{ return(true) }}
    {%- endif -%}
{%- endmacro %}
