#!/usr/bin/env bash
# Database maintenance against the primary (postgres-rw): the guide's weekly VACUUM ANALYZE
# (CronJob postgres-vacuum) and monthly REINDEX, CONCURRENTLY so writes continue
# (CronJob postgres-reindex).
# Usage: postgres-maintenance.sh vacuum|reindex
# Env: libpq's PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD (from the Secret), PGSSLMODE.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env PGHOST PGDATABASE PGUSER
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
case "${1:-}" in
  vacuum) sql="VACUUM (ANALYZE)" ;;
  reindex) sql="REINDEX (VERBOSE) DATABASE CONCURRENTLY \"${PGDATABASE}\"" ;;
  *) die "usage: postgres-maintenance.sh vacuum|reindex (got '${1:-}')" ;;
esac
started=$(date +%s)
if ! psql -X -q -v ON_ERROR_STOP=1 -c "$sql" >/dev/null 2>"$OPS_ERR"; then
  die "${1} on ${PGDATABASE} at ${PGHOST}:${PGPORT:-5432} failed: $(last_error)"
fi
log "${1} of ${PGDATABASE} finished in $(( $(date +%s) - started ))s"
