#!/usr/bin/env bash
# Uploads bucket -> backup bucket (CronJob uploads-backup, daily 04:00).
#
# Every new or changed upload (by ETag and size, against the previous manifest) is downloaded,
# hashed (sha256) and stored in the versioned backup bucket under uploads/objects/<sha256 of its
# key>; a deleted upload's object gets a delete marker there. The backup bucket keeps every
# overwritten or deleted upload's old version until the noncurrent-version lifecycle rule
# expires it. The day's manifest, uploads/manifests/<day>.json, is a JSON array of
# {Key, Blob, VersionId, Sha256, ETag, Size} for every live upload, so a chosen day can be
# restored; uploads/manifests/LATEST moves only after the manifest is stored. Keys are read
# from JSON and passed NUL-terminated (lib.sh): any S3 key round-trips.
# Env: UPLOADS_BUCKET, BACKUP_BUCKET, optional S3_ENDPOINT_URL, WORK_DIR, BACKUP_DAY (default
#      today, UTC; a re-run the same day replaces that day's manifest).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_env UPLOADS_BUCKET BACKUP_BUCKET
work="$(mktemp -d "${WORK_DIR:-/tmp}/uploads-backup.XXXXXX")"
trap 'rm -rf "$work" "$OPS_ERR"' EXIT

check_bucket "$UPLOADS_BUCKET"
check_bucket "$BACKUP_BUCKET"
versioning="$(aws_s3 s3api get-bucket-versioning --bucket "$BACKUP_BUCKET" --query Status --output text)"
[ "$versioning" = "Enabled" ] || die "bucket ${BACKUP_BUCKET} must have versioning enabled (got '${versioning}'): without it an overwritten upload is lost"

# The CLI asks S3 for URL-encoded keys and decodes them: the JSON holds the keys as stored.
aws_s3 s3api list-objects-v2 --bucket "$UPLOADS_BUCKET" --output json > "$work/source.json" 2>"$OPS_ERR" \
  || die "cannot list ${UPLOADS_BUCKET}: $(last_error)"
[ -s "$work/source.json" ] || echo '{}' > "$work/source.json"  # an empty bucket lists nothing
previous="$(aws_s3 s3 cp "s3://${BACKUP_BUCKET}/uploads/manifests/LATEST" - 2>/dev/null || true)"
case "$previous" in
  *.json) get_verified "$BACKUP_BUCKET" "$previous" "$work/previous.json" ;;
  *) echo '[]' > "$work/previous.json" ;;  # the first backup (or one before this format): copy everything
esac

# Unchanged uploads keep the previous manifest's entry; the rest are marked for copying.
jq -s '(.[1] | map({key: .Key, value: .}) | from_entries) as $old
       | (.[0].Contents // []) | map(. as $o | $old[$o.Key] as $p
         | if $p != null and $p.ETag == $o.ETag and $p.Size == $o.Size then $p
           else {Key: $o.Key, ETag: $o.ETag, Size: $o.Size, Copy: true} end)' \
  "$work/source.json" "$work/previous.json" > "$work/plan.json"

: > "$work/copied.jsonl"
copied=0
while IFS= read -r -d '' key; do
  blob="$(upload_blob_key "$key")"
  aws_s3 s3api get-object --bucket "$UPLOADS_BUCKET" --key="$key" "$work/object" >/dev/null 2>"$OPS_ERR" \
    || die "cannot read upload $(jq -n --arg k "$key" '$k') from ${UPLOADS_BUCKET}: $(last_error)"
  sha="$(sha256sum "$work/object" | cut -d' ' -f1)"
  version="$(aws_s3 s3api put-object --bucket "$BACKUP_BUCKET" --key="$blob" --body "$work/object" \
      --metadata "sha256=${sha}" --query VersionId --output text 2>"$OPS_ERR")" \
    || die "copy of upload $(jq -n --arg k "$key" '$k') to ${BACKUP_BUCKET} failed: $(last_error)"
  jq -cn --arg k "$key" --arg b "$blob" --arg v "$version" --arg s "$sha" '{Key: $k, Blob: $b, VersionId: $v, Sha256: $s}' >> "$work/copied.jsonl"
  copied=$((copied + 1))
done < <(jq -j '.[] | select(.Copy) | .Key, "\u0000"' "$work/plan.json")
to_copy="$(jq '[.[] | select(.Copy)] | length' "$work/plan.json")"
[ "$copied" = "$to_copy" ] || die "copied ${copied} of ${to_copy} new or changed uploads"

jq -s '(.[1:] | map({key: .Key, value: .}) | from_entries) as $new
       | .[0] | map(if .Copy then ($new[.Key] + {ETag, Size}) else . end) | sort_by(.Key)' \
  "$work/plan.json" "$work/copied.jsonl" > "$work/manifest.json"

# Deleted uploads: a delete marker makes their backed-up version noncurrent (lifecycle expires it).
removed=0
while IFS= read -r -d '' blob; do
  aws_s3 s3api delete-object --bucket "$BACKUP_BUCKET" --key="$blob" >/dev/null 2>"$OPS_ERR" \
    || die "cannot mark ${blob} deleted in ${BACKUP_BUCKET}: $(last_error)"
  removed=$((removed + 1))
done < <(jq -j -s '(.[1] | map(.Blob)) as $live | .[0] | map(.Blob) - $live | .[] | ., "\u0000"' \
           "$work/previous.json" "$work/manifest.json")

day="${BACKUP_DAY:-$(date -u +%Y-%m-%d)}"
key="uploads/manifests/${day}.json"
put_verified "$work/manifest.json" "$BACKUP_BUCKET" "$key"
set_latest "$BACKUP_BUCKET" uploads/manifests "$key"
log "uploads backed up: $(jq length "$work/manifest.json") objects (${copied} copied, ${removed} deleted), manifest s3://${BACKUP_BUCKET}/${key}"
