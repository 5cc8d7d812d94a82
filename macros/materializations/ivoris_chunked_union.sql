{#- A table built from a `union all` in chunks: the model's SQL is one union whose chunks are
    separated by ivoris_chunk_separator(); the first chunk creates the table, each further chunk
    is one `insert into ... select`. So no statement reads more than
    var('ivoris_union_chunk_size') relations (SQL Server fails a single union over a few hundred
    relations, error 8623), yet the union is one dbt node (cheap nightly, plain lineage).
    Otherwise the same steps as dbt's table materialization: build under a temporary name,
    swap, drop the old one. -#}
{% materialization ivoris_chunked_union, default %}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {%- set chunks = sql.split(ivoris_chunk_separator()) -%}

  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, intermediate_relation, chunks[0]) }}
  {%- endcall %}

  {% for chunk in chunks[1:] %}
    {% call statement('chunk_' ~ loop.index) -%}
      insert into {{ intermediate_relation }}
      {{ chunk }}
    {%- endcall %}
  {% endfor %}

  {% if existing_relation is not none %}
    {% set existing_relation = load_cached_relation(existing_relation) %}
    {% if existing_relation is not none %}
      {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
  {% endif %}
  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
