#!/usr/bin/env bash
# A memif peer that fails, disconnects or vanishes must never crash the accelerated program on
# the other end, and the next peer must be served. redis-server under the shim is the memif
# server, busy-polling (TPA_BUSY_POLL=1: its thread is always inside a burst on the rings, as in
# scripts/bench_redis.sh --mode memif --busy-poll); its clients, each its own process under the
# shim with its own memif client link, come and go:
#   - short redis-benchmark runs that end normally (each exit takes the link down);
#   - redis-benchmark runs SIGKILLed once their requests flow, and clients SIGKILLed while their
#     link is still being set up (right after start);
#   - a second client while the link belongs to another: refused by the memif server, it must
#     get the link once the first has gone;
# after each, a redis-cli PING must be answered, byte-exact replies at the end. Then SIGTERM
# reaches the server while a client's link is up; the server restarts under a running client,
# whose link must come back (and its next connections be served); and SIGTERM reaches new
# servers while a client's link is half-up: the server exits as redis does on SIGTERM, status 0,
# no crash report.
# Before the fix the server died of SIGSEGV in the memif PMD's burst (EAL's interrupt thread
# unmapped the rings of a peer that had gone while the polling thread was copying into them) or
# of a panic of EAL's interrupt thread (a peer that went before the server's first message left
# a callback on a closed fd); the refused client and the client of the restarted server never
# got their link back (DPDK 22.11's memif client connects only when its port starts). No
# testbed: one namespace (<prefix>-mpeers).
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
# Rounds of the client cycle (each: a short run, a run killed mid-flight, a client killed while
# its link comes up, a refused second client, and a PING after each).
ROUNDS=${TPA_MEMIF_PEERS_ROUNDS:-8}

NS=${TPA_TB_PREFIX:-tpa}-mpeers
WORK=$(tpa_mktemp tpa-e2e)
cleanup() {
	local rc=$?
	set +e
	tpa_stop_all
	if [ $rc -ne 0 ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] && { echo "----- $(basename "$f")"; tr '\r' '\n' <"$f" | grep -v '^ *$' | tail -n 25; }
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
COMMON=(LD_PRELOAD="$SHIM" TPA_PORT_TYPE=memif TPA_IFACE=memif0 TPA_SHIM_STATS=1 TPA_BUSY_POLL=1)
SERVER_PID=
SERVER_LOG=
SOCK=

# server NAME [SOCKET]: a busy-polling redis-server under the shim, memif server on socket
# SOCKET (default NAME), always the same MAC address (a restarted server is the same host).
server() {
	SOCK=$WORK/${2:-$1}.sock
	SERVER_LOG=$WORK/server-$1.log
	tpa_bg ip netns exec "$NS" env "${COMMON[@]}" TPA_MEMIF_SOCKET="$SOCK" TPA_MEMIF_ROLE=server \
		TPA_IP=198.19.0.2/24 TPA_MAC=02:74:70:61:00:02 TPA_PORTS=6379 redis-server --port 6379 \
		--save '' --appendonly no \
		--protected-mode no --bind 0.0.0.0 --logfile '' --dir "$WORK" >"$SERVER_LOG" 2>&1
	SERVER_PID=$TPA_BG_PID
}
# The memif client environment for the current server.
client_env() {
	echo LD_PRELOAD="$SHIM" TPA_PORT_TYPE=memif TPA_IFACE=memif0 TPA_SHIM_STATS=1 \
		TPA_MEMIF_SOCKET="$SOCK" TPA_MEMIF_ROLE=client TPA_IP=198.19.0.1/24 \
		TPA_CONNECT=198.19.0.2/32:6379
}
# client LOG PROGRAM ARGS...: in the foreground, at most 60 s.
client() {
	local log=$1
	shift
	# shellcheck disable=SC2046 # client_env's words are the variables
	ip netns exec "$NS" env $(client_env) timeout 60 "$@" >"$log" 2>&1
}
# client_bg LOG PROGRAM ARGS...: in the background, TPA_BG_PID is the program itself.
client_bg() {
	local log=$1
	shift
	# shellcheck disable=SC2046
	tpa_bg ip netns exec "$NS" env $(client_env) "$@" >"$log" 2>&1
}
server_alive() {
	tpa_alive "$SERVER_PID" && return 0
	local rc=0
	wait "$SERVER_PID" 2>/dev/null || rc=$?
	fail "redis-server under the shim died (status $rc) $*"
}
no_crash_report() { # LOG
	! grep -Eq 'crashed by signal|PANIC|Segmentation fault|Aborted' "$1" ||
		fail "$(basename "$1"): $(grep -Em1 'crashed by signal|PANIC|Segmentation fault|Aborted' "$1")"
}
ping_ok() { # WHAT
	local log=$WORK/ping.log
	for _ in 1 2 3; do
		client "$log" redis-cli -h 198.19.0.2 -p 6379 ping && grep -q PONG "$log" && return 0
		server_alive "$@"
	done
	fail "no PONG $*"
}
wait_rps() { # LOG: until redis-benchmark reports requests flowing (at most 10 s)
	for _ in $(seq 100); do
		tr '\r' '\n' <"$1" 2>/dev/null | grep -q 'rps=[1-9]' && return 0
		sleep 0.1
	done
	return 1
}
sigkill() { # PID
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
sigterm_server() { # WHAT: SIGTERM reaches the server; it exits with 0 and no crash report
	kill -TERM "$SERVER_PID"
	local rc=0
	wait "$SERVER_PID" || rc=$?
	[ $rc = 0 ] || fail "redis-server exited with status $rc on SIGTERM $*"
	no_crash_report "$SERVER_LOG"
	grep -q 'ready to exit, bye bye' "$SERVER_LOG" || fail "redis-server did not shut down as on SIGTERM $*"
	SERVER_PID=
}

server main
ready=0
for _ in $(seq 50); do
	server_alive "at start"
	if client "$WORK/ping.log" redis-cli -h 198.19.0.2 -p 6379 ping && grep -q PONG "$WORK/ping.log"; then
		ready=1
		break
	fi
	sleep 0.2
done
[ $ready = 1 ] || fail "no PONG over memif"
pass "busy-polling redis-server over memif answers"

for round in $(seq "$ROUNDS"); do
	log=$WORK/short-$round.log
	client "$log" redis-benchmark -h 198.19.0.2 -p 6379 -c 20 -n 5000 -P 4 -t set,get -q ||
		{ server_alive "during a short run (round $round)"; fail "redis-benchmark exited non-zero (round $round)"; }
	tr '\r' '\n' <"$log" | grep -Eqi 'error|reset|refused' && fail "redis-benchmark reported errors (round $round)"
	[ "$(tr '\r' '\n' <"$log" | grep -c 'requests per second')" = 2 ] || fail "redis-benchmark: no results (round $round)"
	server_alive "after a client exited (round $round)"
	ping_ok "after a client exited (round $round)"

	client_bg "$WORK/killed-$round.log" redis-benchmark -h 198.19.0.2 -p 6379 -c 20 -n 100000000 -t set,get -q
	victim=$TPA_BG_PID
	wait_rps "$WORK/killed-$round.log" || { server_alive "while a client ran (round $round)"; fail "a client's requests did not flow (round $round)"; }
	sleep "0.$((RANDOM % 5))"
	sigkill "$victim"
	server_alive "after a client was killed mid-run (round $round)"
	ping_ok "after a client was killed mid-run (round $round)"

	# Killed while its engine starts: its link may be connecting, half set up, or just up.
	client_bg "$WORK/early-$round.log" redis-cli -h 198.19.0.2 -p 6379 ping
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	sigkill "$TPA_BG_PID"
	server_alive "after a client was killed while its link came up (round $round)"
	ping_ok "after a client was killed while its link came up (round $round)"

	# A second client while the link is another's: the memif server refuses it; once the first
	# has gone it must get the link (and its answer).
	client_bg "$WORK/first-$round.log" redis-benchmark -h 198.19.0.2 -p 6379 -c 5 -n 100000000 -t get -q
	first=$TPA_BG_PID
	wait_rps "$WORK/first-$round.log" || fail "the first client's requests did not flow (round $round)"
	client_bg "$WORK/second-$round.log" redis-cli -h 198.19.0.2 -p 6379 ping
	second=$TPA_BG_PID
	sleep 0.5
	sigkill "$first"
	rc=0
	for _ in $(seq 100); do tpa_alive "$second" || break; sleep 0.1; done
	if tpa_alive "$second"; then
		sigkill "$second"
		fail "a client refused while the link was another's never got it once that one had gone (round $round)"
	fi
	wait "$second" || rc=$?
	[ $rc = 0 ] && grep -q PONG "$WORK/second-$round.log" ||
		fail "the client that waited for the link got no PONG (status $rc, round $round)"
	server_alive "after a refused client (round $round)"
done
pass "$ROUNDS rounds: short runs, clients killed mid-run and while their link came up, a refused client: served after each"

client "$WORK/check-data.log" python3 "$SRC/tests/e2e/redis_check.py" 198.19.0.2 6379 data 100 ||
	fail "byte-exact values (1 B .. 256 KiB)"
client "$WORK/check-pipe.log" python3 "$SRC/tests/e2e/redis_check.py" 198.19.0.2 6379 pipeline 10000 ||
	fail "pipelined replies"
pass "replies byte-exact after all that"

# SIGTERM while a client's link is up and its requests flow.
client_bg "$WORK/during-term.log" redis-benchmark -h 198.19.0.2 -p 6379 -c 20 -n 100000000 -t set,get -q
during=$TPA_BG_PID
wait_rps "$WORK/during-term.log" || fail "requests did not flow before SIGTERM"
sigterm_server "while a client's link was up"
# The client loses its peer: it must not crash either (it waits for its replies until killed).
sleep 0.5
if tpa_alive "$during"; then
	sigkill "$during"
else
	rc=0
	wait "$during" || rc=$?
	[ $rc -lt 128 ] || fail "the client died of signal $((rc - 128)) when the server went"
fi
no_crash_report "$WORK/during-term.log"
accel_no_fallback_lines "$SERVER_LOG" || fail "the server fell back to the kernel"
pass "SIGTERM with a client's link up: status 0, clean shutdown"

# The server restarts under a running client: the client's link goes down with the server and
# must come back once the new one listens on the socket (the client restarts its port while its
# link is down), and the client's next connections must be served. The client: a new
# connection and a PING every 0.2 s until told to stop.
PINGER='
import os, socket, sys, time
host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
while not os.path.exists(stop):
    try:
        with socket.create_connection((host, port), timeout=2) as c:
            c.sendall(b"PING\r\n")
            print("PONG" if c.recv(64).startswith(b"+PONG") else "other", flush=True)
    except OSError as e:
        print("error", e, flush=True)
    time.sleep(0.2)
'
pongs() { grep -c '^PONG' "$WORK/pinger.log" || true; }
wait_pongs() { # N WHAT: until the pinger has N answers (at most 30 s)
	for _ in $(seq 300); do
		[ "$(pongs)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "the client had $(pongs) answers, not $1, $2"
}
server restart-a restart
for _ in $(seq 50); do
	client "$WORK/ping.log" redis-cli -h 198.19.0.2 -p 6379 ping && grep -q PONG "$WORK/ping.log" && break
	server_alive "(the server to restart)"
	sleep 0.2
done
client_bg "$WORK/pinger.log" python3 -c "$PINGER" 198.19.0.2 6379 "$WORK/pinger.stop"
pinger=$TPA_BG_PID
wait_pongs 3 "before the server restarted"
sigterm_server "(the server restarted under a client)"
before=$(pongs)
# Away long enough for the client's first restarts to fail: a port that did not start must not
# be burst on (ethdev's "called rx_pkt_burst for not ready port", a stack dump per poll).
sleep 1.5
server restart-b restart
wait_pongs $((before + 3)) "after the server restarted (its link did not come back?)"
: >"$WORK/pinger.stop"
rc=0
wait "$pinger" || rc=$?
[ $rc = 0 ] || fail "the client across the server's restart exited with status $rc"
restarts=$(tr '\r' '\n' <"$WORK/pinger.log" | awk '$1 == "tpa:" && $2 == "memif_link_restarts" { print $3 }')
[ "${restarts:-0}" -ge 1 ] || fail "the client's link came back without a port restart?"
! grep -q "for not ready port" "$WORK/pinger.log" ||
	fail "the client burst on its stopped port while the server was away: $(grep -c 'for not ready port' "$WORK/pinger.log") times"
sigterm_server "(the restarted server)"
pass "the server restarted under a running client: its link came back ($restarts port restarts) and it was served again"

# SIGTERM while a client's link is being set up (the memif handshake takes a few ms after the
# client's EAL starts, which takes longer): several delays to land in it.
for delay in 0.05 0.15 0.3 0.5; do
	server "term-$delay"
	for _ in $(seq 50); do
		client "$WORK/ping.log" redis-cli -h 198.19.0.2 -p 6379 ping && grep -q PONG "$WORK/ping.log" && break
		server_alive "(server for SIGTERM after $delay s)"
		sleep 0.2
	done
	client_bg "$WORK/half-$delay.log" redis-benchmark -h 198.19.0.2 -p 6379 -c 20 -n 100000000 -t set,get -q
	half=$TPA_BG_PID
	sleep "$delay"
	sigterm_server "while a client's link was coming up ($delay s after it started)"
	sigkill "$half"
	no_crash_report "$WORK/half-$delay.log"
done
pass "SIGTERM while a client's link came up (4 delays): status 0, clean shutdown"
