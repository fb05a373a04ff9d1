#!/usr/bin/env bash
# Restore uploads as they were on a chosen day (YYYY-MM-DD, or "latest") into a bucket and
# prefix: every object of that day's manifest, at the recorded version.
# Usage: uploads-restore.sh DAY TARGET_BUCKET [TARGET_PREFIX]
# Env: BACKUP_BUCKET, optional S3_ENDPOINT_URL, WORK_DIR.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env BACKUP_BUCKET
day="${1:?usage: uploads-restore.sh DAY TARGET_BUCKET [TARGET_PREFIX]}"
target="${2:?usage: uploads-restore.sh DAY TARGET_BUCKET [TARGET_PREFIX]}"
prefix="${3:-}"
work="$(mktemp -d "${WORK_DIR:-/tmp}/uploads-restore.XXXXXX")"
trap 'rm -rf "$work" "$OPS_ERR"' EXIT

if [ "$day" = latest ]; then
  key="$(get_latest "$BACKUP_BUCKET" uploads/manifests)"
else
  [[ "$day" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "DAY must be YYYY-MM-DD or latest (got '${day}')"
  key="uploads/manifests/${day}.tsv"
fi
check_bucket "$target"
get_verified "$BACKUP_BUCKET" "$key" "$work/manifest.tsv"
count=0
while IFS=$'\t' read -r source version; do
  name="${source#uploads/current/}"
  aws_s3 s3api copy-object --bucket "$target" --key "${prefix}${name}" \
    --copy-source "${BACKUP_BUCKET}/${source}?versionId=${version}" >/dev/null \
    || die "could not restore ${name} (version ${version})"
  count=$((count + 1))
done < "$work/manifest.tsv"
log "restored ${count} uploads from ${key} to s3://${target}/${prefix}"
