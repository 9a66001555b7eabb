#!/usr/bin/env bash
# What a test run left on the machine, compared with a snapshot taken before it.
#   leftovers.sh snapshot FILE   record the state before the run
#   leftovers.sh check FILE      after the run: print what is new and exit 1 if anything is
# Looked at: processes started since the snapshot that are ours (the programs the tests run,
# anything that maps libtpa_shim.so, tpa watchdogs, anything carrying this run's TPA_TEST_RUN
# marker in its environment), network namespaces, XDP programs and tpa tc filters, engine lock
# files in /run/tpa, the 2 MiB hugepage count, files under /dev/shm, /var/run/dpdk and
# /sys/fs/bpf and the tests' temporary directories.
# Another testbed that is up (namespaces <other prefix>-srv/-cli, TPA_TB_PREFIX differing from
# ours), its processes, programs and lock files are someone else's run and not counted.
# A watchdog or a program being stopped may need a moment: the check looks again for up to
# 10 s before it reports.
set -uo pipefail

P=${TPA_TB_PREFIX:-tpa}
HUGEPAGES_NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
# Programs the tests start. redis-server and nginx overwrite their environment with their
# process title, so the marker cannot be seen in them: their name is what tells.
OUR_PROGRAMS=' redis-server redis-cli redis-benchmark nginx socat curl tpa_example tpa-watchdog '

die() { echo "leftovers: $*" >&2; exit 2; }

# pid and start time (a pid alone may have been reused since the snapshot).
process_ids() {
	local d stat
	for d in /proc/[0-9]*; do
		stat=$(cat "$d/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		# Fields after the name: state is 3, ppid 4, ..., starttime 22.
		# shellcheck disable=SC2086 # split into fields on purpose
		set -- $stat
		echo "${d#/proc/}:${20}"
	done
}

namespaces() { ip netns list 2>/dev/null | awk '{print $1}'; }

# "<inode> <name>" of every named namespace.
declare -A NS_NAME
load_namespaces() {
	local n ino
	NS_NAME=()
	for n in $(namespaces); do
		ino=$(stat -L -c %i "/run/netns/$n" 2>/dev/null) && NS_NAME[$ino]=$n
	done
}

# True if namespace name $1 belongs to another testbed that is up.
others_ns() {
	local pre=${1%%-*}
	[ "$pre" != "$1" ] && [ "$pre" != "$P" ] || return 1
	[ -e "/run/netns/$pre-srv" ] || [ -e "/run/netns/$pre-cli" ]
}

# "<ns>/<interface> xdp" and "<ns>/<interface> tc" for every interface with a program of ours.
steering() {
	local ns ifs i
	for ns in / $(namespaces); do
		others_ns "$ns" && continue
		local ipc=(ip) tcc=(tc)
		[ "$ns" = / ] || { ipc=(ip -n "$ns"); tcc=(tc -n "$ns"); }
		"${ipc[@]}" -o link show 2>/dev/null | awk -v ns="$ns" '/prog\/xdp/ {
			sub(/@.*/, "", $2); sub(/:$/, "", $2); print ns "/" $2 " xdp" }'
		ifs=$("${ipc[@]}" -o link show 2>/dev/null | awk '{sub(/@.*/, "", $2); sub(/:$/, "", $2); print $2}')
		for i in $ifs; do
			"${tcc[@]}" filter show dev "$i" ingress 2>/dev/null | grep -q tpa_steer &&
				echo "$ns/$i tc"
		done
	done
}

files() {
	local f ino rest
	# A running program's inspection file (shim/publish.h) is held locked by its family: the
	# program is what counts (processes); one nobody holds was left by a killed program.
	find /dev/shm /sys/fs/bpf -mindepth 1 -maxdepth 2 2>/dev/null | while read -r f; do
		case $f in
		/dev/shm/tpa-*.stats) flock -n -x "$f" true 2>/dev/null || continue ;;
		# The trace a crashed program left for tpa trace (shim/publish.h): kept on purpose
		# (at most 8, a day), removed by tpa trace --clean.
		/dev/shm/tpa-*.dead) continue ;;
		esac
		echo "$f"
	done
	# EAL always makes its runtime directory (empty with --in-memory/--no-shconf) and never
	# removes it: only what is in it counts.
	find /var/run/dpdk -mindepth 1 ! -type d 2>/dev/null
	# Lock files are named after the namespace's inode (dpdk/iface_lock.c).
	for f in /run/tpa/*; do
		[ -e "$f" ] || continue
		ino=${f#/run/tpa/if-}
		ino=${ino%%-*}
		[ -n "${NS_NAME[$ino]:-}" ] && others_ns "${NS_NAME[$ino]}" && continue
		echo "$f"
	done
	compgen -G '/run/tpa-memif*'
	# The tests' directories are named /tmp/<what>.<testbed prefix>.XXXXXX (lib_cleanup.sh).
	for f in /tmp/tpa-e2e.* /tmp/shim-e2e.* /tmp/conf.*; do
		[ -e "$f" ] || continue
		rest=${f#/tmp/*.}
		[ "$rest" != "${rest#*.}" ] && [ "${rest%%.*}" != "$P" ] && continue
		echo "$f"
	done
	return 0
}

hugepages() { cat "$HUGEPAGES_NR" 2>/dev/null || echo none; }

snapshot() {
	load_namespaces
	{
		echo "# hugepages"
		hugepages
		echo "# processes"
		process_ids
		echo "# namespaces"
		namespaces
		echo "# steering"
		steering
		echo "# files"
		files
	} >"$1"
}

section() { awk -v s="# $2" '/^# / {on = ($0 == s); next} on' "$1"; }

ppid_of() { awk '{sub(/.*\) /, ""); print $2}' "/proc/$1/stat" 2>/dev/null; }

# The checker's own ancestors and descendants are not leftovers.
declare -A SELF
mark_self() {
	local p=$$
	while [ -n "$p" ] && [ "$p" != 0 ]; do
		SELF[$p]=1
		p=$(ppid_of "$p") || break
	done
}
is_own_descendant() {
	local p=$1
	for _ in $(seq 64); do
		[ "$p" = $$ ] && return 0
		p=$(ppid_of "$p") || return 1
		[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != 1 ] || return 1
	done
	return 1
}

# Why process $1 is ours, or nothing.
why_ours() {
	local pid=$1 comm env ino why=
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
	env=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ")
	# Another test run (its own marker) or another testbed's namespace: not ours.
	if [ -n "${TPA_TEST_RUN:-}" ] && grep -qxF "TPA_TEST_RUN=$TPA_TEST_RUN" <<<"$env"; then
		echo "started by this test run"
		return 0
	fi
	grep -q '^TPA_TEST_RUN=' <<<"$env" && return 0
	ino=$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)
	[ -n "$ino" ] && [ -n "${NS_NAME[$ino]:-}" ] && others_ns "${NS_NAME[$ino]}" && return 0
	case $OUR_PROGRAMS in *" $comm "*) why=$comm ;; esac
	case $comm in conf_*) why="conformance program" ;; esac
	grep -q 'libtpa_shim\.so' "/proc/$pid/maps" 2>/dev/null && why="maps libtpa_shim.so"
	echo "$why"
}

leaked_processes() {
	local before=$1 id pid why
	declare -A old
	while read -r id; do old[$id]=1; done < <(section "$before" processes)
	while read -r id; do
		[ -n "${old[$id]:-}" ] && continue
		pid=${id%%:*}
		[ -n "${SELF[$pid]:-}" ] && continue
		why=$(why_ours "$pid")
		[ -n "$why" ] || continue
		is_own_descendant "$pid" && continue
		echo "process $pid ($why): $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-160)"
	done < <(process_ids)
}

# Lines of $2 (after) that are not in $1 (before).
new_lines() { comm -13 <(sort -u <<<"$1") <(sort -u <<<"$2"); }

report() {
	local before=$1 l hp_before hp_now
	load_namespaces
	leaked_processes "$before"
	while read -r l; do
		[ -n "$l" ] && ! others_ns "$l" && echo "network namespace $l"
	done < <(new_lines "$(section "$before" namespaces)" "$(namespaces)")
	while read -r l; do [ -n "$l" ] && echo "steering program: $l"; done < <(new_lines "$(section "$before" steering)" "$(steering)")
	while read -r l; do [ -n "$l" ] && echo "file $l"; done < <(new_lines "$(section "$before" files)" "$(files)")
	hp_before=$(section "$before" hugepages)
	hp_now=$(hugepages)
	[ "$hp_before" = "$hp_now" ] || echo "hugepages (2 MiB): $hp_now, $hp_before before the run"
	return 0
}

check() {
	local before=$1 found
	[ -f "$before" ] || die "no snapshot $before"
	mark_self
	for _ in $(seq 20); do
		found=$(report "$before")
		[ -z "$found" ] && break
		sleep 0.5
	done
	if [ -n "$found" ]; then
		echo "LEFT BEHIND by the test run:"
		sed 's/^/  /' <<<"$found"
		return 1
	fi
	echo "nothing left behind (processes, namespaces, XDP/tc programs, lock files, hugepages, files)"
}

case "${1:-}" in
snapshot) [ $# = 2 ] || die "usage: $0 snapshot FILE"; snapshot "$2" ;;
check) [ $# = 2 ] || die "usage: $0 check FILE"; check "$2" ;;
*) die "usage: $0 snapshot|check FILE" ;;
esac
