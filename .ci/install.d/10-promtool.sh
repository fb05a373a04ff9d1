#!/usr/bin/env bash
# promtool (Debian `prometheus`) for the alert-rule unit tests.
set -euo pipefail
command -v promtool >/dev/null 2>&1 && exit 0
. "$(dirname "$0")/../lib.sh"
apt_install prometheus
