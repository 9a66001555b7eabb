/* SPDX-License-Identifier: BSD-3-Clause OR GPL-2.0 */
/*
 * Layout shared by the XDP steering program (tpa_steer.bpf.c) and the engine that fills its
 * maps. The engine finds the maps through the program attached to the interface (by name,
 * from the program's map ids), never through pins.
 *
 *   xsks_map    XSKMAP   rx queue index -> AF_XDP socket (filled by DPDK's af_xdp PMD)
 *   tpa_ports   HASH     __u16 local TCP port (host byte order) -> __u8 (1 = steer)
 *   tpa_config  ARRAY[1] struct tpa_steer_config
 *   tpa_stats   PERCPU_ARRAY[TPA_STEER_STAT_MAX] __u64 packet counters
 */
#ifndef TPA_STEER_MAPS_H
#define TPA_STEER_MAPS_H

#define TPA_STEER_PORTS_MAX 65536
#define TPA_STEER_XSKS_MAX  64

struct tpa_steer_config {
	__u32 ipv4_addr; /* network byte order; 0 = any destination address */
	__u32 flags;     /* reserved, 0 */
};

enum tpa_steer_stat {
	TPA_STEER_STAT_REDIRECT = 0, /* handed to the AF_XDP socket */
	TPA_STEER_STAT_PASS,         /* left to the kernel */
	TPA_STEER_STAT_NO_SOCKET,    /* ours, but no AF_XDP socket on the queue: kernel got it */
	TPA_STEER_STAT_MAX,
};

#define TPA_STEER_MAP_XSKS     "xsks_map"
#define TPA_STEER_MAP_PORTS    "tpa_ports"
#define TPA_STEER_MAP_CONFIG   "tpa_config"
#define TPA_STEER_MAP_STATS    "tpa_stats"
#define TPA_STEER_PROG_NAME    "tpa_steer"
#define TPA_STEER_TC_PROG_NAME "tpa_steer_tc"

#endif
