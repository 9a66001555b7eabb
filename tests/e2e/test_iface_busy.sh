#!/usr/bin/env bash
# Two accelerated programs on one interface: the first owns it (one engine per interface);
# the second is told so in one line, stays on the kernel and works, and the first's steering
# is untouched (a tpa XDP program is never taken for a stale one while its owner lives).
# Proved by counters: the second program says exactly that one line and starts no engine; the
# first, stopped at the end, accounts for every connection made to it, none on the kernel.
source "$(dirname "$0")/lib_redis.sh"
testbed_up
start_redis
[ "${TPA_E2E_KERNEL:-0}" = 1 ] && { pass "kernel mode: nothing to check"; exit 0; }
prog=$(srv_ns ip link show dev "$TPA_TB_SRV_IF" | grep -o 'prog/xdp id [0-9]*')

head -c 3000000 /dev/urandom >"$E2E_WORK/data"
tpa_bg ip netns exec "$TPA_TB_SRV_NS" env LD_PRELOAD="$SHIM" TPA_IFACE="$TPA_TB_SRV_IF" TPA_PORTS=7300 TPA_SHIM_STATS=1 \
	timeout 30 socat -u TCP-LISTEN:7300,reuseaddr OPEN:"$E2E_WORK/got",creat,trunc \
	2>"$E2E_WORK/second.log"
SECOND=$TPA_BG_PID
for _ in $(seq 1 50); do
	srv_ns ss -Hltn "sport = :7300" | grep -q . && break
	sleep 0.1
done
opens=$(accel_opens "$TPA_TB_CLI_NS")
cli_ns timeout 30 socat -u OPEN:"$E2E_WORK/data" TCP:"$TPA_TB_SRV_IP":7300 ||
	fail "sending to the second program"
second_opens=$(($(accel_opens "$TPA_TB_CLI_NS") - opens))
wait "$SECOND" || fail "second program: $(cat "$E2E_WORK/second.log")"
cmp -s "$E2E_WORK/data" "$E2E_WORK/got" || fail "second program received other bytes"
grep -q 'stays on the kernel.*already used by another tpa process (pid [0-9]*)' \
	"$E2E_WORK/second.log" || fail "no clear line from the second program: $(cat "$E2E_WORK/second.log")"
# That line and nothing else from tpa: no engine, no counters.
[ "$(grep -c '^tpa: ' "$E2E_WORK/second.log")" = 1 ] ||
	fail "the second program printed more than the one line: $(cat "$E2E_WORK/second.log")"
accel_no_fallback_lines "$E2E_WORK/second.log" 'port 7300 stays on the kernel.*already used by another tpa process' ||
	fail "unexpected fallback line from the second program"
pass "second program on the same interface: $(head -1 "$E2E_WORK/second.log")"
[ "$(srv_ns ip link show dev "$TPA_TB_SRV_IF" | grep -o 'prog/xdp id [0-9]*')" = "$prog" ] ||
	fail "the first program's XDP program was replaced"
[ "$(rcli ping)" = PONG ] || fail "first program stopped answering"
resp_check data 50 >/dev/null || fail "first program's replies"
pass "first program unharmed, still accelerated ($prog)"
finish_redis not_redis="$second_opens"
