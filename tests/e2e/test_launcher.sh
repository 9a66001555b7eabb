#!/usr/bin/env bash
# The launcher: `tpa run` says in one line what is accelerated, passes the program's exit
# status through, rejects a bad setting with the setting's name, and really accelerates.
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
tpa_bg ip netns exec "$TPA_TB_SRV_NS" "$TPA" run -q --shim "$SHIM" --iface "$TPA_TB_SRV_IF" --ports "$REDIS_PORT" -- \
	redis-server --port "$REDIS_PORT" --save '' --protected-mode no --bind 0.0.0.0 \
	>"$E2E_WORK/redis.log" 2>&1
for _ in $(seq 1 50); do [ "$(rcli ping 2>/dev/null)" = PONG ] && break; sleep 0.2; done
[ "$(rcli ping)" = PONG ] || fail "redis-server under tpa run does not answer"
xdp_attached || fail "redis-server under tpa run is not accelerated"
pass "redis-server under tpa run answers through tpa"
