#!/usr/bin/env bash
# The local Kubernetes control plane for the e2e-cluster tier (tests/e2e/cluster): etcd, Kubernetes,
# kwok, helm and the real pulumi-resource-kubernetes built from Go modules (tools/cluster/go),
# cached in the Go caches and build/cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v go >/dev/null 2>&1; then
  echo "31-go-cluster: Go is not installed. The e2e-cluster tier needs Go 1.26+ to build the control plane" >&2
  echo "from the Go module proxy (tools/cluster/go). Install Go and re-run." >&2
  exit 1
fi
time make cluster
