#!/usr/bin/env bash
# The tree's formatting and shell habits, checked over every tracked file (scripts/test.sh runs
# this first; it takes about ten seconds):
#   - every *.c and *.h as clang-format 14 formats it with the repository's .clang-format;
#   - every shell script (*.sh, and files whose first line starts sh or bash) clean under
#     `shellcheck -x -S warning`.
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
exit $status
