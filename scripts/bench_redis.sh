#!/usr/bin/env bash
# Benchmark Debian's unmodified redis-server under tpa against the same redis-server on the
# kernel, in one run, alternating rounds so machine noise hits both alike.
#
#   bench_redis.sh [--mode veth|memif] [--busy-poll] [--rounds N] [--requests N] [--clients N]
#                  [--out DIR] [--build DIR] [--callgrind]
#
# --mode veth (default): redis-server (tpa) on 198.18.0.2:6379 and redis-server (kernel) on
#   198.18.0.2:6380, both in namespace <prefix>-srv pinned to CPU 1; redis-benchmark on the
#   kernel in <prefix>-cli pinned to CPU 0, through the veth (scripts/testbed.sh, TPA_TB_PREFIX).
# --mode memif: pure user space, no testbed (namespace <prefix>-memif, loopback only). "tpa" =
#   redis-server (CPU 1) AND redis-benchmark (CPU 0) both under the shim, each with its own
#   stack and DPDK EAL, joined by one net_memif link (server role in redis-server, client role
#   in redis-benchmark; 198.19.0.2 and .1, resolved by ARP); "kernel" = the same two programs
#   on the kernel over 127.0.0.1, same CPUs.
# --busy-poll: TPA_BUSY_POLL=1 for the tpa processes (they never sleep: one core each). Without
#   it they spin TPA_SPIN_US (50 us) and then sleep; on memif that sleep has no wake-up fd
#   (DPDK 22.11's memif has no Rx interrupts), so a sleeper notices packets only through the
#   shim's progress thread, within about 1 ms. (The script sets TPA_BUSY_POLL=0 explicitly to
#   measure that mode; left unset, the shim busy-polls memif ports by default.)
# Tests SET and GET with -P 1 and -P 16 (5x the requests), 50 clients by default; a warm-up run
# first. Any redis-benchmark error fails the run. Writes DIR/redis-MODE[-busy|-spinN].json
# (every run and the medians) and .png (gnuplot). TPA_SPIN_US and other TPA_* settings in the
# environment reach the tpa processes.
# --callgrind (memif): then counts user-space instructions per request of both processes under
#   valgrind --tool=callgrind, GET -P 1 and -P 16, tpa (TPA_SPIN_US=0) and kernel, by module.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
MODE=veth
ROUNDS=5
REQUESTS=100000
CLIENTS=50
BUSY=0
CALLGRIND=0
OUT=$SRC/results
BUILD=${TPA_BUILD_DIR:-$SRC/build/release}
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) MODE=$2; shift 2 ;;
	--busy-poll) BUSY=1; shift ;;
	--callgrind) CALLGRIND=1; shift ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--requests) REQUESTS=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_redis: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench_redis: must run as root" >&2; exit 2; }
case "$MODE" in veth | memif) ;; *) echo "bench_redis: --mode takes veth or memif, not '$MODE'" >&2; exit 2 ;; esac
if [ "$CALLGRIND" = 1 ]; then
	[ "$MODE" = memif ] || { echo "bench_redis: --callgrind is for --mode memif (veth: scripts/profile_redis.sh)" >&2; exit 2; }
	command -v valgrind >/dev/null || { echo "bench_redis: --callgrind needs valgrind" >&2; exit 2; }
fi
SHIM=$BUILD/shim/libtpa_shim.so
[ -f "$SHIM" ] || { echo "bench_redis: $SHIM not built" >&2; exit 2; }
mkdir -p "$OUT"
TAG=$MODE
if [ "$BUSY" = 1 ]; then
	TAG=$MODE-busy
elif [ -n "${TPA_SPIN_US:-}" ]; then
	TAG=$MODE-spin$TPA_SPIN_US
fi
eval "$("$SRC/scripts/testbed.sh" env)"
MEMIF_NS=${TPA_TB_PREFIX:-tpa}-memif
WORK=$(mktemp -d /tmp/tpa-bench.XXXXXX)
PIDS=()
CLIENT_PID=

free_hugepages() { cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0; }
HUGE_BEFORE=$(free_hugepages)

cleanup() {
	local rc=$?
	set +e
	[ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && kill -CONT "$p" 2>/dev/null
	done
	# Each DPDK process frees its hugepages as it exits: wait for them, then insist.
	for p in $CLIENT_PID "${PIDS[@]:-}"; do
		[ -n "$p" ] || continue
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$MODE" = memif ]; then
		ip netns del "$MEMIF_NS" 2>/dev/null
	else
		"$SRC/scripts/testbed.sh" down
	fi
	local huge_after
	for _ in $(seq 20); do
		huge_after=$(free_hugepages)
		[ "$huge_after" -ge "$HUGE_BEFORE" ] && break
		sleep 0.1
	done
	if [ "$huge_after" -lt "$HUGE_BEFORE" ]; then
		echo "bench_redis: warning: $((HUGE_BEFORE - huge_after)) hugepages fewer free than at start (another program may be using them)" >&2
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'echo "bench_redis: interrupted" >&2; exit 130' INT TERM

progress() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

REDIS_ARGS=(--save '' --appendonly no --protected-mode no --bind 0.0.0.0 --daemonize no
	--logfile '')
TPA_POLL=(TPA_BUSY_POLL="$BUSY")

# memif: the two stacks own 198.19.0.0/24 between them; the kernel never sees it. The memif
# control socket is an abstract name in DPDK 22.11 (no file to clean up). TPA_IFACE is only a
# label here (the shim wants one; a memif engine has no kernel interface).
MEMIF_SOCK=$WORK/memif.sock
MEMIF_ENV=(TPA_PORT_TYPE=memif TPA_MEMIF_SOCKET="$MEMIF_SOCK" TPA_IFACE=memif0)
if [ "$MODE" = veth ]; then
	progress "testbed up (TPA_TB_PREFIX=${TPA_TB_PREFIX:-tpa})"
	"$SRC/scripts/testbed.sh" up
	SRV_NS=$TPA_TB_SRV_NS
	TPA_HOST=$TPA_TB_SRV_IP
	KERNEL_HOST=$TPA_TB_SRV_IP
	progress "starting redis-server under tpa (port 6379) and on the kernel (port 6380)"
	ip netns exec "$SRV_NS" env "${TPA_POLL[@]}" taskset -c 1 "$SRC/scripts/tpa" run \
		--shim "$SHIM" --iface "$TPA_TB_SRV_IF" --ports 6379 -- redis-server --port 6379 \
		"${REDIS_ARGS[@]}" >"$WORK/redis-tpa.log" 2>&1 &
	PIDS+=($!)
else
	ip netns del "$MEMIF_NS" 2>/dev/null || true
	ip netns add "$MEMIF_NS"
	ip -n "$MEMIF_NS" link set lo up
	SRV_NS=$MEMIF_NS
	TPA_HOST=198.19.0.2
	KERNEL_HOST=127.0.0.1
	progress "starting redis-server under tpa on memif (198.19.0.2:6379) and on the kernel (127.0.0.1:6380), namespace $MEMIF_NS"
	ip netns exec "$SRV_NS" env "${MEMIF_ENV[@]}" "${TPA_POLL[@]}" TPA_MEMIF_ROLE=server \
		TPA_IP=198.19.0.2/24 TPA_MAC=02:74:70:61:00:02 \
		taskset -c 1 "$SRC/scripts/tpa" run --shim "$SHIM" --ports 6379 -- \
		redis-server --port 6379 "${REDIS_ARGS[@]}" >"$WORK/redis-tpa.log" 2>&1 &
	PIDS+=($!)
fi
TPA_SERVER_PID=${PIDS[0]}
ip netns exec "$SRV_NS" taskset -c 1 redis-server --port 6380 "${REDIS_ARGS[@]}" \
	>"$WORK/redis-kernel.log" 2>&1 &
PIDS+=($!)

# client SERVER PROGRAM ARGS...: runs a client program against one of the servers, in the
# background (so an interrupt reaches the cleanup at once), and waits for it.
client() {
	local server=$1
	shift
	if [ "$MODE" = memif ] && [ "$server" = tpa ]; then
		ip netns exec "$SRV_NS" env "${MEMIF_ENV[@]}" "${TPA_POLL[@]}" TPA_MEMIF_ROLE=client \
			TPA_IP=198.19.0.1/24 TPA_MAC=02:74:70:61:00:01 taskset -c 0 "$SRC/scripts/tpa" \
			run -q --shim "$SHIM" --connect 198.19.0.2/32:6379 -- "$@" &
	elif [ "$MODE" = memif ]; then
		ip netns exec "$SRV_NS" taskset -c 0 "$@" &
	else
		ip netns exec "$TPA_TB_CLI_NS" taskset -c 0 "$@" &
	fi
	CLIENT_PID=$!
	local rc=0
	wait "$CLIENT_PID" || rc=$?
	CLIENT_PID=
	return $rc
}
host_of() { if [ "$1" = tpa ]; then echo "$TPA_HOST"; else echo "$KERNEL_HOST"; fi; }
port_of() { if [ "$1" = tpa ]; then echo 6379; else echo 6380; fi; }

wait_ready() { # server
	for _ in $(seq 1 60); do
		if client "$1" timeout 5 redis-cli -h "$(host_of "$1")" -p "$(port_of "$1")" ping \
			>"$WORK/ping.out" 2>&1 && grep -q PONG "$WORK/ping.out"; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}
for server in tpa kernel; do
	if ! wait_ready $server; then
		echo "bench_redis: redis-server ($server) did not answer; the logs:" >&2
		cat "$WORK"/redis-*.log "$WORK/ping.out" >&2
		exit 1
	fi
done
progress "both servers answer PING"

if [ "$MODE" = memif ]; then
	echo "tpa    = redis-server and redis-benchmark both under the shim, joined by net_memif"
	echo "kernel = redis-server and redis-benchmark on the kernel over 127.0.0.1"
else
	echo "tpa    = redis-server under the shim (af_xdp on $TPA_TB_SRV_IF); redis-benchmark on the kernel"
	echo "kernel = redis-server on the kernel; redis-benchmark on the kernel, same veth"
fi
echo "tpa polling: $([ "$BUSY" = 1 ] && echo "TPA_BUSY_POLL=1 (never sleeps)" || echo "spin ${TPA_SPIN_US:-50} us, then sleep")"
echo "redis-server on CPU 1, redis-benchmark on CPU 0; $CLIENTS clients; $ROUNDS rounds; $(nproc) CPUs, kernel $(uname -r)"

RUNS=$WORK/runs.csv
echo "round,server,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms" >"$RUNS"
# bench SERVER PIPELINE N OUT: one redis-benchmark run; any error fails the whole run.
bench() {
	local server=$1 pipeline=$2 n=$3 out=$4
	# A busy-polling tpa server would take half of CPU 1 from the kernel's: it is stopped
	# while the kernel is measured (it has no connection open between runs).
	if [ "$BUSY" = 1 ] && [ "$server" = kernel ]; then kill -STOP "$TPA_SERVER_PID"; fi
	if ! client "$server" redis-benchmark -h "$(host_of "$server")" -p "$(port_of "$server")" \
		-c "$CLIENTS" -n "$n" -P "$pipeline" -t set,get --csv >"$out" 2>"$out.err"; then
		echo "bench_redis: redis-benchmark against $server failed:" >&2
		cat "$out.err" >&2
		exit 1
	fi
	if [ "$BUSY" = 1 ] && [ "$server" = kernel ]; then kill -CONT "$TPA_SERVER_PID"; fi
	if tr '\r' '\n' <"$out.err" | grep -Eqi 'error|reset|refused' ||
		[ "$(grep -c '^"\(SET\|GET\)"' "$out")" != 2 ]; then
		echo "bench_redis: redis-benchmark against $server reported errors or no results:" >&2
		tr '\r' '\n' <"$out.err" | grep -v '^ *$' | tail -5 >&2
		cat "$out" >&2
		exit 1
	fi
}
progress "warm-up (not counted)"
for server in tpa kernel; do
	bench $server 1 20000 "$WORK/warmup.csv"
done
for round in $(seq 1 "$ROUNDS"); do
	order="tpa kernel"
	[ $((round % 2)) = 0 ] && order="kernel tpa"
	for pipeline in 1 16; do
		for server in $order; do
			n=$REQUESTS
			[ "$pipeline" = 16 ] && n=$((REQUESTS * 5))
			progress "round $round/$ROUNDS: $server, -P $pipeline, $n requests"
			bench "$server" "$pipeline" "$n" "$WORK/run.csv"
			tail -n +2 "$WORK/run.csv" | tr -d '"' | sed "s/^/$round,$server,$pipeline,/" >>"$RUNS"
		done
	done
done

progress "summarising"
python3 - "$RUNS" "$OUT/redis-$TAG.json" "$CLIENTS" "$REQUESTS" "$MODE" "$BUSY" <<'PY'
import csv, json, statistics, sys, platform, os
runs_path, out_path, clients, requests, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
busy_poll = sys.argv[6] == "1"
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
doc = {"benchmark": desc, "mode": mode, "tpa_busy_poll": busy_poll,
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
print("\n(medians of %d alternating rounds; latencies in ms; tpa %s)" % (max(m["runs"] for m in med),
      "busy-polling" if busy_poll else "spin-then-sleep"))
PY

if command -v gnuplot >/dev/null; then
	python3 - "$OUT/redis-$TAG.json" "$WORK/plot.dat" <<'PY'
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
set output "$OUT/redis-$TAG.png"
set title "redis: tpa vs kernel (redis-benchmark, $CLIENTS clients, $TAG)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "requests/s"
set yrange [0:*]
set key top left
plot "$WORK/plot.dat" using 2:xtic(1) title "tpa" lc rgb "#1f77b4", '' using 3 title "kernel" lc rgb "#aaaaaa"
GP
	progress "chart: $OUT/redis-$TAG.png"
fi
progress "figures: $OUT/redis-$TAG.json"

[ "$CALLGRIND" = 1 ] || exit 0

# ---------------------------------------------------------------------------------- callgrind
# User-space instructions per request of redis-server (all threads; counting switched on once
# it answers PING) and of redis-benchmark (only inside its event loop, aeMain: no start-up, no
# EAL), GET with 50 clients. tpa runs with TPA_SPIN_US=0 so that spinning is not counted, and
# without hugepages (valgrind). The kernel variant's in-kernel work is not in these counts.
CG_SPLIT=$(
	cat <<'PY'
import re, sys
path, n, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
line_re = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*?):(\S.*?)\s+\[(.*)\]\s*$")
def group(fl, obj):
    if "libtpa_shim" in obj:
        for part, name in (("shim", "shim"), ("stack", "stack"), ("dpdk", "engine")):
            if f"/{part}/" in fl or fl.startswith(part + "/"):
                return name
        return "shim"
    if "redis" in obj or "jemalloc" in obj:
        return "redis"
    if "librte_" in obj:
        return "DPDK"
    if "/libc.so" in obj or "libc-" in obj:
        return "libc"
    return "other"
groups, fns, total = {}, [], 0
for line in open(path):
    m = line_re.match(line)
    if not m:
        continue
    ir = int(m.group(1).replace(",", ""))
    g = group(m.group(2), m.group(4))
    groups[g] = groups.get(g, 0) + ir
    fns.append((ir, g, m.group(3)))
    total += ir
parts = "  ".join(f"{g} {ir / n:,.0f}" for g, ir in sorted(groups.items(), key=lambda kv: -kv[1]) if ir >= n)
top = ", ".join(f"{fn} {ir / n:,.0f}" for ir, g, fn in sorted(fns, reverse=True)[:3])
print(f"{label:<24} {total / n:>7,.0f}   {parts}")
print(f"{'':<24} {'':>7}   top: {top}")
PY
)
progress "callgrind: stopping the benchmark servers"
for p in "${PIDS[@]}"; do
	kill -CONT "$p" 2>/dev/null || true
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
done
PIDS=()
CG_SOCK=$WORK/memif-cg.sock
CG_TPA=(LD_PRELOAD="$SHIM" TPA_PORT_TYPE=memif TPA_MEMIF_SOCKET="$CG_SOCK" TPA_IFACE=memif0
	TPA_SPIN_US=0 TPA_HUGEPAGES=no)
echo
echo "== callgrind: user-space instructions per request (GET, $CLIENTS clients), by module"
for variant in tpa kernel; do
	if [ "$variant" = tpa ]; then
		senv=("${CG_TPA[@]}" TPA_MEMIF_ROLE=server TPA_IP=198.19.0.2/24 TPA_PORTS=6381)
		cenv=("${CG_TPA[@]}" TPA_MEMIF_ROLE=client TPA_IP=198.19.0.1/24
			TPA_CONNECT=198.19.0.2/32:6381)
		host=198.19.0.2 port=6381
	else
		senv=(TPA_UNUSED=1) cenv=(TPA_UNUSED=1) host=127.0.0.1 port=6382
	fi
	# valgrind runs env, which execs redis-server: the preload is redis-server's.
	ip netns exec "$SRV_NS" taskset -c 1 valgrind --tool=callgrind --instr-atstart=no \
		--dump-instr=no --trace-children=yes --callgrind-out-file="$WORK/cg-srv.%p" \
		env "${senv[@]}" redis-server --port $port "${REDIS_ARGS[@]}" >"$WORK/cg-srv.log" 2>&1 &
	PIDS+=($!)
	ready=0
	for _ in $(seq 1 100); do
		if ip netns exec "$SRV_NS" env "${cenv[@]}" timeout 20 redis-cli -h $host -p $port \
			ping 2>/dev/null | grep -q PONG; then
			ready=1
			break
		fi
		sleep 0.3
	done
	[ $ready = 1 ] || { echo "bench_redis: redis-server under valgrind ($variant) did not answer" >&2; cat "$WORK/cg-srv.log" >&2; exit 1; }
	rpid=$(vgdb -l 2>/dev/null | grep -F "redis-server --port $port" |
		sed -n 's/^use --pid=\([0-9]*\) .*/\1/p' | sort -n | head -1 || true)
	[ -n "$rpid" ] || { echo "bench_redis: no valgrind process for $variant" >&2; exit 1; }
	# callgrind_control -i {on,off} DUMP...: vgdb may need a few tries to reach a sleeper.
	cg_ctl() {
		for _ in $(seq 1 20); do
			callgrind_control "$@" "$rpid" >/dev/null 2>&1 && return 0
			sleep 0.5
		done
		echo "bench_redis: callgrind_control $* $rpid failed" >&2
		exit 1
	}
	dump=0
	for pipeline in 1 16; do
		n=20000
		[ "$pipeline" = 16 ] && n=100000
		progress "callgrind: $variant, GET -P $pipeline, $n requests"
		cg_ctl -i on
		ip netns exec "$SRV_NS" env "${cenv[@]}" taskset -c 0 valgrind --tool=callgrind \
			--toggle-collect=aeMain --dump-instr=no --callgrind-out-file="$WORK/cg-cli.out" \
			redis-benchmark -h $host -p $port -c "$CLIENTS" -n $n -P $pipeline -t get -q \
			>"$WORK/cg-bench.log" 2>&1 || { cat "$WORK/cg-bench.log" >&2; exit 1; }
		cg_ctl -i off
		cg_ctl -d
		dump=$((dump + 1))
		sleep 1
		for who in server client; do
			f=$WORK/cg-srv.$rpid.$dump
			[ $who = client ] && f=$WORK/cg-cli.out
			[ -f "$f" ] || { echo "bench_redis: no callgrind dump $f" >&2; exit 1; }
			txt=$OUT/callgrind-memif-$variant-$who-P$pipeline.txt
			callgrind_annotate --auto=no --inclusive=no --threshold=100 "$f" >"$txt" 2>/dev/null
			python3 -c "$CG_SPLIT" "$txt" "$n" "$variant $who -P$pipeline"
		done
	done
	kill "${PIDS[0]}" 2>/dev/null || true
	wait "${PIDS[0]}" 2>/dev/null || true
	PIDS=()
done
progress "callgrind annotations: $OUT/callgrind-memif-*.txt"
