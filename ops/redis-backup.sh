#!/usr/bin/env bash
# Redis snapshot to object storage (CronJob redis-backup, every 6 hours).
#
# BGSAVE, wait until LASTSAVE moves, then stream the snapshot with `redis-cli --rdb` (this pod
# cannot read the Redis volume), check it with redis-check-rdb, upload it under a timestamped
# key and only then move redis/LATEST to it.
# Env: REDIS_HOST, REDIS_PORT, REDISCLI_AUTH (from the Secret), BACKUP_BUCKET,
#      optional S3_ENDPOINT_URL, BGSAVE_TIMEOUT_SECONDS (default 600), WORK_DIR (default /tmp).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env REDIS_HOST REDIS_PORT BACKUP_BUCKET
timeout_s="${BGSAVE_TIMEOUT_SECONDS:-600}"
work="$(mktemp -d "${WORK_DIR:-/tmp}/redis-backup.XXXXXX")"
trap 'rm -rf "$work" "$OPS_ERR"' EXIT

rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning "$@"; }

check_bucket "$BACKUP_BUCKET"
before="$(rcli LASTSAVE 2>"$OPS_ERR")" || die "Redis at ${REDIS_HOST}:${REDIS_PORT} is unreachable: $(last_error)"
case "$before" in
  ''|*[!0-9]*) die "Redis at ${REDIS_HOST}:${REDIS_PORT} refused LASTSAVE: ${before} $(last_error)" ;;
esac
reply="$(rcli BGSAVE 2>"$OPS_ERR")" || die "BGSAVE failed: $(last_error)"
case "$reply" in
  *"Background saving started"*|*"already in progress"*|*"scheduled"*) ;;
  *) die "BGSAVE failed: ${reply}" ;;
esac
deadline=$(( $(date +%s) + timeout_s ))
while [ "$(rcli LASTSAVE)" = "$before" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || die "BGSAVE did not finish within ${timeout_s}s"
  sleep 1
done
status="$(rcli INFO persistence | tr -d '\r' | sed -n 's/^rdb_last_bgsave_status://p')"
[ "$status" = "ok" ] || die "BGSAVE finished with status '${status}'"

rcli --rdb "$work/dump.rdb" >/dev/null 2>"$work/rdb.err" || die "could not fetch the snapshot: $(cat "$work/rdb.err")"
redis-check-rdb "$work/dump.rdb" >"$work/check.log" 2>&1 || die "the snapshot fails redis-check-rdb: $(tail -n 3 "$work/check.log")"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
key="redis/${stamp:0:4}/${stamp:4:2}/${stamp:6:2}/dump-${stamp}.rdb"
put_verified "$work/dump.rdb" "$BACKUP_BUCKET" "$key"
set_latest "$BACKUP_BUCKET" redis "$key"
log "uploaded s3://${BACKUP_BUCKET}/${key} ($(stat -c %s "$work/dump.rdb") bytes)"
