#!/usr/bin/env bash
# tpa capture / tpa trace (issue 15): with redis-server accelerated, 10 idle client connections
# held and redis-benchmark running, another process (in the root namespace) captures 200
# frames of the port into a pcap file that tcpdump reads (both directions, the engine's
# checksums filled), after which capture is off again; tpa trace lists the idle connections
# (--all, --json). Then redis-server under injected loss (TPA_FAULT_TX_DROP): tpa trace shows
# the retransmissions of a connection that fetched data through it, with their causes and
# sequence numbers inside what was sent, as many as the connection counted; after a SIGKILL
# the trace is still read from the file the program left (tpa-PID.dead) until --clean.
source "$(dirname "$0")/lib_redis.sh"
[ "${TPA_E2E_KERNEL:-0}" = 1 ] && { pass "kernel mode: nothing to inspect"; exit 0; }
command -v tcpdump >/dev/null || fail "tcpdump not installed (scripts/deps.sh installs it)"
TPA=$SRC/scripts/tpa
testbed_up
start_redis

# 10 idle connections: each says PING once, then stays quiet.
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

# ---- capture ----
timeout 30 "$TPA" capture --pid "$REDIS_PID" -c 200 --port "$REDIS_PORT" -w "$E2E_WORK/cap.pcap" \
	2>"$E2E_WORK/capture.err" || fail "tpa capture failed: $(cat "$E2E_WORK/capture.err")"
cat "$E2E_WORK/capture.err"
tcpdump -r "$E2E_WORK/cap.pcap" -nn -vv "tcp port $REDIS_PORT" >"$E2E_WORK/cap.txt" 2>"$E2E_WORK/tcpdump.err" ||
	fail "tcpdump cannot read the capture: $(cat "$E2E_WORK/tcpdump.err")"
n=$(grep -c "^[0-9].* IP " "$E2E_WORK/cap.txt" || true)
[ "$n" = 200 ] || fail "tcpdump finds $n packets of port $REDIS_PORT in the capture, not 200"
out=$(grep -c "$TPA_TB_SRV_IP.$REDIS_PORT > " "$E2E_WORK/cap.txt" || true)
in=$(grep -c "> $TPA_TB_SRV_IP.$REDIS_PORT: " "$E2E_WORK/cap.txt" || true)
[ "$out" -gt 0 ] && [ "$in" -gt 0 ] || fail "the capture lacks a direction: $in in, $out out"
# The checksums the device fills are filled in the copy of what we sent.
bad=$(grep -A1 "$TPA_TB_SRV_IP.$REDIS_PORT > " "$E2E_WORK/cap.txt" | grep -c "incorrect" || true)
[ "$bad" = 0 ] || fail "$bad frames we sent have wrong checksums in the capture: $(grep -m1 -A1 incorrect "$E2E_WORK/cap.txt")"
grep -q "200 frames written" "$E2E_WORK/capture.err" || fail "tpa capture does not report its 200 frames"
# Capture is off again (control block at 2048, 'on' at +88).
python3 - "${TPA_PUBLISH_DIR:-/dev/shm}/tpa-$REDIS_PID.stats" <<'EOF' || fail "capture still on after tpa capture ended"
import struct, sys, time
for _ in range(50):
    with open(sys.argv[1], "rb") as f:
        f.seek(2048 + 88)
        if struct.unpack("<I", f.read(4))[0] == 0:
            sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
EOF
pass "tpa capture: tcpdump reads 200 packets of port $REDIS_PORT ($in in, $out out), checksums right, capture off after"

# ---- trace of healthy connections ----
"$TPA" trace --pid "$REDIS_PID" --all >"$E2E_WORK/trace_all.txt" || fail "tpa trace --all failed"
"$TPA" trace --pid "$REDIS_PID" --all --json >"$E2E_WORK/trace_all.json" || fail "tpa trace --json failed"
python3 - "$E2E_WORK/trace_all.json" "$TPA_TB_CLI_IP" "${IDLE_PORTS[@]}" <<'EOF' || fail "tpa trace --all --json does not show the idle connections"
import json, sys
doc = json.load(open(sys.argv[1]))
cli, ports = sys.argv[2], sys.argv[3:]
conns = doc["programs"][0]["connections"]
for port in ports:
    m = [c for c in conns if c["peer"] == "%s:%s" % (cli, port)]
    assert len(m) == 1, (port, m)
    evs = [(e["event"], e.get("old"), e.get("new")) for e in m[0]["events"]]
    assert evs[:2] == [("state", "CLOSED", "SYN-RECV"), ("state", "SYN-RECV", "ESTAB")], evs
    assert m[0]["state"] == "ESTAB", m[0]
print("trace: %d connections, the 10 idle ones CLOSED -> SYN-RECV -> ESTAB" % len(conns))
EOF
n=0
for port in "${IDLE_PORTS[@]}"; do
	grep -q "$TPA_TB_CLI_IP:$port  sock [0-9]*  ESTAB" "$E2E_WORK/trace_all.txt" && n=$((n + 1))
done
[ $n = 10 ] || fail "tpa trace --all lists $n of the 10 idle connections"
pass "tpa trace: the idle connections' states (text and JSON)"

kill -TERM "$BENCH" 2>/dev/null || true
wait "$BENCH" 2>/dev/null || true
finish_redis

# ---- trace under loss, and after the program died ----
# In a directory of the test's own: another program's engine start must not take the file.
export TPA_PUBLISH_DIR=$E2E_WORK/pub
mkdir -p "$TPA_PUBLISH_DIR"
TPA_FAULT_TX_DROP=0.05 TPA_FAULT_SEED=7 start_redis
head -c 200000 /dev/zero | tr '\0' x | rcli -x set big >/dev/null || fail "SET of 200 KB failed"
# One connection fetches 200 KB 30 times through 5% loss, then stays open.
tpa_bg ip netns exec "$TPA_TB_CLI_NS" timeout 90 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
print(s.getsockname()[1], flush=True)
for _ in range(30):
    s.sendall(b"GET big\r\n")
    want, got = 200000 + len(b"$200000\r\n\r\n"), 0
    while got < want:
        b = s.recv(65536)
        assert b, "closed"
        got += len(b)
print("fetched", flush=True)
time.sleep(60)
' "$TPA_TB_SRV_IP" "$REDIS_PORT" >"$E2E_WORK/lossy.log" 2>&1
for _ in $(seq 300); do grep -qx fetched "$E2E_WORK/lossy.log" && break; sleep 0.1; done
grep -qx fetched "$E2E_WORK/lossy.log" || fail "the lossy fetch did not finish: $(cat "$E2E_WORK/lossy.log")"
LPORT=$(head -1 "$E2E_WORK/lossy.log")
"$TPA" sockets --pid "$REDIS_PID" --json >"$E2E_WORK/lossy_sockets.json" || fail "tpa sockets failed"
"$TPA" trace --pid "$REDIS_PID" --conn "$TPA_TB_CLI_IP:$LPORT" | tee "$E2E_WORK/trace_loss.txt"
"$TPA" trace --pid "$REDIS_PID" --conn "$LPORT" --json >"$E2E_WORK/trace_loss.json" || fail "tpa trace --conn failed"
check_loss_trace() { # json, sockets json (or -)
	python3 - "$1" "$2" "$TPA_TB_CLI_IP:$LPORT" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
conns = [c for p in doc["programs"] for c in p["connections"] if c["peer"] == sys.argv[3]]
assert len(conns) == 1, conns
c = conns[0]
rtx = [e for e in c["events"] if e["event"] == "retransmit"]
assert rtx, "no retransmission in %s" % c["events"]
causes = sorted({e["cause"] for e in rtx})
assert set(causes) <= {"rto", "fast", "rack", "tlp"}, causes
sent = 30 * (200000 + 11) + 200
for e in rtx:
    assert 0 < e["seq"] < sent and 0 < e["len"] <= 1500 and e["cwnd"] > 0, e
if sys.argv[2] != "-":
    sk = [s for p in json.load(open(sys.argv[2]))["programs"] for s in p["sockets"]
          if s["peer"] == sys.argv[3]]
    assert len(sk) == 1, sk
    counted = sk[0]["retransmits"]
    # every one is in the ring, unless older ones were overwritten
    assert len(rtx) == counted or (c["events_lost"] > 0 and len(rtx) <= counted), (len(rtx), counted)
print("trace: %d retransmissions (%s) of %s, %d events, %d overwritten" % (
    len(rtx), ",".join(causes), sys.argv[3], len(c["events"]), c["events_lost"]))
EOF
}
check_loss_trace "$E2E_WORK/trace_loss.json" "$E2E_WORK/lossy_sockets.json" ||
	fail "tpa trace does not show the retransmissions of the lossy connection"
grep -Eq "retransmit +(rto|fast|rack|tlp) +seq [0-9]+ len [0-9]+" "$E2E_WORK/trace_loss.txt" ||
	fail "tpa trace's text shows no retransmission line"
pass "tpa trace: the retransmissions of a connection through 5% injected loss, with their causes"

PUB=$TPA_PUBLISH_DIR/tpa-$REDIS_PID.stats
stop_redis KILL
[ -f "$PUB" ] || fail "$PUB disappeared with SIGKILL"
"$TPA" trace --pid "$REDIS_PID" --conn "$LPORT" --json >"$E2E_WORK/trace_dead.json" ||
	fail "tpa trace of the killed program failed"
check_loss_trace "$E2E_WORK/trace_dead.json" - || fail "the killed program's trace lacks the retransmissions"
[ -e "$PUB" ] && fail "the stale $PUB is still there"
[ -f "$TPA_PUBLISH_DIR/tpa-$REDIS_PID.dead" ] || fail "no tpa-$REDIS_PID.dead kept"
"$TPA" trace --pid "$REDIS_PID" | grep -q "exited" || fail "tpa trace does not say the program exited"
"$TPA" stats --pid "$REDIS_PID" >/dev/null 2>&1 && fail "tpa stats found the killed program"
"$TPA" trace --clean | grep -q "1 trace file of dead programs removed" || fail "tpa trace --clean"
[ -e "$TPA_PUBLISH_DIR/tpa-$REDIS_PID.dead" ] && fail "tpa trace --clean left the file"
unset TPA_PUBLISH_DIR
pass "the trace outlives the program (tpa-PID.dead) until tpa trace --clean"
