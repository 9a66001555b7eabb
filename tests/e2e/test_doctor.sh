#!/usr/bin/env bash
# tpa doctor on the default testbed (2 queues, offloads on): the server veth passes (veth,
# every queue served, partial checksums trusted); a foreign XDP program is a FAIL naming it; a
# stale tpa_steer and a live tpa process are recognised; TPA_QUEUES=0 is a WARN; an MTU too
# large for tpa's buffers is a WARN (the engine lowers it); a kernel
# listener on a --ports port is named; a missing interface is one line and exit 1; and the
# doctor changes nothing on the interface.
source "$(dirname "$0")/lib_dpdk_common.sh"
dpdk_e2e_init

TPA=$TPA_SOURCE_DIR/scripts/tpa
SHIM=$TPA_BUILD_DIR/shim/libtpa_shim.so
QUEUES=${TPA_TB_QUEUES:-2}

# doctor ARGS...: run `tpa doctor --iface SRV_IF ARGS...` in the server namespace; sets out, rc.
doctor() {
	set +e
	out=$(srv "$TPA" doctor --iface "$SRV_IF" "$@" 2>&1)
	rc=$?
	set -e
}
# doctor_env VAR=VALUE... -- ARGS...: the same with settings in the environment.
doctor_env() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	set +e
	out=$(srv env "${envs[@]}" "$TPA" doctor --iface "$SRV_IF" "$@" 2>&1)
	rc=$?
	set -e
}
has() { printf '%s\n' "$out" | grep -Eq "$1" || fail "doctor output lacks /$1/ (exit $rc):
$out"; }
lacks() { ! printf '%s\n' "$out" | grep -Eq "$1" || fail "doctor output has /$1/ (exit $rc):
$out"; }
want_rc() { [ "$rc" = "$1" ] || fail "doctor exited $rc, want $1:
$out"; }
shape() {
	srv ip -d link show dev "$SRV_IF" | sed 's/ *prog\/xdp.*//'
	srv ethtool -k "$SRV_IF"
	srv ethtool -l "$SRV_IF"
	cli ethtool -k "$CLI_IF"
}

before=$(shape)

note "default testbed: OK, $QUEUES queues served, partial checksums trusted"
doctor
want_rc 0
lacks '^(FAIL|WARN) '
has '^OK +driver +veth, virtual interface'
has "^OK +queues +$QUEUES receive queues in use .*tpa serves all $QUEUES"
has '^OK +checksums +trusted: virtual interface'
has '^OK +xdp +no program attached'
has '^OK +hugepages '
has "^tpa will accelerate on $SRV_IF: $QUEUES queues, af_xdp copy mode, native XDP, partial checksums trusted$"
echo "$out"

note "--json"
doctor --json
want_rc 0
printf '%s\n' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"] is True, d
assert all(f["status"] == "OK" for f in d["findings"]), d
assert d["summary"].startswith("tpa will accelerate"), d' || fail "bad --json output: $out"

note "TPA_QUEUES=0: a WARN with the fix"
doctor_env TPA_QUEUES=0 --
want_rc 0
has '^WARN +queues .*TPA_QUEUES=0: tpa serves queue 0 only: .*xdp_no_socket'
has '^ +fix: unset TPA_QUEUES'
has "^tpa will accelerate on $SRV_IF: 1 of $QUEUES queues,"

note "TPA_QUEUES beyond the interface's queues: a FAIL"
doctor_env TPA_QUEUES=0-$QUEUES --
want_rc 1
has "^FAIL +queues "
has "^tpa will not accelerate on $SRV_IF: queues: "

note "an MTU whose frames do not fit tpa's buffers: WARN (the engine lowers it), quiet with TPA_MTU"
srv ip link set dev "$SRV_IF" mtu 3000
doctor
want_rc 0
has '^WARN +mtu +3000: larger than .*tpa uses MTU 1778 .*announces MSS 1738'
doctor_env TPA_MTU=1500 --
want_rc 0
has '^OK +mtu +3000 \(TPA_MTU=1500\)'
srv ip link set dev "$SRV_IF" mtu 1500

note "--ports: a kernel listener is named, a free port is fine"
dpdk_bg "$DPDK_E2E_TMP/listener.log" ip netns exec "$SRV_NS" socat TCP-LISTEN:7301,reuseaddr STDOUT
wait_for "kernel listener on 7301" srv sh -c "ss -ltn | grep -q ':7301 '"
doctor --ports 7300,7301
want_rc 0
has '^OK +port 7300 +nothing listens on it here'
has '^WARN +port 7301 +socat \(pid [0-9]+\) listens on the kernel'
kill "$DPDK_BG_PID" 2>/dev/null || true

note "a foreign XDP program: FAIL naming it"
cat >"$DPDK_E2E_TMP/pass.c" <<'EOF'
#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int doctor_pass(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$DPDK_E2E_TMP/pass.c" \
	-o "$DPDK_E2E_TMP/pass.o" || fail "cannot compile the test XDP program"
at_exit "ip -n $SRV_NS link set dev $SRV_IF xdp off; ip -n $SRV_NS link set dev $SRV_IF xdpgeneric off"
for mode in xdp xdpgeneric; do
	srv ip link set dev "$SRV_IF" "$mode" obj "$DPDK_E2E_TMP/pass.o" sec xdp ||
		fail "cannot attach the test program ($mode)"
	doctor
	want_rc 1
	has "^FAIL +xdp +foreign program 'doctor_pass' \(id [0-9]+, mode $mode\): tpa refuses"
	has "fix: ip link set dev $SRV_IF $mode off .*TPA_PORT_TYPE=af_packet"
	has "^tpa will not accelerate on $SRV_IF: xdp: foreign program 'doctor_pass'"
	srv ip link set dev "$SRV_IF" "$mode" off
done

if [ -f "$XDP_OBJ" ]; then
	note "a stale tpa_steer (no tpa process): WARN, exit 0"
	srv ip link set dev "$SRV_IF" xdp obj "$XDP_OBJ" sec xdp || fail "cannot attach $XDP_OBJ"
	doctor
	want_rc 0
	has '^WARN +xdp +tpa_steer \(id [0-9]+, mode xdp\) is stale'
	srv ip link set dev "$SRV_IF" xdp off
fi

if [ -f "$SHIM" ]; then
	note "a live tpa process: named, its program and its port recognised"
	dpdk_bg "$DPDK_E2E_TMP/live.log" ip netns exec "$SRV_NS" env TPA_SHIM_STATS=1 "$TPA" run \
		--shim "$SHIM" --iface "$SRV_IF" --ports 7302 -- socat TCP-LISTEN:7302,reuseaddr STDOUT
	live=$DPDK_BG_PID
	# The engine attaches a program per queue while it starts: wait until it is up.
	wait_for "port 7302 accelerated" grep -q 'port 7302 accelerated' "$DPDK_E2E_TMP/live.log"
	xdp_attached || fail "no XDP program while the live process runs"
	doctor --ports 7302
	want_rc 0
	has "^WARN +tpa process +pid $live \(socat\) accelerates on $SRV_IF now"
	has "^OK +xdp +tpa_steer \(id [0-9]+, mode xdp\), attached by tpa pid $live"
	has "^OK +port 7302 +0.0.0.0:7302: socat \(pid $live\) runs under tpa"
	has "^tpa accelerates on $SRV_IF now \(pid $live\): $QUEUES queues"
	kill -TERM "$live"
	wait_for "tpa_steer removed at exit" sh -c "! ip -n $SRV_NS link show dev $SRV_IF | grep -q prog/xdp"
fi

note "a missing interface: one line, exit 1"
set +e
out=$(srv "$TPA" doctor --iface tpa-nope0 2>&1)
rc=$?
set -e
want_rc 1
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "want one line for a missing interface: $out"
has '^FAIL +interface +tpa-nope0: no such interface'
echo "$out"
set +e
out=$("$TPA" doctor --iface "$SRV_IF" 2>&1)
rc=$?
set -e
want_rc 1
has "it is in network namespace $SRV_NS: ip netns exec $SRV_NS tpa doctor --iface $SRV_IF"

note "read-only: the interface is as before"
[ "$(shape)" = "$before" ] || fail "the interface changed under the doctor:
$(diff <(echo "$before") <(shape))"
