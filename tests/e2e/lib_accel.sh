# shellcheck shell=bash
# Proof of acceleration for the e2e tests (sourced): a program run under the shim with
# TPA_SHIM_STATS=1 says "tpa: port N accelerated on IF (pid P)" when a listener moves to the
# stack and, at a normal exit (SIGTERM, redis SHUTDOWN, nginx -s quit; SIGKILL prints
# nothing), every non-zero counter as "tpa: NAME VALUE". A test proves that the traffic it made
# went through tpa by comparing those counters with what it did: the connections its kernel
# clients opened (counted by the client namespace's own kernel), the bytes where it knows them.
#   accel_counter LOG NAME     the value the shim printed for counter NAME (0 if absent)
#   accel_opens NS             TCP connections opened so far from namespace NS (the kernel's
#                              Tcp ActiveOpens there): take it before and after the load
#   accel_wait_port LOG PORT   wait up to 30 s for "tpa: port PORT accelerated" in LOG (a
#                              client connecting before the listener is the stack's would be
#                              served by the kernel, correctly but not through tpa)
#   accel_no_fallback_lines LOG [ERE]   fail (status 1, the lines on stderr) on any line saying
#                              that something stays on or was accepted by the kernel, or could
#                              not be accelerated, unless it matches ERE (one expected by design)
#   accel_expect LOG conns=N [conns_min=N] [bytes_rx=N] [bytes_tx=N] [bytes_rx_min=N]
#                [bytes_tx_min=N] [kernel_ok=N] [xdp=0] [fallback=ERE]
#                              status 0 when the counters account for the traffic: exactly N
#                              connections established by the stack (or at least conns_min),
#                              the bytes given, exactly kernel_ok (default 0) connections
#                              accepted by the kernel socket of an accelerated listener (none
#                              early, none remote), packets redirected by the XDP program
#                              (xdp=0: a port without XDP, e.g. memif) and no unexpected
#                              fallback line; otherwise status 1 with what differs on stderr.
#                              On success it prints one summary line on stdout.
#   accel_watch_start NS PORT  sample, in the background every 0.1 s until accel_watch_stop,
#                              the kernel's established TCP connections on local port PORT in
#                              namespace NS (ss): an accelerated port has none while its load
#                              runs (the counters at exit prove the stack served; this proves
#                              the kernel served nothing meanwhile)
#   accel_watch_stop [MIN]     stop it; status 0 when no sample saw a kernel connection and at
#                              least MIN (default 1) samples were taken, else status 1 with
#                              what was seen on stderr; ACCEL_WATCH_SAMPLES = samples taken.
#                              Call it directly, not in $(...): it resets the watcher's state.
#                              tpa_stop_all (lib_cleanup.sh) removes a watcher left running.

accel_counter() {
	tr '\r' '\n' <"$1" | awk -v k="$2" '$1 == "tpa:" && $2 == k && NF == 3 && $3 ~ /^[0-9]+$/ { v = $3 }
		END { print v + 0 }'
}

accel_opens() {
	ip netns exec "$1" awk '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "ActiveOpens") c = i; n = 1 }
		else print $c }' /proc/net/snmp
}

accel_wait_port() {
	local log=$1 port=$2
	for _ in $(seq 300); do
		grep -q "^tpa: port $port accelerated" "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "accel: no \"tpa: port $port accelerated\" in $log after 30 s" >&2
	return 1
}

ACCEL_FALLBACK_ERE='^tpa: .*(stays on the kernel|accepted by the kernel|cannot accelerate)'

accel_no_fallback_lines() {
	local log=$1 ok=${2:-} bad
	bad=$(tr '\r' '\n' <"$log" | grep -E "$ACCEL_FALLBACK_ERE" | { if [ -n "$ok" ]; then grep -Ev -- "$ok"; else cat; fi; } || true)
	[ -z "$bad" ] && return 0
	echo "accel: unexpected fallback line(s) in $(basename "$log"):" >&2
	printf '  %s\n' "$bad" >&2
	return 1
}

accel_expect() {
	local log=$1
	shift
	local conns='' conns_min='' brx='' btx='' brx_min='' btx_min='' kernel_ok=0 xdp=1 fallback='' a
	for a in "$@"; do
		case $a in
		conns=*) conns=${a#*=} ;;
		conns_min=*) conns_min=${a#*=} ;;
		bytes_rx=*) brx=${a#*=} ;;
		bytes_tx=*) btx=${a#*=} ;;
		bytes_rx_min=*) brx_min=${a#*=} ;;
		bytes_tx_min=*) btx_min=${a#*=} ;;
		kernel_ok=*) kernel_ok=${a#*=} ;;
		xdp=*) xdp=${a#*=} ;;
		fallback=*) fallback=${a#*=} ;;
		*) echo "accel_expect: unknown argument $a" >&2; return 2 ;;
		esac
	done
	local est rx tx ka early remote redir bad=0
	est=$(accel_counter "$log" tcp_conn_established)
	rx=$(accel_counter "$log" tcp_bytes_rx)
	tx=$(accel_counter "$log" tcp_bytes_tx)
	ka=$(accel_counter "$log" shim_kernel_accepted)
	early=$(accel_counter "$log" shim_kernel_accepted_early)
	remote=$(accel_counter "$log" shim_kernel_accepted_remote)
	redir=$(accel_counter "$log" xdp_redirected)
	_accel_bad() { echo "accel: $(basename "$log"): $*" >&2; bad=1; }
	grep -q '^tpa: tcp_' "$log" || _accel_bad "no tpa counters printed (not accelerated, or not stopped so that it reports)"
	[ -z "$conns" ] || [ "$est" = "$conns" ] || _accel_bad "tcp_conn_established $est, the test made $conns connection(s)"
	[ -z "$conns_min" ] || [ "$est" -ge "$conns_min" ] || _accel_bad "tcp_conn_established $est, expected at least $conns_min"
	[ -z "$brx" ] || [ "$rx" = "$brx" ] || _accel_bad "tcp_bytes_rx $rx, expected $brx"
	[ -z "$btx" ] || [ "$tx" = "$btx" ] || _accel_bad "tcp_bytes_tx $tx, expected $btx"
	[ -z "$brx_min" ] || [ "$rx" -ge "$brx_min" ] || _accel_bad "tcp_bytes_rx $rx, expected at least $brx_min"
	[ -z "$btx_min" ] || [ "$tx" -ge "$btx_min" ] || _accel_bad "tcp_bytes_tx $tx, expected at least $btx_min"
	[ "$ka" = "$kernel_ok" ] || _accel_bad "shim_kernel_accepted $ka, expected $kernel_ok"
	[ "$early" = 0 ] || _accel_bad "shim_kernel_accepted_early $early"
	[ "$remote" = 0 ] || _accel_bad "shim_kernel_accepted_remote $remote (steering missed connections)"
	[ "$xdp" = 0 ] || [ "$redir" -gt 0 ] || _accel_bad "xdp_redirected $redir: the XDP program steered nothing to tpa"
	accel_no_fallback_lines "$log" "$fallback" || bad=1
	unset -f _accel_bad
	[ $bad = 0 ] || return 1
	echo "accelerated: $est connection(s), $rx bytes in, $tx bytes out, kernel accepted $ka, xdp_redirected $redir"
}

ACCEL_WATCH_DIR=''
accel_watch_start() {
	local ns=$1 port=$2 parent=$$
	[ -z "$ACCEL_WATCH_DIR" ] || accel_watch_stop >/dev/null 2>&1 || true # a program killed
	ACCEL_WATCH_DIR=$(mktemp -d "/tmp/tpa-accel-watch.$$.XXXXXX")
	: >"$ACCEL_WATCH_DIR/samples"
	# Ends by itself when the test's shell is gone (a failing test never stops it).
	(
		while [ ! -e "$ACCEL_WATCH_DIR/stop" ] && kill -0 "$parent" 2>/dev/null; do
			n=$(ip netns exec "$ns" ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l)
			echo "$n" >>"$ACCEL_WATCH_DIR/samples"
			[ "$n" = 0 ] || ip netns exec "$ns" ss -Htn state established "( sport = :$port )" \
				>>"$ACCEL_WATCH_DIR/seen" 2>/dev/null
			sleep 0.1
		done
		if [ -e "$ACCEL_WATCH_DIR/stop" ]; then : >"$ACCEL_WATCH_DIR/done"; else rm -rf "$ACCEL_WATCH_DIR"; fi
	) </dev/null >/dev/null 2>&1 &
}

# shellcheck disable=SC2120 # MIN is optional; callers in other files pass it
accel_watch_stop() {
	local min=${1:-1} dir=$ACCEL_WATCH_DIR samples bad
	# shellcheck disable=SC2034
	ACCEL_WATCH_SAMPLES=0
	[ -n "$dir" ] || { echo "accel_watch_stop: no accel_watch_start" >&2; return 2; }
	: >"$dir/stop"
	for _ in $(seq 50); do [ -e "$dir/done" ] && break; sleep 0.1; done
	samples=$(wc -l <"$dir/samples")
	# shellcheck disable=SC2034 # read by the tests that source this file
	ACCEL_WATCH_SAMPLES=$samples
	bad=$(awk '$1 != 0' "$dir/samples" | wc -l)
	ACCEL_WATCH_DIR=''
	if [ "$bad" != 0 ] || [ "$samples" -lt "$min" ]; then
		echo "accel: $bad of $samples sample(s) saw established kernel connections on the port (at least $min samples wanted)" >&2
		[ -f "$dir/seen" ] && head -n 5 "$dir/seen" | sed 's/^/  /' >&2
		rm -rf "$dir"
		return 1
	fi
	rm -rf "$dir"
}
