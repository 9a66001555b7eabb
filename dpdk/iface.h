/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a kernel interface is, as far as the engine's choices go: its driver, how many receive
 * queues it really uses (every one of them needs an AF_XDP socket, or flows hashed there reach
 * the kernel), and whether a local sender's partially checksummed frames can arrive on it.
 * Read through the ethtool ioctl (valid in the caller's network namespace), with sysfs as the
 * fallback. No side effects.
 */
#ifndef TPA_DPDK_IFACE_H
#define TPA_DPDK_IFACE_H

#include <stdbool.h>

struct iface_probe {
	char driver[32];        /* "veth", "ixgbe", ... ("" if unknown) */
	unsigned rx_queues;     /* queues in use now (ethtool -l "current"), >= 1 */
	unsigned max_rx_queues; /* what the driver could be set to (ethtool -l maximum) */
	bool has_device;        /* a bus device behind it (a NIC), not a software interface */
	/* Frames sent by the local kernel can arrive with CHECKSUM_PARTIAL (veth, tun/tap,
	 * netkit): their TCP checksum field holds only the pseudo-header sum. */
	bool local_partial_csum;
};

/* Fills *p for iface. 0, or -errno when the interface does not exist. */
int iface_probe(const char *iface, struct iface_probe *p);

#endif
