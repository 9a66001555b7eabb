#!/usr/bin/env bash
# The launcher: `tpa run` says in one line what is accelerated, passes the program's exit
# status through, rejects a bad setting with the setting's name, and really accelerates: the
# redis-server it runs accounts for every connection made to it (counters at its SHUTDOWN) and
# the kernel holds no connection on its port while the checks run.
source "$(dirname "$0")/lib_redis.sh"
TPA="$SRC/scripts/tpa"
testbed_up
set +e
out=$(srv_ns "$TPA" run --shim "$SHIM" --iface "$TPA_TB_SRV_IF" --ports 7400 -- sh -c 'exit 7' 2>&1)
rc=$?
set -e
[ $rc = 7 ] || fail "exit status $rc, want 7 ($out)"
[ "$(printf '%s\n' "$out" | grep -c '^tpa')" = 1 ] || fail "want one summary line: $out"
printf '%s\n' "$out" | grep -q 7400 || fail "summary does not name the ports: $out"
pass "exit status passed through; summary: $out"

set +e
bad=$(srv_ns "$TPA" run --shim "$SHIM" --iface "$TPA_TB_SRV_IF" --ports 70000 -- true 2>&1)
rc=$?
set -e
[ $rc != 0 ] && printf '%s\n' "$bad" | grep -q TPA_PORTS || fail "bad port list accepted: rc $rc, $bad"
pass "bad setting refused: $(printf '%s\n' "$bad" | tail -1)"

# In a session of its own: the launcher execs redis-server, which cleanup must reach.
tpa_bg ip netns exec "$TPA_TB_SRV_NS" env TPA_SHIM_STATS=1 "$TPA" run -q --shim "$SHIM" --iface "$TPA_TB_SRV_IF" \
	--ports "$REDIS_PORT" -- redis-server --port "$REDIS_PORT" --save '' --protected-mode no --bind 0.0.0.0 \
	>"$E2E_WORK/redis.log" 2>&1
LAUNCHED=$TPA_BG_PID
accel_wait_port "$E2E_WORK/redis.log" "$REDIS_PORT" || fail "redis-server under tpa run: port not accelerated"
opens=$(accel_opens "$TPA_TB_CLI_NS")
[ "$(rcli ping)" = PONG ] || fail "redis-server under tpa run does not answer"
xdp_attached || fail "redis-server under tpa run is not accelerated"
accel_watch_start "$TPA_TB_SRV_NS" "$REDIS_PORT"
resp_check data 20 >/dev/null || fail "redis-server under tpa run: replies"
accel_watch_stop 1 || fail "redis-server under tpa run: the kernel served connections on its port"
rcli shutdown nosave >/dev/null 2>&1 || true
wait "$LAUNCHED" || fail "redis-server under tpa run: exit status $? after SHUTDOWN"
opens=$(($(accel_opens "$TPA_TB_CLI_NS") - opens))
sum=$(accel_expect "$E2E_WORK/redis.log" conns="$opens") ||
	fail "redis-server under tpa run: the counters do not account for its $opens connection(s)"
pass "redis-server under tpa run answers through tpa: $sum"
