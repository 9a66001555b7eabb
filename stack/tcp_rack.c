/* SPDX-License-Identifier: BSD-3-Clause */
/* RACK-TLP (RFC 8985): per-segment transmit times, the time-based loss rule, the reordering
 * window and timer, and the tail loss probe's outcome; see tcp_rack.h. */
#include <string.h>

#include "tcp_impl.h"
#include "tcp_rack.h"

#define TCP_RACK_DUPTHRESH 3 /* RFC 8985 6.2 step 4 */

static struct tcp_rack_seg *at(const struct tcp_rack *r, uint32_t i)
{
	return &r->v[(r->head + i) & (r->cap - 1)];
}

void tcp_rack_init(struct tcp_rack *r, uint32_t una)
{
	struct tcp_rack_seg *v = r->v;
	uint32_t cap = r->cap;
	memset(r, 0, sizeof(*r));
	r->v = v;
	r->cap = cap;
	r->reo_wnd_mult = 1;
	r->min_rtt_ns = UINT64_MAX;
	r->fack = una;
}

void tcp_rack_free(struct tpa_stack *s, struct tcp_rack *r)
{
	stack_free(s, r->v);
	r->v = NULL;
	r->cap = r->count = r->head = 0;
}

bool tcp_rack_on(const struct tcp_sock *ts)
{
	return (ts->flags & TSF_SACK_OK) && ts->rack.cap;
}

/* Room for one more record: false when the array is full and cannot grow. */
static bool reserve_one(struct tpa_stack *s, struct tcp_rack *r)
{
	if (r->count < r->cap)
		return true;
	uint32_t cap = r->cap ? r->cap * 2 : TCP_RACK_MIN_SEGS;
	if (cap > TCP_RACK_MAX_SEGS)
		return false;
	struct tcp_rack_seg *v = stack_alloc(s, sizeof(*v) * cap);
	if (!v)
		return false;
	for (uint32_t i = 0; i < r->count; i++)
		v[i] = *at(r, i);
	stack_free(s, r->v);
	r->v = v;
	r->cap = cap;
	r->head = 0;
	return true;
}

/* Index of the first record whose end lies above seq (count if none). */
static uint32_t find(const struct tcp_rack *r, uint32_t seq)
{
	uint32_t lo = 0, hi = r->count;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (seq_gt(at(r, mid)->end, seq))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Make seq a record boundary (split the record holding it); false if there was no room. */
static bool split_at(struct tpa_stack *s, struct tcp_rack *r, uint32_t seq)
{
	uint32_t i = find(r, seq);
	if (i == r->count || !seq_gt(seq, at(r, i)->start))
		return true;
	if (!reserve_one(s, r))
		return false;
	for (uint32_t k = r->count; k > i + 1; k--)
		*at(r, k) = *at(r, k - 1);
	r->count++;
	*at(r, i + 1) = *at(r, i);
	at(r, i)->end = seq;
	at(r, i + 1)->start = seq;
	return true;
}

static void append(struct tpa_stack *s, struct tcp_rack *r, uint32_t seq, uint32_t end)
{
	if (r->count && reserve_one(s, r) == false) {
		/* Full: the last record grows and looks sent now (later than it was). */
		struct tcp_rack_seg *last = at(r, r->count - 1);
		last->end = end;
		last->flags &= ~(uint32_t)(TCP_RACK_SACKED | TCP_RACK_LOST);
		last->xmit_ns = s->now_ns;
		return;
	}
	if (!r->cap)
		return;
	tcp_rack_push(r, seq, end, s->now_ns);
}

void tcp_rack_on_send(struct tpa_stack *s, struct tcp_sock *ts, uint32_t seq, uint32_t end)
{
	struct tcp_rack *r = &ts->rack;
	if (!(ts->flags & TSF_SACK_OK) || !seq_lt(seq, end))
		return;
	if (!r->cap && !reserve_one(s, r))
		return;
	uint32_t top = r->count ? at(r, r->count - 1)->end : seq;
	if (r->count && seq_lt(seq, top)) {
		uint32_t rend = seq_lt(end, top) ? end : top;
		/* A retransmission: exact records when there is room, else whole ones. */
		split_at(s, r, seq);
		split_at(s, r, rend);
		for (uint32_t i = find(r, seq); i < r->count && seq_lt(at(r, i)->start, rend);
		     i++) {
			struct tcp_rack_seg *g = at(r, i);
			g->xmit_ns = s->now_ns;
			g->flags = (g->flags & ~(uint32_t)TCP_RACK_LOST) | TCP_RACK_RETRANS;
		}
		seq = rend;
	}
	if (seq_lt(seq, end))
		append(s, r, seq, end);
}

static bool sent_after(uint64_t t1, uint32_t seq1, uint64_t t2, uint32_t seq2)
{
	return t1 > t2 || (t1 == t2 && seq_gt(seq1, seq2));
}

/* RFC 8985 6.2 steps 2-3 for one delivered record (inline: once per ACK on the receive path). */
static inline void delivered(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_rack_seg *g,
                             uint32_t tsecr)
{
	struct tcp_rack *r = &ts->rack;
	uint64_t rtt = s->now_ns > g->xmit_ns ? s->now_ns - g->xmit_ns : 0;
	if (g->flags & TCP_RACK_RETRANS) {
		/* The ACK may be for the original: use it only when it cannot be. */
		uint32_t ts_at_xmit = (uint32_t)(g->xmit_ns / 1000000u) + ts->ts_offset;
		if (tsecr && (ts->flags & TSF_TS_OK) && seq_lt(tsecr, ts_at_xmit))
			return;
		if (rtt < r->min_rtt_ns)
			return;
	} else if (seq_lt(g->end, r->fack)) {
		r->reordering_seen = true;
	}
	tcp_rack_delivered_rtt(r, g, rtt);
}

/* Records wholly inside [start, end) that the scoreboard holds SACKed become delivered. */
static void sacked_block(struct tpa_stack *s, struct tcp_sock *ts, uint32_t start, uint32_t end,
                         uint32_t tsecr)
{
	struct tcp_rack *r = &ts->rack;
	split_at(s, r, start);
	split_at(s, r, end);
	for (uint32_t i = find(r, start); i < r->count; i++) {
		struct tcp_rack_seg *g = at(r, i);
		if (!seq_lt(g->start, end))
			break;
		if ((g->flags & TCP_RACK_SACKED) || seq_lt(g->start, start) ||
		    seq_gt(g->end, end) || tcp_sack_unsacked_len(&ts->scoreboard, g->start, g->end))
			continue;
		g->flags = (g->flags & ~(uint32_t)TCP_RACK_LOST) | TCP_RACK_SACKED;
		delivered(s, ts, g, tsecr);
	}
}

/* Cumulatively acknowledged records leave (head is kept below cap: the first record is
 * v[head]); the first one left starts at snd_una. */
static inline void retire_acked(struct tpa_stack *s, struct tcp_sock *ts, uint32_t tsecr)
{
	struct tcp_rack *r = &ts->rack;
	uint32_t una = ts->snd_una, mask = r->cap - 1;
	while (r->count) {
		struct tcp_rack_seg *g = &r->v[r->head];
		if (!seq_leq(g->end, una))
			break;
		if (!(g->flags & TCP_RACK_SACKED))
			delivered(s, ts, g, tsecr);
		r->head = (r->head + 1) & mask;
		r->count--;
	}
	if (r->count && seq_lt(r->v[r->head].start, una))
		r->v[r->head].start = una;
}

void tcp_rack_on_ack(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_sack_block *b,
                     unsigned n, uint32_t tsecr)
{
	struct tcp_rack *r = &ts->rack;
	if (!tcp_rack_on(ts))
		return;
	retire_acked(s, ts, tsecr);
	for (unsigned k = 0; k < n; k++)
		if (seq_lt(b[k].start, b[k].end) && seq_gt(b[k].end, ts->snd_una))
			sacked_block(s, ts,
			             seq_gt(b[k].start, ts->snd_una) ? b[k].start : ts->snd_una,
			             b[k].end, tsecr);
	if (r->dsack_round_on && seq_geq(ts->snd_una, r->dsack_round))
		r->dsack_round_on = false;
}

/* tcp_recovery_after_ack for an ACK without SACK blocks (so without a D-SACK or anything newly
 * SACKed), the receive fast path's case, in one function: the same steps, minus the block loop
 * and the probe's outcome when no probe is out. */
void tcp_rack_after_plain_ack(struct tpa_stack *s, struct tcp_sock *ts, uint32_t ack, bool advanced,
                              uint32_t tsecr)
{
	struct tcp_rack *r = &ts->rack;
	if (!tcp_rack_on(ts))
		return;
	retire_acked(s, ts, tsecr);
	if (r->dsack_round_on && seq_geq(ts->snd_una, r->dsack_round))
		r->dsack_round_on = false;
	if (r->tlp_on)
		tcp_tlp_on_ack(s, ts, ack, advanced, false, false);
	if (ts->snd_una == ts->snd_max) {
		ts->tmr[TT_REO] = 0;
		return;
	}
	if (tcp_rack_detect_loss(s, ts))
		tcp_recovery_on_loss(s, ts);
}

void tcp_rack_on_dsack(struct tcp_sock *ts)
{
	struct tcp_rack *r = &ts->rack;
	if (r->dsack_round_on)
		return;
	r->dsack_round = ts->snd_max;
	r->dsack_round_on = true;
	if (r->reo_wnd_mult < 255)
		r->reo_wnd_mult++;
	r->reo_wnd_persist = TCP_RACK_REO_PERSIST;
}

void tcp_rack_exit_recovery(struct tcp_sock *ts)
{
	struct tcp_rack *r = &ts->rack;
	if (--r->reo_wnd_persist <= 0) {
		r->reo_wnd_persist = 0;
		r->reo_wnd_mult = 1;
	}
}

static uint32_t segs_sacked(const struct tcp_rack *r, uint32_t enough)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->count && n < enough; i++)
		n += (at(r, i)->flags & TCP_RACK_SACKED) != 0;
	return n;
}

uint32_t tcp_rack_reo_wnd_us(const struct tpa_stack *s, const struct tcp_sock *ts)
{
	const struct tcp_rack *r = &ts->rack;
	(void)s;
	if (!r->reordering_seen) {
		if (ts->flags & TSF_IN_RECOVERY)
			return 0;
		if (segs_sacked(r, TCP_RACK_DUPTHRESH) >= TCP_RACK_DUPTHRESH)
			return 0;
	}
	if (r->min_rtt_ns == UINT64_MAX)
		return 0;
	uint64_t w = r->min_rtt_ns / 1000 * r->reo_wnd_mult / 4;
	uint32_t srtt = tcp_rtt_srtt_us(&ts->rtt);
	if (srtt && w > srtt)
		w = srtt;
	return (uint32_t)w;
}

uint32_t tcp_rack_detect_loss(struct tpa_stack *s, struct tcp_sock *ts)
{
	struct tcp_rack *r = &ts->rack;
	if (!tcp_rack_on(ts) || !r->valid)
		return 0;
	uint64_t wait_ns = r->rtt_ns + (uint64_t)tcp_rack_reo_wnd_us(s, ts) * 1000u;
	uint64_t timeout = 0;
	uint32_t lost = 0;
	for (uint32_t i = 0; i < r->count; i++) {
		struct tcp_rack_seg *g = at(r, i);
		if (!sent_after(r->xmit_ns, r->end_seq, g->xmit_ns, g->end)) {
			/* Originals go out in sequence order: nothing above was sent earlier. */
			if (!(g->flags & TCP_RACK_RETRANS))
				break;
			continue;
		}
		if (g->flags & (TCP_RACK_SACKED | TCP_RACK_LOST))
			continue;
		uint64_t due = g->xmit_ns + wait_ns;
		if (due <= s->now_ns) {
			g->flags |= TCP_RACK_LOST;
			lost++;
		} else if (due - s->now_ns > timeout) {
			timeout = due - s->now_ns;
		}
	}
	STAT_ADD(s, tcp_rack_lost, lost);
	if (timeout)
		tcp_timer_set(s, ts, TT_REO, s->now_ns + timeout);
	else
		ts->tmr[TT_REO] = 0;
	return lost;
}

uint32_t tcp_rack_pipe(const struct tcp_sock *ts)
{
	const struct tcp_rack *r = &ts->rack;
	uint64_t pipe = 0;
	for (uint32_t i = 0; i < r->count; i++) {
		const struct tcp_rack_seg *g = at(r, i);
		if (!(g->flags & (TCP_RACK_SACKED | TCP_RACK_LOST)))
			pipe += g->end - g->start;
	}
	return pipe > UINT32_MAX ? UINT32_MAX : (uint32_t)pipe;
}

bool tcp_rack_any_lost(const struct tcp_sock *ts)
{
	const struct tcp_rack *r = &ts->rack;
	for (uint32_t i = 0; i < r->count; i++)
		if (at(r, i)->flags & TCP_RACK_LOST)
			return true;
	return false;
}

bool tcp_rack_next_lost(const struct tcp_sock *ts, uint32_t mss, uint32_t *seq, uint32_t *len)
{
	const struct tcp_rack *r = &ts->rack;
	for (uint32_t i = 0; i < r->count; i++) {
		const struct tcp_rack_seg *g = at(r, i);
		if (!(g->flags & TCP_RACK_LOST))
			continue;
		uint32_t start = seq_lt(g->start, ts->snd_una) ? ts->snd_una : g->start;
		uint32_t end = seq_lt(g->end, start + mss) ? g->end : start + mss;
		uint32_t n = tcp_sack_unsacked_len(&ts->scoreboard, start, end);
		if (!n)
			continue;
		*seq = start;
		*len = n;
		return true;
	}
	return false;
}

void tcp_rack_on_rto(struct tcp_sock *ts)
{
	struct tcp_rack *r = &ts->rack;
	for (uint32_t i = 0; i < r->count; i++)
		at(r, i)->flags &= ~(uint32_t)(TCP_RACK_SACKED | TCP_RACK_LOST);
	r->tlp_on = false;
	ts->tmr[TT_REO] = 0;
}

void tcp_rack_timer(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (!tcp_rack_detect_loss(s, ts))
		return;
	STAT_INC(s, tcp_rack_reo_timeout);
	tcp_recovery_on_loss(s, ts);
}

void tcp_tlp_sent(struct tpa_stack *s, struct tcp_sock *ts, uint32_t end, bool retrans)
{
	STAT_INC(s, tcp_tlp_probes);
	ts->rack.tlp_on = true;
	ts->rack.tlp_end = end;
	ts->rack.tlp_retrans = retrans;
}

void tcp_tlp_on_ack(struct tpa_stack *s, struct tcp_sock *ts, uint32_t ack, bool advanced,
                    bool dsack_probe, bool new_sack)
{
	struct tcp_rack *r = &ts->rack;
	if (!r->tlp_on || seq_lt(ack, r->tlp_end))
		return;
	if (!r->tlp_retrans || dsack_probe) {
		/* New data, or the original and the probe both arrived: nothing was lost. */
		r->tlp_on = false;
	} else if (seq_gt(ack, r->tlp_end)) {
		/* The probe repaired a loss: reduce the window as a recovery would. */
		r->tlp_on = false;
		STAT_INC(s, tcp_tlp_recovered);
		if (!(ts->flags & TSF_IN_RECOVERY)) {
			uint32_t flight = ts->snd_max - ts->snd_una;
			tcp_cc_enter_recovery(&ts->cc, flight, s->now_ns / 1000, true);
			tcp_cc_exit_recovery(&ts->cc, flight, s->now_ns / 1000);
		}
	} else if (!advanced && !new_sack) {
		r->tlp_on = false; /* a pure duplicate: the probe was a copy */
	}
}
