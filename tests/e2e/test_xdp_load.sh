#!/usr/bin/env bash
# The XDP steering object loads on the server veth, passes everything the kernel serves (ping,
# kernel TCP) while attached with an empty port map, and unloads cleanly.
source "$(dirname "$0")/lib_dpdk_common.sh"
dpdk_e2e_init

[ -f "$XDP_OBJ" ] || fail "XDP object $XDP_OBJ not built"

note "attach $XDP_OBJ to $SRV_IF"
at_exit "ip -n $SRV_NS link set dev $SRV_IF xdp off"
ip -n "$SRV_NS" link set dev "$SRV_IF" xdp obj "$XDP_OBJ" sec xdp || fail "XDP load failed"
xdp_attached || fail "no XDP program shown on $SRV_IF after loading"
ip -n "$SRV_NS" -d link show dev "$SRV_IF" | grep -q 'tpa_steer' ||
	fail "the attached program is not tpa_steer"

note "ping through the program"
cli ping -c 3 -i 0.2 -W 2 "$SRV_IP" >/dev/null || fail "ping to $SRV_IP failed with XDP attached"

note "kernel TCP through the program"
payload=$DPDK_E2E_TMP/payload
head -c 1000000 /dev/urandom >"$payload"
dpdk_bg "$DPDK_E2E_TMP/srv.log" ip netns exec "$SRV_NS" socat -u TCP-LISTEN:7000,reuseaddr \
	OPEN:"$DPDK_E2E_TMP/got",creat,trunc
wait_for "kernel listener on 7000" srv sh -c "ss -ltn | grep -q ':7000 '"
cli socat -u OPEN:"$payload" TCP:"$SRV_IP":7000 || fail "kernel TCP transfer failed"
wait_for "server socat to finish" sh -c "! kill -0 $DPDK_BG_PID"
cmp "$payload" "$DPDK_E2E_TMP/got" || fail "kernel TCP data differs through XDP"

note "UDP through the program"
dpdk_bg "$DPDK_E2E_TMP/udp.log" ip netns exec "$SRV_NS" socat -u UDP-RECV:7001 \
	OPEN:"$DPDK_E2E_TMP/udp",creat,trunc
wait_for "UDP receiver" srv sh -c "ss -lun | grep -q ':7001 '"
echo "hello-udp" | cli socat -u - UDP-SENDTO:"$SRV_IP":7001
wait_for "UDP datagram" grep -q hello-udp "$DPDK_E2E_TMP/udp"

note "detach"
ip -n "$SRV_NS" link set dev "$SRV_IF" xdp off || fail "XDP unload failed"
if xdp_attached; then fail "XDP program still attached after unload"; fi
cli ping -c 1 -W 2 "$SRV_IP" >/dev/null || fail "ping failed after unload"
