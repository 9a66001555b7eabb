#!/usr/bin/env bash
# Run one conformance case on the kernel, then in MODE, and diff the observable results:
# stdout, stderr (less the shim's own "tpa:" lines) and exit status of subject and peer.
#   run_case.sh <case-binary> kernel|passthrough|accelerated
# kernel:      one kernel run, output printed (to look at a case).
# passthrough: libtpa_shim.so preloaded with nothing selected.
# accelerated: preloaded with TPA_IFACE=<srv veth> TPA_PORTS=7001-7010
#              TPA_CONNECT=198.18.0.1/32:7101-7110 TPA_SHIM_STATS=1; the counters the shim
#              prints at exit must equal what the case states (`<case> expect`, CONF_ACCELERATED
#              in its source): connections established by the stack, connections accepted by
#              the kernel socket of an accelerated listener; the XDP program redirected packets
#              and the shim printed no line saying that something stays on or was accepted by
#              the kernel.
# The kernel run itself must succeed (subject and peer exit 0, no harness failure): a case that
# fails or times out on the kernel is a broken case, never a pass.
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

# The observations of a run: its stdout and exit statuses, then its stderr (the shim's own
# lines removed: counters and notices are not observations of the program).
observations() { # tag
	cat "$out/$1.out"
	sed 's/^/S stderr: /' "$out/$1.subject.err"
	sed 's/^/P stderr: /' "$out/$1.peer.err"
}

kernel_run_ok() {
	grep -q "HARNESS FAILURE" "$out/kernel.out" && return 1
	grep -qx "S: exit 0" "$out/kernel.out" && grep -qx "P: exit 0" "$out/kernel.out"
}

run_once kernel
if [ "$mode" = kernel ]; then
	cat "$out/kernel.out"
	cat "$out"/kernel.*.err >&2
	kernel_run_ok || { echo "FAIL: $name: the kernel run failed (exit status 124: timed out)"; exit 1; }
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

if ! kernel_run_ok; then
	echo "FAIL: $name: the kernel reference run itself failed (exit status 124: timed out):"
	cat "$out/kernel.out" "$out"/kernel.*.err
	exit 1
fi
# The shim's own lines, kept for the checks below (shim.subject.tpa), are not observations.
cp "$out/shim.subject.err" "$out/shim.subject.tpa"
sed -i '/^tpa: /d' "$out/shim.subject.err"

# An accelerated run must have put on tpa exactly the connections the case states.
problems=()
if [ "$mode" = accelerated ]; then
	read -r _ want_acc < <("$bin" expect | grep '^accelerated ')
	read -r _ want_kernel < <("$bin" expect | grep '^kernel_accepted ')
	[ -n "${want_acc:-}" ] && [ -n "${want_kernel:-}" ] ||
		{ echo "FAIL: $name: \`$name expect\` states no counts"; exit 1; }
	counter() { awk -v k="$1" '$1 == "tpa:" && $2 == k && NF == 3 {s += $3} END {print s + 0}' "$out/shim.subject.tpa"; }
	est=$(counter tcp_conn_established)
	[ "$est" = "$want_acc" ] ||
		problems+=("tcp_conn_established $est, the case makes $want_acc accelerated connection(s)")
	[ "$(counter shim_kernel_accepted)" = "$want_kernel" ] ||
		problems+=("shim_kernel_accepted $(counter shim_kernel_accepted), the case expects $want_kernel")
	[ "$(counter shim_kernel_accepted_early)" = 0 ] ||
		problems+=("shim_kernel_accepted_early $(counter shim_kernel_accepted_early)")
	[ "$(counter shim_kernel_accepted_remote)" = 0 ] ||
		problems+=("shim_kernel_accepted_remote $(counter shim_kernel_accepted_remote): steering missed connections")
	[ "$want_acc" = 0 ] || [ "$(counter xdp_redirected)" -gt 0 ] ||
		problems+=("xdp_redirected $(counter xdp_redirected): the XDP program steered nothing to tpa")
	fallback=$(grep -E '^tpa: .*(stays on the kernel|accepted by the kernel|cannot accelerate)' "$out/shim.subject.tpa")
	[ -z "$fallback" ] || problems+=("the shim fell back to the kernel: $fallback")
fi
observations kernel >"$out/kernel.obs"
observations shim >"$out/shim.obs"
if diff -u "$out/kernel.obs" "$out/shim.obs" >"$out/diff" && [ ${#problems[@]} = 0 ]; then
	extra=
	[ "$mode" = accelerated ] && extra=", $want_acc connection(s) on tpa as stated, $want_kernel on the kernel"
	echo "PASS: $name ($mode): $(grep -c . "$out/kernel.obs") observations identical to the kernel$extra"
	exit 0
fi
if [ ${#problems[@]} -gt 0 ]; then
	echo "FAIL: $name ($mode) did not run on tpa as the case states:"
	printf '  %s\n' "${problems[@]}"
	echo "--- shim subject stderr:"
	cat "$out/shim.subject.tpa"
fi
if [ -s "$out/diff" ]; then
	echo "FAIL: $name ($mode) differs from the kernel (- kernel, + shim):"
	cat "$out/diff"
	echo "--- shim stderr:"
	cat "$out/shim.subject.tpa" "$out/shim.peer.err"
fi
exit 1
