#!/usr/bin/env bash
# Many clients and rude clients: 1000 concurrent connections; clients reset or killed in the
# middle of a pipeline; CLIENT KILL closing a live connection. The server must keep serving.
source "$(dirname "$0")/lib_redis.sh"
testbed_up
ulimit -n 16384
start_redis

cli_ns bash -c "ulimit -n 16384; timeout 300 redis-benchmark -h $TPA_TB_SRV_IP -p $REDIS_PORT \
	-c 1000 -n 100000 -t set,get -q" >"$E2E_WORK/c1000.log" 2>&1 || fail "1000 clients: $(tail -3 "$E2E_WORK/c1000.log")"
tr '\r' '\n' <"$E2E_WORK/c1000.log" | grep -Ei 'error|reset|refused' && fail "1000 clients saw errors"
pass "1000 concurrent clients: $(tr '\r' '\n' <"$E2E_WORK/c1000.log" | grep 'requests per second' | tr '\n' ' ')"

for i in 1 2 3; do
	resp_check abort 5000 >/dev/null || fail "abort client #$i"
done
tpa_bg "${RESP_CHECK[@]}" pipeline 2000000 >/dev/null 2>&1
VICTIM=$TPA_BG_PID
sleep 1
kill -9 $VICTIM 2>/dev/null || true
wait $VICTIM 2>/dev/null || true
[ "$(rcli ping)" = PONG ] || fail "server does not answer after clients died mid-pipeline"
resp_check data 30 >/dev/null || fail "data after aborted clients"
pass "clients reset/killed mid-pipeline: server unharmed"

tpa_bg "${RESP_CHECK[@]}" hold 30 >"$E2E_WORK/killed.log" 2>&1
HOLD=$TPA_BG_PID
id=""
for _ in $(seq 1 50); do
	id=$(rcli client list | tr -d '\r' | awk '/cmd=ping/ {for (i=1;i<=NF;i++) if ($i ~ /^id=/) {sub("id=","",$i); print $i}}' | head -1)
	[ -n "$id" ] && break
	sleep 0.1
done
[ -n "$id" ] || fail "held client not found in CLIENT LIST"
[ "$(rcli client kill id "$id")" = 1 ] || fail "CLIENT KILL ID $id"
if wait $HOLD; then fail "killed client kept working"; fi
grep -q 'connection closed' "$E2E_WORK/killed.log" || fail "killed client did not see EOF: $(cat "$E2E_WORK/killed.log")"
[ "$(rcli ping)" = PONG ] || fail "server after CLIENT KILL"
pass "CLIENT KILL closed the connection (client saw EOF), server unharmed"
finish_redis
