#!/usr/bin/env bash
# Weekly restore drill (CronJob restore-drill): proves the backups by restoring them.
#
# 1. The latest Postgres base backup plus all archived WAL into a scratch server in this pod,
#    then sanity queries: the schema is present, every key table has rows, and the newest
#    replayed transaction is no older than DRILL_MAX_AGE_SECONDS.
# 2. The latest Redis snapshot: checksum, redis-check-rdb, and a throwaway redis-server loads it.
# 3. A random sample of the latest uploads backup, each object checked against the sha256
#    recorded at backup (uploads-drill.sh).
# Any failure exits non-zero with the reason on stderr (and the Job fails, which
# kube_job_status_failed reports).
# Env: BARMAN_DESTINATION, BARMAN_SERVER_NAME, DRILL_DATABASE, DRILL_TABLES (space separated),
#      DRILL_MAX_AGE_SECONDS, optional DRILL_FRESHNESS_QUERY (returns an age in seconds),
#      DRILL_REDIS (true/false), DRILL_UPLOADS (true/false), DRILL_UPLOADS_SAMPLE,
#      BACKUP_BUCKET (for Redis and uploads), S3_ENDPOINT_URL,
#      DRILL_RECOVERY_TIMEOUT_SECONDS (default 1800), WORK_DIR (default /tmp).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
here="$(dirname "$0")"
require_env BARMAN_DESTINATION BARMAN_SERVER_NAME DRILL_DATABASE DRILL_TABLES DRILL_MAX_AGE_SECONDS
recovery_timeout="${DRILL_RECOVERY_TIMEOUT_SECONDS:-1800}"
freshness_query="${DRILL_FRESHNESS_QUERY:-SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::bigint}"
work="$(mktemp -d "${WORK_DIR:-/tmp}/restore-drill.XXXXXX")"
pgdata="$work/pgdata"
export SCRATCH_SOCKET_DIR="$work/run" SCRATCH_PORT="${SCRATCH_PORT:-54329}"

cleanup() {
  if [ -f "$pgdata/postmaster.pid" ]; then pg_ctl -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true; fi
  if [ -S "$work/redis.sock" ]; then redis-cli -s "$work/redis.sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true; fi
  rm -rf "$work" "$OPS_ERR"
}
trap cleanup EXIT

psql_scratch() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$SCRATCH_SOCKET_DIR" -p "$SCRATCH_PORT" -U postgres -d "$1" -c "$2"
}

"$here/postgres-restore.sh" "$pgdata"
pg_ctl -D "$pgdata" -l "$work/postgres.log" -w -t 120 start >/dev/null \
  || die "the restored Postgres did not start: $(tail -n 5 "$work/postgres.log")"
deadline=$(( $(date +%s) + recovery_timeout ))
until [ "$(psql_scratch postgres 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "f" ]; do
  if ! pg_ctl -D "$pgdata" status >/dev/null 2>&1; then
    die "Postgres stopped during WAL replay: $(tail -n 5 "$work/postgres.log")"
  fi
  [ "$(date +%s)" -lt "$deadline" ] || die "WAL replay did not finish within ${recovery_timeout}s"
  sleep 2
done
log "Postgres recovered to the end of the archive"

psql_scratch postgres "SELECT 1 FROM pg_database WHERE datname = '${DRILL_DATABASE}'" | grep -qx 1 \
  || die "database ${DRILL_DATABASE} is missing from the backup"
for table in $DRILL_TABLES; do
  rows="$(psql_scratch "$DRILL_DATABASE" "SELECT count(*) FROM ${table}" 2>"$OPS_ERR")" \
    || die "key table ${table} is missing or unreadable: $(last_error)"
  [ "$rows" -gt 0 ] || die "key table ${table} is empty in the backup"
  log "table ${table}: ${rows} rows"
done
age="$(psql_scratch "$DRILL_DATABASE" "$freshness_query" 2>"$OPS_ERR")" || die "freshness query failed: $(last_error)"
[ -n "$age" ] || die "the backup has no replayed transaction to date it (freshness query returned NULL)"
[ "${age%.*}" -le "$DRILL_MAX_AGE_SECONDS" ] \
  || die "the newest restored data is ${age%.*}s old, more than the allowed ${DRILL_MAX_AGE_SECONDS}s: backups or WAL archiving are stale"
log "newest restored data is ${age%.*}s old (limit ${DRILL_MAX_AGE_SECONDS}s)"
pg_ctl -D "$pgdata" -m fast -w stop >/dev/null

if [ "${DRILL_REDIS:-false}" = true ]; then
  "$here/redis-restore.sh" "$work/redis"
  redis-server --port 0 --unixsocket "$work/redis.sock" --dir "$work/redis" --dbfilename dump.rdb \
    --save '' --appendonly no --daemonize yes --logfile "$work/redis.log"
  for _ in $(seq 1 60); do
    [ "$(redis-cli -s "$work/redis.sock" PING 2>/dev/null)" = PONG ] && break
    sleep 1
  done
  grep -q "DB loaded from disk" "$work/redis.log" \
    || die "Redis did not load the snapshot: $(tail -n 5 "$work/redis.log")"
  log "Redis snapshot loaded: $(redis-cli -s "$work/redis.sock" DBSIZE) keys"
fi
if [ "${DRILL_UPLOADS:-false}" = true ]; then
  "$here/uploads-drill.sh"
fi
log "restore drill passed"
