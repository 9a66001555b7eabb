# shellcheck shell=bash
# Helpers for the redis end-to-end tests: testbed, redis-server under the shim in the server
# namespace, kernel clients in the client namespace, cleanup on any exit.
# Set TPA_E2E_KERNEL=1 to run the same tests with redis-server on the kernel (no shim): the
# tests must pass both ways. Background programs: tpa_bg (lib_cleanup.sh), stopped at exit.
# Under the shim a test ends with finish_redis, which stops redis-server so that it reports and
# checks that its counters account for every connection the client namespace made
# (lib_accel.sh).
set -euo pipefail
# shellcheck source=tests/e2e/lib_e2e.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"
# shellcheck source=tests/e2e/lib_accel.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_accel.sh"

# Paths and the testbed's names and addresses come from lib_e2e.sh.
SRC=$TPA_SOURCE_DIR
# shellcheck disable=SC2034 # for the tests that source this file
BUILD=$TPA_BUILD_DIR
SHIM=$TPA_SHIM_LIB
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in redis-server redis-cli redis-benchmark python3; do
	command -v $t >/dev/null || { echo "FAIL: $t not installed (scripts/deps.sh installs it)"; exit 1; }
done
E2E_WORK=$(tpa_mktemp tpa-e2e)
E2E_PIDS=()
REDIS_PORT=${REDIS_PORT:-6379}

e2e_cleanup() {
	local rc=$?
	set +e
	# Pids of programs started without tpa_bg.
	for p in "${E2E_PIDS[@]:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	tpa_stop_all
	for p in "${E2E_PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		echo "---- logs ($E2E_WORK)"
		tail -n 30 "$E2E_WORK"/*.log 2>/dev/null
	fi
	tpa_testbed_down
	rm -rf "$E2E_WORK"
	exit $rc
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM
tpa_deadline

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

cli_ns() { ip netns exec "$TPA_TB_CLI_NS" "$@"; }
srv_ns() { ip netns exec "$TPA_TB_SRV_NS" "$@"; }
rcli() { cli_ns timeout 20 redis-cli -h "$TPA_TB_SRV_IP" -p "$REDIS_PORT" "$@"; }

testbed_up() {
	"$SRC/scripts/testbed.sh" down >/dev/null 2>&1 || true
	tpa_testbed_up
}

# start_redis [extra redis-server args...]: starts it (under the shim unless TPA_E2E_KERNEL=1),
# waits until its port is accelerated and it answers PING from the client namespace, sets
# REDIS_PID, REDIS_LOG (its output, one file per start) and REDIS_OPENS0 (the client
# namespace's connection count before the first PING).
REDIS_STARTS=0
start_redis() {
	local pre=()
	REDIS_STARTS=$((REDIS_STARTS + 1))
	REDIS_LOG=$E2E_WORK/redis.$REDIS_STARTS.log
	if [ "${TPA_E2E_KERNEL:-0}" != 1 ]; then
		[ -f "$SHIM" ] || fail "$SHIM not built"
		pre=(env LD_PRELOAD="$SHIM" TPA_IFACE="$TPA_TB_SRV_IF" TPA_PORTS="$REDIS_PORT" TPA_SHIM_STATS=1)
	fi
	# setsid, ip netns exec and env exec: the pid is redis-server itself.
	tpa_bg ip netns exec "$TPA_TB_SRV_NS" "${pre[@]}" redis-server --port "$REDIS_PORT" --protected-mode no --bind 0.0.0.0 \
		--appendonly no --save '' --dir "$E2E_WORK" --logfile '' --maxclients 4000 "$@" \
		>"$REDIS_LOG" 2>&1
	REDIS_PID=$TPA_BG_PID
	if [ "${TPA_E2E_KERNEL:-0}" != 1 ]; then
		accel_wait_port "$REDIS_LOG" "$REDIS_PORT" || fail "redis-server: port $REDIS_PORT not accelerated"
	fi
	REDIS_OPENS0=$(accel_opens "$TPA_TB_CLI_NS")
	for _ in $(seq 1 100); do
		if rcli ping 2>/dev/null | grep -q PONG; then
			# Under the shim the port must really be served by tpa: our XDP program is
			# on the interface (a silent fall-back to the kernel would pass every test).
			if [ "${TPA_E2E_KERNEL:-0}" != 1 ] && ! xdp_attached; then
				fail "redis-server answers but no XDP program is attached: not accelerated"
			fi
			[ "${TPA_E2E_KERNEL:-0}" = 1 ] || accel_watch_start "$TPA_TB_SRV_NS" "$REDIS_PORT"
			return 0
		fi
		kill -0 "$REDIS_PID" 2>/dev/null || fail "redis-server exited at start"
		sleep 0.2
	done
	fail "redis-server does not answer PING"
}

stop_redis() { # signal (default TERM)
	kill -"${1:-TERM}" "$REDIS_PID" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$REDIS_PID" 2>/dev/null && fail "redis-server did not stop on SIG${1:-TERM}"
	wait "$REDIS_PID" 2>/dev/null || true
}

# finish_redis [not_redis=N] [accel_expect args...]: stop redis-server with SIGTERM (it reports
# at exit) and, under the shim, check that the stack established every connection the client
# namespace opened since start_redis (less N made to other servers), the kernel accepted none
# and the XDP program redirected its packets.
finish_redis() {
	local other=0
	case ${1:-} in not_redis=*) other=${1#*=}; shift ;; esac
	local opens
	opens=$(($(accel_opens "$TPA_TB_CLI_NS") - REDIS_OPENS0 - other))
	[ "${TPA_E2E_KERNEL:-0}" = 1 ] || accel_watch_stop 1 ||
		fail "redis-server: the kernel served connections on port $REDIS_PORT while it ran"
	stop_redis TERM
	[ "${TPA_E2E_KERNEL:-0}" = 1 ] && return 0
	local sum
	sum=$(accel_expect "$REDIS_LOG" conns="$opens" "$@") ||
		fail "redis-server's counters do not account for its $opens connection(s)"
	pass "redis-server $sum; no kernel connection on the port in $ACCEL_WATCH_SAMPLES samples"
}

# An array, not a function, so that `tpa_bg "${RESP_CHECK[@]}" ...` can start it.
RESP_CHECK=(ip netns exec "$TPA_TB_CLI_NS" python3 "$SRC/tests/e2e/redis_check.py" "$TPA_TB_SRV_IP" "$REDIS_PORT")
resp_check() { "${RESP_CHECK[@]}" "$@"; }

xdp_attached() { srv_ns ip link show dev "$TPA_TB_SRV_IF" | grep -q 'prog/xdp'; }
