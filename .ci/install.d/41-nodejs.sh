#!/usr/bin/env bash
# Node.js runs .github/scripts/upsert.js (the workflows' comment/issue script) in tests/test_workflows.py.
set -euo pipefail
command -v node >/dev/null 2>&1 && exit 0
# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/../lib.sh"
apt_install nodejs
