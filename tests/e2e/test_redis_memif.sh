#!/usr/bin/env bash
# Pure user space (scripts/bench_redis.sh --mode memif): redis-server AND its clients all under
# the shim, each process with its own stack and DPDK EAL, joined by one net_memif link (server
# role in redis-server, client role in each client; they resolve each other by ARP). Checks that
# both ends' TCP is tpa's, that redis-benchmark runs without errors (-P 1 and -P 16, 50
# clients), that a client process does not reuse the ports of the one before it (the server may
# still hold those connections: each reuse cost a reset and a 1 s SYN timeout),
# that a full ring drops no frame (they wait for room: tx backlog), that replies are byte-exact,
# that a client killed mid-run does not stop the next one, and that the server exits cleanly
# giving its hugepages back, its stack having established exactly the connections its clients'
# stacks made, with nothing on the kernel. No testbed: one namespace (<prefix>-rmemif) only so that nothing
# else on the host can collide with it.
set -euo pipefail
# shellcheck source=tests/e2e/lib_cleanup.sh
source "$(dirname "$0")/lib_cleanup.sh"
# shellcheck source=tests/e2e/lib_accel.sh
source "$(dirname "$0")/lib_accel.sh"

SRC=$TPA_SOURCE_DIR
BUILD=$TPA_BUILD_DIR
SHIM=$BUILD/shim/libtpa_shim.so
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in redis-server redis-benchmark redis-cli python3; do
	command -v $t >/dev/null || { echo "FAIL: $t not installed (scripts/deps.sh installs it)"; exit 1; }
done
[ -f "$SHIM" ] || { echo "FAIL: $SHIM not built" >&2; exit 1; }

NS=${TPA_TB_PREFIX:-tpa}-rmemif
WORK=$(tpa_mktemp tpa-e2e)
SERVER_PID=
huge_free() { cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0; }

cleanup() {
	local rc=$?
	set +e
	tpa_stop_all
	if [ $rc -ne 0 ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] && { echo "----- $(basename "$f")"; tail -n 30 "$f"; }
		done
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
	[ $rc = 0 ] && echo "PASS: $(basename "$0")"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tpa_deadline
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
HUGE_BEFORE=$(huge_free)
SOCK=$WORK/memif.sock
COMMON=(LD_PRELOAD="$SHIM" TPA_PORT_TYPE=memif TPA_MEMIF_SOCKET="$SOCK" TPA_IFACE=memif0
	TPA_SHIM_STATS=1)

# setsid, ip netns exec and env exec: the pid is redis-server itself.
tpa_bg ip netns exec "$NS" env "${COMMON[@]}" TPA_MEMIF_ROLE=server TPA_IP=198.19.0.2/24 \
	TPA_PORTS=6379 redis-server --port 6379 --save '' --appendonly no --protected-mode no \
	--bind 0.0.0.0 --logfile '' --dir "$WORK" >"$WORK/server.log" 2>&1
SERVER_PID=$TPA_BG_PID

# client LOG PROGRAM ARGS...: a program whose connections to 198.19.0.2:6379 are tpa's, as the
# memif client.
client() {
	local log=$1
	shift
	ip netns exec "$NS" env "${COMMON[@]}" TPA_MEMIF_ROLE=client TPA_IP=198.19.0.1/24 \
		TPA_CONNECT=198.19.0.2/32:6379 timeout 60 "$@" >"$log" 2>&1
}
# The stats line of a counter in a log (TPA_SHIM_STATS=1 prints them at exit), 0 if absent.
counter() { tr '\r' '\n' <"$1" | awk -v k="$2" '$1 == "tpa:" && $2 == k { v = $3 } END { print v + 0 }'; }

ready=0
for _ in $(seq 20); do
	kill -0 "$SERVER_PID" 2>/dev/null || fail "redis-server under the shim exited"
	if client "$WORK/ping.log" redis-cli -h 198.19.0.2 -p 6379 ping && grep -q PONG "$WORK/ping.log"; then
		ready=1
		break
	fi
	sleep 0.2
done
[ $ready = 1 ] || fail "no PONG over memif"
[ "$(counter "$WORK/ping.log" tcp_conn_established)" -ge 1 ] ||
	fail "redis-cli's connection was not on tpa's stack"
[ "$(counter "$WORK/ping.log" arp_rx)" -ge 1 ] || fail "the client did not resolve the server by ARP"
pass "PING over memif, the client's TCP and ARP are tpa's"

for pipeline in 1 16; do
	log=$WORK/bench-P$pipeline.log
	client "$log" redis-benchmark -h 198.19.0.2 -p 6379 -c 50 -n 10000 -P $pipeline \
		-t set,get,incr,lpush,lrange_100 -q || fail "redis-benchmark -P $pipeline exited non-zero"
	tr '\r' '\n' <"$log" | grep -Ei 'error|reset|refused' && fail "redis-benchmark -P $pipeline reported errors"
	n=$(tr '\r' '\n' <"$log" | grep -c 'requests per second')
	# lrange_100 adds its own LPUSH run: 6 results for 5 tests.
	[ "$n" = 6 ] || fail "redis-benchmark -P $pipeline: $n results, expected 6"
	[ "$(counter "$log" tcp_conn_established)" -ge 50 ] ||
		fail "redis-benchmark -P $pipeline: its 50 connections were not on tpa's stack"
	# Each client process makes 301 connections: the second must not reuse the 4-tuples of
	# the first, which the server may still hold (the first exited before their last ACK). A
	# reused one's SYN meets that connection: the server's ACK for it is reset by the client
	# (in SYN_SENT), which sends its SYN again after 1 s. Other resets are no error: a segment
	# of the previous client's connections that the server retransmits meets this client,
	# which has no socket for it. Neither are retransmissions: on a busy machine either process
	# may be off the CPU for longer than the retransmission timeout (200 ms).
	resets=$(($(counter "$log" tcp_rst_tx) - $(counter "$log" tcp_drop_no_socket)))
	[ "$resets" -le 0 ] ||
		fail "redis-benchmark -P $pipeline reset $resets connections it was opening (reused ports?)"
	# A full memif ring (the peer not draining it for a while) or a link not up yet loses no
	# frame: what the port cannot take waits for room (the engine's transmit backlog).
	[ "$(counter "$log" eth_tx_drop_full)" = 0 ] && [ "$(counter "$log" tx_held_dropped)" = 0 ] ||
		fail "redis-benchmark -P $pipeline dropped frames the port could not take ($(counter "$log" eth_tx_drop_full) by the stack, $(counter "$log" tx_held_dropped) held ones)"
	pass "redis-benchmark -P $pipeline, 50 clients, 5 tests, no errors, no frame dropped ($(counter "$log" tx_held) held for room, $(counter "$log" tcp_retransmit) retransmissions), all on tpa"
done

client "$WORK/check-data.log" python3 "$SRC/tests/e2e/redis_check.py" 198.19.0.2 6379 data 200 ||
	fail "byte-exact values (1 B .. 256 KiB)"
client "$WORK/check-pipe.log" python3 "$SRC/tests/e2e/redis_check.py" 198.19.0.2 6379 pipeline 20000 ||
	fail "pipelined replies"
pass "replies byte-exact (values up to 256 KiB, 20000 pipelined commands)"

# A client that dies mid-run (as when a benchmark is interrupted) leaves the memif server ready
# for the next one.
tpa_bg ip netns exec "$NS" env "${COMMON[@]}" TPA_MEMIF_ROLE=client TPA_IP=198.19.0.1/24 \
	TPA_CONNECT=198.19.0.2/32:6379 redis-benchmark -h 198.19.0.2 -p 6379 -c 50 -n 10000000 \
	-t get -q >"$WORK/killed.log" 2>&1
victim=$TPA_BG_PID
for _ in $(seq 100); do
	tr '\r' '\n' <"$WORK/killed.log" | grep -q 'rps=[1-9]' && break
	sleep 0.1
done
kill -9 $victim
wait $victim 2>/dev/null || true
client "$WORK/after-kill.log" redis-cli -h 198.19.0.2 -p 6379 ping || fail "no answer after a client was killed"
grep -q PONG "$WORK/after-kill.log" || fail "no PONG after a client was killed"
pass "a client killed mid-run: the next one is served"

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
[ $rc = 0 ] || fail "redis-server exited with status $rc on SIGTERM"
# Every connection the server's stack established is one a client's stack made: the clients
# that exited normally counted theirs; the one killed made 51 before its requests flowed
# (redis-benchmark's CONFIG GET connection, then its 50 clients).
made=51
for f in "$WORK"/*.log; do
	[ "$f" = "$WORK/server.log" ] || made=$((made + $(counter "$f" tcp_conn_established)))
	accel_no_fallback_lines "$f" || fail "$(basename "$f"): something fell back to the kernel"
done
sum=$(accel_expect "$WORK/server.log" conns=$made xdp=0) ||
	fail "the server's counters do not account for the $made connections of its clients"
pass "server $sum"
[ ! -e "$SOCK" ] || fail "memif socket file $SOCK left behind"
for _ in $(seq 20); do
	[ "$(huge_free)" -ge "$HUGE_BEFORE" ] && break
	sleep 0.1
done
[ "$(huge_free)" -ge "$HUGE_BEFORE" ] ||
	fail "hugepages not given back: $HUGE_BEFORE free before, $(huge_free) after"
pass "server's TCP is tpa's; clean exit, no socket file, hugepages given back"
