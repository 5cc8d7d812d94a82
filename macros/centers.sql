{#- The rendered centers, from what `ivoris render` generated (macros/generated/ivoris_generated.sql,
    git-ignored). On a fresh clone nothing is generated and the list is empty, so the project
    still parses and builds (typed empty unions). -#}
{% macro ivoris_centers() -%}
    {%- set generated = context.get('ivoris_generated_centers') -%}
    {{ return(generated() if generated is not none else []) }}
{%- endmacro %}
