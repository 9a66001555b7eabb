#!/usr/bin/env bash
# Threaded servers under the shim (issue 12, part 4): every thread's connections accelerated, no
# deadlock, a thread waiting on one socket never holding up the others.
#   - haproxy `nbthread 2` accelerated on the server's interface, proxying to a kernel backend
#     on loopback (nginx on 127.0.0.1, a port that is not accelerated): wrk from the client
#     namespace for 5 s, no socket error, only 2xx; no established kernel connection on the
#     accelerated port while it runs (sampled); both threads served requests (haproxy's log
#     names the thread); at exit the stack counted exactly the connections the client
#     namespace opened, the kernel socket accepted none
#   - memcached `-t 4 -u memcache`: it gives up root before it creates its listeners (setuid
#     before socket()), so the engine starts when it drops privileges (shim/privileges.c;
#     before, the listener's engine start failed with "needs root" and memcached stopped);
#     memccapable passes, then memaslap with 2 threads x 32 connections for 5 s with 10 % of
#     the answers verified: no failure, every connection accelerated, none on the kernel. The
#     last process, no longer root, cannot detach XDP: the watchdog does.
source "$(dirname "$0")/lib_dpdk_common.sh"
source "$(dirname "$0")/lib_accel.sh"
dpdk_e2e_init
SHIM=$TPA_BUILD_DIR/shim/libtpa_shim.so
[ -f "$SHIM" ] || fail "shim $SHIM not built"
for tool in haproxy nginx wrk memcached memccapable memcaslap; do
	command -v "$tool" >/dev/null || fail "$tool not installed (scripts/deps.sh)"
done
T=$DPDK_E2E_TMP

# Sample the kernel's established connections on port $1 in the server namespace while
# process $2 runs; fail at the first one. Sets SAMPLES.
no_kernel_conns_while() {
	local port=$1 pid=$2 n
	SAMPLES=0
	while kill -0 "$pid" 2>/dev/null; do
		n=$(srv ss -Htn state established "( sport = :$port )" | wc -l)
		[ "$n" = 0 ] || fail "$n established kernel connection(s) on port $port under load"
		SAMPLES=$((SAMPLES + 1))
		sleep 0.2
	done
}

xdp_gone() { # what
	for _ in $(seq 100); do xdp_attached || break; sleep 0.1; done
	xdp_attached && fail "XDP program left attached after $1 exited"
	for _ in $(seq 50); do [ -z "$(tpa_ns_lock_files "$SRV_NS")" ] && break; sleep 0.1; done
	[ -z "$(tpa_ns_lock_files "$SRV_NS")" ] || fail "interface lock file left after $1: $(tpa_ns_lock_files "$SRV_NS")"
	return 0
}

# ---- haproxy nbthread 2 -> kernel backend on loopback
HPORT=7511
BPORT=7512
mkdir -p "$T/backend"
cat >"$T/backend.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $T/backend/nginx.pid;
error_log $T/backend-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/backend;
    proxy_temp_path $T/backend;
    fastcgi_temp_path $T/backend;
    uwsgi_temp_path $T/backend;
    scgi_temp_path $T/backend;
    server { listen 127.0.0.1:$BPORT; location / { return 200 "served by the kernel backend\n"; } }
}
CONF
dpdk_bg "$T/backend.log" ip netns exec "$SRV_NS" nginx -c "$T/backend.conf"
wait_for "backend on 127.0.0.1:$BPORT" srv curl -sf -m 2 "http://127.0.0.1:$BPORT/"

cat >"$T/haproxy.cfg" <<CONF
global
    nbthread 2
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    log-format "thread %[thread] status %ST"
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind :$HPORT
    default_backend be
backend be
    server kernel 127.0.0.1:$BPORT
CONF
opens0=$(accel_opens "$CLI_NS")
dpdk_bg "$T/haproxy.log" ip netns exec "$SRV_NS" env LD_PRELOAD="$SHIM" \
	TPA_IFACE="$SRV_IF" TPA_PORTS="$HPORT" TPA_SHIM_STATS=1 \
	haproxy -f "$T/haproxy.cfg" -db
HAPROXY=$DPDK_BG_PID
accel_wait_port "$T/haproxy.log" "$HPORT" || fail "haproxy's port was not accelerated"
got=$(cli curl -sS -m 10 "http://$SRV_IP:$HPORT/") || fail "curl through haproxy failed"
[ "$got" = "served by the kernel backend" ] || fail "curl through haproxy: '$got'"

note "haproxy nbthread 2 -> kernel backend on 127.0.0.1:$BPORT: wrk 5 s"
cli wrk -t2 -c32 -d5s --latency "http://$SRV_IP:$HPORT/" >"$T/wrk.log" 2>&1 &
WRK=$!
no_kernel_conns_while "$HPORT" "$WRK"
wait "$WRK" || fail "wrk failed: $(cat "$T/wrk.log")"
cat "$T/wrk.log"
[ "$SAMPLES" -ge 10 ] || fail "only $SAMPLES samples of the kernel's connections"
grep -q "Socket errors" "$T/wrk.log" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$T/wrk.log" && fail "wrk saw non-2xx answers"
reqs=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$T/wrk.log")
[ "${reqs:-0}" -gt 1000 ] || fail "wrk made only ${reqs:-0} requests"
opens=$(($(accel_opens "$CLI_NS") - opens0))
# soft stop: haproxy finishes and exits normally, so the shim reports
kill -USR1 "$(pgrep -s "$HAPROXY" -x haproxy)"
for _ in $(seq 100); do tpa_session_alive "$HAPROXY" || break; sleep 0.1; done
tpa_session_alive "$HAPROXY" && fail "haproxy did not stop on SIGUSR1"
for th in 0 1; do
	n=$(grep -c "^thread $th status 200$" "$T/haproxy.log" || true)
	echo "    haproxy thread $th: $n requests"
	[ "$n" -gt 0 ] || fail "haproxy thread $th served no request"
done
accel_expect "$T/haproxy.log" conns="$opens" || fail "haproxy: the counters do not account for the $opens connection(s)"
xdp_gone haproxy
hreqs=$reqs
hrps=$(sed -n 's/^Requests\/sec: *//p' "$T/wrk.log")

# ---- memcached -t 4, run as memcache
MPORT=7513
opens0=$(accel_opens "$CLI_NS")
dpdk_bg "$T/memcached.log" ip netns exec "$SRV_NS" env LD_PRELOAD="$SHIM" \
	TPA_IFACE="$SRV_IF" TPA_PORTS="$MPORT" TPA_SHIM_STATS=1 \
	memcached -u memcache -t 4 -p "$MPORT" -U 0 -l 0.0.0.0 -c 1024
MEMCACHED=$DPDK_BG_PID
accel_wait_port "$T/memcached.log" "$MPORT" || fail "memcached's port was not accelerated"
MPID=$(pgrep -s "$MEMCACHED" -x memcached)
[ "$(ps -o user= -p "$MPID")" = memcache ] || fail "memcached does not run as memcache"

note "memcached -t 4 -u memcache: memccapable"
# -t 10: an answer may take 10 s, not 2 (its default), before memccapable calls it lost. On the
# shared 2-core machine whole namespaces stall for a few hundred ms, kernel or tpa alike, and
# under the shim 2 of 40 `memccapable -a` runs took about 5 s longer than usual (0 of 25 on the
# kernel; one e2e run timed out at 2 s): not explained yet. A deadlock still fails.
cli timeout 300 memccapable -t 10 -h "$SRV_IP" -p "$MPORT" >"$T/memccapable.log" 2>&1 ||
	fail "memccapable failed: $(grep -v '\[pass\]' "$T/memccapable.log")"
echo "    memccapable: $(grep -c '\[pass\]' "$T/memccapable.log") tests passed"
grep -q "All tests passed" "$T/memccapable.log" || fail "memccapable: not all tests passed"

note "memcached -t 4: memaslap, 2 threads x 32 connections, 5 s, 10 % verified"
cli timeout 60 memcaslap -s "$SRV_IP:$MPORT" -T 2 -c 32 -t 5s -v 0.1 >"$T/memaslap.log" 2>&1 &
SLAP=$!
no_kernel_conns_while "$MPORT" "$SLAP"
wait "$SLAP" || fail "memaslap failed: $(cat "$T/memaslap.log")"
grep -E '^(cmd_get|cmd_set|get_misses|verify_misses|verify_failed):|^Run time' "$T/memaslap.log"
[ "$SAMPLES" -ge 10 ] || fail "only $SAMPLES samples of the kernel's connections"
for k in verify_misses verify_failed; do
	v=$(sed -n "s/^$k: *//p" "$T/memaslap.log")
	[ "${v:-x}" = 0 ] || fail "memaslap: $k ${v:-missing}"
done
ops=$(sed -n 's/.* Ops: \([0-9]*\) .*/\1/p' "$T/memaslap.log")
[ "${ops:-0}" -gt 1000 ] || fail "memaslap made only ${ops:-0} operations"
opens=$(($(accel_opens "$CLI_NS") - opens0))
kill -TERM "$MPID"
for _ in $(seq 100); do tpa_session_alive "$MEMCACHED" || break; sleep 0.1; done
tpa_session_alive "$MEMCACHED" && fail "memcached did not stop on SIGTERM"
accel_expect "$T/memcached.log" conns="$opens" || fail "memcached: the counters do not account for the $opens connection(s)"
xdp_gone "memcached (as memcache)"
note "ok: haproxy 2 threads $hreqs requests ($hrps/s), memcached 4 threads $ops operations, all accelerated"
