# shellcheck shell=bash
# Kept for the scripts that source it (conformance/run_case.sh, tests of their own): its
# cleanup helpers are in lib_e2e.sh, the e2e tests' one library, with the paths and the
# testbed's names and addresses.
# shellcheck source=tests/e2e/lib_e2e.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"
