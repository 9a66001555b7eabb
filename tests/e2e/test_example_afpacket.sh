#!/usr/bin/env bash
# The example on net_af_packet: the engine's tc ingress filter keeps the kernel's TCP from
# answering the frames tpa serves (the packet socket gets them first), so a kernel client can
# transfer through tpa while ping and other kernel ports keep working. The filter goes away on
# a clean exit and, through the watchdog, after SIGKILL.
source "$(dirname "$0")/lib_dpdk_common.sh"
dpdk_e2e_init
TCP_HELPER="python3 $(dirname "$0")/lib_dpdk_tcp.py"
MIB=$((1 << 20))
[ -x "$EXAMPLE" ] || fail "example program $EXAMPLE not built"
tc_filter_present() { ip netns exec "$SRV_NS" tc filter show dev "$SRV_IF" ingress | grep -q tpa_steer_tc; }

start() {
	dpdk_bg "$DPDK_E2E_TMP/srv$1.log" ip netns exec "$SRV_NS" env TPA_PORT_TYPE=af_packet \
		TPA_IFACE="$SRV_IF" "$EXAMPLE" server --port 5001 --service echo --sha256
	SERVER_PID=$DPDK_BG_PID
	wait_for "example ready" grep -q '^ready' "$DPDK_E2E_TMP/srv$1.log"
	tc_filter_present || fail "no tpa tc filter on $SRV_IF while the engine runs"
}

note "af_packet: 32 MiB each way through tpa"
start 1
cli $TCP_HELPER echo "$SRV_IP" 5001 $((32 * MIB)) 31 --peer-log "$DPDK_E2E_TMP/srv1.log" ||
	fail "echo over af_packet failed"
note "af_packet: ping and another kernel port still work"
cli ping -c 2 -i 0.2 -W 2 "$SRV_IP" >/dev/null || fail "ping failed"
dpdk_bg "$DPDK_E2E_TMP/k.log" ip netns exec "$SRV_NS" socat TCP-LISTEN:7000,reuseaddr EXEC:cat
wait_for "kernel listener" srv sh -c "ss -ltn | grep -q ':7000 '"
cli $TCP_HELPER echo "$SRV_IP" 7000 100000 32 || fail "kernel TCP on port 7000 failed"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "example exited with an error"
tc_filter_present && fail "tc filter left after a clean exit"

note "af_packet: SIGKILL, the watchdog removes the filter"
start 2
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
wait_for "tc filter removed after SIGKILL" sh -c "! ip netns exec $SRV_NS tc filter show dev $SRV_IF ingress | grep -q tpa_steer_tc"
dpdk_bg "$DPDK_E2E_TMP/k2.log" ip netns exec "$SRV_NS" socat TCP-LISTEN:5001,reuseaddr EXEC:cat
wait_for "kernel listener on 5001" srv sh -c "ss -ltn | grep -q ':5001 '"
cli $TCP_HELPER echo "$SRV_IP" 5001 100000 33 || fail "kernel could not serve port 5001 after the engine died"
exit 0
