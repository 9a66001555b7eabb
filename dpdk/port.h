/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port.c: EAL arguments for a config, port configure/start, fd discovery for sleeping.
 */
#ifndef TPA_DPDK_PORT_H
#define TPA_DPDK_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "engine_impl.h"

#define EAL_ARGS_MAX 200
#define PORT_FD_BITS 65536

struct eal_args {
	int argc;
	char *argv[EAL_ARGS_MAX];
	int hugepages; /* 1 if EAL runs on hugepages */
};

/* The DPDK device strings, one per line: vdevs ("net_af_xdp0,iface=...", one per queue on
 * af_xdp) or a PCI address. */
int port_devargs(const struct tpa_engine_config *cfg, const char *xdp_prog, unsigned queue_first,
                 unsigned queue_count, char *buf, size_t len);
/* mbufs: the pool the engine will make (sizes EAL's memory). */
int eal_args_build(struct eal_args *a, const struct tpa_engine_config *cfg, const char *devargs,
                   unsigned mbufs, int lcore_cpu, char *err, size_t errlen);
void eal_args_free(struct eal_args *a);

/* Configure nq Rx and nq Tx queues on one pool (RSS over TCP flows where the device has it),
 * enable the offloads the device has, start it. Reports the offloads as TPA_DEV_OFFLOAD_* bits
 * and whether Rx interrupts are on. */
int port_setup(uint16_t port_id, struct rte_mempool *pool, uint16_t nq, int want_rx_intr,
               uint32_t *tpa_tx, uint32_t *tpa_rx, int *rx_intr, char *err, size_t errlen);

/* Which fds are sockets of `domain` (bitmap of `bits` fds), and which are new since (up to
 * max of them, lowest first; returns how many). */
int socket_fds_snapshot(int domain, uint8_t *bitmap, size_t bits);
int socket_fds_new(int domain, const uint8_t *before, size_t bits, int *fds, int max);

#endif
