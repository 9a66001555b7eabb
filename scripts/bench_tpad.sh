#!/usr/bin/env bash
# What sharing an interface through tpad costs (issue 13): redis-server accelerated alone on
# the interface (TPA_OWNER=self) against the same through tpad (TPA_OWNER=tpad: a memif link
# to the owner, which switches frames to and from the AF_XDP queues), with the kernel beside.
#   rps        redis-benchmark GET, 50 clients, -P 1, from the client namespace, alternating
#              rounds kernel / self / tpad; medians of requests/s, p50 and p99
#   callgrind  user-space instructions per GET (50 clients): the redis-server process (all
#              threads) in both variants, and tpad's own process in the tpad variant, counted
#              only while the GETs run (callgrind_control -i on/off)
# Prints a table and writes it to results/bench_tpad.txt (or --out FILE). Timings are noisy
# on a shared 2-core machine: compare the variants within one run.
#   bench_tpad.sh [--build DIR] [--prefix P] [--rounds N] [--requests N] [--phases rps,callgrind]
#                 [--out FILE]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${TPA_BUILD_DIR:-$SRC/build/release}
PREFIX=${TPA_TB_PREFIX:-bt}
ROUNDS=3 REQUESTS=100000 CG_REQUESTS=20000 PHASES=rps,callgrind
OUT=$SRC/results/bench_tpad.txt
die() { echo "bench_tpad: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--prefix) PREFIX=$2; shift 2 ;;
	--rounds) [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--rounds: a positive number"; ROUNDS=$2; shift 2 ;;
	--requests) [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--requests: a positive number"; REQUESTS=$2; shift 2 ;;
	--phases) PHASES=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, XDP)"
SHIM=$BUILD/shim/libtpa_shim.so TPAD=$BUILD/dpdk/tpad
[ -f "$SHIM" ] && [ -x "$TPAD" ] || die "build $BUILD first (shim and tpad)"
export TPA_TB_PREFIX=$PREFIX
# shellcheck source=tests/e2e/lib_cleanup.sh
source "$SRC/tests/e2e/lib_cleanup.sh"
WORK=$(tpa_mktemp tpa-bench-tpad)
cleanup() {
	set +e
	pkill -KILL -f "^$TPAD --iface $SRV_IF " 2>/dev/null
	pkill -KILL -f "valgrind.*$TPAD" 2>/dev/null
	tpa_stop_all
	tpa_testbed_down
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$SRC/scripts/testbed.sh" down >/dev/null 2>&1 || true
tpa_testbed_up
eval "$("$SRC/scripts/testbed.sh" env)"
SRV_NS=$TPA_TB_SRV_NS CLI_NS=$TPA_TB_CLI_NS SRV_IF=$TPA_TB_SRV_IF SRV_IP=$TPA_TB_SRV_IP
PORT=6379

# start_redis VARIANT [wrapper...]: redis-server in the server namespace; sets RPID.
start_redis() {
	local v=$1
	shift
	local env=(env)
	[ "$v" = kernel ] || env=(env LD_PRELOAD="$SHIM" TPA_IFACE="$SRV_IF" TPA_PORTS="$PORT"
		TPA_OWNER="$v" TPA_TPAD="${TPAD_WRAP:-$TPAD}" TPA_SPIN_US=0)
	tpa_bg ip netns exec "$SRV_NS" "${env[@]}" "$@" redis-server --port $PORT --save '' \
		--appendonly no --protected-mode no >"$WORK/redis-$v.log" 2>&1
	for _ in $(seq 300); do
		ip netns exec "$CLI_NS" redis-cli -h "$SRV_IP" -p $PORT ping 2>/dev/null | grep -q PONG && break
		sleep 0.1
	done
	RPID=$(ns_redis | sort -n | head -1 || true)
	[ -n "$RPID" ] || die "redis-server ($v) did not start: $(tail -3 "$WORK/redis-$v.log")"
}
# The redis-server of our server namespace only (others may run their own elsewhere).
ns_redis() {
	local p
	for p in $(ip netns pids "$SRV_NS" 2>/dev/null); do
		# (its cleanup watchdog, a fork of it, has the same command line: not that one)
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" != tpa-watchdog ] &&
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "redis-server" && echo "$p"
	done
	return 0
}
stop_redis() {
	local p
	for p in $(ns_redis); do kill -TERM "$p" 2>/dev/null || true; done
	for _ in $(seq 100); do [ -z "$(ns_redis)" ] && break; sleep 0.1; done
	for p in $(ns_redis); do kill -KILL "$p" 2>/dev/null || true; done
	sleep 0.5
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$OUT.tmp"
say() { echo "$*" | tee -a "$OUT.tmp"; }
say "# bench_tpad $(date -u +%FT%TZ), $(nproc) CPUs, testbed $SRV_IF ($(ip -n "$SRV_NS" -d link show "$SRV_IF" | grep -o 'numrxqueues [0-9]*'))"

phase_rps() {
	say "## rps: redis-benchmark GET -c 50 -P 1 -n $REQUESTS, $ROUNDS alternating rounds (medians)"
	local v r line
	for r in $(seq "$ROUNDS"); do
		for v in kernel self tpad; do
			start_redis "$v"
			line=$(ip netns exec "$CLI_NS" redis-benchmark -h "$SRV_IP" -p $PORT -c 50 -n "$REQUESTS" \
				-t get --csv 2>/dev/null | grep '^"GET"' || true)
			# "GET","rps","avg","min","p50","p95","p99","max"
			echo "$line" | tr -d '"' | awk -F, -v v="$v" '{ print v, $2, $5, $7 }' >>"$WORK/rps"
			stop_redis
			echo "  round $r $v: $line" >&2
		done
	done
	say "$(printf '%-8s %12s %10s %10s' variant req/s p50_ms p99_ms)"
	for v in kernel self tpad; do
		say "$(printf '%-8s %12s %10s %10s' "$v" \
			"$(awk -v v="$v" '$1 == v { print $2 }' "$WORK/rps" | median)" \
			"$(awk -v v="$v" '$1 == v { print $3 }' "$WORK/rps" | median)" \
			"$(awk -v v="$v" '$1 == v { print $4 }' "$WORK/rps" | median)")"
	done
}

# Instructions between two callgrind dumps of process $1, from its newest dump file.
cg_total() { # pid file-prefix
	local f
	f=$(ls -t "$2".* 2>/dev/null | head -1 || true)
	[ -n "$f" ] || { echo 0; return; }
	awk '/^summary:/ { s += $2 } /^totals:/ { t += $2 } END { print (t ? t : s) + 0 }' "$f"
}

phase_callgrind() {
	command -v valgrind >/dev/null || die "valgrind not installed (scripts/deps.sh)"
	say "## callgrind: user-space instructions per GET, -c 50 -P 1, $CG_REQUESTS requests"
	local v
	cat >"$WORK/tpad-cg" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --instr-atstart=no --dump-instr=no --callgrind-out-file=$WORK/cg-daemon.out.%p $TPAD "\$@"
WRAP
	chmod +x "$WORK/tpad-cg"
	# EAL cannot reserve hugepage address space under valgrind.
	export TPA_HUGEPAGES=no
	for v in self tpad; do
		pkill -KILL -f "$TPAD --iface $SRV_IF" 2>/dev/null || true
		TPAD_WRAP=$WORK/tpad-cg start_redis "$v" valgrind --tool=callgrind --instr-atstart=no \
			--dump-instr=no --callgrind-out-file="$WORK/cg-$v.out.%p"
		local tp=""
		[ "$v" = tpad ] && tp=$(pgrep -f "callgrind-out-file=$WORK/cg-daemon" | head -1 || true)
		callgrind_control -i on "$RPID" >/dev/null
		[ -n "$tp" ] && callgrind_control -i on "$tp" >/dev/null
		ip netns exec "$CLI_NS" redis-benchmark -h "$SRV_IP" -p $PORT -c 50 -n "$CG_REQUESTS" -t get -q \
			>/dev/null 2>&1
		callgrind_control -i off "$RPID" >/dev/null
		callgrind_control -d "$RPID" >/dev/null
		[ -n "$tp" ] && { callgrind_control -i off "$tp" >/dev/null; callgrind_control -d "$tp" >/dev/null; }
		sleep 1
		local ri ti=0
		ri=$(cg_total "$RPID" "$WORK/cg-$v.out")
		[ -n "$tp" ] && ti=$(cg_total "$tp" "$WORK/cg-daemon.out")
		stop_redis
		[ -n "$tp" ] && pkill -TERM -f "$TPAD --iface $SRV_IF" 2>/dev/null
		say "$(printf '%-8s redis-server %8d instr/GET   tpad %8d instr/GET   total %8d' "$v" \
			$((ri / CG_REQUESTS)) $((ti / CG_REQUESTS)) $(((ri + ti) / CG_REQUESTS)))"
	done
}

case ",$PHASES," in *,rps,*) phase_rps ;; esac
case ",$PHASES," in *,callgrind,*) phase_callgrind ;; esac
mkdir -p "$(dirname "$OUT")"
mv "$OUT.tmp" "$OUT"
echo "written: $OUT"
