#!/usr/bin/env bash
# The example on net_af_xdp with the engine's fault injection on both directions (2% loss,
# 1% reordering; then duplication and corruption too): TCP must still deliver 100 MiB each way
# byte-exact (both ends' SHA-256 compared: the example runs with --sha256), and the engine must
# report that it really dropped and reordered frames.
source "$(dirname "$0")/lib_dpdk_common.sh"
dpdk_e2e_init
TCP_HELPER="python3 $(dirname "$0")/lib_dpdk_tcp.py"
MIB=$((1 << 20))
[ -x "$EXAMPLE" ] || fail "example program $EXAMPLE not built"

run_server() { # log, env assignments...
	local log=$1
	shift
	dpdk_bg "$log" ip netns exec "$SRV_NS" env TPA_IFACE="$SRV_IF" "$@" \
		"$EXAMPLE" server --port 5001 --service echo --stats --sha256
	SERVER_PID=$DPDK_BG_PID
	wait_for "example ready" grep -q '^ready' "$log"
}
stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || fail "example server exited with an error"
}
stat_of() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }

note "2% loss + 1% reordering, 100 MiB each way"
LOG=$DPDK_E2E_TMP/loss.log
run_server "$LOG" TPA_FAULT_DROP=2% TPA_FAULT_REORDER=1% TPA_FAULT_SEED=42
cli $TCP_HELPER echo "$SRV_IP" 5001 $((100 * MIB)) 7 --peer-log "$LOG" ||
	fail "echo under loss/reordering failed"
stop_server
for s in fault_rx_dropped fault_tx_dropped fault_rx_reordered fault_tx_reordered; do
	v=$(stat_of "$LOG" $s)
	[ "${v:-0}" -gt 100 ] || fail "engine reports $s=${v:-0}: the faults were not injected"
done
v=$(stat_of "$LOG" tcp_retransmit)
[ "${v:-0}" -gt 0 ] || fail "no retransmissions counted under 2% loss"
grep -q "result conn rx=$((100 * MIB)) tx=$((100 * MIB)) .* ok" "$LOG" || fail "server did not echo all bytes"

note "duplication + corruption + loss, 20 MiB each way"
LOG=$DPDK_E2E_TMP/mixed.log
run_server "$LOG" TPA_FAULT_DROP=1% TPA_FAULT_DUP=1% TPA_FAULT_CORRUPT=0.5% TPA_FAULT_REORDER=1% TPA_FAULT_SEED=7
cli $TCP_HELPER echo "$SRV_IP" 5001 $((20 * MIB)) 8 --peer-log "$LOG" ||
	fail "echo under duplication/corruption failed"
stop_server
for s in fault_rx_duplicated fault_tx_duplicated fault_rx_corrupted fault_tx_corrupted; do
	v=$(stat_of "$LOG" $s)
	[ "${v:-0}" -gt 10 ] || fail "engine reports $s=${v:-0}: the faults were not injected"
done

note "tpa as client under 2% loss + 1% reordering, 32 MiB each way"
dpdk_bg "$DPDK_E2E_TMP/kecho.log" ip netns exec "$CLI_NS" python3 "$(dirname "$0")/lib_dpdk_tcp.py" \
	echo-server "$CLI_IP" 6000 1
wait_for "kernel echo server" grep -q listening "$DPDK_E2E_TMP/kecho.log"
srv env TPA_IFACE="$SRV_IF" TPA_FAULT_DROP=2% TPA_FAULT_REORDER=1% "$EXAMPLE" client \
	--connect "$CLI_IP:6000" --service check --sha256 --bytes $((32 * MIB)) >"$DPDK_E2E_TMP/client.log" 2>&1 ||
	{ cat "$DPDK_E2E_TMP/client.log"; fail "tpa client under faults failed"; }
grep -q "result client ok=1 failed=0" "$DPDK_E2E_TMP/client.log" || fail "tpa client did not verify its data"
$TCP_HELPER mirror "$DPDK_E2E_TMP/client.log" "$DPDK_E2E_TMP/kecho.log" 1 ||
	fail "the tpa client and the kernel echo server disagree on what crossed"
exit 0
