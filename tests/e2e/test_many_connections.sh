#!/usr/bin/env bash
# Many concurrent connections held by one accelerated process: an echo server on the native API
# (tests/e2e/native_echo.c, engine on the server veth) and kernel clients in the client
# namespace (tests/e2e/conn_hold.c) opening TPA_MANY_CONNS connections (default 100,000, about
# 10 s in all) from several source addresses of the testbed's subnet (each serves the ephemeral
# range once), in processes of at most 15,000 connections (a process here may not raise
# RLIMIT_NOFILE past 20,000). Each client checks that 100 of its connections, spread over all,
# echo, holds them all TPA_MANY_HOLD_S seconds, and checks 100 others. The stack must have
# established every one (its counters at exit), the kernel none on the port (sampled while they
# are held). Prints the server's memory per idle connection: its resident set (the stack's
# shared heap included) with all connections open, less before the first, divided by their
# count. A program under the shim could not hold as many here: each of its connections keeps a
# kernel fd, and RLIMIT_NOFILE stops at 20,000.
source "$(dirname "$0")/lib_dpdk_common.sh"
# shellcheck source=tests/e2e/lib_accel.sh
source "$(dirname "$0")/lib_accel.sh"
dpdk_e2e_init
SERVER=$TPA_BUILD_DIR/tests/e2e_native_echo
HOLD=$TPA_BUILD_DIR/tests/e2e_conn_hold
[ -x "$SERVER" ] && [ -x "$HOLD" ] || fail "$SERVER or $HOLD not built"
N=${TPA_MANY_CONNS:-100000}
HOLD_S=${TPA_MANY_HOLD_S:-3}
PORT=7100
PER_PROC=15000
NOFILE=$((PER_PROC + 1024))
# 50,000 ports per source address (10000-59999), one address more for margin.
NSRC=$((N / 50000 + 2))
SRCS=()
for ((i = 0; i < NSRC; i++)); do
	SRCS+=("198.18.0.$((101 + i))")
	ip -n "$CLI_NS" addr add "198.18.0.$((101 + i))/24" dev "$CLI_IF"
done
cli sysctl -q -w net.ipv4.ip_local_port_range="10000 59999"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

note "native echo server, TPA_MAX_SOCKETS for $N connections"
LOG=$DPDK_E2E_TMP/server.log
dpdk_bg "$LOG" ip netns exec "$SRV_NS" env TPA_IFACE="$SRV_IF" TPA_HUGEPAGES=no \
	TPA_MAX_SOCKETS=$((N + 8192)) "$SERVER" "$PORT"
SRV_PID=$DPDK_BG_PID # ip netns exec and env exec the server: the same process
wait_for "server ready" grep -q '^ready' "$LOG"
rss0=$(rss_kib "$SRV_PID")

NPROC=$(((N + PER_PROC - 1) / PER_PROC))
note "$N connections in $NPROC client processes from ${SRCS[*]}"
accel_watch_start "$SRV_NS" "$PORT"
CLI_PIDS=()
for ((p = 0; p < NPROC; p++)); do
	n=$((p < NPROC - 1 ? PER_PROC : N - PER_PROC * (NPROC - 1)))
	dpdk_bg "$DPDK_E2E_TMP/client$p.log" ip netns exec "$CLI_NS" \
		prlimit --nofile="$NOFILE:$NOFILE" "$HOLD" client "$SRV_IP" "$PORT" "$n" "$HOLD_S" \
		"${SRCS[@]}"
	CLI_PIDS+=("$DPDK_BG_PID")
done
# Every client established: a readiness point (they then hold HOLD_S seconds), not a timer.
all_established() {
	local p
	for ((p = 0; p < NPROC; p++)); do
		grep -q '^established' "$DPDK_E2E_TMP/client$p.log" || return 1
	done
}
for _ in $(seq 1800); do
	all_established && break
	for pid in "${CLI_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || break 2; done
	sleep 0.1
done
all_established || fail "the clients did not get their connections"
rss1=$(rss_kib "$SRV_PID")
ok=1
for pid in "${CLI_PIDS[@]}"; do wait "$pid" || ok=0; done
cat "$DPDK_E2E_TMP"/client*.log
kill -TERM "$SRV_PID" # its counters, also for a failure
wait "$SRV_PID" 2>/dev/null || true
[ "$ok" = 1 ] || fail "a client failed"
accel_watch_stop 5 || fail "the kernel held connections on port $PORT"
est=$(accel_counter "$LOG" tcp_conn_established)
per_conn=$(((rss1 - rss0) * 1024 / N))
note "many connections: $N held by one accelerated process; server RSS $rss0 KiB before," \
	"$rss1 KiB with all open: $per_conn bytes per idle connection; stack established $est"
[ "$est" -ge "$N" ] || fail "the stack established $est connections, not $N"
exit 0
