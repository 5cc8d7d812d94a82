"""Render dbt sources and staging models from approved mappings (`ivoris render`)."""
