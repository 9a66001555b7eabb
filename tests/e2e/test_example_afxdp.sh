#!/usr/bin/env bash
# The native-API example on net_af_xdp, against kernel TCP peers in the other namespace:
#   - 100 MiB each way through one echo connection, byte-exact (kernel client -> tpa server)
#   - 4 concurrent echo connections; echo with EAL on plain memory (no hugepages)
#   - tpa source server -> kernel receiver, kernel sender -> tpa discard server (pattern check)
#   - tpa client (active open: ephemeral port, neighbour resolution through the kernel with an
#     empty neighbour table) -> kernel echo server,
#     100 MiB each way verified by the example itself
# Every connection is also checked end to end: the example runs with --sha256 and reports, per
# connection, bytes and SHA-256 of all it received and sent; the kernel side's must be their
# mirror image (lib_dpdk_tcp.py --peer-log, mirror).
source "$(dirname "$0")/lib_dpdk_common.sh"
dpdk_e2e_init
TCP_HELPER="python3 $(dirname "$0")/lib_dpdk_tcp.py"
MIB=$((1 << 20))
[ -x "$EXAMPLE" ] || fail "example program $EXAMPLE not built"

start_server() { # port service [VAR=value...] [extra args]
	local port=$1 svc=$2
	shift 2
	local envs=()
	while [ $# -gt 0 ] && [[ $1 == TPA_*=* ]]; do
		envs+=("$1")
		shift
	done
	dpdk_bg "$DPDK_E2E_TMP/srv-$svc.log" ip netns exec "$SRV_NS" env TPA_IFACE="$SRV_IF" \
		"${envs[@]}" "$EXAMPLE" server --port "$port" --service "$svc" --sha256 "$@"
	SERVER_PID=$DPDK_BG_PID
	wait_for "example $svc server ready" grep -q '^ready' "$DPDK_E2E_TMP/srv-$svc.log"
}
stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || fail "example server exited with an error (see log)"
	xdp_attached && fail "XDP program left attached after a clean exit"
	[ -z "$(tpa_ns_lock_files "$SRV_NS")" ] || fail "engine lock file left after a clean exit: $(tpa_ns_lock_files "$SRV_NS")"
	return 0
}

note "echo: 100 MiB each way"
start_server 5001 echo
cli $TCP_HELPER selftest >/dev/null || fail "the data checker misses misplaced bytes"
cli $TCP_HELPER echo "$SRV_IP" 5001 $((100 * MIB)) 11 --peer-log "$DPDK_E2E_TMP/srv-echo.log" ||
	fail "100 MiB echo failed"
note "echo: 4 concurrent connections of 8 MiB"
pids=()
for i in 1 2 3 4; do
	dpdk_bg "$DPDK_E2E_TMP/conc$i.log" ip netns exec "$CLI_NS" $TCP_HELPER echo "$SRV_IP" 5001 \
		$((8 * MIB)) $((20 + i)) --peer-log "$DPDK_E2E_TMP/srv-echo.log"
	pids+=("$DPDK_BG_PID")
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent echo connection failed"; done
[ "$(grep -c 'result conn .* ok' "$DPDK_E2E_TMP/srv-echo.log")" = 5 ] ||
	fail "the example did not report 5 good connections"
stop_server

note "echo without hugepages (EAL on plain memory): 16 MiB each way"
start_server 5004 echo TPA_HUGEPAGES=no
cli $TCP_HELPER echo "$SRV_IP" 5004 $((16 * MIB)) 12 --peer-log "$DPDK_E2E_TMP/srv-echo.log" ||
	fail "echo without hugepages failed"
stop_server

note "source: tpa sends 16 MiB of the pattern to a kernel receiver"
start_server 5002 source --bytes $((16 * MIB))
cli $TCP_HELPER recv "$SRV_IP" 5002 $((16 * MIB)) --peer-log "$DPDK_E2E_TMP/srv-source.log" ||
	fail "pattern from tpa source differs"
stop_server

note "discard: a kernel sender sends 16 MiB to tpa"
start_server 5003 discard
cli $TCP_HELPER send "$SRV_IP" 5003 $((16 * MIB)) --peer-log "$DPDK_E2E_TMP/srv-discard.log" ||
	fail "sending to tpa discard failed"
stop_server

note "client: tpa connects out to a kernel echo server, 100 MiB each way, verified by tpa"
dpdk_bg "$DPDK_E2E_TMP/kecho.log" ip netns exec "$CLI_NS" python3 "$(dirname "$0")/lib_dpdk_tcp.py" \
	echo-server "$CLI_IP" 6000 1
wait_for "kernel echo server" grep -q listening "$DPDK_E2E_TMP/kecho.log"
# Empty neighbour table: tpa must get the client's MAC through the kernel (neigh_resolve).
ip -n "$SRV_NS" neigh flush dev "$SRV_IF"
ip -n "$CLI_NS" neigh flush dev "$CLI_IF"
srv env TPA_IFACE="$SRV_IF" "$EXAMPLE" client --connect "$CLI_IP:6000" --service check --sha256 \
	--bytes $((100 * MIB)) >"$DPDK_E2E_TMP/client.log" 2>&1 ||
	{ cat "$DPDK_E2E_TMP/client.log"; fail "tpa client check against the kernel echo server failed"; }
grep -q "result client ok=1 failed=0 rx=$((100 * MIB)) tx=$((100 * MIB))" "$DPDK_E2E_TMP/client.log" ||
	fail "tpa client did not verify 100 MiB"
$TCP_HELPER mirror "$DPDK_E2E_TMP/client.log" "$DPDK_E2E_TMP/kecho.log" 1 ||
	fail "the tpa client and the kernel echo server disagree on what crossed"
xdp_attached && fail "XDP program left attached after the client exited"
exit 0
