#!/usr/bin/env bash
# SYN flood against an accelerated redis-server: hping3 floods SYNs from an unused address of
# the testbed's own subnet (nobody answers its ARP, so no SYN-ACK leaves the testbed) while
# real clients connect and GET. With SYN cookies the stack keeps no state for the flood and
# the real clients are answered: at least 9 of 10 during the flood. The kernel's redis is
# measured in the same test, under the same flood, for comparison (printed, not asserted).
source "$(dirname "$0")/lib_dpdk_common.sh"
# shellcheck source=tests/e2e/lib_accel.sh
source "$(dirname "$0")/lib_accel.sh"
dpdk_e2e_init
SHIM=$TPA_BUILD_DIR/shim/libtpa_shim.so
[ -f "$SHIM" ] || fail "shim $SHIM not built"
command -v hping3 >/dev/null || fail "hping3 missing (scripts/deps.sh installs it)"
command -v redis-server >/dev/null || fail "redis-server missing (scripts/deps.sh installs it)"
PORT=6390
SPOOF=${TPA_TB_SPOOF_IP:-198.18.0.77}

start_redis() { # log, env...
	local log=$1
	shift
	dpdk_bg "$log" ip netns exec "$SRV_NS" env "$@" redis-server --port "$PORT" --save '' \
		--appendonly no --protected-mode no --bind 0.0.0.0
	REDIS_PID=$DPDK_BG_PID
	# Under the shim the listener moves to tpa at redis's first poll of it; a client that
	# connects before that is the kernel's (by design), so wait for the move first.
	[[ "$*" != *LD_PRELOAD=* ]] ||
		wait_for "port $PORT accelerated" grep -q "^tpa: port $PORT accelerated" "$log"
	wait_for "redis answers" cli redis-cli -h "$SRV_IP" -p "$PORT" ping
}

stop_redis() {
	cli redis-cli -h "$SRV_IP" -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
	wait "$REDIS_PID" 2>/dev/null || true
}

# Ten fresh connections, one GET each, during a flood: prints how many were answered.
gets_under_flood() {
	cli timeout 30 hping3 -q -S --flood -p "$PORT" -a "$SPOOF" "$SRV_IP" >/dev/null 2>&1 &
	local flood=$!
	sleep 2 # let the SYN queue fill
	local ok=0
	for i in $(seq 10); do
		if cli timeout 3 redis-cli -h "$SRV_IP" -p "$PORT" set "k$i" "v$i" >/dev/null 2>&1 &&
			[ "$(cli timeout 3 redis-cli -h "$SRV_IP" -p "$PORT" get "k$i" 2>/dev/null)" = "v$i" ]; then
			ok=$((ok + 1))
		fi
	done
	kill "$flood" 2>/dev/null
	wait "$flood" 2>/dev/null || true
	echo "$ok"
}

counter() { # log name
	local v
	v=$(sed -n "s/^tpa: $2 \([0-9]*\)$/\1/p" "$1" | tail -1)
	echo "${v:-0}"
}

note "kernel redis under a SYN flood from $SPOOF"
start_redis "$DPDK_E2E_TMP/kernel.log"
kernel_ok=$(gets_under_flood)
stop_redis
note "kernel: $kernel_ok of 10 clients answered during the flood"

note "accelerated redis under the same flood"
start_redis "$DPDK_E2E_TMP/tpa.log" LD_PRELOAD="$SHIM" TPA_IFACE="$SRV_IF" TPA_PORTS="$PORT" \
	TPA_SHIM_STATS=1 ${TPA_FLOOD_EXTRA_ENV:-}
accel_watch_start "$SRV_NS" "$PORT"
tpa_ok=$(gets_under_flood)
accel_watch_stop 5 || fail "the kernel held connections on the port during the flood"
cli redis-cli -h "$SRV_IP" -p "$PORT" ping >/dev/null || fail "no answer after the flood"
stop_redis
LOG=$DPDK_E2E_TMP/tpa.log
note "tpa: $tpa_ok of 10 clients answered during the flood (kernel: $kernel_ok);" \
	"cookies sent $(counter "$LOG" tcp_syncookies_sent), SYN queue overflows" \
	"$(counter "$LOG" tcp_syn_queue_overflow)"
[ "$(counter "$LOG" tcp_syncookies_sent)" -gt 1000 ] || fail "the flood did not make tpa send SYN cookies"
[ "$tpa_ok" -ge 9 ] || fail "only $tpa_ok of 10 real clients were answered during the flood"
[ "$(counter "$LOG" shim_kernel_accepted)" = 0 ] || fail "the kernel accepted connections on the port"
exit 0
