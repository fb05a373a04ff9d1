#!/usr/bin/env bash
# Helm for the offline plan's chart renders (tools/chart_render.py) and the cluster tier:
# built from the Go module proxy into build/cluster/bin, cached in the Go caches.
set -euo pipefail
cd "$(dirname "$0")/../.."
time make helm
