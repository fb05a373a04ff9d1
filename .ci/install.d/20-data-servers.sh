#!/usr/bin/env bash
# Real data servers and tools for the ops/ round trips (tests/ops): PostgreSQL 15 and its
# client, Redis 7, shellcheck, jq, and what pip needs to build psycopg2 (barman's driver) into
# the system-Python venv of the job tools.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)
/usr/bin/python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null || need+=(python3-dev)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then apt_install "${need[@]}"; fi
# The Debian package starts a cluster and a Redis service; the tests start their own.
