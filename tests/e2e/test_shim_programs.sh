#!/usr/bin/env bash
# Unmodified programs under libtpa_shim.so, byte-exact, in three modes each:
#   plain  - no preload (the reference), idle - preloaded with nothing selected (must behave
#   exactly like plain), accel - their sockets on tpa.
# socat as server and as client, curl downloading 100 MiB from python3 http.server, nginx (one
# process) serving a file to curl, redis-cli against redis-server (with a BGSAVE fork).
set -uo pipefail
. "$(dirname "$0")/lib_shim_programs.sh"
shim_setup

MODES=${SHIM_MODES:-plain idle accel}
head -c $((20 << 20)) /dev/urandom >"$WORK/small.bin"
head -c $((100 << 20)) /dev/urandom >"$WORK/big.bin"
SMALL=$(sha "$WORK/small.bin")
BIG=$(sha "$WORK/big.bin")
PY=$(command -v /usr/bin/python3 || command -v python3)

socat_server() { # $1 mode: the accelerated side receives, then sends
	local m=$1 port=7201
	rm -f "$WORK/s.out"
	srv_bg "$m" "TPA_PORTS=$port" timeout 60 socat -u TCP-LISTEN:$port,reuseaddr \
		OPEN:"$WORK/s.out",creat,trunc
	wait_port "$SRV_NS" $port
	cli timeout 60 socat -u OPEN:"$WORK/small.bin" TCP:$SRV_IP:$port
	wait $SRV_PID
	check "socat server receives 20 MiB ($m)" "$([ "$(sha "$WORK/s.out")" = "$SMALL" ] && echo 1)"
	check_path "$m" "socat server (receiving)" bytes_rx=$((20 << 20))
	srv_bg "$m" "TPA_PORTS=$port" timeout 60 socat -u OPEN:"$WORK/small.bin" \
		TCP-LISTEN:$port,reuseaddr
	wait_port "$SRV_NS" $port
	cli timeout 60 socat -u TCP:$SRV_IP:$port OPEN:"$WORK/s2.out",creat,trunc
	wait $SRV_PID
	check "socat server sends 20 MiB ($m)" "$([ "$(sha "$WORK/s2.out")" = "$SMALL" ] && echo 1)"
	check_path "$m" "socat server (sending)" bytes_tx=$((20 << 20))
}

socat_client() {
	local m=$1 port=7202
	rm -f "$WORK/c.out"
	tpa_bg ip netns exec "$CLI_NS" timeout 60 socat -u TCP-LISTEN:$port,reuseaddr OPEN:"$WORK/c.out",creat,trunc
	local pid=$TPA_BG_PID
	wait_port "$CLI_NS" $port
	srv "$m" "TPA_CONNECT=$CLI_IP/32:$port" timeout 60 socat -u OPEN:"$WORK/small.bin" \
		TCP:$CLI_IP:$port 2>"$WORK/srv.err"
	wait $pid
	check "socat client sends 20 MiB ($m)" "$([ "$(sha "$WORK/c.out")" = "$SMALL" ] && echo 1)"
	check_path "$m" "socat client" conns=1 bytes_tx=$((20 << 20))
}

# python3 -m http.server that exits cleanly on SIGTERM (the shim prints its counters at exit).
HTTP_SERVER='import runpy, signal, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
sys.argv = ["http.server"] + sys.argv[1:]
runpy.run_module("http.server", run_name="__main__")'

http_server() {
	local m=$1 port=7203 ok=1
	srv_bg "$m" "TPA_PORTS=$port" timeout 200 "$PY" -c "$HTTP_SERVER" $port --bind 0.0.0.0 \
		--directory "$WORK"
	wait_port "$SRV_NS" $port
	# Three downloads: the threaded server's sender blocks on a full buffer thousands of
	# times while its main thread polls the listener.
	for i in 1 2 3; do
		rm -f "$WORK/h.out"
		cli timeout 100 curl -sS -o "$WORK/h.out" "http://$SRV_IP:$port/big.bin"
		[ -f "$WORK/h.out" ] && [ "$(sha "$WORK/h.out")" = "$BIG" ] || ok=0
	done
	check "curl 3 x 100 MiB from python3 http.server ($m)" "$([ $ok = 1 ] && echo 1)"
	stop_srv
	check_path "$m" "http.server" bytes_tx_min=$((300 << 20))
	rm -f "$WORK/h.out"
}

# nginx serving a file: $2 = off (one process) or on (the default: a master that listens and a
# worker it forks that accepts; the worker keeps root so that it may use the interface).
nginx_run() {
	local m=$1 master=$2 port=7204
	mkdir -p "$WORK/nginx"
	cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process $master;
user root;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    server { listen $port; root $WORK; }
}
CONF
	srv_bg "$m" "TPA_PORTS=$port" timeout 120 nginx -c "$WORK/nginx/nginx.conf"
	wait_port "$SRV_NS" $port
	cli timeout 100 curl -sS -o "$WORK/n.out" "http://$SRV_IP:$port/big.bin"
	check "curl 100 MiB from nginx, master_process $master ($m)" \
		"$([ -f "$WORK/n.out" ] && [ "$(sha "$WORK/n.out")" = "$BIG" ] && echo 1)"
	cli timeout 30 curl -sS -o "$WORK/n2.out" "http://$SRV_IP:$port/small.bin"
	check "nginx second request on a new connection, master_process $master ($m)" \
		"$([ -f "$WORK/n2.out" ] && [ "$(sha "$WORK/n2.out")" = "$SMALL" ] && echo 1)"
	# Accelerated means the steering program is on the interface while nginx serves.
	local xdp=0
	ip -n "$SRV_NS" link show "$SRV_IF" | grep -q 'prog/xdp' && xdp=1
	if [ "$m" = accel ]; then
		check "nginx (master_process $master) served through tpa (XDP attached)" \
			"$([ $xdp = 1 ] && echo 1)"
	else
		check "nginx (master_process $master) on the kernel ($m)" "$([ $xdp = 0 ] && echo 1)"
	fi
	# SIGTERM (timeout passes it on): nginx exits normally and reports; its stderr is its
	# error log once it runs.
	stop_srv
	cat "$WORK/srv.err" "$WORK/nginx/error.log" >"$WORK/nginx.all" 2>/dev/null
	check_path "$m" "nginx (master_process $master)" log="$WORK/nginx.all" \
		bytes_tx_min=$(((100 << 20) + (20 << 20)))
	rm -f "$WORK/n.out" "$WORK/n2.out" "$WORK/nginx/error.log"
}
nginx_server() { nginx_run "$1" off; }
nginx_master() { nginx_run "$1" on; }

redis() {
	local m=$1 port=7205
	mkdir -p "$WORK/redis"
	srv_bg "$m" "TPA_PORTS=$port" timeout 120 redis-server --port $port --bind 0.0.0.0 \
		--protected-mode no --save "" --appendonly no --dir "$WORK/redis" \
		--logfile "$WORK/redis/log"
	wait_port "$SRV_NS" $port
	local rc="cli timeout 30 redis-cli -h $SRV_IP -p $port"
	head -c 1000000 /dev/urandom | base64 -w0 >"$WORK/redis/val"
	$rc -x SET big <"$WORK/redis/val" >/dev/null
	$rc GET big >"$WORK/redis/got"
	printf '\n' >>"$WORK/redis/val"
	check "redis SET/GET of a 1.3 MB value ($m)" \
		"$(cmp -s "$WORK/redis/val" "$WORK/redis/got" && echo 1)"
	for i in $(seq 1 200); do echo "SET key:$i $i"; done | $rc >/dev/null
	check "redis 200 pipelined SETs, DBSIZE ($m)" "$([ "$($rc DBSIZE)" = 201 ] && echo 1)"
	# BGSAVE forks a child that closes the listening and client sockets and exits.
	$rc BGSAVE >/dev/null
	for _ in $(seq 1 100); do
		[ -f "$WORK/redis/dump.rdb" ] && break
		sleep 0.1
	done
	sleep 0.3
	check "redis serves after BGSAVE fork ($m)" \
		"$([ -f "$WORK/redis/dump.rdb" ] && [ "$($rc GET key:77)" = 77 ] && echo 1)"
	$rc SHUTDOWN NOSAVE >/dev/null 2>&1
	wait $SRV_PID 2>/dev/null
	check_path "$m" "redis-server" bytes_rx_min=1000000
	rm -rf "$WORK/redis"
}

SCENARIOS=${SHIM_SCENARIOS:-socat_server socat_client http_server nginx_server nginx_master redis}
for m in $MODES; do
	echo "== mode $m"
	for s in $SCENARIOS; do
		"$s" "$m"
	done
done
shim_summary
