#!/usr/bin/env bash
# Run one conformance case on the kernel, then in MODE, and diff the observable results.
#   run_case.sh <case-binary> kernel|passthrough|accelerated
# kernel:      one kernel run, output printed (to look at a case).
# passthrough: libtpa_shim.so preloaded with nothing selected.
# accelerated: preloaded with TPA_IFACE=<srv veth> TPA_PORTS=7001-7010
#              TPA_CONNECT=198.18.0.1/32:7101-7110.
# Environment: TPA_SHIM_LIB (the library), TPA_TB_PREFIX (testbed namespaces, default tpa),
# CONF_KEEP=1 keeps the output directory.
set -uo pipefail
bin=$1
mode=${2:-accelerated}
P=${TPA_TB_PREFIX:-tpa}
src=${TPA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
lib=${TPA_SHIM_LIB:-}
name=$(basename "$bin")

[ "$(id -u)" = 0 ] || { echo "SKIP: $name needs root (network namespaces)"; exit 77; }
# shellcheck source=tests/e2e/lib_cleanup.sh
source "$src/tests/e2e/lib_cleanup.sh"

out=$(tpa_mktemp conf)
cleanup() {
	local rc=$?
	tpa_stop_all
	tpa_testbed_down
	[ "${CONF_KEEP:-0}" = 1 ] || rm -rf "$out"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tpa_deadline
tpa_testbed_up >/dev/null || { echo "FAIL: testbed up"; exit 1; }

# run_once <tag> [env assignments for the subject...]
run_once() {
	local tag=$1
	shift
	# Sessions of their own: what a case forks and leaves running is stopped with it.
	tpa_bg ip netns exec "$P-srv" env "$@" timeout 120 "$bin" subject >"$out/$tag.subject" 2>"$out/$tag.subject.err"
	local spid=$TPA_BG_PID
	tpa_bg ip netns exec "$P-cli" timeout 120 "$bin" peer >"$out/$tag.peer" 2>"$out/$tag.peer.err"
	local ppid=$TPA_BG_PID
	wait $spid
	local src_rc=$?
	wait $ppid
	local prc=$?
	tpa_stop_sessions "$spid" "$ppid"
	{
		cat "$out/$tag.subject"
		echo "S: exit $src_rc"
		cat "$out/$tag.peer"
		echo "P: exit $prc"
	} >"$out/$tag.out"
}

run_once kernel
if [ "$mode" = kernel ]; then
	cat "$out/kernel.out"
	cat "$out"/kernel.*.err >&2
	grep -q "HARNESS FAILURE" "$out/kernel.out" && exit 1
	exit 0
fi
[ -n "$lib" ] && [ -f "$lib" ] || { echo "FAIL: TPA_SHIM_LIB not set or missing"; exit 1; }
# A sanitizer build of the shim needs its runtime loaded first in an uninstrumented program,
# and whole allocation stacks for the DPDK leak suppressions (tests/e2e/lsan.supp).
preload=$lib
san=()
asan=$(ldd "$lib" | awk '/libasan/ {print $3}')
if [ -n "$asan" ]; then
	preload="$asan:$lib"
	san=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
		LSAN_OPTIONS="suppressions=$src/tests/e2e/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}")
fi
case $mode in
passthrough) run_once shim "${san[@]}" LD_PRELOAD="$preload" ;;
accelerated) run_once shim "${san[@]}" LD_PRELOAD="$preload" TPA_SHIM_STATS=1 TPA_IFACE="$P-s0" TPA_PORTS=7001-7010 \
	TPA_CONNECT=198.18.0.1/32:7101-7110 ${CONF_EXTRA_ENV:-} ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac

if grep -q "HARNESS FAILURE" "$out/kernel.out"; then
	echo "FAIL: $name: the kernel reference run itself failed:"
	cat "$out/kernel.out" "$out"/kernel.*.err
	exit 1
fi
# An accelerated run must really have used tpa (the counters printed at exit).
if [ "$mode" = accelerated ] && grep -qx "S: exit 0" "$out/shim.out" &&
	! awk '$2 == "tcp_conn_established" && $3 > 0 {ok = 1} END {exit !ok}' "$out/shim.subject.err"; then
	echo "FAIL: $name (accelerated): no connection went through tpa"
	cat "$out"/shim.*.err
	exit 1
fi
# Counter lines are not observations of the program.
sed -i '/^tpa: /d' "$out/shim.subject.err"
if diff -u "$out/kernel.out" "$out/shim.out" >"$out/diff"; then
	echo "PASS: $name ($mode): $(grep -c . "$out/kernel.out") observations identical to the kernel"
	exit 0
fi
echo "FAIL: $name ($mode) differs from the kernel (- kernel, + shim):"
cat "$out/diff"
echo "--- shim stderr:"
cat "$out"/shim.*.err
exit 1
