#!/usr/bin/env bash
# BGSAVE while clients load the server: redis forks, the child writes the RDB file and closes its
# inherited sockets; no client connection may break and the parent keeps serving.
source "$(dirname "$0")/lib_redis.sh"
testbed_up
start_redis

resp_check data 50 >/dev/null || fail "initial data"
tpa_bg "${RESP_CHECK[@]}" hold 8 >"$E2E_WORK/hold.log" 2>&1
HOLD=$TPA_BG_PID
tpa_bg ip netns exec "$TPA_TB_CLI_NS" timeout 300 redis-benchmark -h "$TPA_TB_SRV_IP" -p "$REDIS_PORT" -c 50 -n 150000 \
	-t set,get -r 10000 -q >"$E2E_WORK/load.log" 2>&1
LOAD=$TPA_BG_PID
sleep 1
for i in 1 2 3; do
	before=$(rcli lastsave)
	reply=$(rcli bgsave)
	echo "$reply" | grep -Eq 'Background saving started|already in progress' || fail "BGSAVE #$i: $reply"
	for _ in $(seq 1 100); do
		rcli info persistence | tr -d '\r' | grep -q '^rdb_bgsave_in_progress:0' &&
			[ "$(rcli lastsave)" != "$before" ] && break
		sleep 0.1
	done
	rcli info persistence | tr -d '\r' | grep -q '^rdb_last_bgsave_status:ok' || fail "BGSAVE #$i failed"
	pass "BGSAVE #$i completed under load"
	sleep 0.5
done
wait $LOAD || fail "load generator failed: $(tail -3 "$E2E_WORK/load.log")"
tr '\r' '\n' <"$E2E_WORK/load.log" | grep -Ei 'error|reset|refused' && fail "load generator saw errors"
wait $HOLD || fail "a held connection broke during BGSAVE: $(cat "$E2E_WORK/hold.log")"
pass "$(cat "$E2E_WORK/hold.log")"
[ -s "$E2E_WORK/dump.rdb" ] || fail "no RDB file written"
resp_check data 50 >/dev/null || fail "data after BGSAVE"
pass "server serves correctly after 3 forks"
finish_redis
