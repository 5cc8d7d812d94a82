#!/usr/bin/env bash
# SQL Server proof without a server: in a temporary copy of the dbt project, generate 3 demo
# centers, discover, approve and render them, compile the whole project for the `sqlserver`
# target offline (`--no-introspect --no-populate-cache`, dummy connection settings), then lint
# every compiled model, analysis and singular test with sqlfluff's T-SQL dialect.
# Any error fails the script (and `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/.venv/bin}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ivoris-sqlserver-proof.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1
export IVORIS_PROJECT_DIR="$TMP"

echo "sqlserver-proof: project copy in $TMP"
"$BIN/python" - "$ROOT" "$TMP" <<'PY'
import sys
from pathlib import Path
from extract.render.synthetic import copy_project
copy_project(Path(sys.argv[1]), Path(sys.argv[2]))
PY

# Three demo centers, discovered, approved and rendered like a deployment would do.
export IVORIS_DUCKDB_PATH="$TMP/warehouse/ivoris.duckdb"
"$BIN/ivoris" -q --config "$TMP/config/centers.yml" demo --generate-only --centers 3 --out "$TMP/data" \
    --unrelated-tables 20
"$BIN/ivoris" -q --config "$TMP/config/centers.yml" discover
"$BIN/ivoris" -q --config "$TMP/config/centers.yml" approve --all
"$BIN/ivoris" -q --config "$TMP/config/centers.yml" render
n_staging=$(find "$TMP/models/staging/centers" -name 'stg_*.sql' | wc -l)
if [ "$n_staging" -lt 12 ]; then
    echo "sqlserver-proof: expected 12 rendered staging models, found $n_staging" >&2
    exit 1
fi

# Offline compile for SQL Server: dummy settings, no connection is ever opened.
export IVORIS_TARGET=sqlserver
export IVORIS_WAREHOUSE_SERVER=sqlserver.invalid IVORIS_WAREHOUSE_DATABASE=ivoris
export IVORIS_WAREHOUSE_USER=proof IVORIS_WAREHOUSE_PASSWORD=not-a-secret
(cd "$TMP" && "$BIN/dbt" compile --project-dir . --profiles-dir . --no-introspect --no-populate-cache \
    --target-path target-sqlserver --no-partial-parse)

# Lint the compiled SQL (models, analyses, singular tests; dbt's own generic tests are not ours).
compiled="$TMP/target-sqlserver/compiled/ivoris"
mapfile -t files < <(find "$compiled" -name '*.sql' -not -path '*.yml/*' | sort)
echo "sqlserver-proof: linting ${#files[@]} compiled files with dialect tsql"
(cd "$TMP" && "$BIN/sqlfluff" lint --dialect tsql --disable-progress-bar --processes 1 "${files[@]}")
echo "sqlserver-proof: OK (compiled for SQL Server, T-SQL lint clean, $n_staging rendered staging models)"
