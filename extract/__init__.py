"""Ivoris multi-center ELT: discover, review, render, load, build.

The package layout mirrors the pipeline:
config/canonical -> discover -> mapping (review) -> render -> load (sources -> warehouse) -> dbt.
"""

__version__ = "0.1.0"
