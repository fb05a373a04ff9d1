#!/usr/bin/env bash
# amtool (Debian `prometheus-alertmanager`) for the Alertmanager config and routing tests.
set -euo pipefail
command -v amtool >/dev/null 2>&1 && exit 0
. "$(dirname "$0")/../lib.sh"
apt_install prometheus-alertmanager
