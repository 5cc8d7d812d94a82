"""`ivoris bench`: measured speed, memory and scale of the pipeline, side by side with dlt.

Every figure is the median of several runs in an isolated temporary workspace (own demo centers,
own copy of the dbt project, own warehouse file), so the bench never touches the user's demo.
"""
