#!/usr/bin/env bash
# The whole tpa test suite, from a fresh Debian 12 machine:
#   installs dependencies, builds (Release with gcc, a clang build for warnings, and an
#   ASan+UBSan build), then runs ctest: every suite in the Release build (the root/testbed
#   end-to-end tests too when run as root) and the unit + simulation suites in the sanitizer build.
# Options through the environment: TPA_BUILD_ROOT (default ./build), TPA_SKIP_DEPS=1,
# TPA_SKIP_CLANG=1, TPA_SKIP_ASAN=1, CTEST_ARGS (extra ctest arguments).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ROOT=${TPA_BUILD_ROOT:-$SRC/build}
JOBS=$(nproc)
step() { printf '\n==== %s ====\n' "$*"; }

if [ "${TPA_SKIP_DEPS:-0}" != 1 ]; then
	step "dependencies"
	"$SRC/scripts/deps.sh"
fi

configure_and_build() { # dir, extra cmake args...
	local dir=$1
	shift
	cmake -S "$SRC" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
	cmake --build "$dir" -j"$JOBS" -- --no-print-directory 2>&1 | grep -vE '^\[ *[0-9]+%\]|^Consolidate|^Scanning' || true
	# grep swallows cmake's status: check it by building again (a no-op when it succeeded).
	cmake --build "$dir" -j"$JOBS" >/dev/null
}

step "build: Release (gcc)"
configure_and_build "$BUILD_ROOT/release" -DCMAKE_C_COMPILER=gcc
if [ "${TPA_SKIP_CLANG:-0}" != 1 ]; then
	step "build: Release (clang, -Werror)"
	configure_and_build "$BUILD_ROOT/clang" -DCMAKE_C_COMPILER=clang
fi
if [ "${TPA_SKIP_ASAN:-0}" != 1 ]; then
	step "build: ASan+UBSan (gcc)"
	configure_and_build "$BUILD_ROOT/asan" -DCMAKE_C_COMPILER=gcc -DTPA_SANITIZE=ON
fi

status=0
step "tests: Release"
LABEL_ARGS=()
if [ "$(id -u)" != 0 ]; then
	echo "not root: skipping the testbed (root) tests"
	LABEL_ARGS=(-LE root)
fi
(cd "$BUILD_ROOT/release" && ctest --output-on-failure "${LABEL_ARGS[@]}" ${CTEST_ARGS:-}) ||
	status=1

if [ "${TPA_SKIP_ASAN:-0}" != 1 ]; then
	step "tests: ASan+UBSan (unit and simulation suites)"
	(cd "$BUILD_ROOT/asan" && TPA_SIM_QUICK=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		ctest --output-on-failure -L 'unit|sim' ${CTEST_ARGS:-}) || status=1
fi

if [ "$status" = 0 ]; then
	step "all test runs passed"
else
	step "FAILURES (see above)"
fi
exit $status
