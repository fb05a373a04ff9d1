#!/usr/bin/env bash
# Uploads bucket -> backup bucket (CronJob uploads-backup, daily 04:00).
#
# `aws s3 sync --delete` copies new and changed objects to uploads/current/ and turns deletions
# into delete markers; the backup bucket is versioned, so every overwritten or deleted upload
# keeps its old version until the noncurrent-version lifecycle rule expires it. A manifest
# (key TAB versionId of every live object) for the day records the exact state, so a chosen
# day can be restored; uploads/manifests/LATEST moves only after the manifest is stored.
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

aws_s3 s3 sync --delete "s3://${UPLOADS_BUCKET}/" "s3://${BACKUP_BUCKET}/uploads/current/" \
  || die "copy from ${UPLOADS_BUCKET} to ${BACKUP_BUCKET} failed"

aws_s3 s3api list-object-versions --bucket "$BACKUP_BUCKET" --prefix uploads/current/ --output json \
  > "$work/versions.json" || die "cannot list versions in ${BACKUP_BUCKET}"
jq -r '.Versions // [] | map(select(.IsLatest)) | sort_by(.Key) | .[] | [.Key, .VersionId] | @tsv' \
  "$work/versions.json" > "$work/manifest.tsv"

day="${BACKUP_DAY:-$(date -u +%Y-%m-%d)}"
key="uploads/manifests/${day}.tsv"
put_verified "$work/manifest.tsv" "$BACKUP_BUCKET" "$key"
set_latest "$BACKUP_BUCKET" uploads/manifests "$key"
log "uploads backed up: $(wc -l < "$work/manifest.tsv") objects, manifest s3://${BACKUP_BUCKET}/${key}"
