#!/usr/bin/env bash
# tpa doctor — check an interface for tpa, read-only: nothing is attached, nothing is changed.
#
#   tpa doctor --iface IF [--ports LIST] [--config FILE] [--json]
#
#   -i, --iface IF      the interface to check (default: TPA_IFACE)
#   -p, --ports LIST    ports you will accelerate, e.g. 6379 or 80,8000-8010 (default: TPA_PORTS):
#                       says whether a kernel program already listens on them
#   -f, --config FILE   read TPA_* settings from this file first (default: TPA_CONFIG); the
#                       environment overrides it, as for tpa run
#       --json          one JSON object instead of the table
#   -h, --help
# Settings taken into account: TPA_PORT_TYPE, TPA_QUEUES/TPA_QUEUE, TPA_IP, TPA_MTU, TPA_MBUFS,
# TPA_HUGEPAGES, TPA_RX_CSUM_PARTIAL, TPA_XDP_STEER.
# One finding per line: OK, WARN (tpa works, with a cost or a caveat) or FAIL (tpa cannot
# accelerate as configured), each WARN and FAIL followed by its fix; then one summary line.
# Exit status: 0 without FAIL, 1 with one, 2 for a usage error. Run it in the network
# namespace, and as the user, that the accelerated program will have.
set -uo pipefail
export LC_ALL=C

usage() { sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; }
die() { echo "tpa doctor: $*" >&2; exit 2; }

# ---- what tpa builds in (dpdk/engine.c, dpdk/port.c, dpdk/iface.c) ----------------------
QUEUES_MAX=64          # TPA_ENGINE_QUEUES_MAX: the XDP socket map's queue index limit
MBUFS_PER_EXTRA_QUEUE=2048
MBUF_BYTES=2432        # RTE_MBUF_DEFAULT_BUF_SIZE (2176) + 256 of mbuf header and pool overhead
EAL_EXTRA_MB=192       # memory_mb(): room for the PMD's rings and EAL itself
# The largest frame an AF_XDP socket takes into tpa's buffers (2 KiB data room less the XDP
# headroom): measured on a veth in copy mode, MTU 1778 works, 1779 and up stalls.
XSK_FRAME_MAX=1792
LOCK_DIR=/run/tpa
HP_DIR=/sys/kernel/mm/hugepages/hugepages-2048kB
# Drivers that deliver locally generated frames (iface.c: partial checksums trusted).
LOCAL_DRIVERS=" veth tun netkit "
# Drivers with native (driver-mode) XDP; others get generic (skb) mode. Not exhaustive.
NATIVE_XDP=" veth virtio_net tun bonding i40e ice ixgbe ixgbevf igb igc idpf mlx4_en mlx5_core
 bnxt_en nfp qede ena sfc sfc_ef100 hv_netvsc vif gve dpaa2-eth fsl_dpaa_eth enetc fec
 st_gmac stmmac mvneta mvpp2 tsnep cpsw cpsw-switch am65-cpsw-nuss lan966x-switch rvu_nicpf
 rvu_nicvf mtk_soc_eth atlantic ionic octeon_ep "
# Drivers with AF_XDP zero-copy. Not exhaustive either.
ZEROCOPY=" i40e ice ixgbe igb igc idpf mlx5_core stmmac st_gmac gve tsnep dpaa2-eth enetc
 rvu_nicpf virtio_net "

iface=${TPA_IFACE:-}
ports=${TPA_PORTS:-}
config=${TPA_CONFIG:-}
json=0
while [ $# -gt 0 ]; do
	case "$1" in
	-i | --iface) [ $# -ge 2 ] || die "$1 needs an interface name"; iface=$2; shift 2 ;;
	-p | --ports) [ $# -ge 2 ] || die "$1 needs a port list (e.g. 6379 or 80,8000-8010)"; ports=$2; shift 2 ;;
	-f | --config) [ $# -ge 2 ] || die "$1 needs a file"; config=$2; shift 2 ;;
	--json) json=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument '$1' (usage: tpa doctor --iface IF [--ports LIST] [--config FILE] [--json])" ;;
	esac
done
[ -n "$iface" ] || die "which interface? (tpa doctor --iface IF, or set TPA_IFACE)"

# ---- settings: the config file, then the environment -----------------------------------
declare -A SET=()
if [ -n "$config" ]; then
	[ -r "$config" ] || die "config file '$config' is not readable"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#"${line%%[![:space:]]*}"}
		case $line in '' | '#'*) continue ;; esac
		[[ $line == *=* ]] || continue
		k=${line%%=*} v=${line#*=}
		k=${k%"${k##*[![:space:]]}"}
		v=${v#"${v%%[![:space:]]*}"}
		v=${v%"${v##*[![:space:]]}"}
		SET[$k]=$v
	done <"$config"
fi
for k in TPA_PORT_TYPE TPA_QUEUES TPA_QUEUE TPA_IP TPA_MTU TPA_MBUFS TPA_HUGEPAGES TPA_RX_CSUM_PARTIAL \
	TPA_XDP_STEER TPA_PORTS; do
	[ -n "${!k:-}" ] && SET[$k]=${!k}
done
setting() { if [ -n "${SET[$1]:-}" ]; then echo "${SET[$1]}"; else echo "$2"; fi; }
[ -n "$ports" ] || ports=$(setting TPA_PORTS "")

# ---- findings ---------------------------------------------------------------------------
R_ST=() R_TOPIC=() R_TEXT=() R_FIX=()
add() { R_ST+=("$1"); R_TOPIC+=("$2"); R_TEXT+=("$3"); R_FIX+=("${4:-}"); }
ok() { add OK "$@"; }
warn() { add WARN "$@"; }
bad() { add FAIL "$@"; }

json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/\\t}
	s=${s//$'\n'/\\n}
	printf '"%s"' "$s"
}

# Print everything and exit 0 (no FAIL) or 1.
report() {
	local summary=$1 i nfail=0
	for i in "${!R_ST[@]}"; do [ "${R_ST[$i]}" = FAIL ] && nfail=$((nfail + 1)); done
	if [ "$json" = 1 ]; then
		printf '{"iface":%s,"ok":%s,"findings":[' "$(json_str "$iface")" \
			"$([ $nfail = 0 ] && echo true || echo false)"
		for i in "${!R_ST[@]}"; do
			[ "$i" -gt 0 ] && printf ','
			printf '{"status":%s,"topic":%s,"finding":%s' "$(json_str "${R_ST[$i]}")" \
				"$(json_str "${R_TOPIC[$i]}")" "$(json_str "${R_TEXT[$i]}")"
			[ -n "${R_FIX[$i]}" ] && printf ',"fix":%s' "$(json_str "${R_FIX[$i]}")"
			printf '}'
		done
		printf '],"summary":%s}\n' "$(json_str "$summary")"
	else
		local w=0
		for i in "${!R_TOPIC[@]}"; do [ ${#R_TOPIC[$i]} -le $w ] || w=${#R_TOPIC[$i]}; done
		for i in "${!R_ST[@]}"; do
			printf '%-4s  %-*s  %s\n' "${R_ST[$i]}" "$w" "${R_TOPIC[$i]}" "${R_TEXT[$i]}"
			[ -n "${R_FIX[$i]}" ] && printf '%-4s  %-*s  fix: %s\n' "" "$w" "" "${R_FIX[$i]}"
		done
		[ -n "$summary" ] && echo "$summary"
	fi
	[ $nfail = 0 ]
	exit $?
}

# "queue 3" or "queues 2-5"
qrange() { if [ "$1" = "$2" ]; then echo "queue $1"; else echo "queues $1-$2"; fi; }
has_word() { [[ " $1 " == *" $2 "* ]]; }

# ---- the interface ----------------------------------------------------------------------
if [ ${#iface} -gt 15 ] || [[ $iface == */* ]] || ! link=$(ip -o link show dev "$iface" 2>/dev/null); then
	where=""
	if [ ${#iface} -le 15 ] && [ "$(id -u)" = 0 ]; then
		for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
			if ip -n "$ns" link show dev "$iface" >/dev/null 2>&1; then
				where="; it is in network namespace $ns: ip netns exec $ns tpa doctor --iface $iface"
				break
			fi
		done
	fi
	[ -n "$where" ] || where=" (ip -br link lists the ones here)"
	bad interface "$iface: no such interface in this network namespace$where"
	report ""
fi
ifindex=${link%%:*}
detail=$(ip -d link show dev "$iface" 2>/dev/null)
flags=$(sed -n '1s/.*<\([^>]*\)>.*/\1/p' <<<"$detail")
mtu=$(sed -n '1s/.* mtu \([0-9]*\).*/\1/p' <<<"$detail")
mac=$(sed -n 's/^ *link\/ether \([0-9a-f:]*\).*/\1/p' <<<"$detail")
kind=$(ip -j -d link show dev "$iface" 2>/dev/null |
	sed -n 's/.*"info_kind":"\([^"]*\)".*/\1/p')
netns_ino=$(stat -L -c %i /proc/self/ns/net 2>/dev/null || echo 0)

if has_word "${flags//,/ }" LOOPBACK; then
	bad interface "$iface is the loopback interface: no Ethernet, tpa cannot run on it (local clients reach an accelerated listener through loopback anyway)" \
		"tpa doctor --iface <the interface your clients come in on>"
	report ""
fi

port_type=$(setting TPA_PORT_TYPE af_xdp)
case $port_type in
af_xdp | af_packet) ;;
memif | pci) bad "port type" "TPA_PORT_TYPE=$port_type does not use a kernel interface: this check is for af_xdp (the default) and af_packet" \
	"unset TPA_PORT_TYPE to accelerate on $iface" ;;
*) bad "port type" "TPA_PORT_TYPE=$port_type is not a port type (accepted: af_xdp, af_packet, memif, pci)" \
	"TPA_PORT_TYPE=af_xdp (or unset it)" ;;
esac

# driver, bus
driver=$kind bus=""
have_ethtool=1
if command -v ethtool >/dev/null 2>&1 && drv=$(ethtool -i "$iface" 2>/dev/null); then
	driver=$(sed -n 's/^driver: //p' <<<"$drv")
	bus=$(sed -n 's/^bus-info: //p' <<<"$drv")
else
	command -v ethtool >/dev/null 2>&1 || have_ethtool=0
fi
virtual=1
case $bus in '' | N/A | tun | tap) ;; *) virtual=0 ;; esac
local_csum=0
has_word "$LOCAL_DRIVERS" "$driver" && local_csum=1
if [ "$have_ethtool" = 0 ]; then
	warn driver "${driver:-unknown} (ethtool is not installed: queues and offloads unknown)" \
		"apt-get install ethtool"
elif [ -z "$driver" ]; then
	warn driver "unknown (ethtool -i $iface answered nothing)" "check the interface with ethtool -i $iface"
elif [ "$virtual" = 1 ]; then
	ok driver "$driver, virtual interface (no bus device)"
else
	ok driver "$driver, NIC at $bus"
fi

# link, MTU, MAC
peer=""
if [[ $link =~ ^[0-9]+:\ [^@:]+@if([0-9]+) ]]; then
	peer="peer ifindex ${BASH_REMATCH[1]}"
	pns=$(sed -n '2s/.* link-netns \([^ ]*\).*/\1/p' <<<"$detail")
	[ -n "$pns" ] && peer="$peer in namespace $pns"
fi
if ! has_word "${flags//,/ }" UP; then
	warn link "administratively down (MTU $mtu, MAC $mac)" "ip link set dev $iface up"
elif has_word "${flags//,/ }" NO-CARRIER || ! has_word "${flags//,/ }" LOWER_UP; then
	warn link "up but no carrier: nothing arrives (MTU $mtu, MAC $mac)" \
		"connect the cable or bring the peer up${peer:+ ($peer)}"
else
	ok link "up, carrier, ifindex $ifindex${peer:+, $peer}"
fi
tpa_mtu=$(setting TPA_MTU "")
eff_mtu=${tpa_mtu:-${mtu:-1500}}
[ "$eff_mtu" -le 9000 ] 2>/dev/null || eff_mtu=9000 # the engine's cap
mtu_fit=$((XSK_FRAME_MAX - 14))
if [ "$port_type" != memif ] && [ "$port_type" != pci ] && [ "$eff_mtu" -gt "$mtu_fit" ]; then
	warn mtu "${tpa_mtu:+TPA_MTU=}$eff_mtu: larger than tpa's packet buffers take ($XSK_FRAME_MAX-byte frames): tpa uses MTU $mtu_fit on this interface and announces MSS $((mtu_fit - 40)), so peers send frames that fit; traffic of tpa's connections uses smaller segments than the kernel's" \
		"none needed; set TPA_MTU=$mtu_fit (or lower) to silence this"
else
	ok mtu "${mtu:-?}${tpa_mtu:+ (TPA_MTU=$tpa_mtu)}, MAC ${mac:-none}"
fi

# IPv4
mapfile -t addrs < <(ip -4 -o addr show dev "$iface" 2>/dev/null | awk '{print $4}')
gw=$(ip -4 route show default dev "$iface" 2>/dev/null | awk '/^default via/ {print $3; exit}')
tpa_ip=$(setting TPA_IP "")

if [ -n "$tpa_ip" ]; then
	found=0
	for a in "${addrs[@]}"; do [ "${a%/*}" = "${tpa_ip%/*}" ] && found=1; done
	if [ "$found" = 1 ]; then
		ok ipv4 "TPA_IP=$tpa_ip (also on $iface)${gw:+, gateway $gw}"
	else
		warn ipv4 "TPA_IP=$tpa_ip is not an address of $iface (${addrs[*]:-none}): the kernel answers ARP only for its own addresses" \
			"ip addr add ${tpa_ip%/*}/${tpa_ip#*/} dev $iface (or give TPA_IP an address of $iface)"
		[[ $tpa_ip == */* ]] || R_FIX[-1]="ip addr add $tpa_ip/24 dev $iface (or give TPA_IP an address of $iface)"
	fi
elif [ ${#addrs[@]} = 0 ]; then

	bad ipv4 "$iface has no IPv4 address: tpa needs one" "ip addr add A.B.C.D/LEN dev $iface, or set TPA_IP"
elif [ ${#addrs[@]} = 1 ]; then
	ok ipv4 "${addrs[0]}${gw:+, gateway $gw}"
else
	ok ipv4 "${addrs[*]}: tpa serves ${addrs[0]} (the first; TPA_IP chooses another)${gw:+, gateway $gw}"
fi

# ---- queues -----------------------------------------------------------------------------
rxq=0 maxq=0 combined=0
if [ "$have_ethtool" = 1 ] && ch=$(ethtool -l "$iface" 2>/dev/null); then
	# "Pre-set maximums:" then "Current hardware settings:", each with RX and Combined.
	read -r mrx mcomb crx ccomb < <(awk '
		/^Pre-set/ {s = "m"} /^Current/ {s = "c"}
		/^RX:/ {v[s "rx"] = $2 + 0} /^Combined:/ {v[s "comb"] = $2 + 0}
		END {printf "%d %d %d %d\n", v["mrx"], v["mcomb"], v["crx"], v["ccomb"]}' <<<"$ch")
	rxq=$((crx + ccomb))
	maxq=$((mrx + mcomb))
	combined=$ccomb
fi
if [ "$rxq" = 0 ] && [ "$(cat "/sys/class/net/$iface/ifindex" 2>/dev/null)" = "$ifindex" ]; then
	rxq=$(find "/sys/class/net/$iface/queues" -maxdepth 1 -name 'rx-*' 2>/dev/null | wc -l)
fi
[ "$rxq" -gt 0 ] || rxq=1
[ "$maxq" -ge "$rxq" ] || maxq=$rxq
if [ "$combined" -gt 0 ]; then qword="combined channels"; else qword="receive queues"; fi
lower_fix="ethtool -L $iface combined $QUEUES_MAX"
[ "$combined" -gt 0 ] || lower_fix="ethtool -L $iface rx $QUEUES_MAX"

qsetting=$(setting TPA_QUEUES "")
[ -n "$qsetting" ] || { [ -n "${SET[TPA_QUEUE]:-}" ] && qsetting=${SET[TPA_QUEUE]}; }
qfirst=0 qcount=0 qbad=""
case ${qsetting:-all} in
all | ALL | All) ;;
*)
	if [[ $qsetting =~ ^([0-9]+)(-([0-9]+))?$ ]]; then
		qfirst=$((10#${BASH_REMATCH[1]}))
		qlast=$((10#${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}))
		if [ "$qfirst" -gt "$qlast" ] || [ "$qlast" -gt $((QUEUES_MAX - 1)) ]; then
			qbad="TPA_QUEUES=$qsetting: bad value (accepted: all, N or A-B, queues 0 to $((QUEUES_MAX - 1)))"
		else
			qcount=$((qlast - qfirst + 1))
		fi
	else
		qbad="TPA_QUEUES=$qsetting: bad value (accepted: all, N or A-B, queues 0 to $((QUEUES_MAX - 1)))"
	fi
	;;
esac
nq=1
what="$rxq $qword in use (max $maxq)"
if [ "$port_type" = af_packet ]; then
	ok queues "$what: TPA_PORT_TYPE=af_packet: one packet socket sees every queue"
elif [ -n "$qbad" ]; then
	bad queues "$what; $qbad" "TPA_QUEUES=all (the default)"
elif [ "$qfirst" -ge "$rxq" ]; then
	bad queues "$what; TPA_QUEUES=$qsetting: queue $qfirst does not exist (queues 0-$((rxq - 1)))" \
		"TPA_QUEUES=all, or a range within 0-$((rxq - 1))"
else
	[ "$qcount" -gt 0 ] || qcount=$((rxq - qfirst))
	qlast=$((qfirst + qcount - 1))
	if [ "$qlast" -ge "$rxq" ]; then
		bad queues "$what; TPA_QUEUES=$qsetting asks for $(qrange "$qfirst" "$qlast")" \
			"TPA_QUEUES=all, or a range within 0-$((rxq - 1))"
	elif [ "$qlast" -ge "$QUEUES_MAX" ]; then
		bad queues "$what: tpa serves at most queues 0-$((QUEUES_MAX - 1)) (its XDP socket map's limit)" \
			"$lower_fix, or TPA_QUEUES=A-B with flow steering (ethtool -N $iface ...) feeding those queues"
	elif [ "$qcount" -lt "$rxq" ]; then
		nq=$qcount
		warn queues "$what; TPA_QUEUES=$qsetting: tpa serves $(qrange "$qfirst" "$qlast") only: flows the interface hashes to other queues go to the kernel (counter xdp_no_socket)" \
			"unset TPA_QUEUES (default all), unless flow steering (ethtool -N $iface ...) feeds $(qrange "$qfirst" "$qlast")"
	else
		nq=$qcount
		ok queues "$what: tpa serves all $nq, one AF_XDP socket each (ports net_af_xdp0..$((nq - 1)))"
	fi
fi

# Native XDP (driver mode) or generic (skb) mode: the kernel picks native where the driver has it.
steer=$(setting TPA_XDP_STEER 1)
case ${steer,,} in 0 | no | off | false) steer=0 ;; *) steer=1 ;; esac
native=0
if has_word "$NATIVE_XDP" "$driver"; then
	native=1
elif [ "$virtual" = 0 ]; then
	native=2
fi
# ---- offloads and checksums ---------------------------------------------------------------
declare -A OFF=()
if [ "$have_ethtool" = 1 ] && offk=$(ethtool -k "$iface" 2>/dev/null); then
	while IFS=': ' read -r k v rest; do
		OFF[$k]="$v${rest:+ $rest}"
	done <<<"$offk"
fi
offw() { local v=${OFF[$1]:-?}; echo "${v%% *}"; }
fixed() { [[ ${OFF[$1]:-} == *fixed* ]]; }
if [ ${#OFF[@]} -gt 0 ]; then
	ok offloads "tx-checksumming $(offw tx-checksumming), TSO $(offw tcp-segmentation-offload), GSO $(offw generic-segmentation-offload), GRO $(offw generic-receive-offload), LRO $(offw large-receive-offload), rx-gro-hw $(offw rx-gro-hw)"
fi

csum=$(setting TPA_RX_CSUM_PARTIAL auto)
case ${csum,,} in
auto)
	if [ "$local_csum" = 1 ]; then
		csum_word="partial checksums trusted"
		ok checksums "trusted: virtual interface ($driver: the kernel peer's segments carry partial checksums while its tx-checksumming is on; TPA_RX_CSUM_PARTIAL=auto)"
	else
		csum_word="checksums verified"
		ok checksums "verified: faces a wire (every received segment's checksum is checked; TPA_RX_CSUM_PARTIAL=auto)"
	fi
	;;
1 | yes | on | true)
	csum_word="partial checksums trusted"
	if [ "$local_csum" = 1 ]; then
		ok checksums "trusted: TPA_RX_CSUM_PARTIAL=$csum on a virtual interface"
	else
		warn checksums "trusted: TPA_RX_CSUM_PARTIAL=$csum on an interface that faces a wire: a segment whose checksum field happens to hold the pseudo-header sum is accepted unverified" \
			"TPA_RX_CSUM_PARTIAL=auto (verify on a wire)"
	fi
	;;
0 | no | off | false)
	csum_word="checksums verified"
	if [ "$local_csum" = 1 ]; then
		warn checksums "verified: TPA_RX_CSUM_PARTIAL=$csum on $driver: the kernel peer's segments carry partial checksums while its tx-checksumming is on, and tpa drops them (connections hang)" \
			"TPA_RX_CSUM_PARTIAL=auto, or ethtool -K <peer> tx off on the peer${peer:+ ($peer)}"
	else
		ok checksums "verified: TPA_RX_CSUM_PARTIAL=$csum"
	fi
	;;
*)
	csum_word="checksums ?"
	bad checksums "TPA_RX_CSUM_PARTIAL=$csum: bad value (accepted: auto, yes, no)" "TPA_RX_CSUM_PARTIAL=auto"
	;;
esac

# Offload consequences for XDP frames.
if [ "$port_type" = af_xdp ]; then
	if [ "$driver" = veth ] && [ "$native" = 1 ]; then
		ok segments "while tpa's program is attached natively the kernel turns TSO off on the veth peer: no frame exceeds the MTU"
	fi
	big=()
	[ "$(offw large-receive-offload)" = on ] && big+=("LRO")
	[ "$(offw rx-gro-hw)" = on ] && big+=("hardware GRO")
	[ "$native" != 1 ] && [ "$(offw generic-receive-offload)" = on ] && big+=("GRO with generic XDP")
	if [ ${#big[@]} -gt 0 ]; then
		kfix="ethtool -K $iface"
		[ "$(offw large-receive-offload)" = on ] && ! fixed large-receive-offload && kfix+=" lro off"
		[ "$(offw rx-gro-hw)" = on ] && ! fixed rx-gro-hw && kfix+=" rx-gro-hw off"
		[ "$(offw generic-receive-offload)" = on ] && kfix+=" gro off"
		warn segments "$(IFS=,; echo "${big[*]}" | sed 's/,/, /g') on: XDP may see frames larger than the MTU, which AF_XDP copy mode drops" "$kfix"
	fi
fi

# ---- XDP ----------------------------------------------------------------------------------
# Programs attached now.
mapfile -t progs < <(sed -n 's/^ *prog\/\(xdp[a-z]*\) id \([0-9]*\)\( name \([^ ]*\)\)\{0,1\}.*/\1 \2 \4/p' <<<"$detail")
xmode=$(sed -n '1s/.* \(xdp[a-z]*\) .*/\1/p' <<<"$detail")
lock_holder="" lock_file="$LOCK_DIR/if-$netns_ino-$ifindex.lock"
if [ -e "$lock_file" ]; then
	ino=$(stat -c %i "$lock_file" 2>/dev/null)
	lock_holder=$(awk -v ino="$ino" '$2 == "FLOCK" && $6 ~ (":" ino "$") {print $5; exit}' /proc/locks 2>/dev/null)
	if [ -n "$lock_holder" ]; then
		fpid=$(head -c 32 "$lock_file" 2>/dev/null | tr -dc 0-9)
		[ -n "$fpid" ] && [ -d "/proc/$fpid" ] && lock_holder=$fpid
	fi
fi
comm_of() { cat "/proc/$1/comm" 2>/dev/null || echo "?"; }
serving=""
if [ -n "$lock_holder" ]; then
	serving=$lock_holder
	warn "tpa process" "pid $lock_holder ($(comm_of "$lock_holder")) accelerates on $iface now (it holds $lock_file): a second tpa process on $iface is refused until it exits" \
		"none if that is your program; otherwise stop pid $lock_holder first (one accelerated process per interface)"
fi
if [ ${#progs[@]} = 0 ]; then
	[ "$port_type" = af_xdp ] && ok xdp "no program attached: tpa attaches tpa_steer at start and removes it at exit"
	[ "$port_type" = af_packet ] && ok xdp "no program attached"
fi
for p in "${progs[@]}"; do
	read -r pmode pid_ pname <<<"$p"
	case $pmode in
	xdp) pmode=${xmode:-xdp} ;;
	xdpdrv) pmode=xdp ;;
	esac
	desc="id $pid_, mode $pmode"
	if [ "$pname" = tpa_steer ]; then
		if [ -n "$lock_holder" ]; then
			ok xdp "tpa_steer ($desc), attached by tpa pid $lock_holder ($(comm_of "$lock_holder"))"
		else
			warn xdp "tpa_steer ($desc) is stale: no tpa process holds $iface; the next tpa start removes it" \
				"none needed, or ip link set dev $iface ${pmode/xdpdrv/xdp} off"
		fi
	elif [ -z "$pname" ]; then
		warn xdp "a program is attached ($desc; reading its name needs root): tpa refuses to start unless it is its own tpa_steer" \
			"run tpa doctor as root to name it"
	elif [ "$port_type" = af_packet ]; then
		warn xdp "foreign program '$pname' ($desc): it runs before tpa's packet socket; what it drops or redirects tpa never sees" \
			"ip link set dev $iface $pmode off, if it is not needed"
	elif [ "$steer" = 0 ]; then
		warn xdp "foreign program '$pname' ($desc) with TPA_XDP_STEER=0: the af_xdp PMD attaches its own program and fails on an interface that has one" \
			"ip link set dev $iface $pmode off, or TPA_PORT_TYPE=af_packet"
		R_ST[-1]=FAIL
	else
		bad xdp "foreign program '$pname' ($desc): tpa refuses to start (it never replaces a program it did not attach)" \
			"ip link set dev $iface $pmode off (if it is not needed), or TPA_PORT_TYPE=af_packet"
	fi
done

if [ "$port_type" = af_xdp ]; then
	if [ "$native" = 1 ]; then
		xdp_mode_word="native XDP"
		ok "xdp mode" "native (driver mode): $driver supports it; tpa's program runs in the driver"
	elif [ "$native" = 2 ]; then
		xdp_mode_word="generic XDP probably"
		warn "xdp mode" "$driver is not among the drivers known to have native XDP: probably generic (skb) mode, which works but copies every frame" \
			"none needed; a driver with native XDP (or a newer kernel) is faster"
	else
		xdp_mode_word="generic XDP"
		warn "xdp mode" "generic (skb) mode: ${driver:-this interface} has no native XDP; works, but every frame is copied" \
			"none needed; a veth or a NIC driver with native XDP is faster"
	fi
fi

# AF_XDP copy or zero-copy
afxdp_word=""
if [ "$port_type" = af_xdp ]; then
	if [ "$virtual" = 1 ]; then
		afxdp_word="af_xdp copy mode"
		ok af_xdp "copy mode: ${driver:-a virtual interface} has no zero-copy (frames are copied into tpa's buffers)"
	elif has_word "$ZEROCOPY" "$driver"; then
		afxdp_word="af_xdp zero-copy probably"
		ok af_xdp "zero-copy probably: $driver supports it in recent kernels (DPDK asks for it and falls back to copy mode)"
	else
		afxdp_word="af_xdp copy mode probably"
		ok af_xdp "copy mode probably: $driver is not among the drivers known to have AF_XDP zero-copy"
	fi
fi

# ---- memory -------------------------------------------------------------------------------
mbufs=$(setting TPA_MBUFS 16384)
[[ $mbufs =~ ^[0-9]+$ ]] || mbufs=16384
pool=$((mbufs + (nq - 1) * MBUFS_PER_EXTRA_QUEUE))
need_mb=$(((pool * MBUF_BYTES >> 20) + EAL_EXTRA_MB))
need_pages=$(((need_mb + 1) / 2))
huge=$(setting TPA_HUGEPAGES auto)
if [ ! -d "$HP_DIR" ]; then
	ok hugepages "no 2 MiB hugepages on this kernel: plain memory (${need_mb} MiB)"
else
	hp_nr=$(cat "$HP_DIR/nr_hugepages" 2>/dev/null || echo 0)
	hp_free=$(cat "$HP_DIR/free_hugepages" 2>/dev/null || echo 0)
	have="$hp_free free of $hp_nr (2 MiB); tpa needs about $need_mb MiB ($need_pages pages: $pool buffers for $nq queue$([ "$nq" = 1 ] || echo s) + $EAL_EXTRA_MB MiB)"
	hp_fix="echo $((hp_nr + need_pages - hp_free)) > $HP_DIR/nr_hugepages"
	case ${huge,,} in
	no | 0 | off | false) ok hugepages "not used (TPA_HUGEPAGES=$huge): plain memory, $need_mb MiB" ;;
	yes | 1 | on | true)
		if [ "$hp_free" -ge "$need_pages" ]; then ok hugepages "$have"
		else bad hugepages "$have; TPA_HUGEPAGES=$huge requires them" "$hp_fix"; fi ;;
	*)
		if [ "$hp_free" -ge "$need_pages" ]; then ok hugepages "$have"
		else warn hugepages "$have: too few, tpa falls back to plain memory (TPA_HUGEPAGES=auto)" "$hp_fix"; fi ;;
	esac
fi

# ---- privileges ---------------------------------------------------------------------------
capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status 2>/dev/null)
capeff=$((16#${capeff:-0}))
cap() { (((capeff >> $1) & 1)); }
have=() miss=()
for c in NET_ADMIN:12 NET_RAW:13 IPC_LOCK:14 SYS_ADMIN:21 BPF:39; do
	if cap "${c#*:}"; then have+=("CAP_${c%:*}"); else miss+=("CAP_${c%:*}"); fi
done
who="uid $(id -u)"
[ "$(id -u)" = 0 ] && who=root

if ! cap 12 || ! cap 13 || { ! cap 39 && ! cap 21; }; then

	bad privileges "$who without ${miss[*]}: tpa cannot open AF_XDP sockets or attach its program" \
		"run the program as root (sudo tpa run ...), or give it CAP_NET_ADMIN CAP_NET_RAW CAP_BPF CAP_SYS_ADMIN CAP_IPC_LOCK (systemd: AmbientCapabilities=)"
elif [ ${#miss[@]} -gt 0 ] && cap 21 && cap 39; then
	ok privileges "$who: ${have[*]} (missing ${miss[*]})"
elif [ ${#miss[@]} -gt 0 ]; then
	ok privileges "$who: ${have[*]} (missing ${miss[*]}, not needed)"
else
	ok privileges "$who: ${have[*]}"
fi
memlock=$(ulimit -l)
umem_mb=$(((pool * MBUF_BYTES >> 20) * nq))
if cap 14; then
	ok memlock "RLIMIT_MEMLOCK ${memlock}$([ "$memlock" = unlimited ] || echo " KiB"), no matter: with CAP_IPC_LOCK the AF_XDP buffers are pinned without limit"
elif [ "$memlock" = unlimited ] || [ "$memlock" -ge $((umem_mb * 1024)) ]; then
	ok memlock "RLIMIT_MEMLOCK $memlock: enough for the AF_XDP buffers (about $umem_mb MiB)"
else
	bad memlock "RLIMIT_MEMLOCK $memlock KiB without CAP_IPC_LOCK: the AF_XDP buffers pin about $umem_mb MiB, more than that: their registration fails" \
		"ulimit -l unlimited (systemd: LimitMEMLOCK=infinity), or grant CAP_IPC_LOCK"
fi
if mountpoint -q /sys/fs/bpf 2>/dev/null; then
	ok bpffs "mounted on /sys/fs/bpf (tpa pins nothing there)"
else
	ok bpffs "not mounted here: not needed, tpa pins nothing (it finds its maps through the attached program)"
fi

# ---- ports --------------------------------------------------------------------------------
if [ -n "$ports" ]; then
	listeners=$(ss -Hltnp 2>/dev/null || ss -Hltn 2>/dev/null)
	IFS=, read -ra plist <<<"$ports"
	for spec in "${plist[@]}"; do
		spec=${spec//[[:space:]]/}
		if ! [[ $spec =~ ^([0-9]+)(-([0-9]+))?$ ]] || [ "${BASH_REMATCH[1]}" -lt 1 ] ||
			[ "${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}" -gt 65535 ] ||
			[ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}" ]; then
			bad "port $spec" "not a port or range (accepted: P or P-Q, 1 to 65535)" "--ports 6379 or --ports 80,8000-8010"
			continue
		fi
		lo=$((10#${BASH_REMATCH[1]})) hi=$((10#${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}))
		found=0
		while read -r _ _ _ laddr _ procs; do
			[ -n "${laddr:-}" ] || continue
			lp=${laddr##*:}
			[[ $lp =~ ^[0-9]+$ ]] && [ "$lp" -ge "$lo" ] && [ "$lp" -le "$hi" ] || continue
			found=1
			pid=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$procs")
			pname=$(sed -n 's/.*(("\([^"]*\)".*/\1/p' <<<"$procs")
			if [ -n "$pid" ] && { [ "$pid" = "$serving" ] || grep -q libtpa_shim "/proc/$pid/maps" 2>/dev/null; }; then
				ok "port $lp" "$laddr: $pname (pid $pid) runs under tpa: the listener it accelerates"
			elif [ -n "$pid" ]; then
				warn "port $lp" "$pname (pid $pid) listens on the kernel ($laddr): fine if it is the program you will run under tpa (tpa takes its listener over at first use); any other program keeps the port" \
					"restart $pname under tpa (tpa run -p $lp -- ...), or stop pid $pid, or choose another port"
			else
				warn "port $lp" "a program listens on the kernel ($laddr; run as root to see which): fine if it is the program you will run under tpa, any other program keeps the port" \
					"stop the other program or choose another port"
			fi
		done <<<"$listeners"
		if [ "$found" = 0 ]; then
			if [ "$lo" = "$hi" ]; then ok "port $lo" "nothing listens on it here: free for the program under tpa"
			else ok "ports $lo-$hi" "nothing listens on them here: free for the program under tpa"; fi
		fi
	done
fi

# ---- summary ------------------------------------------------------------------------------
first_fail=""
for i in "${!R_ST[@]}"; do
	if [ "${R_ST[$i]}" = FAIL ]; then first_fail="${R_TOPIC[$i]}: ${R_TEXT[$i]}"; break; fi
done
if [ -n "$first_fail" ]; then
	summary="tpa will not accelerate on $iface: $first_fail"
else
	if [ "$port_type" = af_packet ]; then
		how="af_packet (every frame copied to a packet socket), $csum_word"
	else
		qs="$nq queue$([ "$nq" = 1 ] || echo s)"
		[ "$nq" -lt "$rxq" ] && qs="$nq of $rxq queues"
		how="$qs, $afxdp_word, $xdp_mode_word, $csum_word"
	fi
	if [ -n "$serving" ]; then
		summary="tpa accelerates on $iface now (pid $serving): $how"
	else
		summary="tpa will accelerate on $iface: $how"
	fi
fi
report "$summary"
