#!/usr/bin/env bash
# Several accelerated programs on one interface through tpad, the interface's owner (issue 13):
#   - redis-server as redis, nginx (root master, www-data workers) and PostgreSQL as postgres,
#     each under `tpa run --owner tpad`: one tpad is started on demand, one XDP program serves
#     all three, each program has its own stack
#   - all three under load at once (redis-benchmark, wrk, pgbench -S): no errors, no
#     established kernel connection on any of the three ports while it runs (sampled)
#   - a fourth program asking for a port another one holds is refused with one line naming it
#   - SIGKILL of redis while nginx and PostgreSQL are under load: their loads finish without
#     errors, a client idle on redis gets a RST, port 6379 is the kernel's again
#   - SIGKILL of tpad: its watchdog detaches XDP or a program starts a new tpad; the programs
#     say so in one line and nginx and PostgreSQL answer again (no hang)
#   - at their normal exit the programs' counters account for the connections made to them
source "$(dirname "$0")/lib_dpdk_common.sh"
# shellcheck source=tests/e2e/lib_accel.sh
source "$(dirname "$0")/lib_accel.sh"
dpdk_e2e_init
SHIM=$TPA_BUILD_DIR/shim/libtpa_shim.so
TPA=$TPA_SOURCE_DIR/scripts/tpa
TPAD=$TPA_BUILD_DIR/dpdk/tpad
[ -f "$SHIM" ] && [ -x "$TPAD" ] || fail "shim or tpad not built"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
for t in redis-server redis-benchmark nginx wrk pgbench socat; do
	command -v "$t" >/dev/null || fail "$t not installed (scripts/deps.sh)"
done
[ -x "$PGBIN/postgres" ] || fail "PostgreSQL not installed (scripts/deps.sh)"
RP=6379 NP=7411 PP=5432
export TPA_TPAD=$TPAD
tpad_pids() { pgrep -f "^$TPAD --iface $SRV_IF " || true; }
at_exit "pkill -KILL -f '^$TPAD --iface $SRV_IF '"
chmod 755 "$DPDK_E2E_TMP"

# --- the three programs ---------------------------------------------------------------------
W=$DPDK_E2E_TMP
mkdir -p "$W/pg/sock" "$W/www" "$W/redis"
chown -R postgres "$W/pg"
chown redis "$W/redis"
runuser -u postgres -- "$PGBIN/initdb" -D "$W/pg/data" --auth=trust -U postgres >"$W/initdb.log" 2>&1 ||
	fail "initdb failed"
echo "host all all 198.18.0.0/15 trust" >>"$W/pg/data/pg_hba.conf"
head -c 2048 /dev/urandom | base64 -w 64 >"$W/www/index.html"
chmod 755 "$W/www" && chmod 644 "$W/www/index.html"
cat >"$W/nginx.conf" <<CONF
daemon off;
user www-data;
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $W;
    proxy_temp_path $W;
    fastcgi_temp_path $W;
    uwsgi_temp_path $W;
    scgi_temp_path $W;
    server { listen $NP; root $W/www; }
}
CONF

run_tpad() { # log, tpa run options..., -- program...
	local log=$1
	shift
	dpdk_bg "$log" ip netns exec "$SRV_NS" env TPA_SHIM_STATS=1 "$TPA" run --shim "$SHIM" \
		--owner tpad --iface "$SRV_IF" "$@"
}

note "redis (as redis), nginx (www-data workers) and PostgreSQL (as postgres), all under tpad"
opens0=$(accel_opens "$CLI_NS")
run_tpad "$W/redis.log" --user redis --ports $RP -- redis-server --port $RP --dir "$W/redis" \
	--save '' --appendonly no --protected-mode no
REDIS=$DPDK_BG_PID
run_tpad "$W/nginx.log" --ports $NP -- nginx -c "$W/nginx.conf"
run_tpad "$W/pg.log" --user postgres --ports $PP -- "$PGBIN/postgres" -D "$W/pg/data" \
	-c listen_addresses="$SRV_IP" -c unix_socket_directories="$W/pg/sock" -c max_connections=40
PG=$DPDK_BG_PID
accel_wait_port "$W/redis.log" $RP || fail "redis not accelerated"
wait_for "nginx accelerated" grep -q "^tpa: port $NP accelerated" "$W/nginx-error.log" "$W/nginx.log"
accel_wait_port "$W/pg.log" $PP || fail "postgres not accelerated"
wait_for "postgres ready" grep -q "ready to accept connections" "$W/pg.log"
wait_for "nginx pid" test -s "$W/nginx.pid"
NGINX=$(cat "$W/nginx.pid")
[ "$(tpad_pids | wc -l)" -ge 1 ] || fail "no tpad runs"
TPAD1=$(tpad_pids | head -1)
xdp_attached || fail "no XDP program on $SRV_IF"
[ "$(ip -n "$SRV_NS" -d link show dev "$SRV_IF" | grep -c 'prog/xdp')" = 1 ] || fail "more than one XDP program"
cli timeout 60 pgbench -h "$SRV_IP" -p $PP -U postgres -i -s 1 postgres >"$W/pgbench-init.log" 2>&1 ||
	fail "pgbench -i failed"

check_loads() { # what ran: redis nginx pg
	local x
	for x in "$@"; do
		case $x in
		redis)
			grep -qE '^"?GET' "$W/rb.log" || fail "redis-benchmark did not finish: $(tail -3 "$W/rb.log")" ;;
		nginx)
			grep -q "Requests/sec" "$W/wrk.log" || fail "wrk did not finish"
			! grep -qE "Socket errors|Non-2xx" "$W/wrk.log" || fail "wrk saw errors: $(grep -E 'Socket errors|Non-2xx' "$W/wrk.log")" ;;
		pg)
			grep -q "number of failed transactions: 0 " "$W/pgbench.log" || fail "pgbench failed: $(tail -3 "$W/pgbench.log")" ;;
		esac
	done
}

note "all three under load at once"
accel_watch_start "$SRV_NS" "$RP or sport = :$NP or sport = :$PP"
cli timeout 120 redis-benchmark -h "$SRV_IP" -p $RP -c 20 -n 400000 -t get,set -q --csv >"$W/rb.log" 2>&1 &
RB=$!
cli timeout 120 wrk -t 2 -c 20 -d 10s "http://$SRV_IP:$NP/" >"$W/wrk.log" 2>&1 &
WRK=$!
cli timeout 120 pgbench -h "$SRV_IP" -p $PP -U postgres -S -c 8 -j 2 -T 10 postgres >"$W/pgbench.log" 2>&1 ||
	fail "pgbench -S failed: $(tail -3 "$W/pgbench.log")"
wait $WRK || fail "wrk failed"
wait $RB || fail "redis-benchmark failed"
accel_watch_stop 20 || fail "the kernel served connections on an accelerated port"
check_loads redis nginx pg
# Every connection the client namespace opened so far was established by one of the three
# stacks, none by a kernel socket (tpa stats reads each program's counters while it runs).
stat_sum() { # counter
	local p total=0 n
	for p in "$REDIS" "$NGINX" "$PG"; do
		n=$("$TPA" stats --pid "$p" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["programs"]
print(sum(x["counters"].get(sys.argv[1], 0) for x in d))' "$1") || fail "tpa stats --pid $p failed"
		total=$((total + n))
	done
	echo "$total"
}
opens=$(($(accel_opens "$CLI_NS") - opens0))
est=$(stat_sum tcp_conn_established)
kacc=$(stat_sum shim_kernel_accepted)
echo "client connections $opens; established by the three stacks $est; accepted by kernel sockets $kacc"
[ "$est" = "$opens" ] || fail "the stacks established $est connections, the client opened $opens"
[ "$kacc" = 0 ] || fail "kernel sockets accepted $kacc connections on accelerated ports"
grep -h -E 'Requests/sec|^"(GET|SET)"|number of transactions actually' "$W/wrk.log" "$W/rb.log" "$W/pgbench.log"

note "a port another program holds is refused with one line"
srv env LD_PRELOAD="$SHIM" TPA_IFACE="$SRV_IF" TPA_PORTS=$RP TPA_OWNER=tpad TPA_TPAD="$TPAD" \
	timeout 10 socat TCP-LISTEN:$RP,reuseaddr,reuseport STDOUT >"$W/second.log" 2>&1 || true
grep -qE "port $RP on $SRV_IF is accelerated for redis-server \(pid [0-9]+\) already|Address already in use" \
	"$W/second.log" || fail "no clear refusal for a port redis holds: $(cat "$W/second.log")"

note "SIGKILL of redis while nginx and PostgreSQL are under load"
cli python3 - "$SRV_IP" $RP >"$W/idle.log" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"PING\r\n")
assert s.recv(64).startswith(b"+PONG")
print("ready", flush=True)
s.settimeout(30)
try:
    print("eof" if not s.recv(64) else "data", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
except socket.timeout:
    print("timeout", flush=True)
PY
IDLE=$!
wait_for "idle redis client" grep -q ready "$W/idle.log"
cli timeout 120 wrk -t 2 -c 20 -d 8s "http://$SRV_IP:$NP/" >"$W/wrk.log" 2>&1 &
WRK=$!
cli timeout 120 pgbench -h "$SRV_IP" -p $PP -U postgres -S -c 8 -j 2 -T 8 postgres >"$W/pgbench.log" 2>&1 &
PGB=$!
sleep 3
kill -KILL "$REDIS" # tpa run execs the program: this is redis-server itself
wait $IDLE || true
grep -q reset "$W/idle.log" || fail "the idle redis client got no RST: $(cat "$W/idle.log")"
wait $WRK || fail "wrk failed after redis was killed"
wait $PGB || fail "pgbench failed after redis was killed"
check_loads nginx pg
dpdk_bg "$W/kernel-6379.log" ip netns exec "$SRV_NS" socat TCP-LISTEN:$RP,reuseaddr EXEC:cat
wait_for "kernel listener on $RP" bash -c "ip netns exec $SRV_NS ss -Htln '( sport = :$RP )' | grep -q ."
got=$(echo kernel-again | cli timeout 10 socat -t 2 - TCP:"$SRV_IP":$RP 2>&1 || true)
[ "$got" = kernel-again ] || fail "port $RP is not the kernel's after redis died (got '$got')"
[ "$(tpad_pids | head -1)" = "$TPAD1" ] || fail "tpad changed when a program died"

note "SIGKILL of tpad"
kill -KILL "$TPAD1"
at_exit "rm -f /dev/shm/tpad-$TPAD1.stats /dev/shm/tpad-$TPAD1.stats.tmp"
wait_for "the programs saw tpad go" grep -q "tpad, the owner of $SRV_IF, is gone" "$W/pg.log"
# The watchdog detaches XDP; nginx's master, root, starts a new tpad and takes its port back.
for _ in $(seq 100); do
	new=$(tpad_pids | grep -vx "$TPAD1" | head -1 || true)
	[ -n "$new" ] || ! xdp_attached && break
	sleep 0.1
done
[ -n "$new" ] || ! xdp_attached || fail "tpad was killed: XDP still attached and no new tpad"
[ -n "$new" ] && echo "a new tpad (pid $new) serves $SRV_IF" || echo "XDP detached from $SRV_IF: the kernel serves it"
code=$(cli timeout 20 curl -s -o /dev/null -w '%{http_code}' --retry 5 --retry-all-errors "http://$SRV_IP:$NP/" || true)
[ "$code" = 200 ] || fail "nginx does not answer after tpad was killed (HTTP '$code')"
cli timeout 60 pgbench -h "$SRV_IP" -p $PP -U postgres -S -c 2 -j 1 -t 200 postgres >"$W/pgbench.log" 2>&1 ||
	fail "postgres does not answer after tpad was killed: $(tail -3 "$W/pgbench.log")"
grep -hE "^tpa: tpad" "$W/pg.log" "$W/nginx-error.log" "$W/nginx.log" | sort | uniq -c

note "normal exits: the counters"
kill -QUIT "$NGINX"
kill -INT "$PG"
for _ in $(seq 150); do kill -0 "$PG" 2>/dev/null || kill -0 "$NGINX" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PG" 2>/dev/null && fail "postgres did not stop"
kill -0 "$NGINX" 2>/dev/null && fail "nginx did not stop"
opens=$(($(accel_opens "$CLI_NS") - opens0))
est=$(($(accel_counter "$W/pg.log" tcp_conn_established) + $(accel_counter "$W/nginx-error.log" tcp_conn_established)))
echo "client connections $opens, established by the nginx and postgres stacks $est (redis was killed: no counters)"
[ "$est" -gt 0 ] || fail "no counters from nginx and postgres"
note "ok: three programs on one interface through tpad"
