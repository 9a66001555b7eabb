/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engine settings: defaults, parsing one TPA_* setting by name, reading them from the
 * environment. Every error names the setting, repeats the bad value and lists what is
 * accepted, because users meet these messages first when something is misconfigured.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

int engine_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -code;
}

int tpa_engine_config_init(struct tpa_engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port_kind = TPA_PORT_AF_XDP;
	snprintf(cfg->memif_socket, sizeof(cfg->memif_socket), "/run/tpa-memif.sock");
	cfg->memif_role = TPA_MEMIF_CLIENT;
	cfg->xdp_steer = 1;
	cfg->hugepages = -1;
	cfg->rx_csum_partial = -1;
	cfg->mbufs = 16384;
	cfg->watchdog = 1;
	snprintf(cfg->log_level, sizeof(cfg->log_level), "error");
	struct tpa_stack_config sc;
	tpa_stack_config_init(&sc);
	cfg->tcp = sc.tcp;
	cfg->max_sockets = sc.max_sockets;
	return 0;
}

int tpa_engine_parse_rate(const char *value, uint32_t *ppm)
{
	/* strtod alone would take " 1", "+1", "inf" and hex floats. */
	if (!((value[0] >= '0' && value[0] <= '9') || value[0] == '.'))
		return -EINVAL;
	if (strchr(value, 'x') || strchr(value, 'X'))
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	if (end == value || errno)
		return -EINVAL;
	if (*end == '%') {
		v /= 100.0;
		end++;
	}
	if (*end != '\0' || !(v >= 0.0 && v <= 1.0))
		return -EINVAL;
	*ppm = (uint32_t)(v * 1000000.0 + 0.5);
	return 0;
}

/* ---- value kinds ----------------------------------------------------------------------- */

enum kind {
	K_STR,  /* char[size] at off */
	K_U32,  /* uint32_t at off, in [min, max] */
	K_U16,  /* uint16_t at off, in [min, max] */
	K_BOOL, /* uint8_t at off: 0/1, yes/no, on/off, true/false */
	K_RATE, /* fault rate: both directions (off = offset in tpa_fault_rates) */
	K_RATE_RX,
	K_RATE_TX,
	K_U64, /* uint64_t at off */
	K_PORT_KIND,
	K_MEMIF_ROLE,
	K_OWNER,
	K_MAC,
	K_IP_PREFIX,
	K_GATEWAY,
	K_HUGEPAGES,
	K_CC,
	K_QUEUES,
	K_QUEUE_ONE,
	K_AUTO_BOOL, /* int8_t at off: -1 auto, 0, 1 */
};

struct setting {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;
	uint64_t min, max;
	const char *help;
};

#define CFG(field)                                                                                 \
	offsetof(struct tpa_engine_config, field), sizeof(((struct tpa_engine_config *)0)->field)
#define TCP(field)                                                                                 \
	offsetof(struct tpa_engine_config, tcp.field),                                             \
	        sizeof(((struct tpa_engine_config *)0)->tcp.field)
#define RATE(field) offsetof(struct tpa_fault_rates, field), sizeof(uint32_t)

static const struct setting settings[] = {
        {"TPA_PORT_TYPE", K_PORT_KIND, CFG(port_kind), 0, 0,
         "port kind: af_xdp, af_packet, memif or pci (default af_xdp)"},
        {"TPA_IFACE", K_STR, CFG(iface), 0, 0, "kernel interface for af_xdp/af_packet, e.g. eth0"},
        {"TPA_MEMIF_SOCKET", K_STR, CFG(memif_socket), 0, 0,
         "memif control socket path (default /run/tpa-memif.sock)"},
        {"TPA_MEMIF_ROLE", K_MEMIF_ROLE, CFG(memif_role), 0, 0,
         "memif role: client or server (default client)"},
        {"TPA_MEMIF_ID", K_U32, CFG(memif_id), 0, UINT32_MAX, "memif connection id (default 0)"},
        {"TPA_OWNER", K_OWNER, CFG(owner), 0, 0,
         "who holds an af_xdp interface: tpad (the owner daemon, shared by several programs; "
         "started on demand), self (this program alone) or auto (tpad if one runs, else self; "
         "default)"},
        {"TPA_TPAD", K_STR, CFG(tpad_path), 0, 0,
         "the tpad program to start (default: beside libtpa, installed, or the build tree)"},
        {"TPA_PCI_ADDR", K_STR, CFG(pci_addr), 0, 0,
         "PCI address of the NIC for port type pci, e.g. 0000:03:00.0"},
        {"TPA_QUEUE", K_QUEUE_ONE, CFG(queue), 0, 63,
         "one device queue to serve (old form of TPA_QUEUES=N)"},
        {"TPA_QUEUES", K_QUEUES, CFG(queue), 0, 63,
         "device queues to serve: all, N or A-B (default all)"},
        {"TPA_RX_CSUM_PARTIAL", K_AUTO_BOOL, CFG(rx_csum_partial), 0, 1,
         "accept a local sender's partial TCP checksums: auto, yes or no (default auto: yes "
         "on veth, tun/tap, netkit)"},
        {"TPA_MAC", K_MAC, CFG(mac), 0, 0, "our MAC address (default: the interface's)"},
        {"TPA_IP", K_IP_PREFIX, CFG(ipv4_addr), 0, 0,
         "our IPv4 address a.b.c.d[/len] (default: the interface's)"},
        {"TPA_GATEWAY", K_GATEWAY, CFG(ipv4_gateway), 0, 0,
         "IPv4 default gateway, 0.0.0.0 = none (default: the kernel's route)"},
        {"TPA_MTU", K_U16, CFG(mtu), 576, 9000, "IP MTU (default: the interface's)"},
        {"TPA_XDP_PROG", K_STR, CFG(xdp_prog), 0, 0,
         "XDP steering object (default: the installed tpa_steer.bpf.o)"},
        {"TPA_XDP_STEER", K_BOOL, CFG(xdp_steer), 0, 1,
         "steer only tpa's ports with tpa's XDP program (default 1)"},
        {"TPA_EAL_ARGS", K_STR, CFG(eal_args), 0, 0, "extra DPDK EAL arguments, space separated"},
        {"TPA_HUGEPAGES", K_HUGEPAGES, CFG(hugepages), 0, 0,
         "use hugepages: auto, yes or no (default auto)"},
        {"TPA_MBUFS", K_U32, CFG(mbufs), 1024, 4194304,
         "packet buffers in the pool (default 16384)"},
        {"TPA_MAX_SOCKETS", K_U32, CFG(max_sockets), 16, 16777216, "socket table size"},
        {"TPA_WATCHDOG", K_BOOL, CFG(watchdog), 0, 1, "start the XDP cleanup watchdog (default 1)"},
        {"TPA_LOG_LEVEL", K_STR, CFG(log_level), 0, 0,
         "DPDK log level: emerg..debug or 1..8 (default error)"},
        {"TPA_TCP_SNDBUF", K_U32, TCP(sndbuf), 2048, 1u << 30, "default send buffer, bytes"},
        {"TPA_TCP_RCVBUF", K_U32, TCP(rcvbuf), 2048, 1u << 30, "default receive buffer, bytes"},
        {"TPA_TCP_OOO_LIMIT", K_U32, TCP(ooo_limit), 0, 1u << 30,
         "max out-of-order bytes held per socket"},
        {"TPA_TCP_RTO_MIN_MS", K_U32, TCP(rto_min_ms), 1, 60000,
         "minimum retransmission timeout, ms"},
        {"TPA_TCP_RTO_MAX_MS", K_U32, TCP(rto_max_ms), 100, 600000,
         "maximum retransmission timeout, ms"},
        {"TPA_TCP_RTO_INITIAL_MS", K_U32, TCP(rto_initial_ms), 1, 60000,
         "initial retransmission timeout, ms"},
        {"TPA_TCP_SYN_RETRIES", K_U32, TCP(syn_retries), 1, 127,
         "SYN retransmissions before giving up"},
        {"TPA_TCP_SYNACK_RETRIES", K_U32, TCP(synack_retries), 1, 127, "SYN-ACK retransmissions"},
        {"TPA_TCP_DATA_RETRIES", K_U32, TCP(data_retries), 1, 127,
         "data retransmissions before ETIMEDOUT"},
        {"TPA_TCP_DELACK_MS", K_U32, TCP(delack_ms), 0, 500,
         "delayed ACK timeout, ms (0 = ACK every segment)"},
        {"TPA_TCP_TIME_WAIT_MS", K_U32, TCP(time_wait_ms), 0, 600000, "TIME_WAIT duration, ms"},
        {"TPA_TCP_FIN_WAIT2_MS", K_U32, TCP(fin_wait2_ms), 0, 600000,
         "orphaned FIN_WAIT_2 timeout, ms"},
        {"TPA_TCP_KEEPALIVE_IDLE_S", K_U32, TCP(keepalive_idle_s), 1, 32767,
         "keepalive idle time, s"},
        {"TPA_TCP_KEEPALIVE_INTVL_S", K_U32, TCP(keepalive_intvl_s), 1, 32767,
         "keepalive probe interval, s"},
        {"TPA_TCP_KEEPALIVE_CNT", K_U32, TCP(keepalive_cnt), 1, 127,
         "keepalive probes before reset"},
        {"TPA_TCP_INITIAL_CWND", K_U32, TCP(initial_cwnd_segs), 1, 1000,
         "initial congestion window, segments"},
        {"TPA_TCP_CC", K_CC, TCP(cc), 0, 0, "congestion control: newreno or cubic"},
        {"TPA_TCP_TIMESTAMPS", K_BOOL, TCP(timestamps), 0, 1, "offer TCP timestamps (RFC 7323)"},
        {"TPA_TCP_WINDOW_SCALING", K_BOOL, TCP(window_scaling), 0, 1, "offer window scaling"},
        {"TPA_TCP_SACK", K_BOOL, TCP(sack), 0, 1, "offer SACK"},
        {"TPA_TCP_SYNCOOKIES", K_BOOL, TCP(syncookies), 0, 1,
         "answer with SYN cookies when a listener's SYN queue is full (default 1)"},
        {"TPA_FAULT_DROP", K_RATE, RATE(drop_ppm), 0, 0,
         "drop rate, both directions: 0..1 or 0%..100%"},
        {"TPA_FAULT_DUP", K_RATE, RATE(dup_ppm), 0, 0, "duplication rate, both directions"},
        {"TPA_FAULT_REORDER", K_RATE, RATE(reorder_ppm), 0, 0, "reordering rate, both directions"},
        {"TPA_FAULT_CORRUPT", K_RATE, RATE(corrupt_ppm), 0, 0, "corruption rate, both directions"},
        {"TPA_FAULT_RX_DROP", K_RATE_RX, RATE(drop_ppm), 0, 0, "drop rate, received frames"},
        {"TPA_FAULT_RX_DUP", K_RATE_RX, RATE(dup_ppm), 0, 0, "duplication rate, received frames"},
        {"TPA_FAULT_RX_REORDER", K_RATE_RX, RATE(reorder_ppm), 0, 0,
         "reordering rate, received frames"},
        {"TPA_FAULT_RX_CORRUPT", K_RATE_RX, RATE(corrupt_ppm), 0, 0,
         "corruption rate, received frames"},
        {"TPA_FAULT_TX_DROP", K_RATE_TX, RATE(drop_ppm), 0, 0, "drop rate, sent frames"},
        {"TPA_FAULT_TX_DUP", K_RATE_TX, RATE(dup_ppm), 0, 0, "duplication rate, sent frames"},
        {"TPA_FAULT_TX_REORDER", K_RATE_TX, RATE(reorder_ppm), 0, 0,
         "reordering rate, sent frames"},
        {"TPA_FAULT_TX_CORRUPT", K_RATE_TX, RATE(corrupt_ppm), 0, 0,
         "corruption rate, sent frames"},
        {"TPA_FAULT_SEED", K_U64, offsetof(struct tpa_engine_config, fault.seed), sizeof(uint64_t),
         0, UINT64_MAX, "fault injection random seed"},
};

void tpa_engine_config_foreach(void (*fn)(void *arg, const char *name, const char *help), void *arg)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		fn(arg, settings[i].name, settings[i].help);
}

static int parse_u64(const char *v, uint64_t *out)
{
	if (!*v || *v == '-' || *v == '+' || *v == ' ')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_bool(const char *v, uint8_t *out)
{
	static const char *const yes[] = {"1", "yes", "on", "true"};
	static const char *const no[] = {"0", "no", "off", "false"};
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
	           &tail) != 6 ||
	    strlen(v) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int parse_ipv4(const char *v, uint32_t *addr_be)
{
	struct in_addr a;
	if (inet_pton(AF_INET, v, &a) != 1)
		return -EINVAL;
	*addr_be = a.s_addr;
	return 0;
}

static int parse_ip_prefix(const char *v, uint32_t *addr_be, uint8_t *plen)
{
	char buf[32];
	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", v);
	char *slash = strchr(buf, '/');
	uint64_t len = 24;
	if (slash) {
		*slash = '\0';
		if (parse_u64(slash + 1, &len) || len < 1 || len > 32)
			return -EINVAL;
	}
	if (parse_ipv4(buf, addr_be) || *addr_be == 0)
		return -EINVAL;
	*plen = (uint8_t)len;
	return 0;
}

static void *field(struct tpa_engine_config *cfg, size_t off)
{
	return (char *)cfg + off;
}

/* "all", "N" or "A-B" (A <= B): a contiguous range, as AF_XDP ports take them. */
static int parse_queues(struct tpa_engine_config *cfg, const struct setting *st, const char *v,
                        char *err, size_t errlen)
{
	if (!strcasecmp(v, "all")) {
		cfg->queue = 0;
		cfg->queue_count = 0;
		return 0;
	}
	char buf[32];
	snprintf(buf, sizeof(buf), "%s", v);
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	uint64_t a, b;
	if (strlen(v) >= sizeof(buf) || parse_u64(buf, &a) ||
	    (dash ? parse_u64(dash + 1, &b) : (b = a, 0)) || a > b || b > st->max)
		return engine_seterr(err, errlen, EINVAL,
		                     "%s: bad value '%s' (accepted: all, a queue number N or a "
		                     "range A-B, queues 0 to %llu)",
		                     st->name, v, (unsigned long long)st->max);
	cfg->queue = (uint32_t)a;
	cfg->queue_count = (uint32_t)(b - a + 1);
	return 0;
}

/* K_U16, K_U32, K_U64: an integer in [min, max]. */
static int apply_int(struct tpa_engine_config *cfg, const struct setting *st, const char *v,
                     char *err, size_t errlen)
{
	uint64_t u;
	if (parse_u64(v, &u) || u < st->min || u > st->max)
		return engine_seterr(err, errlen, EINVAL,
		                     "%s: bad value '%s' (accepted: an integer from %llu to %llu)",
		                     st->name, v, (unsigned long long)st->min,
		                     (unsigned long long)st->max);
	if (st->kind == K_U32)
		*(uint32_t *)field(cfg, st->off) = (uint32_t)u;
	else if (st->kind == K_U16)
		*(uint16_t *)field(cfg, st->off) = (uint16_t)u;
	else
		*(uint64_t *)field(cfg, st->off) = u;
	return 0;
}

/* K_RATE, K_RATE_RX, K_RATE_TX: a fault rate for both directions or one. */
static int apply_rate(struct tpa_engine_config *cfg, const struct setting *st, const char *v,
                      char *err, size_t errlen)
{
	uint32_t ppm;
	if (tpa_engine_parse_rate(v, &ppm))
		return engine_seterr(err, errlen, EINVAL,
		                     "%s: bad rate '%s' (accepted: a fraction from 0 to 1, "
		                     "e.g. 0.02, or a percentage, e.g. 2%%)",
		                     st->name, v);
	if (st->kind != K_RATE_TX)
		*(uint32_t *)((char *)&cfg->fault.rx + st->off) = ppm;
	if (st->kind != K_RATE_RX)
		*(uint32_t *)((char *)&cfg->fault.tx + st->off) = ppm;
	return 0;
}

/* K_AUTO_BOOL (the field) and K_HUGEPAGES (cfg->hugepages): auto (-1), or a boolean. */
static int apply_auto_bool(const struct setting *st, const char *v, int8_t *dst, char *err,
                           size_t errlen)
{
	uint8_t on;
	if (!strcasecmp(v, "auto")) {
		*dst = -1;
		return 0;
	}
	if (parse_bool(v, &on))
		return engine_seterr(err, errlen, EINVAL,
		                     "%s: bad value '%s' (accepted: auto, yes, no)", st->name, v);
	*dst = (int8_t)on;
	return 0;
}

/* The settings whose value is a name: port type, memif role, congestion control. */
static int apply_name(struct tpa_engine_config *cfg, const struct setting *st, const char *v,
                      char *err, size_t errlen)
{
	switch (st->kind) {
	case K_PORT_KIND: {
		static const char *const names[] = {"af_xdp", "af_packet", "memif", "pci"};
		for (int i = 0; i < 4; i++)
			if (!strcasecmp(v, names[i])) {
				cfg->port_kind = (enum tpa_port_kind)i;
				return 0;
			}
		return engine_seterr(
		        err, errlen, EINVAL,
		        "%s: unknown port type '%s' (accepted: af_xdp, af_packet, memif, pci)",
		        st->name, v);
	}
	case K_MEMIF_ROLE:
		if (!strcasecmp(v, "client"))
			cfg->memif_role = TPA_MEMIF_CLIENT;
		else if (!strcasecmp(v, "server"))
			cfg->memif_role = TPA_MEMIF_SERVER;
		else
			return engine_seterr(err, errlen, EINVAL,
			                     "%s: unknown role '%s' (accepted: client, server)",
			                     st->name, v);
		return 0;
	case K_OWNER:
		if (!strcasecmp(v, "auto"))
			cfg->owner = TPA_OWNER_AUTO;
		else if (!strcasecmp(v, "self"))
			cfg->owner = TPA_OWNER_SELF;
		else if (!strcasecmp(v, "tpad"))
			cfg->owner = TPA_OWNER_TPAD;
		else
			return engine_seterr(err, errlen, EINVAL,
			                     "%s: unknown owner '%s' (accepted: auto, self, tpad)",
			                     st->name, v);
		return 0;
	case K_CC:
		if (!strcasecmp(v, "newreno") || !strcasecmp(v, "reno"))
			cfg->tcp.cc = TPA_CC_NEWRENO;
		else if (!strcasecmp(v, "cubic"))
			cfg->tcp.cc = TPA_CC_CUBIC;
		else
			return engine_seterr(
			        err, errlen, EINVAL,
			        "%s: unknown congestion control '%s' (accepted: newreno, cubic)",
			        st->name, v);
		return 0;
	default:
		return engine_seterr(err, errlen, EINVAL, "%s: internal error", st->name);
	}
}

static int apply(struct tpa_engine_config *cfg, const struct setting *st, const char *v, char *err,
                 size_t errlen)
{
	uint64_t u;
	switch (st->kind) {
	case K_STR:
		if (strlen(v) >= st->size)
			return engine_seterr(
			        err, errlen, EINVAL,
			        "%s: value '%.40s...' is too long (at most %zu characters)",
			        st->name, v, st->size - 1);
		memcpy(field(cfg, st->off), v, strlen(v) + 1);
		return 0;
	case K_U32:
	case K_U16:
	case K_U64:
		return apply_int(cfg, st, v, err, errlen);
	case K_BOOL:
		if (parse_bool(v, (uint8_t *)field(cfg, st->off)))
			return engine_seterr(err, errlen, EINVAL,
			                     "%s: bad value '%s' (accepted: 1, 0, yes, no, on, "
			                     "off, true, false)",
			                     st->name, v);
		return 0;
	case K_RATE:
	case K_RATE_RX:
	case K_RATE_TX:
		return apply_rate(cfg, st, v, err, errlen);
	case K_PORT_KIND:
	case K_MEMIF_ROLE:
	case K_OWNER:
	case K_CC:
		return apply_name(cfg, st, v, err, errlen);
	case K_MAC:
		if (parse_mac(v, cfg->mac) || (cfg->mac[0] & 1))
			return engine_seterr(err, errlen, EINVAL,
			                     "%s: bad MAC address '%s' (accepted: a unicast "
			                     "address like 02:00:00:00:00:01)",
			                     st->name, v);
		cfg->mac_set = 1;
		return 0;
	case K_IP_PREFIX:
		if (parse_ip_prefix(v, &cfg->ipv4_addr, &cfg->ipv4_prefix_len))
			return engine_seterr(
			        err, errlen, EINVAL,
			        "%s: bad address '%s' (accepted: a non-zero IPv4 address with an "
			        "optional prefix length 1-32, e.g. 198.18.0.2/24)",
			        st->name, v);
		return 0;
	case K_GATEWAY:
		if (parse_ipv4(v, &cfg->ipv4_gateway))
			return engine_seterr(err, errlen, EINVAL,
			                     "%s: bad address '%s' (accepted: an IPv4 address like "
			                     "198.18.0.254, or 0.0.0.0 for none)",
			                     st->name, v);
		cfg->ipv4_gateway_set = 1;
		return 0;
	case K_HUGEPAGES:
		return apply_auto_bool(st, v, &cfg->hugepages, err, errlen);
	case K_QUEUE_ONE:
		if (parse_u64(v, &u) || u > st->max)
			return engine_seterr(
			        err, errlen, EINVAL,
			        "%s: bad value '%s' (accepted: a queue number from 0 to "
			        "%llu)",
			        st->name, v, (unsigned long long)st->max);
		cfg->queue = (uint32_t)u;
		cfg->queue_count = 1;
		return 0;
	case K_QUEUES:
		return parse_queues(cfg, st, v, err, errlen);
	case K_AUTO_BOOL:
		return apply_auto_bool(st, v, (int8_t *)field(cfg, st->off), err, errlen);
	}
	return engine_seterr(err, errlen, EINVAL, "%s: internal error", st->name);
}

int tpa_engine_config_set(struct tpa_engine_config *cfg, const char *name, const char *value,
                          char *err, size_t errlen)
{
	if (!cfg || !name)
		return engine_seterr(err, errlen, EINVAL,
		                     "tpa_engine_config_set: no config or name");
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (strcmp(settings[i].name, name))
			continue;
		if (!value)
			return engine_seterr(err, errlen, EINVAL, "%s: no value", name);
		return apply(cfg, &settings[i], value, err, errlen);
	}
	return 1;
}

int tpa_engine_config_from_env(struct tpa_engine_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const char *v = getenv(settings[i].name);
		if (!v)
			continue;
		int rc = apply(cfg, &settings[i], v, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}
