#!/usr/bin/env bash
# Stopping redis-server (SIGTERM, then SIGKILL) leaves no XDP program and no port state behind:
# a kernel server can use the port, and redis under the shim starts again and serves.
source "$(dirname "$0")/lib_redis.sh"
testbed_up

kernel_can_serve_port() {
	tpa_bg ip netns exec "$TPA_TB_SRV_NS" python3 -c "
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$TPA_TB_SRV_IP', $REDIS_PORT)); s.listen(1); s.settimeout(10)
c, _ = s.accept(); c.sendall(b'kernel-ok'); c.close()"
	local srv=$TPA_BG_PID
	sleep 0.5
	local got
	got=$(cli_ns timeout 10 python3 -c "
import socket
s = socket.create_connection(('$TPA_TB_SRV_IP', $REDIS_PORT), timeout=5)
print(s.recv(100).decode())") || true
	wait $srv || true
	[ "$got" = kernel-ok ]
}

no_xdp_left() {
	for _ in $(seq 1 50); do
		xdp_attached || return 0
		sleep 0.1
	done
	return 1
}

for sig in TERM KILL; do
	start_redis
	resp_check data 20 >/dev/null || fail "data before SIG$sig"
	# SIGTERM: it reports at exit (SIGKILL: nothing to read).
	if [ $sig = TERM ]; then finish_redis; else stop_redis KILL; fi
	no_xdp_left || fail "XDP program still attached after SIG$sig"
	# A clean exit takes the engine's lock file with it (SIGKILL leaves it to the testbed).
	if [ $sig = TERM ] && [ -n "$(tpa_ns_lock_files "$TPA_TB_SRV_NS")" ]; then
		fail "lock file left after SIGTERM: $(tpa_ns_lock_files "$TPA_TB_SRV_NS")"
	fi
	kernel_can_serve_port || fail "kernel cannot serve port $REDIS_PORT after SIG$sig"
	pass "after SIG$sig: no XDP program, kernel serves port $REDIS_PORT"
done
start_redis
resp_check data 20 >/dev/null || fail "data after restart"
finish_redis
pass "redis under the shim restarts cleanly"
