# shellcheck shell=bash
# The variables set here are for the tests that source this file.
# shellcheck disable=SC2034
# Helpers for the dpdk/ end-to-end tests (sourced). Provides:
#   dpdk_e2e_init        root check (exit 77 = skip), paths, testbed up, cleanup trap
#   fail MSG             print and exit 1 (the trap cleans up)
#   srv / cli CMD...     run a command in the server / client namespace
#   dpdk_bg LOG CMD...   start a background command in its own session (lib_cleanup.sh: tpa_bg),
#                        stopped with all it started at cleanup; CMD must be an external
#                        command (e.g. ip netns exec ...), not a shell function
#   wait_for DESC CMD... retry CMD for up to 30 s (a readiness wait, never a pass/fail timer)
#   at_exit CMD          run CMD during cleanup (last registered runs first)
# Paths, the testbed's names and addresses: lib_e2e.sh (TPA_SOURCE_DIR, TPA_BUILD_DIR,
# TPA_TB_PREFIX, TPA_TB_*); SRV_NS, CLI_NS, SRV_IF, CLI_IF, SRV_IP, CLI_IP are its values.

set -euo pipefail
# shellcheck source=tests/e2e/lib_e2e.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"

DPDK_E2E_EXIT_CMDS=()

dump_logs() {
	[ -n "${DPDK_E2E_TMP:-}" ] || return 0
	for f in "$DPDK_E2E_TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $(basename "$f") (last 40 lines)" >&2
		tail -n 40 "$f" >&2
	done
}

fail() {
	echo "FAIL: $*" >&2
	dump_logs
	exit 1
}

note() { echo "--- $*"; }

dpdk_cleanup() {
	local rc=$?
	set +e
	local i
	for ((i = ${#DPDK_E2E_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${DPDK_E2E_EXIT_CMDS[$i]}" >/dev/null 2>&1
	done
	tpa_stop_all
	# Interrupted or stopped at the deadline: the logs say where it stood.
	[ "$rc" -gt 128 ] && dump_logs
	if [ "${DPDK_E2E_KEEP_TESTBED:-0}" != 1 ]; then
		tpa_testbed_down
	fi
	[ -n "${DPDK_E2E_TMP:-}" ] && rm -rf "$DPDK_E2E_TMP"
	if [ "$rc" = 0 ]; then echo "PASS: $(basename "$0")"; fi
	exit "$rc"
}

at_exit() { DPDK_E2E_EXIT_CMDS+=("$*"); }

dpdk_e2e_init() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: $(basename "$0") needs root (network namespaces, XDP)"
		exit 77
	fi
	[ -d "$TPA_BUILD_DIR" ] || fail "build dir $TPA_BUILD_DIR not found (set TPA_BUILD_DIR)"
	XDP_OBJ=$TPA_BUILD_DIR/dpdk/tpa_steer.bpf.o
	EXAMPLE=$TPA_BUILD_DIR/dpdk/tpa_example
	DPDK_E2E_TMP=$(tpa_mktemp tpa-e2e)
	# Under ASan: the af_xdp PMD's own leaks are suppressed (lsan.supp, which needs whole
	# allocation stacks); everything else is still reported and fails the test.
	export LSAN_OPTIONS="suppressions=$TPA_SOURCE_DIR/tests/e2e/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
	trap dpdk_cleanup EXIT
	trap 'exit 130' INT TERM
	tpa_deadline
	"$TPA_SOURCE_DIR/scripts/testbed.sh" down >/dev/null 2>&1 || true
	tpa_testbed_up
	SRV_NS=$TPA_TB_SRV_NS CLI_NS=$TPA_TB_CLI_NS
	SRV_IF=$TPA_TB_SRV_IF CLI_IF=$TPA_TB_CLI_IF
	SRV_IP=$TPA_TB_SRV_IP CLI_IP=$TPA_TB_CLI_IP
}

srv() { ip netns exec "$SRV_NS" "$@"; }
cli() { ip netns exec "$CLI_NS" "$@"; }

dpdk_bg() {
	local log=$1
	shift
	tpa_bg "$@" >"$log" 2>&1
	DPDK_BG_PID=$TPA_BG_PID
}

wait_for() {
	local desc=$1
	shift
	for _ in $(seq 300); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	fail "timed out waiting for: $desc"
}

xdp_attached() { ip -n "$SRV_NS" link show dev "$SRV_IF" | grep -q 'prog/xdp'; }
