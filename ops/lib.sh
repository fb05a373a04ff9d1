# shellcheck shell=bash
# Shared helpers for the ops/ job scripts (sourced, not run). Mounted next to them from the
# same ConfigMap.
#
# Secrets never pass through the shell: passwords and keys arrive as environment variables
# that Kubernetes sets from Secrets (PGPASSWORD, REDISCLI_AUTH, AWS_SECRET_ACCESS_KEY) or as
# IRSA web-identity tokens, and the tools read them from the environment. No script expands
# them, so `set -x` traces (and error messages) can never print them.
set -euo pipefail

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${0##*/}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Errors of a command go to this file, not into "$(...)": under `set -x` a captured stream
# would also hold the trace. Scripts with their own EXIT trap remove it there.
OPS_ERR="$(mktemp "${TMPDIR:-/tmp}/ops-err.XXXXXX")"
trap 'rm -f "$OPS_ERR"' EXIT
last_error() { tail -n 5 "$OPS_ERR" | tr '\n' ' '; }

require_env() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || die "environment variable ${name} is required"
  done
}

# The AWS CLI against the configured S3 API (AWS S3, DigitalOcean Spaces or a dev endpoint).
aws_s3() {
  local service="$1"
  shift
  # `aws s3 <cmd>` prints progress unless told not to.
  [ "$service" != s3 ] || set -- "$1" --only-show-errors "${@:2}"
  aws ${S3_ENDPOINT_URL:+--endpoint-url "$S3_ENDPOINT_URL"} "$service" "$@"
}

# Fail early, with the bucket's name, when the bucket is missing or unreachable.
check_bucket() {
  local bucket="$1"
  if ! aws_s3 s3api head-bucket --bucket "$bucket" 2>"$OPS_ERR"; then
    die "bucket ${bucket} is not reachable (missing, no access, or the endpoint is down): $(last_error)"
  fi
}

# Upload a file and check the stored object's size before anything points at it.
put_verified() {
  local file="$1" bucket="$2" key="$3" sha size stored
  sha="$(sha256sum "$file" | cut -d' ' -f1)"
  size="$(stat -c %s "$file")"
  aws_s3 s3 cp "$file" "s3://${bucket}/${key}" --metadata "sha256=${sha}" \
    || die "upload of s3://${bucket}/${key} failed"
  stored="$(aws_s3 s3api head-object --bucket "$bucket" --key "$key" --query ContentLength --output text)" \
    || die "s3://${bucket}/${key} is missing after upload"
  [ "$stored" = "$size" ] || die "s3://${bucket}/${key} has ${stored} bytes, expected ${size}"
}

# Point "<prefix>/LATEST" at a key. Written last, after the object was verified: a single PUT
# is atomic, so LATEST always names a complete object.
set_latest() {
  local bucket="$1" prefix="$2" key="$3"
  printf '%s\n' "$key" | aws_s3 s3 cp - "s3://${bucket}/${prefix}/LATEST" \
    || die "could not update s3://${bucket}/${prefix}/LATEST"
}

get_latest() {
  local bucket="$1" prefix="$2" key
  key="$(aws_s3 s3 cp "s3://${bucket}/${prefix}/LATEST" - 2>/dev/null)" \
    || die "no s3://${bucket}/${prefix}/LATEST: no backup has completed yet (or the bucket is unreachable)"
  printf '%s' "$key"
}

# Download an object and check it against the sha256 recorded at upload.
get_verified() {
  local bucket="$1" key="$2" dest="$3" want got
  aws_s3 s3 cp "s3://${bucket}/${key}" "$dest" || die "download of s3://${bucket}/${key} failed"
  want="$(aws_s3 s3api head-object --bucket "$bucket" --key "$key" --query 'Metadata.sha256' --output text)" \
    || die "cannot read the checksum of s3://${bucket}/${key}"
  got="$(sha256sum "$dest" | cut -d' ' -f1)"
  [ "$want" = "$got" ] || die "s3://${bucket}/${key} is corrupt: sha256 ${got}, recorded ${want}"
}

# Uploads backups (uploads-backup.sh, uploads-restore.sh, restore-drill.sh). An S3 key may hold
# any character (tabs, newlines, backslashes, a leading "/", "..") and up to 1024 bytes, so keys
# only ever travel as JSON (manifests) or NUL-terminated (shell loops), never as lines, and
# every backed-up object is stored under the sha256 of its key (uploads/objects/<hex>): a
# prefix plus a 1024-byte key would not fit in a key.
UPLOADS_OBJECTS=uploads/objects
upload_blob_key() {
  printf '%s/%s' "$UPLOADS_OBJECTS" "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"
}

# Manifest entries as NUL-terminated fields: Key, Blob, VersionId, Sha256 (four per entry).
manifest_fields() {
  jq -j '.[] | .Key, "\u0000", .Blob, "\u0000", .VersionId, "\u0000", .Sha256, "\u0000"' "$1"
}

# One backed-up upload (blob at a version) into a file, checked against the sha256 the
# manifest recorded when it was backed up.
fetch_upload() {
  local blob="$1" version="$2" want="$3" dest="$4" got
  aws_s3 s3api get-object --bucket "$BACKUP_BUCKET" --key="$blob" --version-id="$version" "$dest" >/dev/null 2>"$OPS_ERR" \
    || die "cannot read s3://${BACKUP_BUCKET}/${blob} version ${version}: $(last_error)"
  got="$(sha256sum "$dest" | cut -d' ' -f1)"
  [ "$got" = "$want" ] || die "s3://${BACKUP_BUCKET}/${blob} version ${version} is corrupt: sha256 ${got}, recorded ${want}"
}
