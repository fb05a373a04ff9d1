#!/usr/bin/env bash
# Restore uploads as they were on a chosen day (YYYY-MM-DD, or "latest") into a bucket and
# prefix: every object of that day's manifest (uploads-backup.sh), at the recorded version,
# each checked against the sha256 recorded at backup before it is written. Keys come from the
# JSON manifest NUL-terminated (lib.sh), so any S3 key is restored as it was.
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
  key="uploads/manifests/${day}.json"
fi
check_bucket "$target"
get_verified "$BACKUP_BUCKET" "$key" "$work/manifest.json"
count=0
while IFS= read -r -d '' name && IFS= read -r -d '' blob && IFS= read -r -d '' version && IFS= read -r -d '' sha; do
  dest="${prefix}${name}"
  [ "$(LC_ALL=C; printf '%s' "$dest" | wc -c)" -le 1024 ] \
    || die "$(jq -n --arg k "$dest" '$k') is longer than S3's 1024 bytes: restore without a prefix (or a shorter one)"
  fetch_upload "$blob" "$version" "$sha" "$work/object"
  aws_s3 s3api put-object --bucket "$target" --key="$dest" --body "$work/object" >/dev/null 2>"$OPS_ERR" \
    || die "could not restore $(jq -n --arg k "$name" '$k') (version ${version}): $(last_error)"
  count=$((count + 1))
done < <(manifest_fields "$work/manifest.json")
[ "$count" = "$(jq length "$work/manifest.json")" ] || die "restored ${count} of $(jq length "$work/manifest.json") uploads"
log "restored ${count} uploads from ${key} to s3://${target}/${prefix}"
