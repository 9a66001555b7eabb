/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-socket buffers: the send byte ring, the in-order receive queue and the out-of-order
 * queue. Memory grows on demand up to the socket's limits; nothing is allocated per packet
 * except when a queue's entry array has to grow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "checksum.h"
#include "tcp_impl.h"

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;
	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

int tcp_sndbuf_reserve(struct tpa_stack *s, struct tcp_sock *ts, uint32_t want)
{
	struct tcp_sndbuf *b = &ts->sb;
	if (want <= b->cap)
		return 0;
	uint32_t cap = pow2_at_least(want < 16384 ? 16384 : want);
	uint8_t *nb = stack_alloc(s, cap);
	if (!nb)
		return -ENOMEM;
	if (b->len) {
		uint32_t first = b->cap - b->head;
		if (first > b->len)
			first = b->len;
		memcpy(nb, b->buf + b->head, first);
		memcpy(nb + first, b->buf, b->len - first);
	}
	stack_free(s, b->buf);
	b->buf = nb;
	b->cap = cap;
	b->head = 0;
	return 0;
}

uint32_t tcp_sndbuf_space(const struct tcp_sock *ts)
{
	return ts->sb.len >= ts->sndbuf_max ? 0 : ts->sndbuf_max - ts->sb.len;
}

size_t tcp_sndbuf_append(struct tpa_stack *s, struct tcp_sock *ts, const void *data, size_t len)
{
	uint32_t space = tcp_sndbuf_space(ts);
	if (len > space)
		len = space;
	if (!len)
		return 0;
	struct tcp_sndbuf *b = &ts->sb;
	if (b->len + len > b->cap) {
		/* Grow to twice the need to keep the copies amortised. */
		uint64_t want = (uint64_t)(b->len + len) * 2;
		if (want > ts->sndbuf_max)
			want = ts->sndbuf_max;
		if (want < b->len + len)
			want = b->len + len;
		if (tcp_sndbuf_reserve(s, ts, (uint32_t)want) < 0) {
			/* Take what fits in the current ring. */
			len = b->cap - b->len;
			if (!len)
				return 0;
		}
	}
	uint32_t tail = (b->head + b->len) & (b->cap - 1);
	uint32_t first = b->cap - tail;
	if (first > len)
		first = (uint32_t)len;
	memcpy(b->buf + tail, data, first);
	if (len > first) /* wrapped: the rest at the start (a call per write otherwise) */
		memcpy(b->buf, (const uint8_t *)data + first, len - first);
	b->len += (uint32_t)len;
	return len;
}

void tcp_sndbuf_copy_out(const struct tcp_sock *ts, uint32_t off, void *dst, uint32_t len)
{
	const struct tcp_sndbuf *b = &ts->sb;
	uint32_t pos = (b->head + off) & (b->cap - 1);
	uint32_t first = b->cap - pos;
	if (first > len)
		first = len;
	memcpy(dst, b->buf + pos, first);
	if (len > first)
		memcpy((uint8_t *)dst + first, b->buf, len - first);
}

uint32_t tcp_sndbuf_copy_out_csum(const struct tcp_sock *ts, uint32_t off, void *dst, uint32_t len,
                                  uint32_t sum)
{
	const struct tcp_sndbuf *b = &ts->sb;
	uint32_t pos = (b->head + off) & (b->cap - 1);
	uint32_t first = b->cap - pos;
	if (first >= len)
		return tpa_csum_copy(dst, b->buf + pos, len, sum);
	sum = tpa_csum_copy(dst, b->buf + pos, first, sum);
	uint32_t wrapped = tpa_csum_copy((uint8_t *)dst + first, b->buf, len - first, 0);
	return tpa_csum_add_at(sum, wrapped, first);
}

void tcp_sndbuf_consume(struct tcp_sock *ts, uint32_t len)
{
	struct tcp_sndbuf *b = &ts->sb;
	if (len > b->len)
		len = b->len;
	b->len -= len;
	b->head = b->len ? (b->head + len) & (b->cap - 1) : 0;
}

/* ---- receive queues ------------------------------------------------------------------ */

static int rxq_grow(struct tpa_stack *s, struct tcp_rxq *q)
{
	uint32_t cap = q->cap ? q->cap * 2 : 16;
	struct tcp_rxseg *v = stack_alloc(s, sizeof(*v) * cap);
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->count; i++)
		v[i] = q->v[(q->head + i) & (q->cap - 1)];
	stack_free(s, q->v);
	q->v = v;
	q->cap = cap;
	q->head = 0;
	return 0;
}

/* cap is a power of two (16, doubled). */
static inline struct tcp_rxseg *rxq_at(struct tcp_rxq *q, uint32_t i)
{
	return &q->v[(q->head + i) & (q->cap - 1)];
}

int tcp_rxq_push(struct tpa_stack *s, struct tcp_rxq *q, const struct tcp_rxseg *e)
{
	if (q->count == q->cap && rxq_grow(s, q) < 0)
		return -ENOMEM;
	*rxq_at(q, q->count) = *e;
	q->count++;
	return 0;
}

void tcp_rxq_clear(struct tpa_stack *s, struct tcp_rxq *q)
{
	for (uint32_t i = 0; i < q->count; i++) {
		struct tcp_rxseg *e = rxq_at(q, i);
		tcp_of(s)->mbufs_held -= e->m->nb_segs;
		rte_pktmbuf_free(e->m);
	}
	q->count = 0;
	q->head = 0;
}

/* Single-segment mbuf with room after the data: small payloads are appended there so that a
 * stream of tiny segments does not pin one mbuf each. */
static bool try_append(struct tcp_rxseg *tail, struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	struct rte_mbuf *t = tail->m;
	if (len > 512 || t->nb_segs != 1 || rte_mbuf_refcnt_read(t) != 1 || m->nb_segs != 1)
		return false;
	if (tail->off + tail->len != t->data_len || rte_pktmbuf_tailroom(t) < len)
		return false;
	memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len),
	       rte_pktmbuf_mtod_offset(m, uint8_t *, off), len);
	t->data_len += (uint16_t)len;
	t->pkt_len += len;
	tail->len += len;
	return true;
}

/* tcp_rcv_queue's entry for a full queue: grown first. Out of line (cold) so that the usual
 * queueing needs no saved registers. */
__attribute__((noinline, cold)) static void rcv_queue_grow(struct tpa_stack *s, struct tcp_sock *ts,
                                                           struct rte_mbuf *m, uint32_t off,
                                                           uint32_t len)
{
	struct tcp_rxseg e = {.m = m, .off = off, .len = len};
	if (tcp_rxq_push(s, &ts->rq, &e) < 0) {
		/* Cannot happen unless the allocator fails; the bytes were acknowledged already, so
		 * a loss here must not be silent: reset the connection instead. */
		ts->rcv_queued -= len;
		rte_pktmbuf_free(m);
		STAT_INC(s, tcp_drop_nomem);
		tcp_send_rst(s, ts);
		tcp_sock_abort(s, ts, ECONNRESET);
		return;
	}
	tcp_of(s)->mbufs_held += m->nb_segs;
}

void tcp_rcv_queue_more(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m, uint32_t off,
                        uint32_t len)
{
	struct tcp_layer *tl = tcp_of(s);
	struct tcp_rxq *q = &ts->rq;
	ts->rcv_queued += len;
	ts->stat_bytes_received += len;
	STAT_ADD(s, tcp_bytes_rx, len);
	if (q->count && try_append(rxq_at(q, q->count - 1), m, off, len)) {
		rte_pktmbuf_free(m);
		return;
	}
	if (q->count == q->cap) {
		rcv_queue_grow(s, ts, m, off, len);
		return;
	}
	*rxq_at(q, q->count) = (struct tcp_rxseg){.m = m, .off = off, .len = len};
	q->count++;
	tl->mbufs_held += m->nb_segs;
}

static void ooo_remove(struct tpa_stack *s, struct tcp_sock *ts, uint32_t i)
{
	struct tcp_rxq *q = &ts->ooo;
	struct tcp_rxseg *e = &q->v[i];
	tcp_of(s)->mbufs_held -= e->m->nb_segs;
	ts->ooo_bytes -= e->len;
	rte_pktmbuf_free(e->m);
	memmove(&q->v[i], &q->v[i + 1], (q->count - i - 1) * sizeof(*e));
	q->count--;
}

/* The ooo queue is kept as a plain sorted array (head always 0): it holds at most
 * ooo_limit / mss entries, so insertion by memmove is cheap. */
int tcp_ooo_insert(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m, uint32_t seq,
                   uint32_t off, uint32_t len, bool *dup)
{
	struct tcp_rxq *q = &ts->ooo;
	uint32_t end = seq + len;
	*dup = false;
	/* Trim against the entries before and after; drop what is fully held already. */
	uint32_t i = 0;
	while (i < q->count && seq_leq(q->v[i].seq + q->v[i].len, seq))
		i++;
	/* q->v[i] is the first entry ending after seq. */
	if (i < q->count && seq_leq(q->v[i].seq, seq)) {
		uint32_t e_end = q->v[i].seq + q->v[i].len;
		if (seq_geq(e_end, end)) {
			*dup = true;
			ts->ooo_last_seq = q->v[i].seq;
			return -EEXIST;
		}
		uint32_t cut = e_end - seq;
		seq += cut;
		off += cut;
		len -= cut;
		i++;
	}
	/* Entries entirely covered by the new data go; a partial overlap trims the new data. */
	while (i < q->count && seq_leq(q->v[i].seq + q->v[i].len, end)) {
		ooo_remove(s, ts, i);
	}
	if (i < q->count && seq_lt(q->v[i].seq, end)) {
		len = q->v[i].seq - seq;
		end = seq + len;
	}
	/* Entries are bounded too, not only bytes: each pins an mbuf from the pool every
	 * connection shares, so tiny segments with gaps (one byte in every other position) would
	 * otherwise let one peer hold ooo_limit mbufs. Segments of 512 bytes or more fill the
	 * byte limit first. */
	if (ts->ooo_bytes + len > s->cfg.tcp.ooo_limit ||
	    q->count >= s->cfg.tcp.ooo_limit / 512 + 8)
		return -ENOBUFS;
	if (q->count == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 8;
		struct tcp_rxseg *v = stack_alloc(s, sizeof(*v) * cap);
		if (!v)
			return -ENOBUFS;
		if (q->count)
			memcpy(v, q->v, sizeof(*v) * q->count);
		stack_free(s, q->v);
		q->v = v;
		q->cap = cap;
	}
	memmove(&q->v[i + 1], &q->v[i], (q->count - i) * sizeof(q->v[0]));
	q->v[i] = (struct tcp_rxseg){.m = m, .seq = seq, .off = off, .len = len};
	q->count++;
	ts->ooo_bytes += len;
	ts->ooo_last_seq = seq;
	tcp_of(s)->mbufs_held += m->nb_segs;
	return 0;
}

uint32_t tcp_ooo_drain(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_rxq *q = &ts->ooo;
	uint32_t moved = 0;
	while (q->count) {
		struct tcp_rxseg *e = &q->v[0];
		if (seq_gt(e->seq, ts->rcv_nxt))
			break;
		uint32_t e_end = e->seq + e->len;
		if (seq_leq(e_end, ts->rcv_nxt)) {
			ooo_remove(s, ts, 0);
			continue;
		}
		uint32_t cut = ts->rcv_nxt - e->seq;
		struct rte_mbuf *m = e->m;
		uint32_t off = e->off + cut, len = e->len - cut;
		tcp_of(s)->mbufs_held -= m->nb_segs;
		ts->ooo_bytes -= e->len;
		memmove(&q->v[0], &q->v[1], (q->count - 1) * sizeof(*e));
		q->count--;
		ts->rcv_nxt += len;
		moved += len;
		tcp_rcv_queue(s, ts, m, off, len);
		if (ts->state == TPA_TCP_CLOSED)
			break;
	}
	return moved;
}

int tcp_ooo_sack_blocks(const struct tcp_sock *ts, struct tcp_sack_block *out, int max)
{
	const struct tcp_rxq *q = &ts->ooo;
	int n = 0;
	struct tcp_sack_block blocks[64];
	int nb = 0;
	/* Merge adjacent entries into blocks. */
	for (uint32_t i = 0; i < q->count && nb < 64; i++) {
		uint32_t st = q->v[i].seq, en = st + q->v[i].len;
		if (nb && blocks[nb - 1].end == st)
			blocks[nb - 1].end = en;
		else
			blocks[nb++] = (struct tcp_sack_block){st, en};
	}
	/* The block holding the latest arrival goes first (RFC 2018 section 4). */
	int first = -1;
	for (int i = 0; i < nb; i++)
		if (seq_in_range(ts->ooo_last_seq, blocks[i].start, blocks[i].end))
			first = i;
	if (first >= 0 && n < max)
		out[n++] = blocks[first];
	for (int i = nb - 1; i >= 0 && n < max; i--)
		if (i != first)
			out[n++] = blocks[i];
	return n;
}

/* A consumed receive mbuf. The usual one (one segment, direct, ours alone) is kept by the
 * stack for the next segment it builds (stack_mbuf_recycle), without rte_pktmbuf_free's chain
 * walk and call; any other is freed. */
static inline void rx_mbuf_free(struct tpa_stack *s, struct rte_mbuf *m)
{
	if (likely(m->nb_segs == 1 && !m->next && RTE_MBUF_DIRECT(m) &&
	           rte_mbuf_refcnt_read(m) == 1))
		stack_mbuf_recycle(s, m);
	else
		rte_pktmbuf_free(m);
}

/* One buffer, no flags, the whole queue one segment held in its first mbuf: the request of a
 * request/response protocol. The same copy and bookkeeping as tcp_rcv_copy's first branch,
 * without its loop; anything else returns -1 for the general path. */
ssize_t tcp_rcv_copy_one(struct tpa_stack *s, struct tcp_sock *ts, void *buf, size_t len)
{
	struct tcp_rxq *q = &ts->rq;
	if (q->count != 1 || !len)
		return -1;
	struct tcp_rxseg *e = rxq_at(q, 0);
	uint32_t n = len < e->len ? (uint32_t)len : e->len;
	if (e->off + n > e->m->data_len)
		return -1;
	memcpy(buf, rte_pktmbuf_mtod_offset(e->m, const uint8_t *, e->off), n);
	if (n == e->len) {
		tcp_of(s)->mbufs_held -= e->m->nb_segs;
		rx_mbuf_free(s, e->m);
		q->count = 0;
		q->head = 0;
	} else {
		e->off += n;
		e->len -= n;
	}
	ts->rcv_queued -= n;
	return n;
}

/* Copy (or peek, or discard) up to `want` in-order bytes into the iovec. */
size_t tcp_rcv_copy(struct tpa_stack *s, struct tcp_sock *ts, const struct iovec *iov, int iovcnt,
                    size_t want, bool peek, bool discard)
{
	struct tcp_rxq *q = &ts->rq;
	size_t done = 0;
	int vi = 0;
	size_t voff = 0;
	uint32_t qi = 0;
	uint32_t skip = 0; /* for peek: bytes of entry qi already copied */
	while (done < want && qi < q->count) {
		struct tcp_rxseg *e = rxq_at(q, qi);
		uint32_t avail = e->len - skip;
		uint32_t n = avail;
		if (n > want - done)
			n = (uint32_t)(want - done);
		uint32_t at = e->off + skip;
		if (!discard && at + n <= e->m->data_len && vi < iovcnt &&
		    iov[vi].iov_len - voff >= n) {
			/* In the first segment and room in the current buffer: one copy (a
			 * request of a request/response protocol). */
			memcpy((uint8_t *)iov[vi].iov_base + voff,
			       rte_pktmbuf_mtod_offset(e->m, const uint8_t *, at), n);
			voff += n;
		} else if (!discard) {
			/* Copy n bytes from the mbuf chain at e->off + skip into the iovec. */
			uint32_t left = n, pos = at;
			struct rte_mbuf *seg = e->m;
			while (seg && pos >= seg->data_len) {
				pos -= seg->data_len;
				seg = seg->next;
			}
			while (left && seg) {
				uint32_t chunk = seg->data_len - pos;
				if (chunk > left)
					chunk = left;
				const uint8_t *src =
				        rte_pktmbuf_mtod_offset(seg, const uint8_t *, pos);
				while (chunk) {
					while (vi < iovcnt && voff == iov[vi].iov_len) {
						vi++;
						voff = 0;
					}
					if (vi >= iovcnt)
						break;
					size_t c = iov[vi].iov_len - voff;
					if (c > chunk)
						c = chunk;
					memcpy((uint8_t *)iov[vi].iov_base + voff, src, c);
					voff += c;
					src += c;
					chunk -= (uint32_t)c;
					left -= (uint32_t)c;
				}
				pos = 0;
				seg = seg->next;
			}
		}
		done += n;
		if (peek) {
			if (n == avail) {
				qi++;
				skip = 0;
			} else {
				skip += n;
			}
			continue;
		}
		if (n == e->len) {
			tcp_of(s)->mbufs_held -= e->m->nb_segs;
			rx_mbuf_free(s, e->m);
			q->head = (q->head + 1) & (q->cap - 1);
			q->count--;
		} else {
			e->off += n;
			e->len -= n;
		}
	}
	if (!q->count)
		q->head = 0;
	if (!peek)
		ts->rcv_queued -= (uint32_t)done;
	return done;
}
