#!/usr/bin/env bash
# Packets per second through the native-API example, tpa on both ends:
#   af_xdp: example client on the client veth <-> example server on the server veth
#   memif:  two example processes joined by net_memif
# For each: a request/response run (64-byte messages on many connections: one small packet
# per message each way) and a bulk run (source -> discard). Prints the figures and appends them
# to a results file. Measures only; no pass/fail.
#
# Usage: scripts/bench_pps.sh [results-file]       (root; builds must exist)
# Env:   TPA_BUILD_DIR (default ./build), BENCH_SECONDS (default 5), BENCH_CONNS (default 32),
#        BENCH_MSG (default 64), BENCH_BULK_MIB (default 1024), TPA_TB_PREFIX (testbed prefix)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${TPA_BUILD_DIR:-$SRC/build}
EXAMPLE=$BUILD/dpdk/tpa_example
OUT=${1:-bench_pps_results.txt}
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-32}
MSG=${BENCH_MSG:-64}
BULK_MIB=${BENCH_BULK_MIB:-1024}
[ "$(id -u)" = 0 ] || { echo "bench_pps: must run as root" >&2; exit 1; }
[ -x "$EXAMPLE" ] || { echo "bench_pps: $EXAMPLE not built (set TPA_BUILD_DIR)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/tpa-bench.XXXXXX)
PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	"$SRC/scripts/testbed.sh" down >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
"$SRC/scripts/testbed.sh" up >/dev/null
eval "$("$SRC/scripts/testbed.sh" env)"

stat_of() { awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }' "$1"; }

# run_pair NAME SERVER_PREFIX_CMD... -- CLIENT_PREFIX_CMD... : prefix commands (env/netns) for
# each side; the service arguments are added here.
results=()
record() { results+=("$(printf '%-8s %-6s %s' "$1" "$2" "$3")"); }

start_server() { # log service prefix...
	local log=$1 svc=$2
	shift 2
	"$@" "$EXAMPLE" server --port 5001 --service "$svc" >"$log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	for _ in $(seq 300); do grep -q '^ready' "$log" && return 0; sleep 0.1; done
	echo "bench_pps: server did not start:" >&2
	cat "$log" >&2
	exit 1
}
stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }

bench_mode() { # mode, server prefix (array name), client prefix (array name), peer ip
	local mode=$1 peer=$4
	local -n sp=$2 cp=$3
	local log=$TMP/$mode

	start_server "$log-rr-srv" echo "${sp[@]}"
	"${cp[@]}" "$EXAMPLE" client --connect "$peer:5001" --service echo-rr --conns "$CONNS" \
		--msg-size "$MSG" --seconds "$SECS" --nodelay --stats >"$log-rr" 2>&1 || true
	stop_server
	local secs msgs pin pout
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$log-rr")
	msgs=$(sed -n 's/.*msgs=\([0-9]*\).*/\1/p' "$log-rr")
	pin=$(stat_of "$log-rr" port_ipackets)
	pout=$(stat_of "$log-rr" port_opackets)
	if [ -z "$secs" ] || [ -z "$msgs" ]; then
		record "$mode" rr "failed (see below)"
		sed 's/^/    /' "$log-rr" | tail -5
	else
		record "$mode" rr "$(awk -v m="$msgs" -v i="$pin" -v o="$pout" -v s="$secs" -v c="$CONNS" -v b="$MSG" \
			'BEGIN { printf "%d conns x %d B: %.0f msgs/s, client port %.0f pkts/s (rx %.0f + tx %.0f)", c, b, m / s, (i + o) / s, i / s, o / s }')"
	fi

	start_server "$log-bulk-srv" discard "${sp[@]}"
	local t0 t1
	t0=$(date +%s.%N)
	"${cp[@]}" "$EXAMPLE" client --connect "$peer:5001" --service source \
		--bytes $((BULK_MIB << 20)) --stats >"$log-bulk" 2>&1 || true
	t1=$(date +%s.%N)
	stop_server
	pout=$(stat_of "$log-bulk" port_opackets)
	pin=$(stat_of "$log-bulk" port_ipackets)
	if grep -q "result client ok=1" "$log-bulk"; then
		record "$mode" bulk "$(awk -v t0="$t0" -v t1="$t1" -v mib="$BULK_MIB" -v i="$pin" -v o="$pout" \
			'BEGIN { s = t1 - t0; printf "%d MiB: %.2f Gbit/s, client port %.0f pkts/s (tx %.0f + rx %.0f), %.2f s incl. start", mib, mib * 8 * 1.048576 / 1000 / s, (i + o) / s, o / s, i / s, s }')"
	else
		record "$mode" bulk "failed"
		sed 's/^/    /' "$log-bulk" | tail -5
	fi
}

# af_xdp: both ends tpa, each on its own veth end. The prefixes are passed to bench_mode by
# name (local -n), which shellcheck does not follow (SC2034: "appears unused").
# shellcheck disable=SC2034
srv_prefix=(ip netns exec "$TPA_TB_SRV_NS" env TPA_IFACE="$TPA_TB_SRV_IF")
# shellcheck disable=SC2034
cli_prefix=(ip netns exec "$TPA_TB_CLI_NS" env TPA_IFACE="$TPA_TB_CLI_IF")
bench_mode af_xdp srv_prefix cli_prefix "$TPA_TB_SRV_IP"

# memif: two processes, shared memory.
SOCK=$TMP/memif.sock
# shellcheck disable=SC2034
msrv_prefix=(env TPA_PORT_TYPE=memif TPA_MEMIF_SOCKET="$SOCK" TPA_MEMIF_ROLE=server TPA_IP=10.77.0.2/24)
# shellcheck disable=SC2034
mcli_prefix=(env TPA_PORT_TYPE=memif TPA_MEMIF_SOCKET="$SOCK" TPA_MEMIF_ROLE=client TPA_IP=10.77.0.1/24)
bench_mode memif msrv_prefix mcli_prefix 10.77.0.2

{
	echo "# tpa bench_pps $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -r) $(nproc) CPUs, ${SECS}s runs"
	printf '%s\n' "${results[@]}"
} | tee -a "$OUT"
