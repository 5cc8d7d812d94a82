"""Demo Ivoris centers: a generator with every field variation from DESIGN.md, and its ground truth."""
