/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine at run time: one poll round (receive, timers, the Tx backlog, netlink, memif
 * link changes), sleeping on the wait fd until something is due, fault injection settings,
 * info and counters. engine.c makes and ends the engine.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_xdp.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "engine_state.h"

int tpa_engine_wait_fd(struct tpa_engine *e)
{
	return e ? e->wait_fd : -1;
}

uint64_t tpa_engine_next_timer_ns(struct tpa_engine *e)
{
	uint64_t t = e && e->stack ? tpa_stack_next_timer_ns(e->stack) : UINT64_MAX;
	/* Frames waiting for room in the port are offered again then. */
	if (e && e->txb.n && e->txb.retry_ns < t)
		t = e->txb.retry_ns;
	return t;
}

static void drain_event_fd(struct tpa_engine *e)
{
	if (e->via_tpad) {
		tpad_client_drain();
		return;
	}
	uint64_t v;
	if (e->intr_fd >= 0)
		(void)!read(e->intr_fd, &v, sizeof(v));
}

/* (Re)attach the port's Rx event fd to our epoll fd once the link is up; checked every
 * millisecond while it is missing or the link is down. */
void engine_intr_refresh(struct tpa_engine *e)
{
	if (e->via_tpad)
		return; /* tpad's doorbell, always there (tpad_client.c) */
	uint64_t now = tpa_engine_now_ns();
	if (now - e->intr_check_ns < NL_POLL_INTERVAL_NS)
		return;
	e->intr_check_ns = now;
	struct rte_eth_link link;
	if (rte_eth_link_get_nowait(e->info.port_id, &link) || !link.link_status) {
		e->intr_fd = -1;
		return;
	}
	if (e->intr_fd >= 0)
		return;
	if (rte_eth_dev_rx_intr_enable(e->info.port_id, 0))
		return;
	int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(e->info.port_id, 0);
	if (fd < 0)
		return;
	if (engine_wait_add(e, fd))
		return;
	e->intr_fd = fd;
}

int tpa_engine_poll(struct tpa_engine *e)
{
	if (e->rx_intr && (e->intr_fd < 0 || e->prev_idle))
		engine_intr_refresh(e);
	/* Drain the Rx event fd before reading the ring (after an idle round only, to keep the
	 * busy path free of syscalls): a frame that lands after the drain raises it again, so a
	 * sleeper never misses one. */
	if (e->rx_intr && e->prev_idle)
		drain_event_fd(e);
	int work = tpa_stack_poll(e->stack);
	if (e->txb.n) {
		work += (int)tx_backlog_flush(&e->txb, engine_tx_port_cb, e);
		engine_tx_link_check(e);
	}
	if (e->memif_client)
		work += memif_link_upkeep(&e->memif, e->info.port_id, &e->guard, e->creator,
		                          tpa_engine_now_ns());
	if (e->nl.fd >= 0) {
		uint64_t now = tpa_engine_now_ns();
		/* Every millisecond, and at once after tpa_engine_wait woke up (the wait fd
		 * includes this socket). A thread sleeping on the wait fd by itself (the shim)
		 * may find it readable for up to a millisecond after a notification. */
		if (now - e->last_nl_ns >= NL_POLL_INTERVAL_NS || e->nl_due ||
		    now < e->resolve_until_ns) {
			e->nl_due = 0;
			if (now < e->resolve_until_ns &&
			    now - e->last_nl_ns >= NL_POLL_INTERVAL_NS) {
				/* Entries the kernel already had raise no notification: re-read. */
				e->resolve_until_ns = 0;
				work += nl_neigh_dump(&e->nl, engine_neigh_to_stack, e) > 0;
			}
			e->last_nl_ns = now;
			if (e->via_tpad)
				tpad_client_upkeep(e, now);
			int n = nl_neigh_poll(&e->nl, engine_neigh_to_stack, e);
			if (n > 0) {
				work += n;
				/* Packets may wait for this neighbour: send them now. */
				work += tpa_stack_flush(e->stack);
			}
		}
	}
	e->prev_idle = work == 0;
	return work < 0 ? 0 : work;
}

int tpa_engine_wait(struct tpa_engine *e, int64_t timeout_ns)
{
	uint64_t now = tpa_engine_now_ns();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : now + (uint64_t)timeout_ns;
	uint64_t timer = tpa_engine_next_timer_ns(e);
	if (timer < deadline)
		deadline = timer;
	if (e->rx_intr && e->intr_fd < 0 && now + NL_POLL_INTERVAL_NS < deadline)
		deadline = now + NL_POLL_INTERVAL_NS; /* link not up yet: nothing can wake us */
	if (e->resolve_until_ns && now + NL_POLL_INTERVAL_NS < deadline)
		deadline = now + NL_POLL_INTERVAL_NS; /* a resolve may need a table re-read */
	if (deadline <= now || timeout_ns == 0)
		return tpa_engine_poll(e);
	if (e->wait_fd < 0) {
		/* No fd to sleep on (pci): poll in short slices. */
		for (;;) {
			int n = tpa_engine_poll(e);
			now = tpa_engine_now_ns();
			if (n > 0 || now >= deadline)
				return n;
			uint64_t left = deadline - now;
			struct timespec ts = {0, (long)(left < (uint64_t)NOFD_SLEEP_NS
			                                        ? left
			                                        : (uint64_t)NOFD_SLEEP_NS)};
			if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
				return -EINTR;
		}
	}
	if (e->rx_intr) {
		/* Drain, then look at the ring once, so sleeping cannot miss a frame. */
		drain_event_fd(e);
		e->prev_idle = 0;
		int n = tpa_engine_poll(e);
		if (n > 0)
			return n;
		e->prev_idle = 0;
	}
	struct pollfd p = {.fd = e->wait_fd, .events = POLLIN};
	int rc;
	if (deadline == UINT64_MAX) {
		rc = ppoll(&p, 1, NULL, NULL);
	} else {
		uint64_t left = deadline - now;
		struct timespec ts = {(time_t)(left / 1000000000ull), (long)(left % 1000000000ull)};
		rc = ppoll(&p, 1, &ts, NULL);
	}
	if (rc < 0 && errno == EINTR)
		return -EINTR;
	e->prev_idle = 1; /* whatever woke us (port or netlink) gets looked at */
	e->nl_due = 1;
	return tpa_engine_poll(e);
}

void tpa_engine_set_fault(struct tpa_engine *e, const struct tpa_fault_config *fault)
{
	if (!e || !fault)
		return;
	e->cfg.fault = *fault;
	fault_configure(&e->fault, fault);
}

void tpa_engine_get_info(const struct tpa_engine *e, struct tpa_engine_info *info)
{
	if (e && info)
		*info = e->info;
}

void tpa_engine_stats_foreach(const struct tpa_engine *e,
                              void (*fn)(void *arg, const char *name, uint64_t value), void *arg)
{
	if (!e || !fn)
		return;
	const struct fault_state *f = &e->fault;
	fn(arg, "fault_rx_dropped", f->rx.dropped);
	fn(arg, "fault_rx_duplicated", f->rx.duplicated);
	fn(arg, "fault_rx_reordered", f->rx.reordered);
	fn(arg, "fault_rx_corrupted", f->rx.corrupted);
	fn(arg, "fault_tx_dropped", f->tx.dropped);
	fn(arg, "fault_tx_duplicated", f->tx.duplicated);
	fn(arg, "fault_tx_reordered", f->tx.reordered);
	fn(arg, "fault_tx_corrupted", f->tx.corrupted);
	fn(arg, "fault_tx_unsent", e->st.tx_fault_unsent);
	fn(arg, "neigh_updates", e->st.neigh_updates);
	fn(arg, "neigh_resolves", e->st.neigh_resolves);
	fn(arg, "steer_on", e->st.steer_on);
	fn(arg, "steer_off", e->st.steer_off);
	fn(arg, "steer_fail", e->st.steer_fail);
	fn(arg, "port_reserve_fail", e->st.reserve_fail);
	if (e->cfg.port_kind == TPA_PORT_AF_PACKET)
		fn(arg, "rx_not_steered", e->rx_not_steered);
	if (e->memif_client)
		fn(arg, "memif_link_restarts", e->memif.restarts);
	fn(arg, "tx_held", e->txb.held);
	fn(arg, "tx_held_dropped", e->txb.dropped);
	if (e->hold) {
		fn(arg, "ports_held", e->hold->held);
		fn(arg, "ports_held_elsewhere", e->hold->hold_busy);
		fn(arg, "port_hold_fail", e->hold->hold_fail);
	}
	if (e->xdp_open) {
		uint64_t redirected, passed, no_socket;
		xdp_ctl_stats((struct xdp_ctl *)&e->xdp, &redirected, &passed, &no_socket);
		fn(arg, "xdp_redirected", redirected);
		fn(arg, "xdp_passed", passed);
		fn(arg, "xdp_no_socket", no_socket);
	}
	struct rte_eth_stats es = {0};
	for (uint16_t i = 0; i < e->nports_started; i++) {
		struct rte_eth_stats one;
		if (rte_eth_stats_get(e->ports[i], &one))
			continue;
		if (e->nports_started > 1) {
			/* Which queues the traffic came in on: the kernel's (or NIC's) spreading.
			 */
			char name[40];
			snprintf(name, sizeof(name), "port_q%u_ipackets", e->info.queue_first + i);
			fn(arg, name, one.ipackets);
		}
		es.ipackets += one.ipackets;
		es.opackets += one.opackets;
		es.imissed += one.imissed;
		es.ierrors += one.ierrors;
		es.oerrors += one.oerrors;
		es.rx_nombuf += one.rx_nombuf;
	}
	if (e->nports_started) {
		fn(arg, "port_queues", e->nq);
		fn(arg, "port_ipackets", es.ipackets);
		fn(arg, "port_opackets", es.opackets);
		fn(arg, "port_imissed", es.imissed);
		fn(arg, "port_ierrors", es.ierrors);
		fn(arg, "port_oerrors", es.oerrors);
		fn(arg, "port_rx_nombuf", es.rx_nombuf);
	}
	/* The kernel's view of the AF_XDP rings: drops and invalid descriptors that the PMD's own
	 * counters never see. */
	struct xdp_statistics sum = {0};
	int nstat = 0;
	for (int i = 0; i < e->nxsk; i++) {
		struct xdp_statistics xs;
		socklen_t xl = sizeof(xs);
		if (getsockopt(e->xsk_fds[i], SOL_XDP, XDP_STATISTICS, &xs, &xl))
			continue;
		nstat++;
		sum.rx_dropped += xs.rx_dropped;
		sum.rx_invalid_descs += xs.rx_invalid_descs;
		sum.tx_invalid_descs += xs.tx_invalid_descs;
		sum.rx_ring_full += xs.rx_ring_full;
		sum.rx_fill_ring_empty_descs += xs.rx_fill_ring_empty_descs;
		sum.tx_ring_empty_descs += xs.tx_ring_empty_descs;
	}
	if (nstat) {
		fn(arg, "xsk_sockets", (uint64_t)nstat);
		fn(arg, "xsk_rx_dropped", sum.rx_dropped);
		fn(arg, "xsk_rx_invalid_descs", sum.rx_invalid_descs);
		fn(arg, "xsk_tx_invalid_descs", sum.tx_invalid_descs);
		fn(arg, "xsk_rx_ring_full", sum.rx_ring_full);
		fn(arg, "xsk_rx_fill_ring_empty", sum.rx_fill_ring_empty_descs);
		fn(arg, "xsk_tx_ring_empty", sum.tx_ring_empty_descs);
	}
	if (e->pool) {
		fn(arg, "mbufs_free", rte_mempool_avail_count(e->pool));
		fn(arg, "mbufs_in_use", rte_mempool_in_use_count(e->pool) - e->mbufs_held);
		fn(arg, "mbufs_outside_umem", e->mbufs_held);
	}
}
