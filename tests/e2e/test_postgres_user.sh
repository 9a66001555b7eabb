#!/usr/bin/env bash
# PostgreSQL as user postgres, accelerated (issue 13 part 1): PostgreSQL refuses to run as
# root, and as user postgres the engine cannot start (AF_XDP and the XDP program need root).
# `tpa run --user postgres` starts as root, brings the engine up before main() and becomes
# postgres: the postmaster and every backend it forks run with no privileges, on the stack.
#   - the postmaster and its children run as postgres
#   - pgbench -i over the network, then pgbench -S -c 8 -j 2 -T 10: no failed transaction, and
#     no established kernel connection on port 5432 while it runs (sampled)
#   - fast shutdown (SIGINT): the stack counted every connection the client namespace opened,
#     the kernel socket accepted none, XDP is detached, nothing of ours is left in /dev/shm,
#     and no "Error while removing XDP program" from the unprivileged process
#   - TPA_USER with a user that does not exist stops the program with one line naming it
source "$(dirname "$0")/lib_dpdk_common.sh"
# shellcheck source=tests/e2e/lib_accel.sh
source "$(dirname "$0")/lib_accel.sh"
dpdk_e2e_init
SHIM=$TPA_BUILD_DIR/shim/libtpa_shim.so
TPA=$TPA_SOURCE_DIR/scripts/tpa
[ -f "$SHIM" ] || fail "shim $SHIM not built"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/postgres" ] || fail "PostgreSQL not installed (scripts/deps.sh)"
command -v pgbench >/dev/null || fail "pgbench not installed (scripts/deps.sh)"
id postgres >/dev/null 2>&1 || fail "no user postgres (scripts/deps.sh installs PostgreSQL)"
PORT=5432
W=$DPDK_E2E_TMP/pg
mkdir -p "$W/sock"
chmod 755 "$DPDK_E2E_TMP"
chown -R postgres "$W"
runuser -u postgres -- "$PGBIN/initdb" -D "$W/data" --auth=trust -U postgres >"$DPDK_E2E_TMP/initdb.log" 2>&1 ||
	fail "initdb failed"
echo "host all all 198.18.0.0/15 trust" >>"$W/data/pg_hba.conf"

note "TPA_USER names a user that does not exist: one line, the program does not run"
if srv env TPA_IFACE="$SRV_IF" TPA_PORTS=$PORT LD_PRELOAD="$SHIM" TPA_USER=no-such-user-tpa \
	true 2>"$DPDK_E2E_TMP/nouser.err"; then
	fail "the program ran with TPA_USER=no-such-user-tpa"
fi
grep -q "^tpa: invalid TPA_USER='no-such-user-tpa': no such user" "$DPDK_E2E_TMP/nouser.err" ||
	fail "no clear line for an unknown TPA_USER: $(cat "$DPDK_E2E_TMP/nouser.err")"

note "postgres under tpa run --user postgres"
opens0=$(accel_opens "$CLI_NS")
dpdk_bg "$DPDK_E2E_TMP/postgres.log" ip netns exec "$SRV_NS" env TPA_SHIM_STATS=1 \
	"$TPA" run --shim "$SHIM" --user postgres --iface "$SRV_IF" --ports $PORT -- \
	"$PGBIN/postgres" -D "$W/data" -c listen_addresses="$SRV_IP" -c unix_socket_directories="$W/sock" \
	-c max_connections=40
PG=$DPDK_BG_PID
accel_wait_port "$DPDK_E2E_TMP/postgres.log" $PORT || fail "port $PORT not accelerated"
wait_for "postgres ready" grep -q "ready to accept connections" "$DPDK_E2E_TMP/postgres.log"
users=$(ps -o user= -p "$PG" --ppid "$PG" | sort -u | tr '\n' ' ')
[ "$users" = "postgres " ] || fail "postgres processes run as '$users', expected postgres only"

cli timeout 120 pgbench -h "$SRV_IP" -p $PORT -U postgres -i -s 1 postgres >"$DPDK_E2E_TMP/pgbench-init.log" 2>&1 ||
	fail "pgbench -i failed"
accel_watch_start "$SRV_NS" $PORT
cli timeout 120 pgbench -h "$SRV_IP" -p $PORT -U postgres -S -c 8 -j 2 -T 10 postgres >"$DPDK_E2E_TMP/pgbench.log" 2>&1 ||
	fail "pgbench -S failed"
accel_watch_stop 20 || fail "the kernel served connections on port $PORT during pgbench"
cat "$DPDK_E2E_TMP/pgbench.log"
grep -q "number of failed transactions: 0 " "$DPDK_E2E_TMP/pgbench.log" || fail "pgbench saw failed transactions"
tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$DPDK_E2E_TMP/pgbench.log")
[ "${tx:-0}" -gt 100 ] || fail "pgbench made only ${tx:-0} transactions"
opens=$(($(accel_opens "$CLI_NS") - opens0))

note "fast shutdown"
kill -INT "$PG"
for _ in $(seq 150); do kill -0 "$PG" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PG" 2>/dev/null && fail "postgres did not stop on SIGINT"
sum=$(accel_expect "$DPDK_E2E_TMP/postgres.log" conns="$opens") ||
	fail "the counters do not account for the $opens connection(s) pgbench opened"
echo "$sum"
grep -q "Error while removing XDP program" "$DPDK_E2E_TMP/postgres.log" &&
	fail "the unprivileged process reported the XDP detach it cannot do"
for _ in $(seq 50); do xdp_attached || break; sleep 0.1; done
xdp_attached && fail "XDP left attached after postgres exited"
for _ in $(seq 30); do [ -z "$(ls /dev/shm/tpa-"$PG".stats 2>/dev/null)" ] && break; sleep 0.1; done
[ -e "/dev/shm/tpa-$PG.stats" ] && fail "the inspection file /dev/shm/tpa-$PG.stats was left"
note "ok: PostgreSQL as postgres, $tx transactions, $opens connections, all on tpa"
