#!/usr/bin/env bash
# Installs, from Debian 12's archive, everything meshgate builds and tests with.
# Idempotent: packages already present are skipped, apt-get runs only when something is missing.
set -euo pipefail

PKGS=(
  # build
  meson ninja-build pkg-config g++ clang-14 libfuzzer-14-dev libclang-rt-14-dev
  clang-format clang-tidy
  # libraries
  dpdk dpdk-dev libdpdk-dev libssl-dev libnghttp2-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev libipsec-mb-dev libnuma-dev
  # lab and peers
  iproute2 iputils-ping ethtool iperf3 curl tshark python3 python3-scapy netcat-openbsd
  procps psmisc hping3
  # the YANG model's conformance test (yanglint)
  libyang2-tools
  # meshgate-mgmtd: YANG datastores, NETCONF over SSH (ietf-netconf modules from libyuma-base),
  # RESTCONF over TLS, crypt(3) passwords; its tests: ncclient, ssh-keygen, openssl
  libyang2-dev libnetconf2-dev libssh-dev libyuma-base libcrypt-dev python3-ncclient openssh-client openssl
  # telemetry tests: a real Prometheus, headless Chromium driven over DevTools
  prometheus chromium python3-websocket
  # tcp-proxy: packet loss in the lab test (nft numgen), the peer proxy of perf/tcp-proxy.sh
  nftables haproxy
)
# The live dashboard's Chart.js comes from npm (telemetry/dashboard); any node/npm already here will do.
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Chart.js for the dashboard, as pinned by telemetry/dashboard/package-lock.json (the build embeds
# it); again only when the lock file changed since the last install.
dash=$(cd "$(dirname "$(readlink -f "$0")")/../telemetry/dashboard" && pwd)
if [ ! -f "$dash/node_modules/.package-lock.json" ] || [ "$dash/package-lock.json" -nt "$dash/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in telemetry/dashboard"
  (cd "$dash" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
