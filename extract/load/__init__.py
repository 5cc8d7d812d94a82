"""The loader: approved centers -> warehouse raw tables, per business date, idempotent and atomic."""
