# shellcheck shell=bash
# Helpers shared by .ci/install.d/*.sh (sourced, not run).
apt_updated=/tmp/.tradesense-apt-updated
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -e "$apt_updated" ]; then apt-get update -q >/dev/null; touch "$apt_updated"; fi
  apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
