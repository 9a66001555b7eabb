#!/usr/bin/env bash
# tpa testbed: two network namespaces joined by a veth pair.
#
#   namespace tpa-cli: veth tpa-c0  198.18.0.1/24   (the kernel-side client host)
#   namespace tpa-srv: veth tpa-s0  198.18.0.2/24   (the host where tpa serves)
#
# Usage: testbed.sh up [--queues N] [--offloads on|off] | down | status | env
#   up      idempotent; also reserves 2 MiB hugepages and mounts bpffs if missing.
#           By default the pair is what users have: the kernel's default offloads (tx checksum
#           offload, so the kernel peer's TCP segments cross with partial checksums; TSO/GSO)
#           and 2 queues on each end (what `ip link add A type veth peer name B` allocates on
#           this 2-CPU machine), both in use, over which the kernel spreads its flows.
#           Lab variants: --queues N (1-64), --offloads off (full checksums, no TSO).
#           A pair made with other settings is made again.
#   down    removes both namespaces, the veth pair and any XDP program left on it
#   env     prints shell assignments of the names and addresses (eval "$(testbed.sh env)")
# Overridable: TPA_TB_PREFIX (default tpa), TPA_TB_HUGEPAGES (default 512),
#   TPA_TB_QUEUES (default 2), TPA_TB_OFFLOADS (default on): the same as the options.
set -euo pipefail

P=${TPA_TB_PREFIX:-tpa}
CLI_NS=${P}-cli
SRV_NS=${P}-srv
CLI_IF=${P}-c0
SRV_IF=${P}-s0
CLI_IP=198.18.0.1
SRV_IP=198.18.0.2
PLEN=24
HUGEPAGES=${TPA_TB_HUGEPAGES:-512}
QUEUES=${TPA_TB_QUEUES:-2}
OFFLOADS=${TPA_TB_OFFLOADS:-on}

die() { echo "testbed: $*" >&2; exit 1; }
# (env only prints names: the e2e library reads them before a test checks that it is root)
[ "${1:-}" = env ] || [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, hugepages)"

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

print_env() {
	cat <<ENV
TPA_TB_CLI_NS=$CLI_NS
TPA_TB_SRV_NS=$SRV_NS
TPA_TB_CLI_IF=$CLI_IF
TPA_TB_SRV_IF=$SRV_IF
TPA_TB_CLI_IP=$CLI_IP
TPA_TB_SRV_IP=$SRV_IP
TPA_TB_PLEN=$PLEN
ENV
}

# The pair's current queue count and tx checksum setting, e.g. "4 on" ("" if absent).
pair_shape() {
	ip -n "$CLI_NS" link show "$CLI_IF" >/dev/null 2>&1 || return 0
	local q tx
	q=$(ip -n "$CLI_NS" -d link show "$CLI_IF" | sed -n 's/.*numrxqueues \([0-9]*\).*/\1/p')
	tx=$(ip netns exec "$CLI_NS" ethtool -k "$CLI_IF" 2>/dev/null |
		sed -n 's/^tx-checksumming: \([a-z]*\).*/\1/p')
	echo "$q $tx"
}

up() {
	[[ $QUEUES =~ ^[0-9]+$ ]] && [ "$QUEUES" -ge 1 ] && [ "$QUEUES" -le 64 ] ||
		die "--queues / TPA_TB_QUEUES: '$QUEUES' (accepted: 1 to 64)"
	case $OFFLOADS in on | off) ;; *) die "--offloads / TPA_TB_OFFLOADS: '$OFFLOADS' (accepted: on, off)" ;; esac
	ns_exists "$CLI_NS" || ip netns add "$CLI_NS"
	ns_exists "$SRV_NS" || ip netns add "$SRV_NS"
	local shape
	shape=$(pair_shape)
	if [ -n "$shape" ] && [ "$shape" != "$QUEUES $OFFLOADS" ]; then
		ip -n "$CLI_NS" link del "$CLI_IF" >/dev/null 2>&1 || true
	fi
	if ! ip -n "$CLI_NS" link show "$CLI_IF" >/dev/null 2>&1; then
		# A half-made pair from an interrupted run may sit in the root namespace.
		ip link del "$CLI_IF" >/dev/null 2>&1 || true
		ip -n "$SRV_NS" link del "$SRV_IF" >/dev/null 2>&1 || true
		# Queue counts given explicitly are also the ones in use (without them a veth has
		# one queue in use of its numrxqueues).
		ip link add "$CLI_IF" numtxqueues "$QUEUES" numrxqueues "$QUEUES" type veth \
			peer name "$SRV_IF" numtxqueues "$QUEUES" numrxqueues "$QUEUES"
		ip link set "$CLI_IF" netns "$CLI_NS"
		ip link set "$SRV_IF" netns "$SRV_NS"
	fi
	ip -n "$CLI_NS" addr replace "$CLI_IP/$PLEN" dev "$CLI_IF"
	ip -n "$SRV_NS" addr replace "$SRV_IP/$PLEN" dev "$SRV_IF"
	for ns in "$CLI_NS" "$SRV_NS"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$CLI_NS" link set "$CLI_IF" up
	ip -n "$SRV_NS" link set "$SRV_IF" up
	# The lab variant: full checksums in software on both ends (tx off also turns TSO off).
	if [ "$OFFLOADS" = off ]; then
		ip netns exec "$CLI_NS" ethtool -K "$CLI_IF" tx off >/dev/null
		ip netns exec "$SRV_NS" ethtool -K "$SRV_IF" tx off >/dev/null
	fi
	local hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
	if [ -w "$hp" ] && [ "$(cat "$hp")" -lt "$HUGEPAGES" ]; then
		echo "$HUGEPAGES" >"$hp" || true
	fi
	if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
		mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
	fi
}

down() {
	for pair in "$SRV_NS:$SRV_IF" "$CLI_NS:$CLI_IF"; do
		local ns=${pair%%:*} dev=${pair##*:}
		if ns_exists "$ns"; then
			ip -n "$ns" link set dev "$dev" xdp off >/dev/null 2>&1 || true
			ip -n "$ns" link set dev "$dev" xdpgeneric off >/dev/null 2>&1 || true
		fi
	done
	ns_exists "$CLI_NS" && ip netns del "$CLI_NS"
	ns_exists "$SRV_NS" && ip netns del "$SRV_NS"
	ip link del "$CLI_IF" >/dev/null 2>&1 || true
	ip link del "$SRV_IF" >/dev/null 2>&1 || true
	return 0
}

status() {
	local ok=1
	for ns in "$CLI_NS" "$SRV_NS"; do
		if ns_exists "$ns"; then echo "namespace $ns: present"; else echo "namespace $ns: absent"; ok=0; fi
	done
	if ns_exists "$SRV_NS" && ip -n "$SRV_NS" link show "$SRV_IF" >/dev/null 2>&1; then
		ip -n "$SRV_NS" -br addr show "$SRV_IF"
		if ip -n "$SRV_NS" link show "$SRV_IF" | grep -q 'prog/xdp'; then
			echo "$SRV_IF: XDP program attached"
		else
			echo "$SRV_IF: no XDP program"
		fi
	else
		ok=0
	fi
	ns_exists "$CLI_NS" && ip -n "$CLI_NS" -br addr show "$CLI_IF" 2>/dev/null || true
	local shape
	shape=$(pair_shape)
	[ -n "$shape" ] && echo "queues per end: ${shape% *}, tx checksum offload: ${shape#* }"
	echo "hugepages (2 MiB): $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)"
	[ "$ok" = 1 ] && echo "testbed: up" || echo "testbed: down"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
	case $1 in
	--queues) [ $# -ge 2 ] || die "--queues needs a number"; QUEUES=$2; shift 2 ;;
	--offloads) [ $# -ge 2 ] || die "--offloads needs on or off"; OFFLOADS=$2; shift 2 ;;
	*) die "unknown option '$1' (accepted: --queues N, --offloads on|off)" ;;
	esac
done

case "$cmd" in
up) up ;;
down) down ;;
status) status ;;
env) print_env ;;
*) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
