#!/usr/bin/env bash
# Two example processes, each with its own tpa stack, joined by net_memif (shared memory, no
# kernel on the path): a tpa client verifies 100 MiB each way through a tpa echo server, then
# several concurrent connections, then a source/discard pair. The stacks resolve each other by
# ARP themselves (there is no kernel neighbour table on a memif link). Both run with --sha256:
# every connection's bytes and SHA-256 each way must agree between the two ends.
source "$(dirname "$0")/lib_dpdk_common.sh"
# No testbed needed (memif is process-to-process), but the helpers set up cleanup and paths.
dpdk_e2e_init
MIB=$((1 << 20))
TCP_HELPER="python3 $(dirname "$0")/lib_dpdk_tcp.py"
[ -x "$EXAMPLE" ] || fail "example program $EXAMPLE not built"
SOCK=$DPDK_E2E_TMP/memif.sock
common=(TPA_PORT_TYPE=memif TPA_MEMIF_SOCKET="$SOCK")

start_server() { # service [args]
	local svc=$1
	shift
	rm -f "$SOCK"
	dpdk_bg "$DPDK_E2E_TMP/srv-$svc.log" env "${common[@]}" TPA_MEMIF_ROLE=server \
		TPA_IP=10.77.0.2/24 "$EXAMPLE" server --port 5001 --service "$svc" --sha256 "$@"
	SERVER_PID=$DPDK_BG_PID
	wait_for "memif $svc server ready" grep -q '^ready' "$DPDK_E2E_TMP/srv-$svc.log"
}
stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || fail "memif server exited with an error"
}
client() { # log, args...
	local log=$1
	shift
	# A stalled transfer must fail with the client's counters, not hang until ctest's limit.
	timeout -s TERM 150 env "${common[@]}" TPA_MEMIF_ROLE=client TPA_IP=10.77.0.1/24 "$EXAMPLE" client --stats \
		--sha256 --connect 10.77.0.2:5001 "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
}

note "memif: 100 MiB each way, verified by the tpa client"
start_server echo
client "$DPDK_E2E_TMP/c1.log" --service check --bytes $((100 * MIB)) || fail "memif 100 MiB check failed"
grep -q "result client ok=1 failed=0 rx=$((100 * MIB)) tx=$((100 * MIB))" "$DPDK_E2E_TMP/c1.log" ||
	fail "memif client did not verify 100 MiB"
grep -q "result conn rx=$((100 * MIB)) tx=$((100 * MIB)) .* ok" "$DPDK_E2E_TMP/srv-echo.log" ||
	fail "memif server did not echo 100 MiB"
$TCP_HELPER mirror "$DPDK_E2E_TMP/c1.log" "$DPDK_E2E_TMP/srv-echo.log" 1 ||
	fail "memif client and server disagree on what crossed"

note "memif: 8 concurrent connections of 4 MiB (client restarts: memif reconnects)"
client "$DPDK_E2E_TMP/c2.log" --service check --conns 8 --bytes $((4 * MIB)) ||
	fail "memif concurrent check failed"
grep -q "result client ok=8 failed=0" "$DPDK_E2E_TMP/c2.log" || fail "not all 8 memif connections verified"
$TCP_HELPER mirror "$DPDK_E2E_TMP/c2.log" "$DPDK_E2E_TMP/srv-echo.log" 8 ||
	fail "memif client and server disagree on what crossed"
stop_server

note "memif: tpa source -> tpa discard, 64 MiB"
start_server discard
client "$DPDK_E2E_TMP/c3.log" --service source --bytes $((64 * MIB)) || fail "memif source client failed"
wait_for "discard result" grep -q "result conn rx=$((64 * MIB)) " "$DPDK_E2E_TMP/srv-discard.log"
$TCP_HELPER mirror "$DPDK_E2E_TMP/c3.log" "$DPDK_E2E_TMP/srv-discard.log" 1 ||
	fail "memif source and discard disagree on what crossed"
stop_server
exit 0
