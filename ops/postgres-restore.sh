#!/usr/bin/env bash
# Restore a barman-cloud base backup into an empty directory and set it up to replay WAL from
# the archive when started: to the end of the archive, or to TARGET_TIME (point in time). The
# same layout the CNPG barman-cloud plugin writes (s3://<bucket>/postgres/<serverName>/).
# Used by the restore drill and the CI round trip; a real recovery bootstraps a NEW CNPG
# Cluster instead (docs/RESTORE.md).
# Usage: postgres-restore.sh PGDATA [TARGET_TIME]
# Env: BARMAN_DESTINATION (s3://bucket/postgres), BARMAN_SERVER_NAME, optional
#      S3_ENDPOINT_URL, SCRATCH_PORT (default 54329), SCRATCH_SOCKET_DIR (default PGDATA/../run).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env BARMAN_DESTINATION BARMAN_SERVER_NAME
pgdata="${1:?usage: postgres-restore.sh PGDATA [TARGET_TIME]}"
target_time="${2:-}"
socket_dir="${SCRATCH_SOCKET_DIR:-$(dirname "$pgdata")/run}"
[ ! -e "$pgdata" ] || [ -z "$(ls -A "$pgdata")" ] || die "${pgdata} is not empty: restore only into a new directory"
mkdir -p "$pgdata" "$socket_dir"
chmod 700 "$pgdata"

endpoint=()
[ -z "${S3_ENDPOINT_URL:-}" ] || endpoint=(--endpoint-url "$S3_ENDPOINT_URL")
target=()
[ -z "$target_time" ] || target=(--target-time "$target_time")

log "restoring the base backup from ${BARMAN_DESTINATION}/${BARMAN_SERVER_NAME}${target_time:+ for ${target_time}}"
if ! barman-cloud-restore --cloud-provider aws-s3 "${endpoint[@]}" "${target[@]}" \
    "$BARMAN_DESTINATION" "$BARMAN_SERVER_NAME" auto "$pgdata" 2>"$OPS_ERR"; then
  die "barman-cloud-restore failed: $(last_error)"
fi
[ -f "$pgdata/PG_VERSION" ] || die "the restored directory has no PG_VERSION: the backup is incomplete"

# postgresql.auto.conf is read last, so these win over the source's (CNPG's) settings: no
# archiving, no TLS, no network, logs to stderr, and WAL from the archive.
restore_command="barman-cloud-wal-restore --cloud-provider aws-s3 ${S3_ENDPOINT_URL:+--endpoint-url $S3_ENDPOINT_URL }${BARMAN_DESTINATION} ${BARMAN_SERVER_NAME} %f %p"
{
  echo "# added by postgres-restore.sh"
  echo "restore_command = '${restore_command}'"
  [ -z "$target_time" ] || echo "recovery_target_time = '${target_time}'"
  echo "recovery_target_action = 'promote'"
  echo "archive_mode = 'off'"
  echo "ssl = 'off'"
  echo "logging_collector = 'off'"
  echo "log_destination = 'stderr'"
  echo "listen_addresses = ''"
  echo "port = ${SCRATCH_PORT:-54329}"
  echo "unix_socket_directories = '${socket_dir}'"
  echo "hba_file = '${pgdata}/pg_hba.conf'"
  echo "ident_file = '${pgdata}/pg_ident.conf'"
  echo "shared_preload_libraries = ''"
} >> "$pgdata/postgresql.auto.conf"
# Only local socket connections, as the OS user running the scratch server.
printf 'local all all peer map=drill\n' > "$pgdata/pg_hba.conf"
printf 'drill %s postgres\ndrill %s %s\n' "$(id -un)" "$(id -un)" "$(id -un)" > "$pgdata/pg_ident.conf"
touch "$pgdata/recovery.signal"
log "restored into ${pgdata}; start it to replay WAL"
