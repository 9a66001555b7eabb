#!/usr/bin/env bash
# A veth with the kernel's default offloads (the kernel peer's TCP segments cross with partial
# checksums) and, as a lab variant of the default testbed's 2, 4 queues on each end (a
# multi-queue NIC's case: more queues than one flow per queue), over which the kernel spreads
# its flows. A threaded python echo server runs under the shim on an accelerated
# port; kernel clients in the other namespace:
#   - 16 parallel connections, 8 MiB each way each, byte-exact, then 64 MiB each way on one
#   - proved accelerated while they run: no established kernel connection on the port in the
#     server namespace, sampled again and again; at exit the stack counted every connection
#     and byte, the kernel socket accepted none, the XDP program handed none to the kernel
#   - the flows arrived on more than one queue, with partial checksums trusted
#   - an MTU larger than tpa's packet buffers (3000 on both ends): tpa uses the largest that
#     fits, says so in one line, and the transfer works (before: AF_XDP dropped every full
#     frame and the connection stalled)
#   - live flows move to another queue mid-transfer (the client's tx queues cut to 1, which
#     puts every flow on queue 0, and raised to 4 again, twice): byte-exact, no reset; 4 flows
#     spread over 4 queues (counted) all crossed to queue 0 and back
source "$(dirname "$0")/lib_dpdk_common.sh"
export TPA_TB_QUEUES=4
dpdk_e2e_init
SHIM=$TPA_BUILD_DIR/shim/libtpa_shim.so
[ -f "$SHIM" ] || fail "shim $SHIM not built"
TCP_HELPER="python3 $(dirname "$0")/lib_dpdk_tcp.py"
MIB=$((1 << 20))
PORT=5301

shape=$(ip -n "$CLI_NS" -d link show "$CLI_IF" | sed -n 's/.*numrxqueues \([0-9]*\).*/\1/p')
[ "$shape" = 4 ] || fail "the testbed should have 4 queues per end here, has $shape"
cli ethtool -k "$CLI_IF" | grep -q '^tx-checksumming: on' ||
	fail "the default testbed should keep tx checksum offload on"

# Serves N connections (threads), then exits normally so the shim prints its counters.
start_server() { # connections
	dpdk_bg "$DPDK_E2E_TMP/server.log" ip netns exec "$SRV_NS" env LD_PRELOAD="$SHIM" \
		TPA_IFACE="$SRV_IF" TPA_PORTS="$PORT" TPA_SHIM_STATS=1 \
		python3 "$(dirname "$0")/lib_dpdk_tcp.py" echo-server "$SRV_IP" "$PORT" "$1"
	SERVER_PID=$DPDK_BG_PID
	# The listener moves to the stack at listen() (the shim says so in stats mode):
	# nothing made before it reaches the kernel socket.
	wait_for "port $PORT accelerated" grep -q "^tpa: port $PORT accelerated" "$DPDK_E2E_TMP/server.log"
}

counter() { # name -> value printed by the shim at exit (0 if absent)
	local v
	v=$(sed -n "s/^tpa: $1 \([0-9]*\)$/\1/p" "$DPDK_E2E_TMP/server.log" | tail -1)
	echo "${v:-0}"
}

kernel_established() { # established kernel connections on the port, server side
	srv ss -Htn state established "( sport = :$PORT )" | wc -l
}

# Watches the port while the clients run; any kernel connection fails the test.
watch_kernel() { # pid of the load
	local samples=0
	while kill -0 "$1" 2>/dev/null; do
		local n
		n=$(kernel_established)
		[ "$n" = 0 ] || fail "$n established kernel connection(s) on port $PORT during the load"
		samples=$((samples + 1))
		sleep 0.2
	done
	[ "$samples" -ge 2 ] || fail "the load ended before the kernel could be watched"
	note "no kernel connection on port $PORT in $samples samples"
}

run_parallel() { # count bytes seed0
	local pids=() i
	for ((i = 0; i < $1; i++)); do
		cli $TCP_HELPER echo "$SRV_IP" "$PORT" "$2" $(($3 + i)) >"$DPDK_E2E_TMP/c$i.log" 2>&1 &
		pids+=($!)
	done
	local bad=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { bad=$((bad + 1)); cat "$DPDK_E2E_TMP/c$i.log" >&2; }
	done
	return "$bad"
}

note "16 parallel connections, 8 MiB each way each"
start_server 17
run_parallel 16 $((8 * MIB)) 100 &
load=$!
watch_kernel "$load"
wait "$load" || fail "$? of 16 parallel echo connections failed"

note "one connection, 64 MiB each way"
cli $TCP_HELPER echo "$SRV_IP" "$PORT" $((64 * MIB)) 200 &
load=$!
watch_kernel "$load"
wait "$load" || fail "the 64 MiB echo failed"
wait "$SERVER_PID" || fail "the echo server under the shim exited with an error"

total=$((16 * 8 * MIB + 64 * MIB))
[ "$(counter tcp_conn_established)" = 17 ] ||
	fail "stack counted $(counter tcp_conn_established) connections, expected 17"
[ "$(counter tcp_bytes_rx)" = "$total" ] || fail "stack received $(counter tcp_bytes_rx) bytes, expected $total"
[ "$(counter tcp_bytes_tx)" = "$total" ] || fail "stack sent $(counter tcp_bytes_tx) bytes, expected $total"
[ "$(counter shim_kernel_accepted)" = 0 ] ||
	fail "the kernel socket accepted $(counter shim_kernel_accepted) connection(s)"
[ "$(counter xdp_no_socket)" = 0 ] ||
	fail "$(counter xdp_no_socket) steered packets found no AF_XDP socket on their queue"
[ "$(counter port_queues)" = 4 ] || fail "the engine served $(counter port_queues) queues, expected 4"
[ "$(counter tcp_rx_csum_partial)" -gt 0 ] || fail "no partially checksummed segment was seen"
[ "$(counter tcp_drop_cksum)" = 0 ] || fail "$(counter tcp_drop_cksum) segments dropped as bad checksums"
used=0
for q in 0 1 2 3; do
	[ "$(counter "port_q${q}_ipackets")" -gt 0 ] && used=$((used + 1))
done
[ "$used" -ge 2 ] || fail "all traffic arrived on one queue: the kernel did not spread the flows"
note "17 connections accelerated over $used queues, $(counter tcp_rx_csum_partial) partial checksums trusted"

note "a live flow changes queue mid-transfer"
start_server 4
run_parallel 4 $((64 * MIB)) 300 &
load=$!
# Cut the client's transmit queues to one (every flow moves to queue 0) and back, while the
# transfer runs.
rounds=0
sleep 0.3
while [ "$rounds" -lt 3 ] && kill -0 "$load" 2>/dev/null; do
	cli ethtool -L "$CLI_IF" tx 1
	sleep 0.3
	cli ethtool -L "$CLI_IF" tx 4
	sleep 0.3
	rounds=$((rounds + 1))
done
kill -0 "$load" 2>/dev/null || [ "$rounds" -ge 2 ] ||
	fail "the transfer ended before the queues were changed twice ($rounds)"
note "client tx queues 4 -> 1 -> 4, $rounds times during the transfer"
wait "$load" || fail "$? echo connection(s) failed while their queue changed"
wait "$SERVER_PID" || fail "the echo server under the shim exited with an error"
[ "$(counter tcp_conn_reset)" = 0 ] || fail "$(counter tcp_conn_reset) connection(s) reset"
[ "$(counter shim_kernel_accepted)" = 0 ] || fail "the kernel accepted a connection"
used=0
for q in 0 1 2 3; do
	[ "$(counter "port_q${q}_ipackets")" -gt 0 ] && used=$((used + 1))
done
[ "$(counter port_q0_ipackets)" -gt 0 ] && [ "$used" -ge 2 ] ||
	fail "the flows did not use queue 0 and another queue ($used queues used)"

note "MTU 3000 on both ends: tpa uses what its buffers take"
srv ip link set dev "$SRV_IF" mtu 3000
cli ip link set dev "$CLI_IF" mtu 3000
start_server 1
grep -q "tpa: .*MTU 3000: tpa uses 1778" "$DPDK_E2E_TMP/server.log" ||
	fail "no line saying the MTU was lowered"
cli $TCP_HELPER echo "$SRV_IP" "$PORT" $((8 * MIB)) 400 || fail "echo with MTU 3000 failed"
wait "$SERVER_PID" || fail "the echo server under the shim exited with an error"
[ "$(counter xsk_rx_dropped)" = 0 ] || fail "AF_XDP dropped $(counter xsk_rx_dropped) frames"
exit 0
