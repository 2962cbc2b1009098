#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine: Debian packages, npm dependencies,
# the native GStreamer plugin and the TypeScript build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  # GStreamer media plane and the node-gtk binding's build dependencies
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  libgirepository1.0-dev libcairo2-dev gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
  libsrtp2-dev libbzrtp-dev libssl-dev libsqlite3-dev pkg-config build-essential python3 openssl
  # sd_notify for systemd Type=notify (the sd-notify npm package links libsystemd)
  libsystemd-dev
  # real SIP peers and wire tools for the end-to-end tests
  sip-tester linphone-cli baresip kamailio tshark sox jq procps iproute2
  # real database servers for the sip-bridge SQL account loader tests (throwaway instances, test/harness/databases.ts)
  postgresql mariadb-server
  # a real Redis for the sip-bridge account updates tests (test/harness/redis.ts starts its own; the service Debian starts is not used)
  redis-server
  # promtool, to check the /metrics exposition format in the operations tests
  prometheus
  # rtpengine (userspace), the reference of the side-by-side media benchmark (bench/side-by-side/media.ts starts its own on loopback)
  rtpengine-daemon
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# npm ci only when the lock file changed since the last install (keeps re-runs fast).
stamp=node_modules/.b2bua-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi

if [ -f core/native/Makefile ]; then
  make -s -C core/native
fi

echo "setup: building TypeScript"
npx tsc -p tsconfig.json
echo "setup: done"
