#!/usr/bin/env bash
# SQL lint of the dbt project as DuckDB runs it: in a temporary copy, render 4 synthetic centers
# (every DATUM/DELKZ variant), compile offline (`--no-introspect`), and lint every compiled model,
# analysis and singular test with sqlfluff (.sqlfluff: lower case, explicit casts and group-bys).
# The T-SQL side is linted by scripts/sqlserver-proof.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/.venv/bin}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ivoris-lint-sql.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1
export IVORIS_PROJECT_DIR="$TMP" IVORIS_DUCKDB_PATH="$TMP/warehouse/ivoris.duckdb" IVORIS_TARGET=duckdb

"$BIN/python" - "$ROOT" "$TMP" <<'PY'
import sys
from pathlib import Path
from extract.config import load_settings
from extract.render import synthetic
from extract.render.render import render_project
root, tmp = Path(sys.argv[1]), Path(sys.argv[2])
synthetic.copy_project(root, tmp)
synthetic.write_config(tmp / "config" / "centers.yml", synthetic.make_centers(4))
render_project(load_settings(tmp / "config" / "centers.yml"), tmp)
PY
mkdir -p "$TMP/warehouse"
(cd "$TMP" && "$BIN/dbt" -q compile --project-dir . --profiles-dir . --no-introspect --no-populate-cache)
mapfile -t files < <(find "$TMP/target/compiled/ivoris" -name '*.sql' -not -path '*.yml/*' | sort)
echo "lint-sql: linting ${#files[@]} compiled files with dialect duckdb"
(cd "$TMP" && "$BIN/sqlfluff" lint --dialect duckdb --disable-progress-bar --processes 1 "${files[@]}")
