#!/usr/bin/env bash
# Restore-drill step for uploads (restore-drill.sh runs it when DRILL_UPLOADS=true): restores a
# random sample of the latest uploads manifest from the backup bucket into scratch files, each
# at its recorded version, and compares its sha256 with the one recorded at backup
# (uploads-backup.sh). Reads only; any mismatch or unreadable object fails the drill.
# Env: BACKUP_BUCKET, optional DRILL_UPLOADS_SAMPLE (default 20), S3_ENDPOINT_URL, WORK_DIR.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env BACKUP_BUCKET
sample="${DRILL_UPLOADS_SAMPLE:-20}"
[[ "$sample" =~ ^[1-9][0-9]*$ ]] || die "DRILL_UPLOADS_SAMPLE must be a positive number (got '${sample}')"
work="$(mktemp -d "${WORK_DIR:-/tmp}/uploads-drill.XXXXXX")"
trap 'rm -rf "$work" "$OPS_ERR"' EXIT

key="$(get_latest "$BACKUP_BUCKET" uploads/manifests)"
get_verified "$BACKUP_BUCKET" "$key" "$work/manifest.json"
total="$(jq length "$work/manifest.json")"
[ "$total" -gt 0 ] || die "the latest uploads manifest ${key} lists no objects"
picks="$(shuf -i "0-$((total - 1))" -n "$sample" | jq -s .)"
jq --argjson picks "$picks" '[.[$picks[]]]' "$work/manifest.json" > "$work/sample.json"
checked=0
while IFS= read -r -d '' _name && IFS= read -r -d '' blob && IFS= read -r -d '' version && IFS= read -r -d '' sha; do
  fetch_upload "$blob" "$version" "$sha" "$work/object"
  checked=$((checked + 1))
done < <(manifest_fields "$work/sample.json")
[ "$checked" = "$(jq length "$work/sample.json")" ] || die "checked ${checked} of $(jq length "$work/sample.json") sampled uploads"
log "uploads: ${checked} of ${total} objects of ${key} restored, sha256 as recorded at backup"
