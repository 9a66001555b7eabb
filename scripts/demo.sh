#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build, bring up the
# testbed, run redis-server under tpa and on the kernel, drive both with redis-benchmark from the
# other namespace, print the comparison (and save results/redis-veth.{json,png}).
# Arguments are passed to scripts/bench_redis.sh (e.g. --rounds 5).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo scripts/demo.sh)" >&2; exit 2; }
echo "==== dependencies"
"$SRC/scripts/deps.sh"
echo "==== build (Release)"
cmake -S "$SRC" -B "$SRC/build/release" -DCMAKE_BUILD_TYPE=Release -DTPA_BUILD_TESTS=OFF >/dev/null
cmake --build "$SRC/build/release" -j"$(nproc)" >/dev/null
echo "==== benchmark"
exec "$SRC/scripts/bench_redis.sh" --build "$SRC/build/release" "$@"
