#!/usr/bin/env bash
# tpa sockets / tpa stats (issue 15): with redis-server accelerated, 10 idle client connections
# held and redis-benchmark running, another process (in the root namespace, not the server's)
# lists the 10 connections with their rtt and cwnd, gets valid JSON from both commands, sees the
# counters rise over an interval; the published file goes with the program, and the one a
# SIGKILLed program leaves is removed by the next reader.
source "$(dirname "$0")/lib_redis.sh"
[ "${TPA_E2E_KERNEL:-0}" = 1 ] && { pass "kernel mode: nothing to inspect"; exit 0; }
TPA=$SRC/scripts/tpa
PUB_DIR=${TPA_PUBLISH_DIR:-/dev/shm}
testbed_up
start_redis
PUB=$PUB_DIR/tpa-$REDIS_PID.stats
[ -f "$PUB" ] || fail "redis-server publishes nothing ($PUB)"

# 10 idle connections: each says PING once (so the stack has an RTT sample), then stays quiet.
tpa_bg ip netns exec "$TPA_TB_CLI_NS" python3 -c '
import socket, sys, time
conns = []
for _ in range(10):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"PING\r\n")
    assert s.recv(64).startswith(b"+PONG")
    conns.append(s)
print(" ".join(str(s.getsockname()[1]) for s in conns), flush=True)
time.sleep(120)
' "$TPA_TB_SRV_IP" "$REDIS_PORT" >"$E2E_WORK/idle.log" 2>&1
for _ in $(seq 100); do [ -s "$E2E_WORK/idle.log" ] && break; sleep 0.1; done
read -r -a IDLE_PORTS <"$E2E_WORK/idle.log" || true
[ "${#IDLE_PORTS[@]}" = 10 ] || fail "the idle clients did not connect: $(cat "$E2E_WORK/idle.log")"

tpa_bg ip netns exec "$TPA_TB_CLI_NS" redis-benchmark -h "$TPA_TB_SRV_IP" -p "$REDIS_PORT" \
	-c 4 -n 100000000 -t set,get -q >"$E2E_WORK/bench.log" 2>&1
BENCH=$TPA_BG_PID
sleep 1

"$TPA" sockets >"$E2E_WORK/sockets.txt" || fail "tpa sockets failed"
cat "$E2E_WORK/sockets.txt"
"$TPA" sockets --pid "$REDIS_PID" --json >"$E2E_WORK/sockets.json" || fail "tpa sockets --json failed"
python3 -m json.tool "$E2E_WORK/sockets.json" >/dev/null || fail "tpa sockets --json is not JSON"
# Each idle connection: listed once, established, held by redis-server, with rtt and cwnd.
python3 - "$E2E_WORK/sockets.json" "$REDIS_PID" "$TPA_TB_CLI_IP" "${IDLE_PORTS[@]}" <<'EOF' || fail "tpa sockets --json does not show the 10 idle connections"
import json, sys
doc = json.load(open(sys.argv[1]))
pid, cli, ports = int(sys.argv[2]), sys.argv[3], sys.argv[4:]
progs = [p for p in doc["programs"] if p["pid"] == pid]
assert len(progs) == 1, "program %d listed %d times" % (pid, len(progs))
socks = progs[0]["sockets"]
bad = 0
for port in ports:
    m = [s for s in socks if s["peer"] == "%s:%s" % (cli, port)]
    ok = len(m) == 1 and m[0]["state"] == "ESTAB" and m[0]["pid"] == pid and \
        m[0]["rtt_us"] > 0 and m[0]["cwnd_segs"] > 0 and m[0]["bytes_in"] == 6 and \
        m[0]["bytes_out"] == 7
    if not ok:
        print("idle connection from port %s: %s" % (port, m), file=sys.stderr)
        bad += 1
lis = [s for s in socks if s["state"] == "LISTEN"]
assert len(lis) == 1 and lis[0]["local"].endswith(":6379"), lis
est = [s for s in socks if s["state"] == "ESTAB"]
print("json: %d established (10 idle + benchmark), listener backlog %d" % (len(est), lis[0]["backlog"]))
sys.exit(bad != 0 or len(est) < 14)
EOF
# The text lists them too, rtt and cwnd columns filled.
n=0
for port in "${IDLE_PORTS[@]}"; do
	grep -E "^ *ESTAB .* $TPA_TB_CLI_IP:$port +redis-server/$REDIS_PID +[0-9.]+ms +[0-9.]+ms +[1-9][0-9]* " \
		"$E2E_WORK/sockets.txt" >/dev/null && n=$((n + 1))
done
[ $n = 10 ] || fail "tpa sockets lists $n of the 10 idle connections with rtt and cwnd"
pass "tpa sockets: the 10 idle connections with rtt and cwnd, valid JSON"

"$TPA" stats --json >"$E2E_WORK/stats1.json" || fail "tpa stats --json failed"
python3 -m json.tool "$E2E_WORK/stats1.json" >/dev/null || fail "tpa stats --json is not JSON"
"$TPA" stats --pid "$REDIS_PID" --interval 1 --count 1 | tee "$E2E_WORK/stats.txt"
"$TPA" stats --pid "$REDIS_PID" --json --interval 1 --count 1 >"$E2E_WORK/stats2.json" ||
	fail "tpa stats --json --interval failed"
python3 -m json.tool "$E2E_WORK/stats2.json" >/dev/null || fail "tpa stats --json --interval is not JSON"
python3 - "$E2E_WORK/stats1.json" "$E2E_WORK/stats2.json" "$REDIS_PID" <<'EOF' || fail "counters do not rise under load"
import json, sys
# Other programs may be running (another testbed's): redis-server's entries only.
pid = int(sys.argv[3])
a, = [p for p in json.load(open(sys.argv[1]))["programs"] if p["pid"] == pid]
b, = [p for p in json.load(open(sys.argv[2]))["programs"] if p["pid"] == pid]
for k in ("tcp_rx", "tcp_bytes_rx", "tcp_bytes_tx", "eth_rx", "xdp_redirected"):
    assert b["counters"][k] > a["counters"][k], (k, a["counters"][k], b["counters"][k])
    assert b["delta"][k] > 0 and b["rate_per_s"][k] > 0, (k, b["delta"][k])
assert 0.5 < b["interval_s"] < 3, b["interval_s"]
print("stats: tcp_rx %d/s, tcp_bytes_tx %.0f B/s over %.2f s; tcp_conn_established %d" % (
    b["rate_per_s"]["tcp_rx"], b["rate_per_s"]["tcp_bytes_tx"], b["interval_s"],
    b["counters"]["tcp_conn_established"]))
EOF
grep -Eq '^ +tcp_rx +[0-9]+ +[0-9]+ +[0-9.]+k?/s' "$E2E_WORK/stats.txt" || fail "tpa stats --interval shows no tcp_rx rate"
pass "tpa stats: valid JSON, counters and rates rise over an interval"

# A reader that may not write the file (not its owner) reads what is there.
if runuser -u nobody -- python3 "$SRC/scripts/tpa-inspect.py" stats --pid "$REDIS_PID" --json \
	>"$E2E_WORK/nobody.json" 2>"$E2E_WORK/nobody.err"; then
	python3 -m json.tool "$E2E_WORK/nobody.json" >/dev/null || fail "tpa stats as nobody: not JSON"
	pass "tpa stats as another user (read only)"
else
	echo "note: tpa stats as nobody not run ($(head -1 "$E2E_WORK/nobody.err"))"
fi

kill -TERM "$BENCH" 2>/dev/null || true
wait "$BENCH" 2>/dev/null || true
finish_redis
[ -e "$PUB" ] && fail "$PUB is left after redis-server exited"
pass "the published file is removed at exit"

# In a directory of the test's own (in /dev/shm another program's engine start would sweep the
# stale file first): something that is not a regular file, named like the file of a dead program
# (a FIFO), blocks neither the engine start's sweep nor a reader; SIGKILL leaves the file, the
# next reader finds its family gone and removes it.
PUB_DIR=$E2E_WORK/pub
mkdir -p "$PUB_DIR"
sleep 0 &
dead=$!
wait "$dead"
mkfifo "$PUB_DIR/tpa-$dead.stats"
export TPA_PUBLISH_DIR=$PUB_DIR
start_redis
PUB=$PUB_DIR/tpa-$REDIS_PID.stats
[ -f "$PUB" ] || fail "redis-server publishes nothing in $PUB_DIR"
timeout 20 "$TPA" stats --pid "$REDIS_PID" --json >"$E2E_WORK/stats3.json" || fail "tpa stats with a FIFO in $PUB_DIR"
python3 -m json.tool "$E2E_WORK/stats3.json" >/dev/null || fail "tpa stats --json (TPA_PUBLISH_DIR) is not JSON"
pass "a FIFO named like an inspection file blocks neither the engine start nor a reader"
stop_redis KILL
[ -f "$PUB" ] || fail "$PUB disappeared with SIGKILL (expected to stay until a reader looks)"
"$TPA" stats --pid "$REDIS_PID" >/dev/null 2>&1 && fail "tpa stats found the killed program"
[ -e "$PUB" ] && fail "a reader left the stale $PUB"
unset TPA_PUBLISH_DIR
pass "a SIGKILLed program's file is removed by the next reader"
