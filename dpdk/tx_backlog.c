/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transmit backpressure: frames the port does not take (its ring is full because the peer is
 * slow to drain it, or a memif link is not up yet or is changing) wait here, in order, and go
 * before anything newer, instead of being dropped. A dropped segment costs TCP a
 * retransmission (after a timeout when it was the last of a flight), a dropped ARP request a
 * one-second retry; on memif a client whose peer process is descheduled for a while (a loaded
 * machine) filled its ring and lost frames it could have kept.
 *
 * Bounded both ways: at most TX_BACKLOG_MAX frames (beyond that the newest are dropped), and a
 * backlog that has not moved for TX_BACKLOG_STALE_NS (the peer is gone) is dropped whole, so
 * that a dead link neither holds the pool nor keeps a sleeper waking up.
 */
#include <rte_mbuf.h>

#include "engine_impl.h"

/* Offered again this long after a try that left frames (sleepers wake up for it). */
#define TX_BACKLOG_RETRY_NS 100000ull
#define TX_BACKLOG_STALE_NS 1000000000ull

void tx_backlog_init(struct tx_backlog *b)
{
	b->head = b->n = 0;
	b->stuck_since_ns = 0;
	b->retry_ns = UINT64_MAX;
}

static void drop_all(struct tx_backlog *b)
{
	while (b->n) {
		rte_pktmbuf_free(b->m[b->head]);
		b->head = (b->head + 1) % TX_BACKLOG_MAX;
		b->n--;
		b->dropped++;
	}
	b->head = 0;
	b->retry_ns = UINT64_MAX;
}

/* Offer the held frames, oldest first; returns how many the port took. */
static uint32_t offer(struct tx_backlog *b, tx_backlog_fn fn, void *ctx)
{
	uint32_t sent = 0;
	while (b->n) {
		uint32_t run = TX_BACKLOG_MAX - b->head;
		if (run > b->n)
			run = b->n;
		if (run > 512)
			run = 512;
		uint16_t k = fn(ctx, b->m + b->head, (uint16_t)run);
		if (k > run)
			k = (uint16_t)run;
		b->head = (b->head + k) % TX_BACKLOG_MAX;
		b->n -= k;
		sent += k;
		if (k < run)
			break;
	}
	if (!b->n)
		b->head = 0;
	return sent;
}

static void hold(struct tx_backlog *b, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		if (b->n == TX_BACKLOG_MAX) {
			rte_pktmbuf_free(pkts[i]);
			b->dropped++;
			continue;
		}
		b->m[(b->head + b->n) % TX_BACKLOG_MAX] = pkts[i];
		b->n++;
		b->held++;
	}
}

/* After a try: when to try again, and whether the backlog is stale. The clock is read only
 * while frames wait: an empty backlog (every burst the port took whole) costs no clock read. */
static void after_try(struct tx_backlog *b, uint32_t sent)
{
	if (!b->n) {
		b->retry_ns = UINT64_MAX;
		b->stuck_since_ns = 0;
		return;
	}
	uint64_t now_ns = tpa_engine_now_ns();
	if (sent || !b->stuck_since_ns)
		b->stuck_since_ns = now_ns;
	else if (now_ns - b->stuck_since_ns > TX_BACKLOG_STALE_NS)
		drop_all(b);
	b->retry_ns = b->n ? now_ns + TX_BACKLOG_RETRY_NS : UINT64_MAX;
}

uint16_t tx_backlog_send(struct tx_backlog *b, tx_backlog_fn fn, void *ctx, struct rte_mbuf **pkts,
                         uint16_t n)
{
	uint32_t sent = 0;
	if (b->n)
		sent = offer(b, fn, ctx);
	uint16_t done = 0;
	if (!b->n && n) {
		done = fn(ctx, pkts, n);
		if (done > n)
			done = n;
		sent += done;
	}
	if (done < n)
		hold(b, pkts + done, (uint16_t)(n - done));
	if (b->n || sent)
		after_try(b, sent);
	return n;
}

uint32_t tx_backlog_flush(struct tx_backlog *b, tx_backlog_fn fn, void *ctx)
{
	if (!b->n)
		return 0;
	uint32_t sent = offer(b, fn, ctx);
	after_try(b, sent);
	return sent;
}

void tx_backlog_discard(struct tx_backlog *b)
{
	drop_all(b);
	b->stuck_since_ns = 0;
}

void tx_backlog_release(struct tx_backlog *b)
{
	uint64_t dropped = b->dropped;
	drop_all(b);
	b->dropped = dropped; /* frames never sent because the engine stopped are not losses */
}
