#!/usr/bin/env bash
# Benchmark Debian's unmodified nginx (`user www-data;`, 1 and 2 worker processes) under tpa
# against the same nginx on the kernel: requests/s and p99 latency from wrk --latency.
#
#   bench_nginx.sh [--rounds N] [--duration S] [--connections N] [--out DIR] [--build DIR]
#
# nginx runs in namespace <prefix>-srv on 198.18.0.2 (tpa: port 8081, kernel: port 8082), wrk
# (2 threads) in <prefix>-cli through the veth (scripts/testbed.sh, TPA_TB_PREFIX). nginx
# serves a 612-byte page over keep-alive connections, access log off. Nothing is pinned: with
# 2 workers the server needs both cores, which wrk shares (a 2-core machine: the figures are
# relative). Each round runs the four setups in turn (tpa 1, kernel 1, tpa 2, kernel 2),
# alternating so machine noise hits all alike; one nginx at a time (one tpa process per
# interface). Prints medians and writes DIR/nginx.json (every run and the medians) and
# DIR/nginx.md (the table for docs/benchmarks.md).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=5
DURATION=10
CONNS=64
OUT=$SRC/results
BUILD=${TPA_BUILD_DIR:-$SRC/build/release}
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--connections) CONNS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_nginx: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench_nginx: must run as root" >&2; exit 2; }
SHIM=$BUILD/shim/libtpa_shim.so
[ -f "$SHIM" ] || { echo "bench_nginx: $SHIM not built" >&2; exit 2; }
command -v wrk >/dev/null && command -v nginx >/dev/null || "$SRC/scripts/deps.sh"
mkdir -p "$OUT"

"$SRC/scripts/testbed.sh" up >/dev/null
eval "$("$SRC/scripts/testbed.sh" env)"
SRV_NS=$TPA_TB_SRV_NS CLI_NS=$TPA_TB_CLI_NS SRV_IF=$TPA_TB_SRV_IF SRV_IP=$TPA_TB_SRV_IP

W=$(mktemp -d "/tmp/bench-nginx.${TPA_TB_PREFIX:-tpa}.XXXXXX")
NGINX_PID=
cleanup() {
	[ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null && sleep 1
	rm -rf "$W"
}
trap cleanup EXIT
chmod 755 "$W"
mkdir -p "$W/www"
head -c 612 /dev/zero | tr '\0' 'x' >"$W/www/index.html"
chmod -R a+rX "$W/www"

start_nginx() { # mode workers port
	cat >"$W/nginx.conf" <<CONF
daemon off;
user www-data;
worker_processes $2;
pid $W/nginx.pid;
error_log $W/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path $W;
    proxy_temp_path $W;
    fastcgi_temp_path $W;
    uwsgi_temp_path $W;
    scgi_temp_path $W;
    server { listen $3; root $W/www; }
}
CONF
	rm -f "$W/nginx.pid"
	if [ "$1" = tpa ]; then
		ip netns exec "$SRV_NS" env LD_PRELOAD="$SHIM" TPA_IFACE="$SRV_IF" TPA_PORTS="$3" \
			nginx -c "$W/nginx.conf" >"$W/nginx.out" 2>&1 &
	else
		ip netns exec "$SRV_NS" nginx -c "$W/nginx.conf" >"$W/nginx.out" 2>&1 &
	fi
	for _ in $(seq 100); do [ -s "$W/nginx.pid" ] && break; sleep 0.1; done
	NGINX_PID=$(cat "$W/nginx.pid" 2>/dev/null) || { cat "$W/nginx.out" >&2; exit 1; }
	for _ in $(seq 100); do
		ip netns exec "$CLI_NS" curl -s -o /dev/null -m 1 "http://$SRV_IP:$3/" && return 0
		sleep 0.1
	done
	echo "bench_nginx: nginx ($1, $2 workers) does not answer" >&2
	exit 1
}

stop_nginx() {
	kill -QUIT "$NGINX_PID"
	for _ in $(seq 100); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
	NGINX_PID=
}

to_us() { # wrk latency "1.23ms" -> microseconds
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000; else f = 1
		printf "%.0f", n * f }'
}

run_one() { # mode workers -> "rps p99_us"
	local port=8082
	[ "$1" = tpa ] && port=8081
	start_nginx "$1" "$2" "$port"
	ip netns exec "$CLI_NS" wrk -t2 -c"$CONNS" -d1s "http://$SRV_IP:$port/" >/dev/null
	ip netns exec "$CLI_NS" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
		"http://$SRV_IP:$port/" >"$W/wrk.out"
	stop_nginx
	if grep -qE "Socket errors|Non-2xx" "$W/wrk.out"; then
		cat "$W/wrk.out" >&2
		echo "bench_nginx: wrk saw errors ($1, $2 workers)" >&2
		exit 1
	fi
	local rps p99
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$W/wrk.out")
	p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$W/wrk.out")")
	echo "$rps $p99"
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

SETUPS="tpa:1 kernel:1 tpa:2 kernel:2"
declare -A RPS P99
for r in $(seq "$ROUNDS"); do
	for s in $SETUPS; do
		read -r rps p99 < <(run_one "${s%:*}" "${s#*:}")
		RPS[$s]+="$rps "
		P99[$s]+="$p99 "
		printf 'round %d %-8s workers %s: %8s req/s  p99 %6s us\n' "$r" "${s%:*}" "${s#*:}" "$rps" "$p99"
	done
done

{
	echo "| nginx | workers | requests/s (median) | p99 latency, us (median) | runs |"
	echo "| --- | --- | --- | --- | --- |"
	for s in $SETUPS; do
		m=$(tr ' ' '\n' <<<"${RPS[$s]}" | grep . | median)
		p=$(tr ' ' '\n' <<<"${P99[$s]}" | grep . | median)
		echo "| ${s%:*} | ${s#*:} | $m | $p | $ROUNDS |"
	done
} | tee "$OUT/nginx.md"
{
	echo "{\"duration_s\": $DURATION, \"connections\": $CONNS, \"rounds\": $ROUNDS, \"setups\": {"
	sep=
	for s in $SETUPS; do
		m=$(tr ' ' '\n' <<<"${RPS[$s]}" | grep . | median)
		p=$(tr ' ' '\n' <<<"${P99[$s]}" | grep . | median)
		printf '%s"%s": {"rps": [%s], "p99_us": [%s], "rps_median": %s, "p99_us_median": %s}' \
			"$sep" "$s" "$(tr ' ' '\n' <<<"${RPS[$s]}" | grep . | paste -sd,)" \
			"$(tr ' ' '\n' <<<"${P99[$s]}" | grep . | paste -sd,)" "$m" "$p"
		sep=", "
	done
	echo "}}"
} >"$OUT/nginx.json"
echo "bench_nginx: wrote $OUT/nginx.json and $OUT/nginx.md"
