#!/usr/bin/env bash
# Install every Debian package tpa needs to build, test and benchmark. Idempotent and quiet;
# returns quickly when everything is present. Needs root (or sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config clang llvm
	# lint (scripts/lint.sh)
	clang-format shellcheck
	dpdk-dev libdpdk-dev libbpf-dev libxdp-dev libnuma-dev libelf-dev zlib1g-dev
	# tests
	check iproute2 ethtool iputils-ping procps psmisc socat curl python3 python3-scapy tcpdump
	nginx-light redis-server redis-tools hping3 wrk
	haproxy memcached libmemcached-tools postgresql postgresql-client
	# benchmarks and reports
	gnuplot-nox jq valgrind
	# fuzzing (libFuzzer runtime for clang)
	libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# Debian starts redis-server/nginx/haproxy/memcached services on install; tests start their
# own instances.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for svc in redis-server nginx haproxy memcached postgresql; do
	if command -v systemctl >/dev/null 2>&1; then
		$SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
	$SUDO service "$svc" stop >/dev/null 2>&1 || true
done
