#!/usr/bin/env bash
# Fetch a Redis snapshot (the latest, or a chosen key) into a directory as dump.rdb, checked
# against its recorded sha256 and with redis-check-rdb. Used by the restore drill and by
# `python -m tools.restore redis`.
# Usage: redis-restore.sh DEST_DIR [KEY]      Env: BACKUP_BUCKET, optional S3_ENDPOINT_URL.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env BACKUP_BUCKET
dest="${1:?usage: redis-restore.sh DEST_DIR [KEY]}"
key="${2:-}"
[ -n "$key" ] || key="$(get_latest "$BACKUP_BUCKET" redis)"
mkdir -p "$dest"
get_verified "$BACKUP_BUCKET" "$key" "$dest/dump.rdb.part"
redis-check-rdb "$dest/dump.rdb.part" >"$dest/check.log" 2>&1 \
  || die "s3://${BACKUP_BUCKET}/${key} fails redis-check-rdb: $(tail -n 3 "$dest/check.log")"
# With appendonly on, Redis would load its AOF and ignore the snapshot: keep the AOF aside.
if [ -d "$dest/appendonlydir" ]; then
  mv "$dest/appendonlydir" "$dest/appendonlydir.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
  log "moved the existing appendonlydir aside so the snapshot is what loads"
fi
mv "$dest/dump.rdb.part" "$dest/dump.rdb"
log "restored s3://${BACKUP_BUCKET}/${key} to ${dest}/dump.rdb"
