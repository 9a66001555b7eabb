#!/usr/bin/env bash
# Fork-per-connection servers under the shim (issue 12): socat TCP-LISTEN:PORT,fork EXEC:cat
# accepts in the parent and serves each connection in a fork child that shares the parent's
# stack. 100 connections from kernel clients in the other namespace (10 at a time, 64 KiB of
# random bytes each way): every echo exact, every connection accelerated (no established kernel
# connection on the port while they run; at exit the stack counted 100 connections and the
# kernel socket accepted none: the stack takes the port at listen(), so even the warm-up
# connection made before the first accept is accelerated). Before: an inherited accelerated socket failed with EBADF in
# the child (1 of 20 echoes came back). The engine goes away with the family: XDP detached.
# Then socat EXEC:cat,nofork: cat exec'd with the connection as stdin/stdout, 30 connections
# byte-exact, none on the kernel.
source "$(dirname "$0")/lib_dpdk_common.sh"
dpdk_e2e_init
SHIM=$TPA_BUILD_DIR/shim/libtpa_shim.so
[ -f "$SHIM" ] || fail "shim $SHIM not built"
command -v socat >/dev/null || fail "socat not installed"
PORT=5401
N=100

dpdk_bg "$DPDK_E2E_TMP/socat.log" ip netns exec "$SRV_NS" env LD_PRELOAD="$SHIM" \
	TPA_IFACE="$SRV_IF" TPA_PORTS="$PORT" TPA_SHIM_STATS=1 \
	socat TCP-LISTEN:$PORT,fork,reuseaddr EXEC:cat
SOCAT_PID=$DPDK_BG_PID
# The listener moves to the stack at listen(); the shim says so in stats mode.
cat >"$DPDK_E2E_TMP/clients.py" <<'PY'
import os, socket, sys, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok, lock = [0], threading.Lock()
def one(i):
    msg = os.urandom(65536 + i)
    s = socket.create_connection((host, port), timeout=20)
    def send():
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    t.join()
    s.close()
    if bytes(got) == msg:
        with lock:
            ok[0] += 1
    else:
        print("connection %d: %d of %d bytes, %s" % (i, len(got), len(msg),
              "a prefix" if msg.startswith(bytes(got)) else "different"))
def batch(start):
    for i in range(start, n, 10):
        one(i)
ts = [threading.Thread(target=batch, args=(k,)) for k in range(10)]
[t.start() for t in ts]
[t.join() for t in ts]
print("exact %d of %d" % (ok[0], n))
sys.exit(0 if ok[0] == n else 1)
PY
wait_for "socat listening" bash -c "ip netns exec $SRV_NS ss -Htln '( sport = :$PORT )' | grep -q ."
wait_for "port $PORT accelerated" grep -q "^tpa: port $PORT accelerated" "$DPDK_E2E_TMP/socat.log"
cli bash -c "exec 3<>/dev/tcp/$SRV_IP/$PORT; echo warm >&3; head -c5 <&3 >/dev/null" ||
	fail "warm-up connection failed"

note "$N connections through socat fork children"
cli python3 "$DPDK_E2E_TMP/clients.py" "$SRV_IP" "$PORT" "$N" >"$DPDK_E2E_TMP/clients.log" 2>&1 &
CLIENTS=$!
kernel_seen=0
while kill -0 "$CLIENTS" 2>/dev/null; do
	c=$(srv ss -Htn state established "( sport = :$PORT )" | wc -l)
	[ "$c" -gt "$kernel_seen" ] && kernel_seen=$c
	sleep 0.05
done
wait "$CLIENTS" || { cat "$DPDK_E2E_TMP/clients.log"; fail "echoes were not all exact"; }
cat "$DPDK_E2E_TMP/clients.log"
[ "$kernel_seen" = 0 ] || fail "$kernel_seen kernel connection(s) established on port $PORT"

kill -TERM "$SOCAT_PID"
wait "$SOCAT_PID" 2>/dev/null || true # 143: killed by our SIGTERM
for _ in $(seq 50); do pgrep -f "socat TCP-LISTEN:$PORT" >/dev/null || break; sleep 0.1; done
est=$(sed -n 's/^tpa: tcp_conn_established //p' "$DPDK_E2E_TMP/socat.log")
[ "${est:-0}" -ge "$N" ] || fail "stack counted ${est:-0} connections, expected $N"
ka=$(sed -n 's/^tpa: shim_kernel_accepted //p' "$DPDK_E2E_TMP/socat.log")
[ "${ka:-0}" = 0 ] || fail "the kernel socket accepted ${ka:-0} connection(s)"
grep -E '^tpa: (tcp_conn_established|tcp_bytes_rx|tcp_bytes_tx) ' "$DPDK_E2E_TMP/socat.log"
for _ in $(seq 50); do xdp_attached || break; sleep 0.1; done
xdp_attached && fail "XDP program left attached after the family exited"
note "ok: $N exact echoes, all accelerated"

# exec with the connection as stdin/stdout (socat EXEC:cat,nofork: the fork child execs cat
# on the socket). cat gets a kernel socket relayed to the stack by a helper of the family;
# before, fds 0 and 1 were closed in cat (EBADF) and no echo came back.
PORT2=5402
N2=30
dpdk_bg "$DPDK_E2E_TMP/socat2.log" ip netns exec "$SRV_NS" env LD_PRELOAD="$SHIM" \
	TPA_IFACE="$SRV_IF" TPA_PORTS="$PORT2" TPA_SHIM_STATS=1 \
	socat TCP-LISTEN:$PORT2,fork,reuseaddr EXEC:cat,nofork
SOCAT2_PID=$DPDK_BG_PID
wait_for "port $PORT2 accelerated" grep -q "^tpa: port $PORT2 accelerated" "$DPDK_E2E_TMP/socat2.log"
note "$N2 connections through socat fork children exec'ing cat"
cli python3 "$DPDK_E2E_TMP/clients.py" "$SRV_IP" "$PORT2" "$N2" >"$DPDK_E2E_TMP/clients2.log" 2>&1 &
CLIENTS=$!
while kill -0 "$CLIENTS" 2>/dev/null; do
	c=$(srv ss -Htn state established "( sport = :$PORT2 )" | wc -l)
	[ "$c" = 0 ] || fail "$c kernel connection(s) established on port $PORT2"
	sleep 0.05
done
wait "$CLIENTS" || { cat "$DPDK_E2E_TMP/clients2.log"; fail "exec'd echoes were not all exact"; }
cat "$DPDK_E2E_TMP/clients2.log"
kill -TERM "$SOCAT2_PID"
wait "$SOCAT2_PID" 2>/dev/null || true
for _ in $(seq 100); do xdp_attached || break; sleep 0.1; done
xdp_attached && fail "XDP program left attached after the exec'd family exited"
est=$(sed -n 's/^tpa: tcp_conn_established //p' "$DPDK_E2E_TMP/socat2.log")
[ "${est:-0}" -ge "$N2" ] || fail "stack counted ${est:-0} connections, expected $N2"
note "ok: $N2 exact echoes through exec'd cat, all accelerated"
