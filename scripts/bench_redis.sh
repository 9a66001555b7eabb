#!/usr/bin/env bash
# Benchmark Debian's unmodified redis-server under tpa against the same redis-server on the
# kernel, in one run, alternating rounds so machine noise hits both alike.
#
#   bench_redis.sh [--mode veth|memif] [--rounds N] [--requests N] [--clients N] [--out DIR]
#                  [--build DIR]
#
# --mode veth (default): redis-server (tpa) on 198.18.0.2:6379 and redis-server (kernel) on
#   198.18.0.2:6380, both in namespace tpa-srv pinned to CPU 1; redis-benchmark in tpa-cli
#   pinned to CPU 0, through the kernel and the veth.
# --mode memif: pure user space. "tpa" = redis-server AND redis-benchmark under the shim,
#   joined by net_memif (no kernel in between); "kernel" = both on the kernel over loopback.
# Tests SET and GET with -P 1 and -P 16, 50 clients by default. Writes DIR/redis-MODE.json
# (every run and the medians) and DIR/redis-MODE.png (gnuplot).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
MODE=veth
ROUNDS=5
REQUESTS=100000
CLIENTS=50
OUT=$SRC/results
BUILD=${TPA_BUILD_DIR:-$SRC/build/release}
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) MODE=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--requests) REQUESTS=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_redis: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench_redis: must run as root" >&2; exit 2; }
case "$MODE" in veth | memif) ;; *) echo "bench_redis: --mode takes veth or memif, not '$MODE'" >&2; exit 2 ;; esac
SHIM=$BUILD/shim/libtpa_shim.so
[ -f "$SHIM" ] || { echo "bench_redis: $SHIM not built" >&2; exit 2; }
mkdir -p "$OUT"
eval "$("$SRC/scripts/testbed.sh" env)"
WORK=$(mktemp -d /tmp/tpa-bench.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	sleep 0.5
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
	done
	"$SRC/scripts/testbed.sh" down || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench_redis: interrupted" >&2; exit 130' INT TERM

progress() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

progress "testbed up"
"$SRC/scripts/testbed.sh" up

REDIS_ARGS=(--save '' --appendonly no --protected-mode no --bind 0.0.0.0 --daemonize no
	--logfile '')

MEMIF_SOCK=$WORK/memif.sock
if [ "$MODE" = veth ]; then
	TPA_HOST=$TPA_TB_SRV_IP
	KERNEL_HOST=$TPA_TB_SRV_IP
	progress "starting redis-server under tpa (port 6379) and on the kernel (port 6380)"
	ip netns exec "$TPA_TB_SRV_NS" taskset -c 1 "$SRC/scripts/tpa" run --shim "$SHIM" \
		--iface "$TPA_TB_SRV_IF" --ports 6379 -- redis-server --port 6379 "${REDIS_ARGS[@]}" \
		>"$WORK/redis-tpa.log" 2>&1 &
	PIDS+=($!)
	ip netns exec "$TPA_TB_SRV_NS" taskset -c 1 redis-server --port 6380 "${REDIS_ARGS[@]}" \
		>"$WORK/redis-kernel.log" 2>&1 &
	PIDS+=($!)
else
	# memif: the two stacks own 198.19.0.0/24 between them; the kernel never sees it.
	TPA_HOST=198.19.0.2
	KERNEL_HOST=127.0.0.1
	progress "starting redis-server under tpa on memif (198.19.0.2:6379) and on the kernel (127.0.0.1:6380)"
	ip netns exec "$TPA_TB_SRV_NS" env TPA_PORT_TYPE=memif TPA_MEMIF_ROLE=server \
		TPA_MEMIF_SOCKET="$MEMIF_SOCK" TPA_IP=198.19.0.2/24 TPA_MAC=02:74:70:61:00:02 \
		taskset -c 1 "$SRC/scripts/tpa" run --shim "$SHIM" --ports 6379 -- \
		redis-server --port 6379 "${REDIS_ARGS[@]}" >"$WORK/redis-tpa.log" 2>&1 &
	PIDS+=($!)
	ip netns exec "$TPA_TB_SRV_NS" taskset -c 1 redis-server --port 6380 "${REDIS_ARGS[@]}" \
		>"$WORK/redis-kernel.log" 2>&1 &
	PIDS+=($!)
fi

# client SERVER PORT PROGRAM ARGS...: runs a client program against one of the servers.
client() {
	local server=$1
	shift
	if [ "$MODE" = memif ] && [ "$server" = tpa ]; then
		ip netns exec "$TPA_TB_SRV_NS" env TPA_PORT_TYPE=memif TPA_MEMIF_ROLE=client \
			TPA_MEMIF_SOCKET="$MEMIF_SOCK" TPA_IP=198.19.0.1/24 TPA_MAC=02:74:70:61:00:01 \
			taskset -c 0 "$SRC/scripts/tpa" run -q --shim "$SHIM" --connect 198.19.0.2/32:6379 -- "$@"
	elif [ "$MODE" = memif ]; then
		ip netns exec "$TPA_TB_SRV_NS" taskset -c 0 "$@"
	else
		ip netns exec "$TPA_TB_CLI_NS" taskset -c 0 "$@"
	fi
}
host_of() { if [ "$1" = tpa ]; then echo "$TPA_HOST"; else echo "$KERNEL_HOST"; fi; }
port_of() { if [ "$1" = tpa ]; then echo 6379; else echo 6380; fi; }

wait_ready() { # server
	for _ in $(seq 1 100); do
		if client "$1" timeout 5 redis-cli -h "$(host_of "$1")" -p "$(port_of "$1")" ping \
			2>/dev/null | grep -q PONG; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}
for server in tpa kernel; do
	if ! wait_ready $server; then
		echo "bench_redis: redis-server ($server) did not answer; the logs:" >&2
		cat "$WORK"/redis-*.log >&2
		exit 1
	fi
done
progress "both servers answer PING"

RUNS=$WORK/runs.csv
echo "round,server,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms" >"$RUNS"
progress "warm-up (not counted)"
for server in tpa kernel; do
	client $server redis-benchmark -h "$(host_of $server)" -p "$(port_of $server)" \
		-c "$CLIENTS" -n 20000 -t set,get -q >/dev/null 2>&1
done
for round in $(seq 1 "$ROUNDS"); do
	order="tpa kernel"
	[ $((round % 2)) = 0 ] && order="kernel tpa"
	for pipeline in 1 16; do
		for server in $order; do
			n=$REQUESTS
			[ "$pipeline" = 16 ] && n=$((REQUESTS * 5))
			progress "round $round/$ROUNDS: $server, -P $pipeline, $n requests"
			client $server redis-benchmark -h "$(host_of $server)" \
				-p "$(port_of $server)" -c "$CLIENTS" -n "$n" -P "$pipeline" -t set,get --csv 2>/dev/null |
				tail -n +2 | tr -d '"' |
				sed "s/^/$round,$server,$pipeline,/" >>"$RUNS"
		done
	done
done

progress "summarising"
python3 - "$RUNS" "$OUT/redis-$MODE.json" "$CLIENTS" "$REQUESTS" "$MODE" <<'PY'
import csv, json, statistics, sys, platform, os
runs_path, out_path, clients, requests, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rows = list(csv.DictReader(open(runs_path)))
for r in rows:
    for k in ("rps", "avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"):
        r[k] = float(r[k])
summary = {}
for r in rows:
    summary.setdefault((r["test"], int(r["pipeline"]), r["server"]), []).append(r)
med = []
for (test, pipe, server), rs in sorted(summary.items()):
    med.append({"test": test, "pipeline": pipe, "server": server, "runs": len(rs),
                "rps": statistics.median(x["rps"] for x in rs),
                "p50_ms": statistics.median(x["p50_ms"] for x in rs),
                "p99_ms": statistics.median(x["p99_ms"] for x in rs)})
desc = {"veth": "redis-benchmark (kernel, namespace tpa-cli) -> veth -> redis-server in tpa-srv: under tpa vs on the kernel",
        "memif": "redis-benchmark and redis-server both under tpa joined by memif vs both on the kernel over loopback"}[mode]
doc = {"benchmark": desc, "mode": mode,
       "clients": clients, "requests": requests, "machine": {"cpus": os.cpu_count(),
       "kernel": platform.release()}, "median": med, "runs": rows}
json.dump(doc, open(out_path, "w"), indent=2)
by = {(m["test"], m["pipeline"], m["server"]): m for m in med}
print()
print(f"{'test':<5} {'-P':>3} | {'tpa rps':>10} {'p50':>6} {'p99':>6} | {'kernel rps':>10} {'p50':>6} {'p99':>6} | {'rps ratio':>9}")
print("-" * 80)
for test in ("SET", "GET"):
    for pipe in (1, 16):
        t, k = by.get((test, pipe, "tpa")), by.get((test, pipe, "kernel"))
        if not t or not k:
            continue
        print(f"{test:<5} {pipe:>3} | {t['rps']:>10.0f} {t['p50_ms']:>6.3f} {t['p99_ms']:>6.3f} | "
              f"{k['rps']:>10.0f} {k['p50_ms']:>6.3f} {k['p99_ms']:>6.3f} | {t['rps']/k['rps']:>8.2f}x")
print("\n(medians of %d alternating rounds; latencies in ms)" % max(m["runs"] for m in med))
PY

if command -v gnuplot >/dev/null; then
	python3 - "$OUT/redis-$MODE.json" "$WORK/plot.dat" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
by = {(m["test"], m["pipeline"], m["server"]): m["rps"] for m in doc["median"]}
with open(sys.argv[2], "w") as f:
    for test in ("SET", "GET"):
        for pipe in (1, 16):
            f.write(f'"{test} -P{pipe}" {by.get((test,pipe,"tpa"),0):.0f} {by.get((test,pipe,"kernel"),0):.0f}\n')
PY
	gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set output "$OUT/redis-$MODE.png"
set title "redis-server: tpa vs kernel (redis-benchmark, $CLIENTS clients, $MODE)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "requests/s"
set yrange [0:*]
set key top left
plot "$WORK/plot.dat" using 2:xtic(1) title "tpa" lc rgb "#1f77b4", '' using 3 title "kernel" lc rgb "#aaaaaa"
GP
	progress "chart: $OUT/redis-$MODE.png"
fi
progress "figures: $OUT/redis-$MODE.json"
