/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK side of the engine: EAL arguments derived from the config (port kind -> vdev or
 * PCI allow-list, memory -> hugepages or --no-huge), port configure/start with the offloads the
 * device has, and discovery of the fd to sleep on.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "port.h"

static int add_arg(struct eal_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_arg(struct eal_args *a, const char *fmt, ...)
{
	if (a->argc >= EAL_ARGS_MAX - 1)
		return -E2BIG;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	a->argv[a->argc++] = s;
	a->argv[a->argc] = NULL;
	return 0;
}

void eal_args_free(struct eal_args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
}

static long free_hugepages_2m(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "re");
	if (!f)
		return 0;
	long n = 0;
	if (fscanf(f, "%ld", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

/* Memory the engine needs from EAL, MiB: the mbuf pool plus room for the PMD's rings/umem and
 * EAL's own structures. */
static unsigned memory_mb(unsigned mbufs)
{
	uint64_t pool = (uint64_t)mbufs * (RTE_MBUF_DEFAULT_BUF_SIZE + 256);
	return (unsigned)(pool >> 20) + 192;
}

/* A virtual interface (veth: no bus device behind it) has no zero-copy AF_XDP, so its fill
 * ring never asks for a wake-up. */
static bool iface_is_virtual(const char *iface)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/device", iface);
	return access(path, F_OK) != 0 && errno == ENOENT;
}

int port_devargs(const struct tpa_engine_config *cfg, const char *xdp_prog, unsigned queue_first,
                 unsigned queue_count, char *buf, size_t len)
{
	int n = 0;
	switch (cfg->port_kind) {
	case TPA_PORT_AF_XDP:
		/* One port (one AF_XDP socket) per queue, all on the one pool and the one stack.
		 * The PMD takes several queues in one port only from drivers that report
		 * "combined" channels, which a veth does not. */
		for (unsigned q = 0; q < queue_count; q++) {
			n += snprintf(buf + n, len > (size_t)n ? len - (size_t)n : 0,
			              "%snet_af_xdp%u,iface=%s,start_queue=%u,queue_count=1",
			              q ? "\n" : "", q, cfg->iface, queue_first + q);
			/* With a busy budget (the default) the PMD makes a recvfrom() syscall
			 * on every empty Rx poll, i.e. on every spin of a waiting thread.
			 * Without one it only poll()s, for up to a second, when the fill ring
			 * asks for a wake-up: that never happens in copy mode, but would stall
			 * a zero-copy NIC's idle poll, so real devices keep the default. */
			if (iface_is_virtual(cfg->iface))
				n += snprintf(buf + n, len > (size_t)n ? len - (size_t)n : 0,
				              ",busy_budget=0");
			if (xdp_prog && *xdp_prog)
				n += snprintf(buf + n, len > (size_t)n ? len - (size_t)n : 0,
				              ",xdp_prog=%s", xdp_prog);
		}
		break;
	case TPA_PORT_AF_PACKET:
		n = snprintf(buf, len, "net_af_packet0,iface=%s,qpairs=1", cfg->iface);
		break;
	case TPA_PORT_MEMIF:
		/* 4096-slot rings (rsize=12): several connections' windows fit without drops. */
		/* "@name": an abstract socket (tpad's: the network namespace's own). */
		n = snprintf(buf, len, "net_memif0,role=%s,socket=%s,id=%u,rsize=12%s",
		             cfg->memif_role == TPA_MEMIF_SERVER ? "server" : "client",
		             cfg->memif_socket + (cfg->memif_socket[0] == '@'), cfg->memif_id,
		             cfg->memif_socket[0] == '@' ? ",socket-abstract=yes" : "");
		if (cfg->mac_set)
			n += snprintf(buf + n, len > (size_t)n ? len - (size_t)n : 0,
			              ",mac=%02x:%02x:%02x:%02x:%02x:%02x", cfg->mac[0],
			              cfg->mac[1], cfg->mac[2], cfg->mac[3], cfg->mac[4],
			              cfg->mac[5]);
		break;
	case TPA_PORT_PCI:
		n = snprintf(buf, len, "%s", cfg->pci_addr);
		break;
	}
	return n < (int)len ? 0 : -ENAMETOOLONG;
}

int eal_args_build(struct eal_args *a, const struct tpa_engine_config *cfg, const char *devargs,
                   unsigned mbufs, int lcore_cpu, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	int rc = 0;
	rc |= add_arg(a, "tpa");
	rc |= add_arg(a, "--no-telemetry");
	rc |= add_arg(a, "--log-level");
	rc |= add_arg(a, "%s", cfg->log_level[0] ? cfg->log_level : "error");
	rc |= add_arg(a, "-l");
	rc |= add_arg(a, "%d", lcore_cpu);
	int huge = cfg->hugepages;
	unsigned mb = memory_mb(mbufs);
	if (huge < 0)
		huge = free_hugepages_2m() * 2 >= (long)mb;
	if (huge == 1 && free_hugepages_2m() == 0) {
		eal_args_free(a);
		return engine_seterr(err, errlen, ENOMEM,
		                     "TPA_HUGEPAGES: hugepages required but none are free (reserve "
		                     "some: echo %u > /sys/kernel/mm/hugepages/hugepages-2048kB/"
		                     "nr_hugepages, or set TPA_HUGEPAGES=auto|no)",
		                     (mb + 1) / 2);
	}
	/* No shared runtime files either way, so several processes never collide.
	 * (--in-memory implies --legacy-mem with --no-huge, which EAL refuses.) */
	if (huge) {
		rc |= add_arg(a, "--in-memory");
	} else {
		rc |= add_arg(a, "--no-huge");
		rc |= add_arg(a, "--no-shconf");
		rc |= add_arg(a, "-m");
		rc |= add_arg(a, "%u", mb);
	}
	if (cfg->port_kind == TPA_PORT_PCI) {
		rc |= add_arg(a, "-a");
		rc |= add_arg(a, "%s", devargs);
	} else {
		rc |= add_arg(a, "--no-pci");
		for (const char *d = devargs; *d;) {
			size_t l = strcspn(d, "\n");
			rc |= add_arg(a, "--vdev");
			rc |= add_arg(a, "%.*s", (int)l, d);
			d += l + (d[l] == '\n');
		}
	}
	/* User extras last, so they can override what we derived. */
	char extra[TPA_ENGINE_EAL_ARGS_MAX];
	snprintf(extra, sizeof(extra), "%s", cfg->eal_args);
	char *save = NULL;
	for (char *t = strtok_r(extra, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		rc |= add_arg(a, "%s", t);
	if (rc) {
		eal_args_free(a);
		return engine_seterr(err, errlen, E2BIG, "TPA_EAL_ARGS: too many EAL arguments");
	}
	a->hugepages = huge;
	return 0;
}

/* ---- port -------------------------------------------------------------------------------- */

int port_setup(uint16_t port_id, struct rte_mempool *pool, uint16_t nq, int want_rx_intr,
               uint32_t *tpa_tx, uint32_t *tpa_rx, int *rx_intr, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(port_id, &info);
	if (rc)
		return engine_seterr(err, errlen, -rc, "port %u: dev_info: %s", port_id,
		                     strerror(-rc));
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	*tpa_tx = *tpa_rx = 0;
	const uint64_t tx_cksum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if ((info.tx_offload_capa & tx_cksum) == tx_cksum) {
		conf.txmode.offloads |= tx_cksum;
		*tpa_tx |= TPA_DEV_OFFLOAD_IPV4_CKSUM | TPA_DEV_OFFLOAD_TCP_CKSUM;
		if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO) {
			conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
			*tpa_tx |= TPA_DEV_OFFLOAD_TSO;
		}
	}
	const uint64_t tx_multi = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (info.tx_offload_capa & tx_multi)
		conf.txmode.offloads |= tx_multi;
	const uint64_t rx_cksum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	if ((info.rx_offload_capa & rx_cksum) == rx_cksum) {
		conf.rxmode.offloads |= rx_cksum;
		*tpa_rx |= TPA_DEV_OFFLOAD_RX_CKSUM;
	}
	if (nq > info.max_rx_queues || nq > info.max_tx_queues)
		return engine_seterr(err, errlen, EINVAL,
		                     "port %u (%s): %u queues asked, the device has %u rx / %u tx "
		                     "(TPA_QUEUES)",
		                     port_id, info.driver_name, nq, info.max_rx_queues,
		                     info.max_tx_queues);
	/* A NIC given to DPDK whole spreads TCP flows over the queues by RSS; an AF_XDP port
	 * has one socket per kernel queue and the kernel's RSS already chose. */
	if (nq > 1 && (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP)) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_NONFRAG_IPV4_TCP;
	}
	conf.intr_conf.rxq = want_rx_intr ? 1 : 0;
	rc = rte_eth_dev_configure(port_id, nq, nq, &conf);
	if (rc && want_rx_intr) {
		conf.intr_conf.rxq = 0;
		rc = rte_eth_dev_configure(port_id, nq, nq, &conf);
	}
	if (rc)
		return engine_seterr(err, errlen, -rc, "port %u: configure: %s", port_id,
		                     strerror(-rc));
	uint16_t nb_rxd = 1024, nb_txd = 1024;
	rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd);
	int socket = rte_eth_dev_socket_id(port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	struct rte_eth_rxconf rxc = info.default_rxconf;
	rxc.offloads = conf.rxmode.offloads;
	struct rte_eth_txconf txc = info.default_txconf;
	txc.offloads = conf.txmode.offloads;
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, nb_rxd, (unsigned)socket, &rxc, pool);
		if (rc)
			return engine_seterr(err, errlen, -rc, "port %u: rx queue %u: %s", port_id,
			                     q, strerror(-rc));
		rc = rte_eth_tx_queue_setup(port_id, q, nb_txd, (unsigned)socket, &txc);
		if (rc)
			return engine_seterr(err, errlen, -rc, "port %u: tx queue %u: %s", port_id,
			                     q, strerror(-rc));
	}
	rc = rte_eth_dev_start(port_id);
	if (rc)
		return engine_seterr(err, errlen, -rc, "port %u (%s): start: %s", port_id,
		                     info.driver_name, strerror(-rc));
	*rx_intr = conf.intr_conf.rxq;
	return 0;
}

/* ---- wait fd ---------------------------------------------------------------------------- */

static int fd_domain(int fd)
{
	int dom = -1;
	socklen_t len = sizeof(dom);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0)
		return -1;
	return dom;
}

int socket_fds_snapshot(int domain, uint8_t *bitmap, size_t bits)
{
	memset(bitmap, 0, bits / 8);
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		if (*end || fd < 0 || (size_t)fd >= bits || fd == dfd)
			continue;
		if (fd_domain((int)fd) == domain)
			bitmap[fd / 8] |= (uint8_t)(1u << (fd % 8));
	}
	closedir(d);
	return 0;
}

int socket_fds_new(int domain, const uint8_t *before, size_t bits, int *fds, int max)
{
	static uint8_t now[PORT_FD_BITS / 8];
	if (bits > PORT_FD_BITS || socket_fds_snapshot(domain, now, bits))
		return 0;
	int n = 0;
	for (size_t fd = 0; fd < bits && n < max; fd++) {
		int was = (before[fd / 8] >> (fd % 8)) & 1;
		int is = (now[fd / 8] >> (fd % 8)) & 1;
		if (is && !was)
			fds[n++] = (int)fd;
	}
	return n;
}
