#!/usr/bin/env bash
# Sustained load: 2.4 million requests from 50 clients (pipelined and not) against redis-server
# under the shim. It must answer every one, still answer PING afterwards, and its AF_XDP port
# must end healthy: no descriptor rejected by the kernel and a fill ring that never ran dry
# (either one once stopped redis for good after a few hundred thousand packets).
source "$(dirname "$0")/lib_redis.sh"
testbed_up
start_redis

bench() { # label, redis-benchmark args...
	local label=$1
	shift
	cli_ns timeout 300 redis-benchmark -h "$TPA_TB_SRV_IP" -p "$REDIS_PORT" -c 50 -q "$@" \
		>"$E2E_WORK/$label.log" 2>&1 || fail "$label: $(tail -3 "$E2E_WORK/$label.log")"
	tr '\r' '\n' <"$E2E_WORK/$label.log" | grep -Ei 'error|reset|refused' && fail "$label saw errors"
	[ "$(rcli ping)" = PONG ] || fail "no PONG after $label"
	pass "$label: $(tr '\r' '\n' <"$E2E_WORK/$label.log" | grep 'requests per second' | tr '\n' ' ')"
}
bench pipelined -P 16 -n 1000000 -t set,get
bench plain -P 1 -n 200000 -t set,get
resp_check data 200 >/dev/null || fail "data check after the load"
pass "replies still correct"

finish_redis
[ "${TPA_E2E_KERNEL:-0}" = 1 ] && exit 0
for k in xsk_tx_invalid_descs xsk_rx_invalid_descs xsk_rx_fill_ring_empty; do
	v=$(accel_counter "$REDIS_LOG" $k)
	[ "$v" = 0 ] || fail "$k = $v after the load"
done
pass "AF_XDP port healthy: $(grep -E '^tpa: (port_ipackets|xsk_|mbufs)' "$REDIS_LOG" | tr '\n' ' ')"
