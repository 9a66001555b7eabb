#!/usr/bin/env bash
# Profile Debian's unmodified redis-server under libtpa_shim.so against the same redis-server on
# the kernel, on the veth testbed path (redis-benchmark in <prefix>-cli, redis-server in
# <prefix>-srv). Three phases, each optional:
#
#   rps        requests/s and p99, alternating rounds: kernel, tpa (default spin/sleep),
#              tpa with TPA_BUSY_POLL=1; GET/SET, -P 1 and -P 16, 50 clients; medians + ratios.
#   strace     syscalls per request of the server process (all threads), strace -c -f,
#              GET -P 1, 1 and 50 clients: total and the top syscalls, per variant.
#   callgrind  user-space instructions per request of the server process (all threads) under
#              valgrind --tool=callgrind, GET with each of --cg-clients (1,50) and
#              --cg-pipelines (1,16) for each of --cg-variants (kernel,tpa,tpa-nospin), split
#              into redis / shim (shim/*.c) / stack (stack/*.c) / engine (dpdk/*.c, our DPDK
#              glue) / DPDK (librte_*) / libc / other, plus the most expensive functions; ends
#              with one table of every run, each tpa row beside the kernel row of its load
#              ("extra" = tpa minus kernel).
#
#   profile_redis.sh [--build DIR] [--prefix P] [--phases rps,strace,callgrind] [--rounds N]
#                    [--requests N] [--cg-requests N] [--cg-variants LIST] [--cg-clients LIST]
#                    [--cg-pipelines LIST] [--out DIR] [--keep-testbed]
#
# Instrumentation is switched on (callgrind_control -i on) only after the server answers PING
# and off after the benchmark, so start-up (EAL, XDP load) is not counted. Counts are divided
# by the number of requests sent; the kernel's own work is not in callgrind's counts (see the
# strace phase for how often each variant enters the kernel).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${TPA_BUILD_DIR:-$SRC/build/release}
PREFIX=${TPA_TB_PREFIX:-perf}
PHASES=rps,strace,callgrind
ROUNDS=3
REQUESTS=100000
CG_REQUESTS=20000
CG_VARIANTS=kernel,tpa,tpa-nospin
CG_CLIENTS=1,50
CG_PIPELINES=1,16
OUT=${TMPDIR:-/tmp}/tpa-profile
KEEP_TB=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--prefix) PREFIX=$2; shift 2 ;;
	--phases) PHASES=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--requests) REQUESTS=$2; shift 2 ;;
	--cg-requests) CG_REQUESTS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--keep-testbed) KEEP_TB=1; shift ;;
	--cg-variants) CG_VARIANTS=$2; shift 2 ;;
	--cg-clients) CG_CLIENTS=$2; shift 2 ;;
	--cg-pipelines) CG_PIPELINES=$2; shift 2 ;;
	-h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "profile_redis: unknown option $1" >&2; exit 2 ;;
	esac
done
for v in ${CG_VARIANTS//,/ }; do
	case "$v" in kernel | tpa | tpa-busy | tpa-nospin) ;; *)
		echo "profile_redis: --cg-variants: '$v' is not one of kernel, tpa, tpa-busy, tpa-nospin" >&2
		exit 2 ;;
	esac
done
for v in ${CG_CLIENTS//,/ } ${CG_PIPELINES//,/ }; do
	case "$v" in '' | *[!0-9]* | 0)
		echo "profile_redis: --cg-clients/--cg-pipelines: '$v' is not a positive number" \
			"(got '$CG_CLIENTS' and '$CG_PIPELINES')" >&2
		exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "profile_redis: must run as root" >&2; exit 2; }
SHIM=$BUILD/shim/libtpa_shim.so
[ -f "$SHIM" ] || { echo "profile_redis: $SHIM not built" >&2; exit 2; }
for t in redis-server redis-benchmark redis-cli python3; do
	command -v $t >/dev/null || { echo "profile_redis: $t not installed" >&2; exit 2; }
done
case ",$PHASES," in *,strace,*) command -v strace >/dev/null ||
	{ echo "profile_redis: strace not installed" >&2; exit 2; } ;; esac
case ",$PHASES," in *,callgrind,*) command -v valgrind >/dev/null ||
	{ echo "profile_redis: valgrind not installed" >&2; exit 2; } ;; esac
export TPA_TB_PREFIX=$PREFIX
eval "$("$SRC/scripts/testbed.sh" env)"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/tpa-profile.XXXXXX)
SERVER_PID=
KERNEL_PID=

stop_pid() { # pid
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}
cleanup() {
	stop_pid "$SERVER_PID"
	stop_pid "$KERNEL_PID"
	wait 2>/dev/null || true
	[ "$KEEP_TB" = 1 ] || "$SRC/scripts/testbed.sh" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "profile_redis: interrupted" >&2; exit 130' INT TERM
progress() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

"$SRC/scripts/testbed.sh" up >/dev/null

REDIS_ARGS=(--protected-mode no --bind 0.0.0.0 --save '' --appendonly no --logfile ''
	--daemonize no --dir "$WORK")
TPA_PORT=6379
KERNEL_PORT=6380

# start_server VARIANT [WRAPPER...]: VARIANT kernel | tpa | tpa-busy | tpa-nospin; sets
# SERVER_PID (the redis-server process itself, or valgrind/strace's child) and waits for PING.
start_server() {
	local variant=$1 port=$TPA_PORT
	shift
	local envs=(env)
	case "$variant" in
	kernel) port=$KERNEL_PORT ;;
	tpa) envs+=(LD_PRELOAD="$SHIM" TPA_IFACE="$TPA_TB_SRV_IF" TPA_PORTS="$TPA_PORT") ;;
	tpa-busy) envs+=(LD_PRELOAD="$SHIM" TPA_IFACE="$TPA_TB_SRV_IF" TPA_PORTS="$TPA_PORT" TPA_BUSY_POLL=1) ;;
	tpa-nospin) envs+=(LD_PRELOAD="$SHIM" TPA_IFACE="$TPA_TB_SRV_IF" TPA_PORTS="$TPA_PORT" TPA_SPIN_US=0) ;;
	*) echo "profile_redis: bad variant $variant" >&2; exit 2 ;;
	esac
	# valgrind must see the preload on redis-server, not on itself: it runs env, which execs.
	ip netns exec "$TPA_TB_SRV_NS" env TPA_HUGEPAGES=no taskset -c 1 "$@" "${envs[@]}" \
		redis-server --port $port "${REDIS_ARGS[@]}" >"$WORK/server-$variant.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 1 300); do
		if ip netns exec "$TPA_TB_CLI_NS" timeout 5 redis-cli -h "$TPA_TB_SRV_IP" -p $port ping \
			2>/dev/null | grep -q PONG; then
			if [ "$variant" != kernel ] && ! ip -n "$TPA_TB_SRV_NS" link show dev "$TPA_TB_SRV_IF" |
				grep -q 'prog/xdp'; then
				echo "profile_redis: $variant answers but no XDP program: not accelerated" >&2
				exit 1
			fi
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.2
	done
	echo "profile_redis: redis-server ($variant) did not start; its log:" >&2
	cat "$WORK/server-$variant.log" >&2
	exit 1
}
stop_server() {
	stop_pid "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}
port_of() { if [ "$1" = kernel ]; then echo $KERNEL_PORT; else echo $TPA_PORT; fi; }
server_alive() {
	local st
	st=$(ps -o stat= -p "$SERVER_PID" 2>/dev/null || true)
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}
# bench VARIANT redis-benchmark-args...: fails loudly if the server died under the load.
bench() {
	local port rc=0
	port=$(port_of "$1")
	shift
	ip netns exec "$TPA_TB_CLI_NS" taskset -c 0 timeout 120 redis-benchmark -h "$TPA_TB_SRV_IP" \
		-p "$port" "$@" || rc=$?
	# A dead child stays a zombie until waited for: kill -0 would still succeed.
	if [ -n "$SERVER_PID" ] && ! server_alive; then
		local st=0
		wait "$SERVER_PID" 2>/dev/null || st=$?
		SERVER_PID=
		echo "profile_redis: redis-server died (exit status $st) during: redis-benchmark $*" >&2
		tail -n 20 "$WORK"/server-*.log >&2
		exit 1
	fi
	if [ $rc != 0 ]; then
		echo "profile_redis: redis-benchmark $* failed (status $rc) while redis-server ($SERVER_PID)" \
			"is alive: it stopped answering (see docs/profile.md, af_xdp fill-ring stall)" >&2
		exit 1
	fi
}

# ---------------------------------------------------------------------------------- rps
phase_rps() {
	local runs=$OUT/rps.csv
	echo "round,variant,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms" >"$runs"
	for round in $(seq 1 "$ROUNDS"); do
		local order="kernel tpa tpa-busy"
		[ $((round % 2)) = 0 ] && order="tpa-busy tpa kernel"
		for variant in $order; do
			start_server "$variant"
			bench "$variant" -c 50 -n 20000 -t get -q >/dev/null 2>&1 # warm-up
			for pipeline in 1 16; do
				local n=$REQUESTS
				[ $pipeline = 16 ] && n=$((REQUESTS * 5))
				progress "rps round $round/$ROUNDS: $variant -P $pipeline ($n requests)"
				bench "$variant" -c 50 -n "$n" -P "$pipeline" -t set,get --csv 2>/dev/null |
					tail -n +2 | tr -d '"' | sed "s/^/$round,$variant,$pipeline,/" >>"$runs"
			done
			stop_server
		done
	done
	python3 - "$runs" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for r in rows:
    med.setdefault((r["test"], int(r["pipeline"]), r["variant"]), []).append(r)
def m(k, f):
    return statistics.median(float(x[f]) for x in med[k]) if k in med else float("nan")
print("\n== requests/s (median of %d rounds; 50 clients; veth path; p99 in ms)" %
      max(len(v) for v in med.values()))
print(f"{'test':<4} {'-P':>3} | {'kernel':>9} {'p99':>6} | {'tpa':>9} {'p99':>6} {'ratio':>6} | "
      f"{'tpa-busy':>9} {'p99':>6} {'ratio':>6}")
for test in ("SET", "GET"):
    for p in (1, 16):
        k = (test, p, "kernel")
        line = f"{test:<4} {p:>3} | {m(k,'rps'):>9.0f} {m(k,'p99_ms'):>6.3f} |"
        for v in ("tpa", "tpa-busy"):
            t = (test, p, v)
            line += f" {m(t,'rps'):>9.0f} {m(t,'p99_ms'):>6.3f} {m(t,'rps')/m(k,'rps'):>5.2f}x |"
        print(line.rstrip("|"))
PY
}

# ------------------------------------------------------------------------------- strace
phase_strace() {
	local n=$((REQUESTS / 5))
	echo
	echo "== syscalls per request (redis-server, all threads; GET -P 1, $n requests)"
	for variant in kernel tpa tpa-busy; do
		for clients in 1 50; do
			start_server "$variant"
			bench "$variant" -c $clients -n 2000 -t get -q >/dev/null 2>&1
			local tasks
			tasks=$(ls /proc/"$SERVER_PID"/task | tr '\n' ',' | sed 's/,$//')
			strace -f -c -o "$WORK/strace.txt" -p "$tasks" 2>/dev/null &
			local spid=$!
			sleep 1
			progress "strace: $variant, $clients clients"
			bench "$variant" -c $clients -n $n -t get -q >/dev/null 2>&1
			kill -INT $spid
			wait $spid 2>/dev/null || true
			stop_server
			cp "$WORK/strace.txt" "$OUT/strace-$variant-c$clients.txt"
			python3 - "$WORK/strace.txt" "$n" "$variant -c $clients" <<'PY'
import re, sys
path, n, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = {}
for line in open(path):
    f = line.split()
    # % time, seconds, usecs/call, calls, [errors], syscall
    if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
        calls[f[-1]] = int(f[3])
total = sum(calls.values())
top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
print(f"{label:<15} {total / n:6.2f}/req   " +
      "  ".join(f"{k} {v / n:.2f}" for k, v in top))
PY
		done
	done
}

# ---------------------------------------------------------------------------- callgrind
CG_SPLIT=$(
	cat <<'PY'
import re, sys
path, n, label, top_n = sys.argv[1], int(sys.argv[2]), sys.argv[3], 18
key, summary = sys.argv[4], sys.argv[5]
# "Ir file:function [object]"; code inlined from another file (LTO, headers) is listed as
# "Ir file:function" without the object: it belongs to the object of the same function named
# with one, and is counted too (skipping it lost ~1,500 instructions per GET under LTO).
line_re = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*?):(\S.*?)(?:\s+\[(.*)\])?\s*$")
total_re = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?PROGRAM TOTALS")
def group(fl, obj):
    if "libtpa_shim" in obj:
        for part in ("shim", "stack", "dpdk"):
            if f"/{part}/" in fl or fl.startswith(part + "/"):
                return {"shim": "shim", "stack": "stack", "dpdk": "engine"}[part]
        return "shim(other)"
    if "redis" in obj or "jemalloc" in obj:
        return "redis"  # with its allocator (Debian links jemalloc)
    if "librte_" in obj:
        return "DPDK"
    if "/libc.so" in obj or "libc-" in obj:
        return "libc"
    if "libbpf" in obj or "libxdp" in obj:
        return "libbpf/xdp"
    if "ld-linux" in obj:
        return "ld.so"
    if "vgpreload" in obj:
        return "valgrind"
    return "other"
groups, fns, total, program = {}, [], 0, 0
rows, fn_obj = [], {}
for line in open(path):
    t = total_re.match(line)
    if t:
        program = int(t.group(1).replace(",", ""))
        continue
    m = line_re.match(line)
    if not m or "PROGRAM TOTALS" in line:
        continue
    ir = int(m.group(1).replace(",", ""))
    fl, fn, obj = m.group(2), m.group(3), m.group(4) or ""
    if obj:
        fn_obj.setdefault(fn, obj)
    rows.append((ir, fl, fn, obj))
for ir, fl, fn, obj in rows:
    obj = obj or fn_obj.get(fn, "")
    g = group(fl, obj)
    groups[g] = groups.get(g, 0) + ir
    fns.append((ir, g, fn, fl.split("/")[-1]))
    total += ir
print(f"-- {label}: {total / n:,.0f} instructions/request (user space, all threads)")
if program and abs(program - total) > program // 100:
    print(f"   (the lines add up to {total / n:,.0f}, callgrind's total is {program / n:,.0f})")
for g, ir in sorted(groups.items(), key=lambda kv: -kv[1]):
    print(f"   {g:<11} {ir / n:>9,.0f}  {100.0 * ir / max(total, 1):5.1f}%")
with open(summary, "a") as f:
    f.write(key + "\t" + " ".join(f"{g}={ir / n:.0f}" for g, ir in groups.items()) +
            f" total={total / n:.0f}\n")
print("   top functions (exclusive):")
for ir, g, fn, fl in sorted(fns, reverse=True)[:top_n]:
    print(f"   {ir / n:>9,.0f}  {g:<7} {fn} ({fl})")
PY
)

CG_TABLE=$(
	cat <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    variant, clients, pipeline, vals = line.rstrip("\n").split("\t")
    rows[(variant, int(clients), int(pipeline))] = {
        k: int(v) for k, v in (kv.split("=") for kv in vals.split())}
cols = ["redis", "stack", "shim", "engine", "DPDK", "libc", "ld.so"]
print()
print("== instructions per GET by layer (user space, all threads of redis-server)")
print(f"{'variant':<11} {'-c':>3} {'-P':>3} {'total':>7} {'extra':>7} " +
      " ".join(f"{c:>6}" for c in cols) + f" {'other':>6}")
for (variant, c, p), g in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2],
                                                               kv[0][0] != "kernel", kv[0][0])):
    kern = rows.get(("kernel", c, p))
    extra = f"{g['total'] - kern['total']:>7,}" if kern and variant != "kernel" else f"{'-':>7}"
    other = g["total"] - sum(g.get(k, 0) for k in cols)
    print(f"{variant:<11} {c:>3} {p:>3} {g['total']:>7,} {extra} " +
          " ".join(f"{g.get(k, 0):>6,}" for k in cols) + f" {other:>6,}")
PY
)

phase_callgrind() {
	echo
	echo "== callgrind: instructions per request (GET, $CG_REQUESTS requests per load)"
	: >"$OUT/callgrind-summary.tsv"
	local variant clients pipeline
	# Ask for a dump and print its file once written. valgrind writes it when the process
	# next runs: wait for a new part that is complete (callgrind ends a dump with its totals
	# line); on a loaded machine a fixed second was sometimes too short (an empty part).
	cg_dump() {
		local parts part
		parts=$(find "$WORK" -name "cg.out.$1.*" | wc -l)
		callgrind_control -d "$1" >/dev/null
		for _ in $(seq 1 300); do
			if [ "$(find "$WORK" -name "cg.out.$1.*" | wc -l)" -gt "$parts" ]; then
				part=$(ls -t "$WORK"/cg.out."$1".* | head -1 || true)
				grep -q '^totals:' "$part" && { echo "$part"; return 0; }
			fi
			sleep 0.1
		done
		return 0
	}
	for variant in ${CG_VARIANTS//,/ }; do
		rm -f "$WORK"/cg.out*
		start_server "$variant" valgrind --tool=callgrind --instr-atstart=no --dump-instr=no \
			--trace-children=yes --callgrind-out-file="$WORK/cg.out.%p"
		local rpid
		# The redis-server process under valgrind (env has exec'd it); the engine's XDP
		# watchdog, a child, is not profiled.
		rpid=$(vgdb -l 2>/dev/null | grep -F "redis-server --port $(port_of "$variant")" |
			sed -n 's/^use --pid=\([0-9]*\) .*/\1/p' | sort -n | head -1 || true)
		[ -n "$rpid" ] || { echo "profile_redis: no valgrind process for $variant" >&2; exit 1; }
		for clients in ${CG_CLIENTS//,/ }; do
			for pipeline in ${CG_PIPELINES//,/ }; do
				progress "callgrind: $variant, $clients clients, -P $pipeline"
				local run=$variant-c$clients-P$pipeline dump
				# Each load gets its own dump: -d writes what was counted since the last one.
				cg_dump "$rpid" >/dev/null
				callgrind_control -i on "$rpid" >/dev/null
				bench "$variant" -c "$clients" -P "$pipeline" -n "$CG_REQUESTS" -t get -q \
					>"$WORK/cg-bench.txt" 2>&1
				callgrind_control -i off "$rpid" >/dev/null
				dump=$(cg_dump "$rpid")
				[ -n "$dump" ] || { echo "profile_redis: no callgrind dump for $run" >&2; exit 1; }
				cp "$dump" "$OUT/callgrind-$run.out"
				callgrind_annotate --auto=no --inclusive=no --threshold=100 "$dump" \
					>"$OUT/callgrind-$run.txt" 2>/dev/null
				callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$dump" \
					>"$OUT/callgrind-$run.inclusive.txt" 2>/dev/null
				python3 -c "$CG_SPLIT" "$OUT/callgrind-$run.txt" "$CG_REQUESTS" \
					"$variant, $clients clients, -P $pipeline" \
					"$variant	$clients	$pipeline" "$OUT/callgrind-summary.tsv"
			done
		done
		stop_server
	done
	python3 -c "$CG_TABLE" "$OUT/callgrind-summary.tsv"
}

case ",$PHASES," in *,rps,*) phase_rps ;; esac
case ",$PHASES," in *,strace,*) phase_strace ;; esac
case ",$PHASES," in *,callgrind,*) phase_callgrind ;; esac
progress "raw data in $OUT"
