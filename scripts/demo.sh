#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build, bring up the
# testbed, run redis-server under tpa and on the kernel, drive both with redis-benchmark from the
# other namespace, then the same with both programs under tpa over memif (no kernel on the data
# path) against the kernel's loopback, and print the two comparisons side by side (results in
# results/redis-veth.* and results/redis-memif-busy.*).
# Arguments are passed to both runs of scripts/bench_redis.sh (e.g. --rounds 5).
# TPA_BUILD_DIR: the build directory (default build/release).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${TPA_BUILD_DIR:-$SRC/build/release}
[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo scripts/demo.sh)" >&2; exit 2; }
echo "==== dependencies"
"$SRC/scripts/deps.sh"
echo "==== build (Release)"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTPA_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
LOG=$(mktemp -d /tmp/tpa-demo.XXXXXX)
trap 'rm -rf "$LOG"' EXIT
echo "==== benchmark: veth (redis-benchmark on the kernel, redis-server under tpa or the kernel)"
"$SRC/scripts/bench_redis.sh" --build "$BUILD" --mode veth "$@" | tee "$LOG/veth"
# memif busy-polls: without it a sleeping tpa process notices packets only through its progress
# thread (~1 ms), which then measures that wake-up rather than the stack.
echo "==== benchmark: memif (both programs under tpa, busy-polling) vs kernel loopback"
"$SRC/scripts/bench_redis.sh" --build "$BUILD" --mode memif --busy-poll "$@" | tee "$LOG/memif"
# The summary tables: from the "test -P |" header to the line before the blank one.
table() { sed -n '/^test /,/^$/p' "$1" | sed '/^$/d'; }
echo
echo "==== tpa vs the kernel (medians; ratio = tpa rps / kernel rps)"
printf '%-80s   %s\n' "veth: redis-server under tpa vs on the kernel" \
	"memif: both under tpa vs kernel loopback"
paste -d '\n' <(table "$LOG/veth") <(table "$LOG/memif") |
	awk 'NR % 2 { left = $0; next } { printf "%-80s   %s\n", left, $0 }'
