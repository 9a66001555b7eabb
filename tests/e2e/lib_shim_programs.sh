#!/usr/bin/env bash
# Helpers for the shim end-to-end tests (sourced). Real programs run in the testbed's server
# namespace, optionally with libtpa_shim.so preloaded; their peers run in the client namespace
# on the kernel. Every transfer is checked byte for byte (sha256).
#
# The variables set here are for the tests that source this file; mode_env's output is a list
# of assignments, split into words on purpose.
# shellcheck disable=SC2034,SC2046

# Modes: plain (no preload), idle (preloaded, nothing selected), accel (preloaded + selected).
# A sanitizer build of the shim (TPA_SHIM_LIB from an -DTPA_SANITIZE=ON build) is preloaded
# after its runtime, which must come first in an uninstrumented program.
# shellcheck source=tests/e2e/lib_e2e.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"
# shellcheck source=tests/e2e/lib_accel.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_accel.sh"

# Paths and the testbed's names and addresses come from lib_e2e.sh.
P=${TPA_TB_PREFIX:-tpa}
SRV_NS=$TPA_TB_SRV_NS
CLI_NS=$TPA_TB_CLI_NS
SRV_IF=$TPA_TB_SRV_IF
SRV_IP=$TPA_TB_SRV_IP
CLI_IP=$TPA_TB_CLI_IP
SRC=$TPA_SOURCE_DIR
BUILD=$TPA_BUILD_DIR
SHIM=$TPA_SHIM_LIB
PASSES=0
FAILS=0

shim_die() { echo "FATAL: $*" >&2; exit 1; }

shim_setup() {
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
	[ -f "$SHIM" ] || shim_die "libtpa_shim.so not found at $SHIM (set TPA_BUILD_DIR or TPA_SHIM_LIB)"
	local t asan
	for t in socat curl nginx redis-server redis-cli python3 sha256sum; do
		command -v $t >/dev/null || shim_die "$t not installed (scripts/deps.sh installs it)"
	done
	trap shim_cleanup EXIT
	trap 'exit 130' INT TERM
	tpa_deadline
	WORK=$(tpa_mktemp shim-e2e)
	PRELOAD=$SHIM
	SANITIZED=0
	asan=$(ldd "$SHIM" | awk '/libasan/ {print $3}')
	if [ -n "$asan" ]; then
		PRELOAD=$asan:$SHIM
		SANITIZED=1
		# Reports in files, whichever process makes them (a client, a forked worker, a
		# program at exit): shim_summary fails on any. Whole allocation stacks for the
		# DPDK leak suppressions (lsan.supp).
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0:log_path=$WORK/sanitizer"
		export LSAN_OPTIONS="suppressions=$SRC/tests/e2e/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
		export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$WORK/sanitizer"
	fi
	tpa_testbed_up >/dev/null || shim_die "testbed up failed"
}

shim_cleanup() {
	local rc=$?
	tpa_stop_all
	tpa_testbed_down
	[ "${SHIM_KEEP:-0}" = 1 ] || rm -rf "$WORK"
	exit $rc
}

# env prefix for a mode; $1 mode, $2 selection ("TPA_PORTS=..." or "TPA_CONNECT=...")
mode_env() {
	case $1 in
	plain) echo "" ;;
	idle) echo "LD_PRELOAD=$PRELOAD" ;;
	accel) echo "LD_PRELOAD=$PRELOAD TPA_IFACE=$SRV_IF TPA_SHIM_STATS=1 $2 ${SHIM_EXTRA_ENV:-}" ;;
	esac
}

# in the server namespace with the mode's environment
srv() { local m=$1 sel=$2; shift 2; ip netns exec "$SRV_NS" env $(mode_env "$m" "$sel") "$@"; }
cli() { ip netns exec "$CLI_NS" "$@"; }

check() {
	local what=$1 ok=$2
	if [ "$ok" = 1 ]; then
		echo "PASS: $what"
		PASSES=$((PASSES + 1))
	else
		echo "FAIL: $what"
		FAILS=$((FAILS + 1))
	fi
}

# Start a server in the background in the server namespace, in a session of its own; SRV_PID
# is the process (the `timeout` the command runs under, so killing it stops the server);
# SRV_OPENS0 the connections opened from the client namespace so far (check_path counts the
# server's from there).
srv_bg() {
	local m=$1 sel=$2
	shift 2
	SRV_MODE=$m
	SRV_OPENS0=$(accel_opens "$CLI_NS")
	tpa_bg ip netns exec "$SRV_NS" env $(mode_env "$m" "$sel") "$@" 2>"$WORK/srv.err"
	SRV_PID=$TPA_BG_PID
}

stop_srv() {
	kill "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
}

# Wait until a listener exists on ns:port. It is a kernel socket in every mode (an accelerated
# listener keeps its kernel socket listening too), so ss sees it without a probe connection
# that one-shot servers (socat) would take for their client.
wait_port() {
	local ns=$1 port=$2
	for _ in $(seq 1 300); do
		ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . ||
		{ echo "no listener on $ns:$port" >&2; return 1; }
	# An accelerated listener is the stack's from listen() on, which the shim says: wait for
	# that line (a client connecting earlier would be the kernel's, correctly but not through
	# tpa) and for the steering program on the interface.
	[ "$ns" = "$SRV_NS" ] && [ "${SRV_MODE:-}" = accel ] || return 0
	accel_wait_port "$WORK/srv.err" "$port" || return 1
	for _ in $(seq 1 150); do
		if ip -n "$SRV_NS" link show "$SRV_IF" | grep -q 'prog/xdp'; then
			accel_watch_start "$SRV_NS" "$port" # checked by check_path
			return 0
		fi
		sleep 0.1
	done
	echo "no tpa engine on $SRV_IF for $ns:$port" >&2
	return 1
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# check_path MODE WHAT [log=FILE] [accel_expect args...]: after a program that exited
# normally (its counters printed to FILE, default $WORK/srv.err). accel: its traffic went
# through tpa (lib_accel.sh accel_expect: by default as many connections as the client
# namespace opened since srv_bg, none on the kernel, XDP redirects, no fallback line, and the
# bytes given); in the other modes no engine may have started at all.
check_path() {
	local m=$1 what=$2 log=$WORK/srv.err
	shift 2
	case ${1:-} in log=*) log=${1#*=}; shift ;; esac
	if [ "$m" = accel ]; then
		local args=("$@") sum
		[[ " $* " == *" conns="* ]] || args=(conns=$(($(accel_opens "$CLI_NS") - SRV_OPENS0)) "$@")
		if [ -n "$ACCEL_WATCH_DIR" ]; then
			if [[ " $* " == *" kernel_ok="[1-9]* ]]; then
				accel_watch_stop 1 2>/dev/null || true # kernel connections by design
			elif accel_watch_stop 1; then
				check "$what: no kernel connection on the port while it ran ($ACCEL_WATCH_SAMPLES samples)" 1
			else
				check "$what: no kernel connection on the port while it ran" 0
			fi
		fi
		if sum=$(accel_expect "$log" "${args[@]}"); then
			check "$what ran on tpa ($sum)" 1
		else
			check "$what ran on tpa (${args[*]})" 0
			tail -n 20 "$log" | sed 's/^/    log: /'
		fi
		# The kernel rejected none of our AF_XDP descriptors (each one is a lost frame).
		local invalid
		invalid=$(awk '$2 ~ /^xsk_.*invalid/ {s += $3} END {print s + 0}' "$log")
		check "$what: no AF_XDP descriptor rejected ($invalid)" "$([ "$invalid" = 0 ] && echo 1)"
	else
		check "$what ran on the kernel ($m)" "$(grep -q '^tpa:' "$log" || echo 1)"
	fi
}

# The sanitizer reports that concern tpa: every ASan or UBSan report, and the leaks whose
# allocation stack passes through tpa's code. The programs (socat, python3, nginx) leak some of
# their own memory at exit; those stacks never enter the shim.
tpa_sanitizer_reports() {
	awk -v tpa="libtpa_shim[.]so|$SRC/(shim|dpdk|stack)/" '
	function flush() {
		if (blk ~ /(Direct|Indirect) leak/ && blk ~ tpa)
			ours = ours blk "\n"
		blk = ""
	}
	function emit() {
		if (!lsan && all ~ /ERROR|runtime error/)
			printf "----- %s\n%s", name, all
		else if (ours != "")
			printf "----- %s: leaks through tpa code\n%s", name, ours
	}
	FNR == 1 {
		if (NR > 1) { flush(); emit() }
		name = FILENAME; lsan = 0; all = ""; ours = ""; blk = ""
	}
	{ all = all $0 "\n" }
	/ERROR: LeakSanitizer/ { lsan = 1 }
	/^$/ { flush(); next }
	{ blk = blk $0 "\n" }
	END { if (NR > 0) { flush(); emit() } }' "$WORK"/sanitizer.* 2>/dev/null
}

shim_summary() {
	if [ "$SANITIZED" = 1 ]; then
		local reports all
		reports=$(tpa_sanitizer_reports)
		all=$(find "$WORK" -maxdepth 1 -name 'sanitizer.*' | wc -l)
		[ -n "$reports" ] && echo "$reports"
		check "no ASan/UBSan report, no leak through tpa code ($all report files, the rest: the programs' own leaks)" \
			"$([ -z "$reports" ] && echo 1)"
	fi
	echo "shim e2e: $PASSES passed, $FAILS failed"
	[ "$FAILS" = 0 ]
}
