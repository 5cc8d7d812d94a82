#!/usr/bin/env bash
# Debian packages the SQL Server path and its CI proof need:
#   unixodbc         libodbc, loaded by pyodbc and dbt-sqlserver
#   odbc-postgresql  psqlODBC, registered as "PostgreSQL Unicode" in /etc/odbcinst.ini
#   postgresql       the real server the pyodbc code is tested against (scripts/odbc-postgres.sh)
# Idempotent: a fast no-op when all are installed; otherwise one `apt-get update` and one install.
set -euo pipefail

PACKAGES=(unixodbc odbc-postgresql postgresql)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing Debian packages ${missing[*]} and apt-get is not available." >&2
    echo "Install unixODBC, the PostgreSQL ODBC driver (psqlODBC) and PostgreSQL with your package manager." >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "system-deps: missing Debian packages ${missing[*]}; installing them needs root." >&2
        echo "Run as root, or: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for pkg in "${missing[@]}"; do
    if ! installed "$pkg"; then
        echo "system-deps: $pkg is still not installed after apt-get install" >&2
        exit 1
    fi
done
echo "system-deps: installed ${missing[*]}" >&2
