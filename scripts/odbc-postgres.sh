#!/usr/bin/env bash
# A throwaway PostgreSQL server for the ODBC tests (tests/test_odbc_postgres.py): the pyodbc
# source and the demo seeder run against it through unixODBC + psqlODBC ("PostgreSQL Unicode"),
# because SQL Server and Microsoft's ODBC driver cannot be installed on CI machines.
#
#   scripts/odbc-postgres.sh start    initdb on first use, start (idempotent), ensure the test role
#   scripts/odbc-postgres.sh stop     fast shutdown (no-op when not running)
#   scripts/odbc-postgres.sh status   exit 0 when running, 3 when not
#
# Environment: IVORIS_PG_DIR (data directory, default <repo>/.odbc/pgdata, or a folder under /tmp
# when the postgres OS user cannot reach the checkout), IVORIS_PG_PORT (default 54329). It listens
# on 127.0.0.1 only. The test role's password is generated at first start and kept in
# <repo>/.odbc/pg.env (beside IVORIS_PG_DIR when set; mode 600), never printed; tests read that
# file when IVORIS_PG_PASSWORD is not set.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${IVORIS_PG_PORT:-54329}"
HOST=127.0.0.1
ROLE=ivoris_test
if [ -n "${IVORIS_PG_DIR:-}" ]; then
    PGDATA="$IVORIS_PG_DIR"
    ENV_FILE="$(dirname "$PGDATA")/pg.env"
else
    ENV_FILE="$REPO/.odbc/pg.env"
    PGDATA="$REPO/.odbc/pgdata"
    # The server runs as the `postgres` OS user, who may not be able to reach a checkout under a
    # private home folder: then the data lives under /tmp (still one per checkout).
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$REPO" 2>/dev/null; then
        PGDATA="/tmp/ivoris-odbc-$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)/pgdata"
    fi
fi
# The unix socket (admin connections only, peer authentication) in a short private folder: socket
# paths are limited to ~100 characters, checkout paths are not.
RUN_DIR="/tmp/ivoris-pg-$(printf '%s' "$PGDATA" | cksum | cut -d' ' -f1)"
LOG_FILE="$PGDATA/server.log"

die() { echo "odbc-postgres: $*" >&2; exit 1; }

pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$dir" ] && [ -x "$dir/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run \`make system-deps\`"
    echo "$dir"
}

# initdb and the server refuse to run as root: run them as the `postgres` OS user then.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

owner_dirs() {
    mkdir -p "$PGDATA" "$RUN_DIR" "$(dirname "$ENV_FILE")"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "no \`postgres\` OS user: run \`make system-deps\` (Debian package postgresql)"
        chown postgres: "$PGDATA" "$RUN_DIR"
        runuser -u postgres -- test -w "$PGDATA" \
            || die "the postgres OS user cannot reach $PGDATA (a parent folder is not traversable); set IVORIS_PG_DIR to e.g. /tmp/ivoris-odbc/pgdata"
    fi
    chmod 700 "$PGDATA" "$RUN_DIR"
}

is_running() {
    [ -f "$PGDATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

running_port() {
    # postmaster.pid line 4 is the port the running server listens on.
    as_owner sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || echo "$PORT"
}

admin_psql() {
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$(running_port)" -U postgres -d postgres "$@"
}

ensure_password_file() {
    if [ ! -s "$ENV_FILE" ]; then
        local pw
        pw="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        (umask 077; printf 'IVORIS_PG_HOST=%s\nIVORIS_PG_PORT=%s\nIVORIS_PG_USER=%s\nIVORIS_PG_PASSWORD=%s\n' \
            "$HOST" "$PORT" "$ROLE" "$pw" >"$ENV_FILE")
    fi
    chmod 600 "$ENV_FILE"
}

ensure_role() {
    local pw
    pw="$(sed -n 's/^IVORIS_PG_PASSWORD=//p' "$ENV_FILE")"
    [[ "$pw" =~ ^[0-9a-f]+$ ]] || die "$ENV_FILE has no valid IVORIS_PG_PASSWORD; delete it and run start again"
    # Through stdin, so the password never shows in a process list. CREATEDB: the demo seeder
    # creates one database per center.
    admin_psql -f - <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB;
  END IF;
END
\$\$;
ALTER ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$pw';
SQL
}

print_env() {
    local port
    port="$(running_port)"
    cat <<EOF
PostgreSQL for the ODBC tests is running on $HOST:$port (data: $PGDATA).
Tests read the credentials from $ENV_FILE; for a shell:
  set -a; . $ENV_FILE; set +a     # IVORIS_PG_HOST=$HOST IVORIS_PG_PORT=$port IVORIS_PG_USER=$ROLE IVORIS_PG_PASSWORD=...
ODBC driver: "PostgreSQL Unicode" (psqlODBC, /etc/odbcinst.ini)
EOF
}

cmd_start() {
    owner_dirs
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        echo "odbc-postgres: initdb $PGDATA" >&2
        # C locale + UTF8: byte-order collation, any Unicode text. Auth: peer on the private socket
        # (admin only), scram passwords over TCP.
        as_owner "$BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C \
            --auth-local=peer --auth-host=scram-sha-256 >/dev/null
        cat >>"$PGDATA/postgresql.conf" <<EOF

# scripts/odbc-postgres.sh: a throwaway test server; durability is not needed.
listen_addresses = '$HOST'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi
    ensure_password_file
    if is_running; then
        echo "odbc-postgres: already running on port $(running_port)" >&2
    else
        # A socket or pid left by a crash or machine restart must not block the start.
        rm -f "$RUN_DIR"/.s.PGSQL.*
        if ! as_owner "$BIN/pg_ctl" start -w -t 60 -D "$PGDATA" -l "$LOG_FILE" \
                -o "-p $PORT -k $RUN_DIR" >/dev/null; then
            tail -n 20 "$LOG_FILE" >&2 || true
            die "PostgreSQL did not start (is port $PORT taken? set IVORIS_PG_PORT); log: $LOG_FILE"
        fi
        echo "odbc-postgres: started on $HOST:$PORT" >&2
    fi
    ensure_role
    print_env
}

cmd_stop() {
    if is_running; then
        as_owner "$BIN/pg_ctl" stop -w -m fast -D "$PGDATA" >/dev/null
        echo "odbc-postgres: stopped" >&2
    else
        echo "odbc-postgres: not running" >&2
    fi
}

cmd_status() {
    if is_running; then
        print_env
    else
        echo "odbc-postgres: not running (start it with \`make odbc-up\`)"
        exit 3
    fi
}

BIN="$(pg_bin)"
case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
