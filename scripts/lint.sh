#!/usr/bin/env bash
# The tree's formatting and shell habits, checked over every tracked file (scripts/test.sh runs
# this first; it takes about ten seconds):
#   - every *.c and *.h as clang-format 14 formats it with the repository's .clang-format;
#   - every shell script (*.sh, and files whose first line starts sh or bash) clean under
#     `shellcheck -x -S warning`;
#   - in stack/, shim/ and dpdk/ (CONTRIBUTING.md): no function body over 120 lines, no file
#     over 900 lines.
# Exit status 1 names what differs and how to fix it. Usage:
#   scripts/lint.sh          check
#   scripts/lint.sh --fix    reformat the C files in place (shellcheck findings are fixed by hand)
# TPA_CLANG_FORMAT picks the clang-format binary (default clang-format-14, else clang-format):
# other major versions format some constructs differently.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
FIX=0
case "${1:-}" in
--fix) FIX=1 ;;
"") ;;
*)
	echo "usage: $0 [--fix]" >&2
	exit 2
	;;
esac

CLANG_FORMAT=${TPA_CLANG_FORMAT:-}
if [ -z "$CLANG_FORMAT" ]; then
	CLANG_FORMAT=clang-format
	command -v clang-format-14 >/dev/null 2>&1 && CLANG_FORMAT=clang-format-14
fi
for tool in "$CLANG_FORMAT" shellcheck; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "lint: $tool is not installed (scripts/deps.sh installs it)" >&2
		exit 1
	fi
done

# The files: those git tracks, or everything outside build/ and results/ when this is not a
# git checkout (an unpacked archive).
list_files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z
	else
		find . -path ./build -prune -o -path ./results -prune -o -path ./.git -prune -o \
			-type f -printf '%P\0'
	fi
}

c_files=()
sh_files=()
while IFS= read -r -d '' f; do
	[ -f "$f" ] || continue # deleted in the work tree, not yet committed
	case "${f##*/}" in
	*.c | *.h) c_files+=("$f") ;;
	*.sh) sh_files+=("$f") ;;
	*.*) ;;
	*) head -n1 "$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba)?sh([[:space:]]|$)' && sh_files+=("$f") ;;
	esac
done < <(list_files)

status=0

if [ "$FIX" = 1 ]; then
	"$CLANG_FORMAT" -i "${c_files[@]}"
fi
# One clang-format run over every file; the files it names are those that differ.
mapfile -t bad_c < <("$CLANG_FORMAT" --dry-run "${c_files[@]}" 2>&1 |
	sed -nE 's/^(.*):[0-9]+:[0-9]+: warning: .*clang-format-violations.*/\1/p' | sort -u)
if [ ${#bad_c[@]} -gt 0 ]; then
	echo "lint: ${#bad_c[@]} of ${#c_files[@]} C files are not as $CLANG_FORMAT formats them:"
	for f in "${bad_c[@]}"; do
		echo "  $f"
		# The first few differences, as clang-format reports them.
		"$CLANG_FORMAT" --dry-run "$f" 2>&1 | grep -m3 'warning:' | sed 's/^/      /' || true
	done
	echo "  fix: scripts/lint.sh --fix   (or $CLANG_FORMAT -i FILE)"
	status=1
else
	echo "lint: ${#c_files[@]} C files clang-format clean"
fi

if shellcheck -x -S warning "${sh_files[@]}"; then
	echo "lint: ${#sh_files[@]} shell scripts shellcheck clean"
else
	echo "lint: shellcheck -x -S warning found the problems above"
	status=1
fi
# Sizes. Functions are found the way the tree is formatted: a body opens with a line that is
# exactly "{" and closes at the next line starting with "}"; the name comes from the last line
# at column 0 with a "(" above it.
MAX_FUNC_LINES=120
MAX_FILE_LINES=900
size_files=()
for f in "${c_files[@]}"; do
	case "$f" in
	stack/* | shim/* | dpdk/*) size_files+=("$f") ;;
	esac
done
sizes=$(
	awk -v maxf="$MAX_FUNC_LINES" '
	FNR == 1 { start = 0; sig = "" }
	/^[A-Za-z_].*\(/ && !start { sig = $0 }
	/^\{$/ { start = FNR; fname = sig; next }
	/^\}/ && start {
		n = FNR - start + 1
		if (n > maxf) {
			sub(/\(.*/, "", fname)
			sub(/.*[ *]/, "", fname)
			printf "  %s:%d: function %s: %d lines\n", FILENAME, start, fname, n
		}
		start = 0
	}' "${size_files[@]}"
	wc -l "${size_files[@]}" | awk -v maxl="$MAX_FILE_LINES" \
		'$2 != "total" && $1 > maxl { printf "  %s: %d lines\n", $2, $1 }'
)
if [ -n "$sizes" ]; then
	echo "lint: over $MAX_FUNC_LINES lines per function or $MAX_FILE_LINES per file (split them):"
	echo "$sizes"
	status=1
else
	echo "lint: ${#size_files[@]} files in stack/ shim/ dpdk/ within $MAX_FUNC_LINES lines per function, $MAX_FILE_LINES per file"
fi
exit $status
