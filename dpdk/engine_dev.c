/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stack's side of the engine: the device it receives from and transmits to (every served
 * queue of the port, the kernel's frames left to it, the Tx backlog, fault injection), its
 * clock, its hooks into the kernel (ports held and steered, neighbours resolved) and its
 * memory (the shared heap), its secret key. engine.c makes the engine and hands this to
 * tpa_stack_create.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "engine_state.h"

static uint64_t clock_now(void *ctx)
{
	(void)ctx;
	return tpa_engine_now_ns();
}

/* ---- netdev over the port --------------------------------------------------------------- */

/* Every queue, starting one further each burst so a busy queue never starves the others. A
 * flow may move between queues at any time (the sender rehashes it): the stack has one socket
 * table for all of them, so the queue a segment came in on does not matter. */
static uint16_t rx_queues(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t max)
{
	if (e->nq == 1)
		return rte_eth_rx_burst(e->rxq[0].port, e->rxq[0].queue, pkts, max);
	uint16_t n = 0;
	uint16_t q = e->rx_next;
	for (uint16_t i = 0; i < e->nq && n < max; i++) {
		n += rte_eth_rx_burst(e->rxq[q].port, e->rxq[q].queue, pkts + n,
		                      (uint16_t)(max - n));
		if (++q == e->nq)
			q = 0;
	}
	if (++e->rx_next == e->nq)
		e->rx_next = 0;
	return n;
}

static uint16_t rx_all_queues(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t max)
{
	if (!e->guarded)
		return rx_queues(e, pkts, max);
	if (!port_guard_enter(&e->guard))
		return 0; /* the link is changing: nothing to read */
	uint16_t n = rx_queues(e, pkts, max);
	port_guard_leave(&e->guard);
	return n;
}

static uint16_t tx_port(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t n)
{
	if (!e->guarded)
		return rte_eth_tx_burst(e->info.port_id, 0, pkts, n);
	uint16_t sent = 0;
	/* The interrupt side holds the port while the link changes: as a full ring. */
	if (port_guard_enter(&e->guard)) {
		sent = rte_eth_tx_burst(e->info.port_id, 0, pkts, n);
		port_guard_leave(&e->guard);
	}
	if (e->via_tpad && sent)
		tpad_client_kick();
	struct rte_eth_link link;
	if (sent)
		e->link_seen_up = 1;
	else if (n && e->link_seen_up && rte_eth_link_get_nowait(e->info.port_id, &link) == 0 &&
	         !link.link_status)
		e->link_lost = 1; /* the peer went; the next one must not get its frames */
	return sent;
}

/* Frames held for a memif peer that went are dropped, not sent to the next one. */
void engine_tx_link_check(struct tpa_engine *e)
{
	if (e->link_lost) {
		e->link_lost = 0;
		tx_backlog_discard(&e->txb);
	}
}

uint16_t engine_tx_port_cb(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	return tx_port(ctx, pkts, n);
}

/* The XDP program's decision, for a packet socket that sees every frame of the interface:
 * IPv4 TCP, not a fragment, to our address and a steered port. The rest is the kernel's, and
 * the stack must not answer it (a RST to a kernel connection's SYN). */
static int frame_is_steered(const struct tpa_engine *e, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len < 14 + 20 + 4 || f[12] != 0x08 || f[13] != 0x00)
		return 0;
	const uint8_t *ip = f + 14;
	uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20 || len < 14 + ihl + 4 || ip[9] != IPPROTO_TCP ||
	    ((ip[6] & 0x3f) | ip[7]) != 0 || memcmp(ip + 16, &e->info.ipv4_addr, 4))
		return 0;
	uint16_t dport = (uint16_t)(ip[ihl + 2] << 8 | ip[ihl + 3]);
	return (e->steered[dport / 8] >> (dport % 8)) & 1;
}

static uint16_t keep_steered(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t k = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (frame_is_steered(e, pkts[i])) {
			pkts[k++] = pkts[i];
		} else {
			rte_pktmbuf_free(pkts[i]);
			e->rx_not_steered++;
		}
	}
	return k;
}

static uint16_t rx_frames(struct tpa_engine *e, struct rte_mbuf **pkts, uint16_t max)
{
	if (e->cfg.port_kind == TPA_PORT_AF_PACKET && e->cfg.xdp_steer) {
		uint16_t n = keep_steered(e, pkts, rx_all_queues(e, pkts, max));
		return e->fault.active ? fault_apply(&e->fault, &e->fault.rx, e->pool, pkts, n, max)
		                       : n;
	}
	if (!e->fault.active)
		return rx_all_queues(e, pkts, max);
	/* Leave room for duplicates and frames released from the reorder hold. */
	uint16_t want = max > 2 ? max / 2 : 1;
	uint16_t n = rx_all_queues(e, pkts, want);
	return fault_apply(&e->fault, &e->fault.rx, e->pool, pkts, n, max);
}

static uint16_t nd_rx(void *ctx, struct rte_mbuf **pkts, uint16_t max)
{
	struct tpa_engine *e = ctx;
	uint16_t n = rx_frames(e, pkts, max);
	/* tpa capture: one branch per burst while off. */
	if (__builtin_expect(e->cap.ctl != NULL, 0))
		capture_burst(&e->cap, pkts, n, TPA_CAPTURE_RX);
	return n;
}

static uint16_t nd_tx(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct tpa_engine *e = ctx;
	/* What the port does not take waits for room (backpressure), in order. */
	if (!e->fault.active) {
		if (__builtin_expect(e->cap.ctl != NULL, 0))
			capture_burst(&e->cap, pkts, n, TPA_CAPTURE_TX);
		tx_backlog_send(&e->txb, engine_tx_port_cb, e, pkts, n);
		engine_tx_link_check(e);
		return n;
	}
	struct rte_mbuf *out[512];
	if (n > 256)
		n = 256;
	memcpy(out, pkts, n * sizeof(pkts[0]));
	uint16_t m = fault_apply(&e->fault, &e->fault.tx, e->pool, out, n, 512);
	if (e->cap.ctl) /* what leaves after the injected faults */
		capture_burst(&e->cap, out, m, TPA_CAPTURE_TX);
	uint16_t sent = tx_port(e, out, m);
	/* Under fault injection a full ring is one more loss, not back-pressure. */
	for (uint16_t i = sent; i < m; i++) {
		rte_pktmbuf_free(out[i]);
		e->st.tx_fault_unsent++;
	}
	return n;
}

/* ---- stack hooks ------------------------------------------------------------------------ */

static int hook_port_reserve(void *ctx, uint32_t laddr_be, uint16_t *port)
{
	struct tpa_engine *e = ctx;
	(void)laddr_be;
	if (e->kernel_iface) {
		int rc = port_hold_reserve(e->hold, port);
		if (rc)
			e->st.reserve_fail++;
		return rc;
	}
	/* No kernel on this port: the engine owns the whole ephemeral range. */
	for (uint32_t i = 0; i < 16384; i++) {
		uint32_t p = 49152 + (e->next_local_port++ % 16384);
		if (!(e->local_ports[p / 8] & (1u << (p % 8)))) {
			e->local_ports[p / 8] |= (uint8_t)(1u << (p % 8));
			*port = (uint16_t)p;
			return 0;
		}
	}
	e->st.reserve_fail++;
	return -EADDRNOTAVAIL;
}

static void hook_port_release(void *ctx, uint16_t port)
{
	struct tpa_engine *e = ctx;
	if (e->kernel_iface)
		port_hold_drop(e->hold, port);
	else
		e->local_ports[port / 8] &= (uint8_t) ~(1u << (port % 8));
}

int tpa_engine_steer_port(struct tpa_engine *e, uint16_t port, int on)
{
	if (!e || !port)
		return -EINVAL;
	int rc = 0;
	if (on)
		e->steered[port / 8] |= (uint8_t)(1u << (port % 8));
	else
		e->steered[port / 8] &= (uint8_t) ~(1u << (port % 8));
	if (on) {
		e->st.steer_on++;
		if (e->kernel_iface)
			rc = port_hold_take(e->hold, port);
		if (!rc && e->xdp_open)
			rc = xdp_ctl_steer(&e->xdp, port, 1);
		if (!rc && e->via_tpad)
			rc = tpad_client_steer(e, port, 1);
	} else {
		e->st.steer_off++;
		if (e->xdp_open)
			rc = xdp_ctl_steer(&e->xdp, port, 0);
		if (e->via_tpad)
			rc = tpad_client_steer(e, port, 0);
		/* A reserved port stays held until port_release; a listener's hold goes now. */
		if (e->kernel_iface && !(e->hold->reserved[port / 8] & (1u << (port % 8))))
			port_hold_drop(e->hold, port);
	}
	if (rc)
		e->st.steer_fail++;
	return rc;
}

static void hook_port_steer(void *ctx, uint16_t port, int on)
{
	tpa_engine_steer_port(ctx, port, on);
}

static void hook_neigh_resolve(void *ctx, uint32_t ip_be)
{
	struct tpa_engine *e = ctx;
	e->st.neigh_resolves++;
	/* A datagram to the discard port makes the kernel resolve the address (ARP) like for
	 * any of its own packets; the answer comes back as an RTM_NEWNEIGH notification. An
	 * entry the kernel already has produces no notification, so read the table again too. */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
	sa.sin_addr.s_addr = ip_be;
	if (e->resolve_fd >= 0)
		(void)!sendto(e->resolve_fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sa,
		              sizeof(sa));
	e->resolve_until_ns = tpa_engine_now_ns() + RESOLVE_WATCH_NS;
}

/* A caller's sock_event with a NULL ctx: the stack's hooks share the engine's ctx. */
static void hook_sock_event(void *ctx, int sock, const struct tpa_sock_state *st)
{
	struct tpa_engine *e = ctx;
	e->cfg.sock_event(NULL, sock, st);
}

void engine_neigh_to_stack(void *arg, uint32_t ip_be, const uint8_t *mac)
{
	struct tpa_engine *e = arg;
	e->st.neigh_updates++;
	if (e->stack)
		tpa_stack_neigh_update(e->stack, ip_be, mac);
}

/* The stack's state goes to the shared heap with the engine: a fork child drives the same
 * stack (the callers' lock serialises every process). */
static void *stack_shm_alloc(void *ctx, size_t size)
{
	return shm_alloc(ctx, size);
}

static void stack_shm_free(void *ctx, void *p)
{
	shm_free(ctx, p);
}

int engine_stack_wire(struct tpa_engine *e, struct tpa_stack_config *sc)
{
	sc->dev.rx_burst = nd_rx;
	sc->dev.tx_burst = nd_tx;
	sc->dev.ctx = e;
	sc->clock.now_ns = clock_now;
	sc->clock.ctx = e;
	sc->hooks.port_reserve = hook_port_reserve;
	sc->hooks.port_release = hook_port_release;
	sc->hooks.port_steer = hook_port_steer;
	sc->hooks.neigh_resolve = e->kernel_iface ? hook_neigh_resolve : NULL;
	/* The caller's readiness hook goes to the stack as it is, with its own ctx; a NULL ctx
	 * (which the stack would read as "the others' ctx") through hook_sock_event. */
	if (e->cfg.sock_event_ctx) {
		sc->hooks.sock_event = e->cfg.sock_event;
		sc->hooks.sock_event_ctx = e->cfg.sock_event_ctx;
	} else {
		sc->hooks.sock_event = e->cfg.sock_event ? hook_sock_event : NULL;
	}
	sc->hooks.ctx = e;
	sc->mem.alloc = stack_shm_alloc;
	sc->mem.free = stack_shm_free;
	sc->mem.ctx = e->heap;
	if (getrandom(sc->isn_key, sizeof(sc->isn_key), 0) != (ssize_t)sizeof(sc->isn_key))
		return errno ? -errno : -EIO;
	return 0;
}
