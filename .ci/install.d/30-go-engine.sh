#!/usr/bin/env bash
# The real Pulumi engine for the e2e suite (tests/e2e): the CLI built from Go modules
# (tools/engine/go, cached in the Go caches and build/engine) plus the fake provider plugins.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v go >/dev/null 2>&1; then
  echo "30-go-engine: Go is not installed. The e2e suite needs Go 1.26+ to build the Pulumi CLI from" >&2
  echo "the Go module proxy (tools/engine/go/go.mod). Install Go, or a Pulumi CLI, and re-run." >&2
  exit 1
fi
time make engine
