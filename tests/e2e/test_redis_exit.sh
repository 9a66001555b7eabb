#!/usr/bin/env bash
# Clients of a server that exits see their connections end, as with the kernel (which closes
# a dying process's fds): an idle client blocked in recv() gets EOF at once instead of waiting
# on a half-open connection until its own timeout.
source "$(dirname "$0")/lib_redis.sh"
testbed_up
start_redis

WAITER='import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"PING\r\n"); assert s.recv(100).startswith(b"+PONG")
print("connected", flush=True)
s.settimeout(20); t = time.time()
try:
    d = s.recv(100); what = "EOF" if d == b"" else "data %r" % d
except ConnectionResetError:
    what = "reset"
except socket.timeout:
    what = "nothing (timeout)"
print("%s after %.1f s" % (what, time.time() - t))'
tpa_bg ip netns exec "$TPA_TB_CLI_NS" python3 -c "$WAITER" "$TPA_TB_SRV_IP" "$REDIS_PORT" >"$E2E_WORK/waiter.log" 2>&1
WAITER_PID=$TPA_BG_PID
for _ in $(seq 1 50); do grep -q connected "$E2E_WORK/waiter.log" && break; sleep 0.1; done
grep -q connected "$E2E_WORK/waiter.log" || fail "waiter did not connect: $(cat "$E2E_WORK/waiter.log")"
finish_redis
wait "$WAITER_PID" || fail "waiter: $(cat "$E2E_WORK/waiter.log")"
res=$(tail -1 "$E2E_WORK/waiter.log")
case $res in
EOF*) pass "idle client after the server exited: $res" ;;
*) fail "idle client after the server exited: $res" ;;
esac
