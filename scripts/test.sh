#!/usr/bin/env bash
# The whole tpa test suite, from a fresh Debian 12 machine:
#   installs dependencies, checks formatting and shell scripts (scripts/lint.sh), builds
#   (Release with gcc, a clang build for warnings, and an ASan+UBSan build), then runs ctest:
#   every suite in the Release build; in the sanitizer build the unit + simulation suites,
#   then the conformance suite and e2e/test_shim_programs with the sanitizer build's
#   libtpa_shim.so preloaded into the programs; then a short libFuzzer run over the stack
#   (clang).
#   Last, it fails if the tests left anything behind (scripts/leftovers.sh: processes,
#   namespaces, XDP/tc programs, hugepages, files), compared with a snapshot taken before.
# A test that did not run is a failure as root or in CI (TPA_CI=1 or CI set): everything is
# installed there. Run by hand without root, the root tests cannot run: they are listed, and
# the command fails unless TPA_ALLOW_SKIPS=1.
# Options through the environment: TPA_BUILD_ROOT (default ./build), TPA_SKIP_DEPS=1,
# TPA_SKIP_CLANG=1, TPA_SKIP_ASAN=1, TPA_SKIP_FUZZ=1, CTEST_ARGS (extra ctest arguments).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ROOT=${TPA_BUILD_ROOT:-$SRC/build}
JOBS=$(nproc)
step() { printf '\n==== %s ====\n' "$*"; }

if [ "${TPA_SKIP_DEPS:-0}" != 1 ]; then
	step "dependencies"
	"$SRC/scripts/deps.sh"
fi

# Formatting and shell habits (scripts/lint.sh): cheap, so first; a finding fails the run at
# the end, after the tests have still run.
step "lint: clang-format, shellcheck"
LINT_STATUS=0
"$SRC/scripts/lint.sh" || LINT_STATUS=1

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

STRICT=0
if [ "$(id -u)" = 0 ] || [ "${TPA_CI:-0}" = 1 ] || { [ -n "${CI:-}" ] && [ "${CI:-}" != false ] && [ "${CI:-}" != 0 ]; }; then
	STRICT=1
fi
# Every process the tests start inherits this; scripts/leftovers.sh looks for it.
TPA_TEST_RUN=$$.$(date +%s)
export TPA_TEST_RUN
LEFTOVERS_SNAPSHOT=$(mktemp /tmp/tpa-test-before.XXXXXX)
trap 'rm -f "$LEFTOVERS_SNAPSHOT"' EXIT
"$SRC/scripts/leftovers.sh" snapshot "$LEFTOVERS_SNAPSHOT"

status=$LINT_STATUS
NOT_RUN=()
# run_ctest TITLE BUILD_DIR [ctest args...]: ctest in BUILD_DIR; the tests it did not run
# (skipped: exit 77, or not run at all) are added to NOT_RUN.
run_ctest() {
	local title=$1 dir=$2 log rc
	shift 2
	step "tests: $title"
	log=$(mktemp /tmp/tpa-ctest.XXXXXX)
	set +e
	# shellcheck disable=SC2086 # CTEST_ARGS is a list of arguments
	(cd "$dir" && ctest --output-on-failure "$@" ${CTEST_ARGS:-}) 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	while read -r t; do
		NOT_RUN+=("$title: $t")
	done < <(sed -nE 's/^\t *[0-9]+ - (.*) \((Skipped|Not Run|Disabled)\)$/\1 (\2)/p' "$log")
	rm -f "$log"
	return "$rc"
}

run_ctest "Release" "$BUILD_ROOT/release" || status=1

if [ "${TPA_SKIP_ASAN:-0}" != 1 ]; then
	TPA_SIM_QUICK=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		run_ctest "ASan+UBSan: unit and simulation suites" "$BUILD_ROOT/asan" -L 'unit|sim' || status=1
	# The shim preloaded into uninstrumented programs (its runtime first: run_case.sh and
	# lib_shim_programs.sh do that). A report makes the program fail with exit status 1
	# (conformance compares it with the kernel run; test_shim_programs collects the reports).
	ASAN_OPTIONS=detect_leaks=1 \
		run_ctest "ASan+UBSan: shim preloaded (conformance, e2e/test_shim_programs)" "$BUILD_ROOT/asan" \
		-R '^(conformance/.*|e2e/test_shim_programs)$' || status=1
fi

if [ "${TPA_SKIP_FUZZ:-0}" != 1 ]; then
	# libFuzzer over the stack (clang, ASan+UBSan): a short fixed run over the seed corpus in
	# CI; the long runs and their figures are in docs/benchmarks.md.
	step "build: fuzz target (clang, libFuzzer)"
	cmake -S "$SRC" -B "$BUILD_ROOT/fuzz" -DCMAKE_C_COMPILER=clang -DTPA_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD_ROOT/fuzz" -j"$JOBS" --target fuzz_stack >/dev/null
	run_ctest "fuzz (libFuzzer, 100k executions)" "$BUILD_ROOT/fuzz" -L fuzz || status=1
fi

step "left behind?"
"$SRC/scripts/leftovers.sh" check "$LEFTOVERS_SNAPSHOT" || status=1

if [ ${#NOT_RUN[@]} -gt 0 ]; then
	step "${#NOT_RUN[@]} TESTS DID NOT RUN"
	printf '  %s\n' "${NOT_RUN[@]}"
	if [ "$STRICT" = 1 ]; then
		echo "As root or in CI every test must run (scripts/deps.sh installs what they need): a test"
		echo "that did not run is a failure."
		status=1
	elif [ "${TPA_ALLOW_SKIPS:-0}" = 1 ]; then
		echo "Not root: TPA_ALLOW_SKIPS=1 accepts these. The suite is NOT complete."
	else
		echo "Not root: the suite is NOT complete. Run as root, or set TPA_ALLOW_SKIPS=1 to accept."
		status=1
	fi
fi

[ "$LINT_STATUS" = 0 ] || echo "lint failed: scripts/lint.sh names the files (see the lint step above)"
if [ "$status" = 0 ]; then
	step "all test runs passed"
else
	step "FAILURES (see above)"
fi
exit $status
