/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A memif client keeps trying to get its link. DPDK 22.11's net_memif client connects to the
 * server's socket only when its port starts: if the server goes away (exits, restarts) or
 * refuses it (a memif server serves one client per id, and the previous client's departure may
 * not be processed yet when the next one connects: "Already connected"), the link stays down
 * for good, and the program's connections wait for ever. So while the link is down, the port
 * is restarted (after MEMIF_RETRY_NS, then less and less often), with EAL's interrupt thread
 * kept out (port_guard.c) since the PMD's control channel lives there.
 */
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include "engine_impl.h"

/* Down this long before the first restart (a link comes up within a few ms of the port's start
 * on an idle machine; a busy one may take much longer), then twice as long after each restart
 * that did not bring it up (a handshake slower than that is never cut short for ever), up to
 * MEMIF_RETRY_MAX_NS. */
#define MEMIF_RETRY_NS     250000000ull
#define MEMIF_RETRY_MAX_NS 2000000000ull
/* Look at the link this often. */
#define MEMIF_CHECK_NS 10000000ull

void memif_link_init(struct memif_link *l, uint64_t now_ns)
{
	l->next_check_ns = now_ns;
	l->down_since_ns = now_ns;
	l->restarts = 0;
	l->up = 0;
	l->retry_ns = MEMIF_RETRY_NS;
}

/* Restart the port; the PMD's complaints while the server is away (one per try) are muted. */
static int restart(uint16_t port, struct port_guard *g)
{
	int type = rte_log_register("pmd.net.memif");
	int level = type >= 0 ? rte_log_get_level((uint32_t)type) : -1;
	if (level >= 0)
		rte_log_set_level((uint32_t)type, RTE_LOG_EMERG);
	port_guard_lock(g);
	rte_eth_dev_stop(port);
	int rc = rte_eth_dev_start(port);
	/* A port that did not start must not be burst on (ethdev complains with a stack dump
	 * on every call) until a later restart works. */
	__atomic_store_n(&g->stopped, rc != 0, __ATOMIC_RELAXED);
	port_guard_unlock(g);
	if (level >= 0)
		rte_log_set_level((uint32_t)type, (uint32_t)level);
	return rc;
}

int memif_link_upkeep(struct memif_link *l, uint16_t port, struct port_guard *g, pid_t creator,
                      uint64_t now_ns)
{
	if (now_ns < l->next_check_ns)
		return 0;
	l->next_check_ns = now_ns + MEMIF_CHECK_NS;
	if (getpid() != creator)
		return 0; /* a fork child: the port and EAL's threads are its creator's */
	struct rte_eth_link link;
	int up = rte_eth_link_get_nowait(port, &link) == 0 && link.link_status;
	if (up) {
		l->up = 1;
		l->retry_ns = MEMIF_RETRY_NS;
		return 0;
	}
	if (l->up) {
		l->up = 0;
		l->down_since_ns = now_ns;
	}
	if (now_ns - l->down_since_ns < l->retry_ns)
		return 0;
	restart(port, g);
	l->restarts++;
	l->down_since_ns = now_ns;
	l->retry_ns = l->retry_ns * 2 < MEMIF_RETRY_MAX_NS ? l->retry_ns * 2 : MEMIF_RETRY_MAX_NS;
	return 1;
}
