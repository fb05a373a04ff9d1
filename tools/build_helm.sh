#!/usr/bin/env bash
# Helm from the Go module proxy into build/cluster/bin (shared with the cluster tier).
# Cached: a binary that already reports the pinned version is kept, so a second run is instant.
set -euo pipefail
HELM_VERSION=v3.21.4
cd "$(dirname "$0")/.."
bin="$PWD/build/cluster/bin"
helm="$bin/helm"
if [ -x "$helm" ] && [ "$("$helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
  echo "helm $HELM_VERSION: cached at $helm"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build_helm: Go 1.26+ is needed to build helm $HELM_VERSION from the Go module proxy; install Go and re-run." >&2
  exit 1
fi
mkdir -p "$bin"
# The release Makefile's ldflags (`go install` alone reports "v3.21"): the version, and the
# Kubernetes version its client-go (v0.36.2) implies as the default for .Capabilities.
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in pkg/chartutil pkg/lint/rules; do
  ldflags="$ldflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=36"
done
GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -trimpath" nice go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
got="$("$helm" version --template '{{.Version}}')"
if [ "$got" != "$HELM_VERSION" ]; then
  echo "build_helm: built helm reports $got, expected $HELM_VERSION" >&2
  exit 1
fi
echo "helm $HELM_VERSION: built at $helm"
