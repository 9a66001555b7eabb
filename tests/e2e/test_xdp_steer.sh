#!/usr/bin/env bash
# With the engine running on the server veth and one TCP port steered to it, the kernel keeps
# serving everything else on the same address (ping, another TCP port, UDP), the steered port is
# held against kernel binds, and the steered port is answered by tpa. After SIGKILL of the
# engine's process the watchdog removes the XDP program and the kernel can use the port again.
source "$(dirname "$0")/lib_dpdk_common.sh"
dpdk_e2e_init
TCP_HELPER="python3 $(dirname "$0")/lib_dpdk_tcp.py"
PORT=5001

[ -x "$EXAMPLE" ] || fail "example program $EXAMPLE not built"

note "start the example (echo) on $SRV_IF port $PORT"
dpdk_bg "$DPDK_E2E_TMP/example.log" ip netns exec "$SRV_NS" env TPA_IFACE="$SRV_IF" \
	TPA_LOG_LEVEL=error "$EXAMPLE" server --port $PORT --service echo
EX_PID=$DPDK_BG_PID
wait_for "example ready" grep -q '^ready' "$DPDK_E2E_TMP/example.log"
xdp_attached || fail "no XDP program on $SRV_IF while the engine runs"
ip -n "$SRV_NS" -d link show dev "$SRV_IF" | grep -q tpa_steer || fail "attached program is not tpa_steer"

note "kernel keeps ping"
cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >/dev/null || fail "ping failed while steering"

note "kernel keeps another TCP port"
head -c 2000000 /dev/urandom >"$DPDK_E2E_TMP/payload"
dpdk_bg "$DPDK_E2E_TMP/k.log" ip netns exec "$SRV_NS" socat -u TCP-LISTEN:7000,reuseaddr \
	OPEN:"$DPDK_E2E_TMP/got",creat,trunc
K_PID=$DPDK_BG_PID
wait_for "kernel listener" srv sh -c "ss -ltn | grep -q ':7000 '"
cli socat -u OPEN:"$DPDK_E2E_TMP/payload" TCP:"$SRV_IP":7000 || fail "kernel TCP on port 7000 failed"
wait_for "kernel receiver done" sh -c "! kill -0 $K_PID 2>/dev/null"
cmp "$DPDK_E2E_TMP/payload" "$DPDK_E2E_TMP/got" || fail "kernel TCP data differs"

note "kernel keeps UDP"
dpdk_bg "$DPDK_E2E_TMP/u.log" ip netns exec "$SRV_NS" socat -u UDP-RECV:$PORT OPEN:"$DPDK_E2E_TMP/udp",creat,trunc
wait_for "UDP receiver" srv sh -c "ss -lun | grep -q ':$PORT '"
# Same port number as the steered TCP port: only TCP is steered.
for _ in 1 2 3; do echo "hello-udp" | cli socat -u - UDP-SENDTO:"$SRV_IP":$PORT; sleep 0.1; done
wait_for "UDP datagram on port $PORT" grep -q hello-udp "$DPDK_E2E_TMP/udp"

note "the steered port is held against kernel binds"
for addr in "$SRV_IP" 0.0.0.0; do
	# Also with SO_REUSEADDR, as most servers set it.
	if srv python3 -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$addr', $PORT))
s.listen()" 2>/dev/null; then
		fail "a kernel server could listen on steered port $PORT ($addr) while the engine runs"
	fi
done

note "the steered port is served by tpa"
cli $TCP_HELPER echo "$SRV_IP" $PORT 100000 1 || fail "echo through tpa on port $PORT failed"
grep -q "result conn rx=100000 tx=100000" "$DPDK_E2E_TMP/example.log" ||
	fail "the example did not report the echoed connection"

note "packets with IPv4 options (IHL > 5) are steered too"
cli $TCP_HELPER echo-ipopt "$SRV_IP" $PORT 100000 || fail "echo with IP options through tpa failed"

note "SIGKILL the engine: the watchdog detaches XDP"
kill -9 "$EX_PID"
wait "$EX_PID" 2>/dev/null || true
wait_for "XDP program removed after SIGKILL" sh -c "! ip -n $SRV_NS link show dev $SRV_IF | grep -q prog/xdp"

note "the kernel can serve the port again"
dpdk_bg "$DPDK_E2E_TMP/k2.log" ip netns exec "$SRV_NS" socat TCP-LISTEN:$PORT,reuseaddr EXEC:cat
wait_for "kernel listener on $PORT" srv sh -c "ss -ltn | grep -q ':$PORT '"
cli $TCP_HELPER echo "$SRV_IP" $PORT 100000 2 || fail "kernel echo on port $PORT failed after the engine died"
