#!/usr/bin/env bash
# Redis snapshot to object storage (CronJob redis-backup, every 6 hours).
#
# BGSAVE, wait until Redis counts one more finished snapshot, then stream it with
# `redis-cli --rdb` (this pod cannot read the Redis volume), check it with redis-check-rdb,
# upload it under a timestamped key and only then move redis/LATEST to it.
# Env: REDIS_HOST, REDIS_PORT, REDISCLI_AUTH (from the Secret), BACKUP_BUCKET,
#      optional S3_ENDPOINT_URL, BGSAVE_TIMEOUT_SECONDS and RDB_TIMEOUT_SECONDS (default 600 each),
#      WORK_DIR (default /tmp).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env REDIS_HOST REDIS_PORT BACKUP_BUCKET
timeout_s="${BGSAVE_TIMEOUT_SECONDS:-600}"
rdb_timeout_s="${RDB_TIMEOUT_SECONDS:-600}"
work="$(mktemp -d "${WORK_DIR:-/tmp}/redis-backup.XXXXXX")"
trap 'rm -rf "$work" "$OPS_ERR"' EXIT

rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning "$@"; }

# rdb_saves (Redis 7) counts finished snapshots. LASTSAVE has one-second resolution, so a
# BGSAVE that ends in the same second as the previous save would never be seen to finish.
persistence() { rcli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }

check_bucket "$BACKUP_BUCKET"
before="$(rcli LASTSAVE 2>"$OPS_ERR")" || die "Redis at ${REDIS_HOST}:${REDIS_PORT} is unreachable: $(last_error)"
case "$before" in
  ''|*[!0-9]*) die "Redis at ${REDIS_HOST}:${REDIS_PORT} refused LASTSAVE: ${before} $(last_error)" ;;
esac
count="$(persistence rdb_saves)"
case "$count" in
  ''|*[!0-9]*) die "Redis at ${REDIS_HOST}:${REDIS_PORT} reports no rdb_saves (Redis 7 or later is required)" ;;
esac
reply="$(rcli BGSAVE 2>"$OPS_ERR")" || die "BGSAVE failed: $(last_error)"
case "$reply" in
  *"Background saving started"*|*"already in progress"*|*"scheduled"*) ;;
  *) die "BGSAVE failed: ${reply}" ;;
esac
deadline=$(( $(date +%s) + timeout_s ))
until [ "$(persistence rdb_saves)" -gt "$count" ] && [ "$(persistence rdb_bgsave_in_progress)" = 0 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || die "BGSAVE did not finish within ${timeout_s}s"
  sleep 0.5
done
status="$(persistence rdb_last_bgsave_status)"
[ "$status" = "ok" ] || die "BGSAVE finished with status '${status}'"

# A full-sync transfer that stalls would otherwise hold the Job until its activeDeadlineSeconds.
# Its own bound: Redis 7 waits repl-diskless-sync-delay (5 s by default) before it starts sending.
timeout "$rdb_timeout_s" redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning --rdb "$work/dump.rdb" \
  >/dev/null 2>"$work/rdb.err" || die "could not fetch the snapshot within ${rdb_timeout_s}s: $(cat "$work/rdb.err")"
redis-check-rdb "$work/dump.rdb" >"$work/check.log" 2>&1 || die "the snapshot fails redis-check-rdb: $(tail -n 3 "$work/check.log")"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
key="redis/${stamp:0:4}/${stamp:4:2}/${stamp:6:2}/dump-${stamp}.rdb"
put_verified "$work/dump.rdb" "$BACKUP_BUCKET" "$key"
set_latest "$BACKUP_BUCKET" redis "$key"
log "uploaded s3://${BACKUP_BUCKET}/${key} ($(stat -c %s "$work/dump.rdb") bytes)"
