# shellcheck shell=bash
# The e2e tests' one library: where things are, the testbed's names and addresses, and leaving
# nothing behind. lib_dpdk_common.sh, lib_redis.sh, lib_shim_programs.sh and lib_cleanup.sh
# source it first, so that every test agrees on these:
#   TPA_SOURCE_DIR   the checkout (ctest sets it; default: two levels above this file)
#   TPA_BUILD_DIR    the build under test (ctest sets it; default $TPA_SOURCE_DIR/build/release,
#                    the one CONTRIBUTING.md builds)
#   TPA_SHIM_LIB     the shim to preload (default $TPA_BUILD_DIR/shim/libtpa_shim.so; a
#                    sanitizer build's may be given)
#   TPA_TB_PREFIX    the testbed's prefix (default tpa): its namespaces, veths and temporary
#                    directories, so that several people's runs do not collide by name
#   TPA_TB_CLI_NS TPA_TB_SRV_NS TPA_TB_CLI_IF TPA_TB_SRV_IF TPA_TB_CLI_IP TPA_TB_SRV_IP
#   TPA_TB_PLEN      the testbed's names and addresses, as scripts/testbed.sh, where they are
#                    defined, prints them: a test never writes an address or a name itself
# The older names the libraries gave these (SRC, BUILD, SHIM, SRV_NS, CLI_NS, SRV_IF, CLI_IF,
# SRV_IP, CLI_IP) are set from them there and keep working.
#
# Leaving nothing behind (this part was lib_cleanup.sh, which now only sources this file):
#   tpa_bg CMD...      start CMD in the background in a session of its own (setsid) and set
#                      TPA_BG_PID (also the session id). Cleanup stops the whole session, so
#                      what CMD starts goes too: timeout's child, nginx's workers, the program a
#                      launcher execs. CMD must be an external command: setsid cannot run a
#                      shell function, which is the point (a function in the background is a
#                      subshell whose pid reaches nothing it starts).
#   tpa_stop_all       stop every session started by tpa_bg, then every process still below the
#                      script (e.g. started by a function run in the background): SIGTERM first
#                      (a program under the shim then exits cleanly: steering detached, lock
#                      file removed, counters printed), SIGKILL what is left after 5 s
#   tpa_publish_clean  remove the inspection files (/dev/shm/tpa-PID.stats) that no live
#                      program holds (left by SIGKILL; tpa_stop_all does it)
#   tpa_deadline       when run by ctest (TPA_TEST_TIMEOUT), stop the script with SIGTERM 30 s
#                      before ctest's timeout: ctest kills with SIGKILL, which no trap sees, so
#                      its cleanup would never run
#   tpa_testbed_up [OPTS]  scripts/testbed.sh up [OPTS], remembering the hugepage count first
#   tpa_testbed_down   scripts/testbed.sh down, then remove the lock files of the namespaces it
#                      deleted (left by engines killed with SIGKILL) and give back the
#                      hugepages the testbed reserved
#   tpa_ns_lock_files NS   the engine lock files (/run/tpa) of the interfaces of namespace NS
#   tpa_mktemp NAME    a temporary directory /tmp/NAME.<testbed prefix>.XXXXXX (the prefix
#                      tells scripts/leftovers.sh whose run left it)
# Callers trap EXIT to run tpa_stop_all and tpa_testbed_down, and INT/TERM to exit.

TPA_SOURCE_DIR=${TPA_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TPA_BUILD_DIR=${TPA_BUILD_DIR:-$TPA_SOURCE_DIR/build/release}
TPA_SHIM_LIB=${TPA_SHIM_LIB:-$TPA_BUILD_DIR/shim/libtpa_shim.so}
eval "$("$TPA_SOURCE_DIR/scripts/testbed.sh" env)"
TPA_HUGEPAGES_NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
TPA_BG_SIDS=()
TPA_DEADLINE_SID=

tpa_bg() {
	setsid "$@" &
	TPA_BG_PID=$!
	TPA_BG_SIDS+=("$TPA_BG_PID")
}

# Processes of session $1 that are not zombies (a dead child we have not reaped yet).
tpa_session_alive() { ps -s "$1" -o stat= 2>/dev/null | grep -qv '^Z'; }

# Process $1 exists and is not a zombie.
tpa_alive() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# Every process below this script, parents first.
tpa_descendants() {
	ps -eo pid=,ppid= | awk -v root="$$" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(kids[root], q, " ")
			for (i = 1; i <= n; i++) {
				print q[i]
				m = split(kids[q[i]], c, " ")
				for (j = 1; j <= m; j++) q[++n] = c[j]
			}
		}'
}

tpa_stop_descendants() {
	local pids p alive
	pids=$(tpa_descendants)
	[ -n "$pids" ] || return 0
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 50); do
		alive=
		for p in $pids; do tpa_alive "$p" && alive="$alive $p"; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	if [ -n "$alive" ]; then
		echo "cleanup: still running 5 s after SIGTERM, SIGKILL:$alive" >&2
		for p in $alive; do kill -KILL "$p" 2>/dev/null; done
	fi
	wait 2>/dev/null
	return 0
}

tpa_stop_sessions() {
	local sid alive
	[ $# -gt 0 ] || return 0
	for sid in "$@"; do pkill -TERM -s "$sid" 2>/dev/null; done
	for _ in $(seq 50); do
		alive=0
		for sid in "$@"; do tpa_session_alive "$sid" && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for sid in "$@"; do
		if tpa_session_alive "$sid"; then
			echo "cleanup: session $sid ($(ps -s "$sid" -o comm= | tr '\n' ' ')) ignored SIGTERM for 5 s: SIGKILL" >&2
			pkill -KILL -s "$sid" 2>/dev/null
		fi
	done
	for sid in "$@"; do wait "$sid" 2>/dev/null; done
	return 0
}

tpa_stop_all() {
	if [ -n "$TPA_DEADLINE_SID" ]; then
		pkill -KILL -s "$TPA_DEADLINE_SID" 2>/dev/null
		TPA_DEADLINE_SID=
	fi
	tpa_stop_sessions "${TPA_BG_SIDS[@]}"
	TPA_BG_SIDS=()
	tpa_stop_descendants
	tpa_publish_clean
	rm -rf /tmp/tpa-accel-watch.$$.* # lib_accel.sh's watcher, stopped with the descendants
}

# The inspection files (shim/publish.h) of programs killed with SIGKILL: their family's lock
# is free once none of its processes is left (a live program's is held: not touched).
tpa_publish_clean() {
	local f
	for f in "${TPA_PUBLISH_DIR:-/dev/shm}"/tpa-*.stats; do
		[ -e "$f" ] && flock -n -x "$f" rm -f "$f" 2>/dev/null
	done
	return 0
}

tpa_deadline() {
	[ -n "${TPA_TEST_TIMEOUT:-}" ] || return 0
	local secs=$((TPA_TEST_TIMEOUT > 60 ? TPA_TEST_TIMEOUT - 30 : TPA_TEST_TIMEOUT / 2))
	# bash runs a trap only once its foreground command returns: that command is stopped too
	# (pkill -P: the script's children, this timer included, which is done by then).
	setsid bash -c 'sleep "$1"
		echo "TIMEOUT: $2 still running after $1 s: stopping it so that its cleanup runs" >&2
		kill -TERM "$3"; sleep 1; pkill -TERM -P "$3"' tpa_deadline "$secs" "$(basename "$0")" "$$" &
	TPA_DEADLINE_SID=$!
	# Not a job of the script: no "Killed" notice when cleanup stops it.
	disown "$TPA_DEADLINE_SID"
}

tpa_testbed_up() {
	[ -n "${TPA_HUGEPAGES_BEFORE:-}" ] || TPA_HUGEPAGES_BEFORE=$(cat "$TPA_HUGEPAGES_NR" 2>/dev/null)
	"$TPA_SOURCE_DIR/scripts/testbed.sh" up "$@"
}

tpa_mktemp() { mktemp -d "/tmp/$1.${TPA_TB_PREFIX:-tpa}.XXXXXX"; }

tpa_ns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null; }

tpa_ns_lock_files() {
	local ino
	ino=$(tpa_ns_inode "$1") || return 0
	compgen -G "/run/tpa/if-$ino-*.lock" || true
}

tpa_testbed_down() {
	local p=${TPA_TB_PREFIX:-tpa} locks=() ns f
	for ns in "$p-srv" "$p-cli"; do
		while read -r f; do [ -n "$f" ] && locks+=("$f"); done < <(tpa_ns_lock_files "$ns")
	done
	"$TPA_SOURCE_DIR/scripts/testbed.sh" down >/dev/null 2>&1
	# The namespaces are gone, so are their interfaces: a lock still held belongs to a
	# process that outlived them, which the test run's final check reports; free ones are
	# removed under their lock (dpdk/iface_lock.c makes that safe).
	for f in "${locks[@]}"; do flock -n -x "$f" rm -f "$f" 2>/dev/null; done
	tpa_hugepages_restore
	return 0
}

tpa_hugepages_restore() {
	[ -n "${TPA_HUGEPAGES_BEFORE:-}" ] && [ -w "$TPA_HUGEPAGES_NR" ] || return 0
	[ "$(cat "$TPA_HUGEPAGES_NR")" = "$TPA_HUGEPAGES_BEFORE" ] ||
		echo "$TPA_HUGEPAGES_BEFORE" >"$TPA_HUGEPAGES_NR" 2>/dev/null
	return 0
}
