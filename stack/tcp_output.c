/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP output: segment building (payload copied from the send ring into a fresh mbuf), the
 * send decision (windows, Nagle/cork, sender SWS avoidance, SACK-based recovery), ACKs, RSTs
 * and probes. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "checksum.h"
#include "ipv4.h"
#include "tcp_impl.h"
#include "tcp_rack.h"
#include "wire.h"

/* Worst-case IPv4 + Ethernet headers ipv4_output() prepends. */
#define TCP_L2L3_HEADROOM 64

void tcp_timer_set(struct tpa_stack *s, struct tcp_sock *ts, enum tcp_timer_kind k, uint64_t at)
{
	struct tcp_layer *tl = tcp_of(s);
	ts->tmr[k] = at;
	if (!at)
		return; /* the wheel entry fires spuriously at worst and re-evaluates */
	if (!tcp_timer_armed(&ts->wheel) || at < ts->wheel.expire_ns)
		tcp_timer_arm(&tl->timers, &ts->wheel, at);
}

void tcp_arm_rtx(struct tpa_stack *s, struct tcp_sock *ts)
{
	tcp_timer_set(s, ts, TT_RTX, s->now_ns + tcp_rtt_rto_ns(&ts->rtt));
}

uint32_t tcp_dupthresh(const struct tpa_stack *s, const struct tcp_sock *ts)
{
	uint32_t th = ts->reordering;
	uint32_t flight = (ts->snd_max - ts->snd_una) / tcp_eff_mss(s, ts);
	if (th > flight * 3 / 4)
		th = flight * 3 / 4;
	return th < TCP_SACK_DUPTHRESH ? TCP_SACK_DUPTHRESH : th;
}

/* When the tail loss probe is due, or 0 for none (no RTT known yet, a probe out, in recovery,
 * persisting, or it would not fire before the RTO). */
static inline __attribute__((always_inline)) uint64_t tlp_deadline(const struct tpa_stack *s,
                                                                   const struct tcp_sock *ts)
{
	uint32_t srtt = tcp_rtt_srtt_us(&ts->rtt);
	if (!srtt || ts->tlp_sent || (ts->flags & TSF_IN_RECOVERY) || ts->persist)
		return 0;
	uint64_t pto = 2ull * srtt * 1000;
	/* A lone segment's ACK may be delayed by the peer. */
	if (ts->snd_max - ts->snd_una <= ts->snd_mss)
		pto += (uint64_t)s->cfg.tcp.delack_ms * 1000000ull;
	if (pto < 10000000ull)
		pto = 10000000ull;
	if (pto >= tcp_rtt_rto_ns(&ts->rtt))
		return 0;
	return s->now_ns + pto;
}

void tcp_arm_tlp(struct tpa_stack *s, struct tcp_sock *ts)
{
	tcp_timer_set(s, ts, TT_TLP, tlp_deadline(s, ts));
}

/* tcp_arm_rtx() then tcp_arm_tlp() with one wheel insert at most: the connection's wheel entry
 * ends where the two tcp_timer_set() calls leave it (at the earliest of its deadline, the
 * RTO's and the probe's), without moving it twice. */
static inline __attribute__((always_inline)) void arm_rtx_tlp(struct tpa_stack *s,
                                                              struct tcp_sock *ts)
{
	uint64_t rtx = s->now_ns + tcp_rtt_rto_ns(&ts->rtt);
	uint64_t tlp = tlp_deadline(s, ts); /* 0 or before rtx */
	uint64_t first = tlp ? tlp : rtx;
	ts->tmr[TT_RTX] = rtx;
	ts->tmr[TT_TLP] = tlp;
	if (!tcp_timer_armed(&ts->wheel) || first < ts->wheel.expire_ns)
		tcp_timer_arm(&tcp_of(s)->timers, &ts->wheel, first);
}

uint32_t tcp_eff_mss(const struct tpa_stack *s, const struct tcp_sock *ts)
{
	uint32_t mss = ts->snd_mss;
	/* Everything goes in one mbuf: stay within its data room. */
	if (mss > s->seg_room)
		mss = s->seg_room;
	if (ts->flags & TSF_TS_OK)
		mss -= 12;
	return mss;
}

/* The device sums the segment: it gets the pseudo header's sum (ph) and the header length. */
static inline void cksum_to_device(struct rte_mbuf *m, struct tcp_hdr *th, uint32_t hlen,
                                   uint32_t ph)
{
	m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
	m->l4_len = (uint8_t)hlen;
	th->cksum = (uint16_t)~tpa_csum_fold(ph);
}

static void set_cksum(struct tpa_stack *s, struct rte_mbuf *m, struct tcp_hdr *th, uint32_t laddr,
                      uint32_t raddr, uint16_t len)
{
	uint32_t ph = tpa_csum_pseudo_ipv4(laddr, raddr, IPPROTO_TCP, len);
	th->cksum = 0;
	if (ipv4_tx_l4_cksum_offload(s)) {
		cksum_to_device(m, th, (uint32_t)(th->off >> 4) * 4, ph);
	} else {
		th->cksum = tpa_csum_fold(tpa_csum_partial(th, len, ph));
	}
}

static struct rte_mbuf *seg_alloc(struct tpa_stack *s)
{
	struct rte_mbuf *m = stack_mbuf_alloc(s);
	if (!m) {
		STAT_INC(s, mbuf_alloc_fail);
		return NULL;
	}
	if (rte_pktmbuf_headroom(m) < TCP_L2L3_HEADROOM) {
		rte_pktmbuf_free(m);
		STAT_INC(s, mbuf_alloc_fail);
		return NULL;
	}
	return m;
}

/* Timestamps as RFC 7323 appendix A lays them out (NOP, NOP, TS): the bytes
 * tcp_options_write() produces for a segment without SACK blocks, in three aligned words.
 * Returns the words' sum (as they lie in memory) for a checksum. */
static inline uint64_t put_ts_aligned(struct tpa_stack *s, struct tcp_sock *ts, uint8_t *p)
{
	static const uint8_t lead[4] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TS, TCP_OPT_TS_LEN};
	uint32_t val = rte_cpu_to_be_32(tcp_ts_now(s, ts));
	uint32_t ecr = rte_cpu_to_be_32(ts->ts_recent);
	uint32_t lead_word;
	memcpy(&lead_word, lead, 4);
	memcpy(p, &lead_word, 4);
	memcpy(p + 4, &val, 4);
	memcpy(p + 8, &ecr, 4);
	return (uint64_t)lead_word + val + ecr;
}

/* Options other than timestamps: SYN options, or SACK blocks to report (into opts). */
static bool needs_general_opts(const struct tcp_sock *ts, uint8_t flags)
{
	if (flags & TCP_SYN)
		return true;
	return (flags & TCP_ACK) && (ts->flags & TSF_SACK_OK) &&
	       (ts->ooo.count || ts->dsack_pending);
}

static uint32_t write_general_opts(struct tpa_stack *s, struct tcp_sock *ts, uint8_t flags,
                                   uint32_t len, const struct tcp_opts *peer, uint8_t *opts)
{
	if (flags & TCP_SYN)
		return tcp_options_write_syn(s, ts, opts, (flags & TCP_ACK) != 0, peer);
	uint32_t max_l4 = ipv4_max_l4_len(s);
	uint32_t room = max_l4 > TCP_HDR_LEN + len ? max_l4 - TCP_HDR_LEN - len : 0;
	if (room > TCP_MAX_OPT_LEN)
		room = TCP_MAX_OPT_LEN;
	return tcp_options_write(s, ts, opts, (flags & TCP_ACK) != 0, room);
}

/* The header's checksum and the payload copy. Without offload the payload is summed while it
 * is copied (hlen is a multiple of 4, so the payload starts on an even offset). */
static void fill_payload_cksum(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                               struct tcp_hdr *th, uint32_t hlen, uint32_t seq, uint32_t len)
{
	uint32_t laddr = ts->laddr ? ts->laddr : s->cfg.ipv4_addr;
	uint8_t *payload = (uint8_t *)th + hlen;
	if (ipv4_tx_l4_cksum_offload(s)) {
		if (len)
			tcp_sndbuf_copy_out(ts, seq - ts->snd_una, payload, len);
		set_cksum(s, m, th, laddr, ts->raddr, (uint16_t)(hlen + len));
		return;
	}
	th->cksum = 0;
	uint32_t sum = tpa_csum_pseudo_ipv4(laddr, ts->raddr, IPPROTO_TCP, (uint16_t)(hlen + len));
	/* A constant count for the usual header (timestamps only) unrolls the sum. */
	if (hlen == TCP_HDR_LEN + 12)
		sum = tpa_csum_words(th, (TCP_HDR_LEN + 12) / 4, sum);
	else
		sum = tpa_csum_words(th, hlen / 4, sum);
	if (len)
		sum = tcp_sndbuf_copy_out_csum(ts, seq - ts->snd_una, payload, len, sum);
	th->cksum = tpa_csum_fold(sum);
}

/* The fixed header of a segment: ports, numbers, offset, flags. */
static inline void put_fixed(const struct tcp_sock *ts, struct tcp_hdr *th, uint32_t seq,
                             uint8_t flags, uint32_t hlen)
{
	th->sport = ts->lport;
	th->dport = ts->rport;
	th->seq = rte_cpu_to_be_32(seq);
	th->ack = (flags & TCP_ACK) ? rte_cpu_to_be_32(ts->rcv_nxt) : 0;
	th->off = (uint8_t)((hlen / 4) << 4);
	th->flags = flags;
	th->urp = 0;
}

/* The window of a segment other than a SYN: what it advertises is the new right edge.
 * Returns the field as stored (network order), for a checksum. */
static inline uint16_t put_window(struct tcp_sock *ts, struct tcp_hdr *th)
{
	uint32_t win = tcp_rcv_window(ts);
	ts->rcv_adv_edge = ts->rcv_nxt + win;
	th->win = rte_cpu_to_be_16((uint16_t)(win >> ts->rcv_wscale));
	return th->win;
}

/* A segment carrying an ACK of everything received went out: no ACK is owed any more. */
static inline void ack_sent(struct tcp_sock *ts)
{
	ts->last_ack_sent = ts->rcv_nxt;
	ts->segs_unacked = 0;
	ts->flags &= ~TSF_ACK_NOW;
	ts->tmr[TT_DELACK] = 0;
}

/* Build and send one segment of the connection. For data, [seq, seq+len) must lie in the
 * send ring (FIN excluded); fin adds the FIN flag after it. */
static int xmit(struct tpa_stack *s, struct tcp_sock *ts, uint32_t seq, uint8_t flags, uint32_t len,
                const struct tcp_opts *peer)
{
	struct rte_mbuf *m = seg_alloc(s);
	if (!m)
		return -ENOBUFS;
	/* The mbuf is empty: options go straight to where they belong, behind the fixed header
	 * (no array on the stack, no copy). */
	bool general = needs_general_opts(ts, flags);
	bool room = true;
	uint32_t optlen = 0;
	if (!general)
		optlen = (ts->flags & TSF_TS_OK) ? 12 : 0;
	else if (rte_pktmbuf_tailroom(m) >= TCP_HDR_LEN + TCP_MAX_OPT_LEN)
		optlen = write_general_opts(s, ts, flags, len, peer,
		                            rte_pktmbuf_mtod_offset(m, uint8_t *, TCP_HDR_LEN));
	else
		room = false;
	uint32_t hlen = TCP_HDR_LEN + optlen;
	struct tcp_hdr *th =
	        room ? (struct tcp_hdr *)rte_pktmbuf_append(m, (uint16_t)(hlen + len)) : NULL;
	if (!th) {
		rte_pktmbuf_free(m);
		STAT_INC(s, mbuf_alloc_fail);
		return -ENOBUFS;
	}
	put_fixed(ts, th, seq, flags, hlen);
	if (flags & TCP_SYN) {
		uint32_t win = ts->rcvbuf_max > 65535 ? 65535 : ts->rcvbuf_max;
		ts->rcv_adv_edge = ts->rcv_nxt + win;
		th->win = rte_cpu_to_be_16((uint16_t)win);
	} else {
		put_window(ts, th);
	}
	if (!general && optlen)
		put_ts_aligned(s, ts, (uint8_t *)(th + 1));
	fill_payload_cksum(s, ts, m, th, hlen, seq, len);
	if (flags & TCP_ACK)
		ack_sent(ts);
	if (flags & TCP_RST)
		STAT_INC(s, tcp_rst_tx);
	STAT_INC(s, tcp_tx);
	ts->last_send_ns = s->now_ns;
	return ipv4_output_cached(s, m, ts->raddr, IPPROTO_TCP, &ts->fc) < 0 ? -ENOBUFS : 0;
}

/* Control segments carry the highest sequence number sent: after a retransmission timeout
 * pulled snd_nxt back, the peer already holds data up to snd_max and would discard an ACK
 * numbered below its rcv_nxt as an old duplicate. */
int tcp_send_ack(struct tpa_stack *s, struct tcp_sock *ts)
{
	return xmit(s, ts, ts->snd_max, TCP_ACK, 0, NULL);
}

int tcp_send_syn(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *peer)
{
	uint8_t flags = TCP_SYN;
	if (ts->state == TPA_TCP_SYN_RECV)
		flags |= TCP_ACK;
	/* The handshake's RTT sample (active and passive open) is timed from here. */
	if (!ts->syn_retransmitted)
		ts->rtt_start_ns = stack_now(s);
	int rc = xmit(s, ts, ts->iss, flags, 0, peer);
	if (seq_lt(ts->snd_nxt, ts->iss + 1))
		ts->snd_nxt = ts->iss + 1;
	ts->snd_max = ts->snd_nxt;
	if (!ts->tmr[TT_RTX])
		tcp_arm_rtx(s, ts);
	return rc;
}

int tcp_send_synack_stateless(struct tpa_stack *s, struct tcp_sock *ts, const struct tcp_opts *peer)
{
	return xmit(s, ts, ts->iss, TCP_SYN | TCP_ACK, 0, peer);
}

int tcp_send_rst(struct tpa_stack *s, struct tcp_sock *ts)
{
	return xmit(s, ts, ts->snd_max, TCP_RST | TCP_ACK, 0, NULL);
}

int tcp_send_probe(struct tpa_stack *s, struct tcp_sock *ts)
{
	/* An already-acknowledged sequence number makes the peer answer with an ACK carrying its
	 * current window (keepalive and zero-window probe alike). */
	return xmit(s, ts, ts->snd_una - 1, TCP_ACK, 0, NULL);
}

/* RST answering a segment that belongs to no connection (RFC 9293 3.10.7.1). */
int tcp_send_rst_for(struct tpa_stack *s, const struct ipv4_rx_meta *meta, const struct tcp_hdr *th,
                     uint32_t seglen)
{
	if (th->flags & TCP_RST)
		return 0;
	struct rte_mbuf *m = seg_alloc(s);
	if (!m)
		return -ENOBUFS;
	struct tcp_hdr *r = (struct tcp_hdr *)rte_pktmbuf_append(m, TCP_HDR_LEN);
	if (!r) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	memset(r, 0, TCP_HDR_LEN);
	r->sport = th->dport;
	r->dport = th->sport;
	r->off = 5 << 4;
	if (th->flags & TCP_ACK) {
		r->seq = th->ack;
		r->flags = TCP_RST;
	} else {
		r->seq = 0;
		r->ack = rte_cpu_to_be_32(rte_be_to_cpu_32(th->seq) + seglen);
		r->flags = TCP_RST | TCP_ACK;
	}
	set_cksum(s, m, r, meta->dst_be, meta->src_be, TCP_HDR_LEN);
	STAT_INC(s, tcp_rst_tx);
	STAT_INC(s, tcp_tx);
	return ipv4_output(s, m, meta->src_be, IPPROTO_TCP);
}

static inline uint32_t data_end(const struct tcp_sock *ts)
{
	return ts->snd_una + ts->sb.len;
}

static inline bool fin_wanted(const struct tcp_sock *ts)
{
	return (ts->flags & TSF_SHUT_WR) && !(ts->flags & TSF_FIN_ACKED);
}

/* Send [seq, seq+len) where len may include the FIN's sequence number. */
int tcp_send_segment(struct tpa_stack *s, struct tcp_sock *ts, uint32_t seq, uint32_t len,
                     bool retransmit)
{
	uint32_t end = data_end(ts);
	uint32_t dlen = seq_geq(seq, end) ? 0 : end - seq;
	if (dlen > len)
		dlen = len;
	uint8_t flags = TCP_ACK;
	bool fin = fin_wanted(ts) && seq_gt(seq + len, end);
	if (fin)
		flags |= TCP_FIN;
	if (dlen && seq + dlen == end)
		flags |= TCP_PSH;
	if (!dlen && !fin)
		return 0;
	int rc = xmit(s, ts, seq, flags, dlen, NULL);
	if (rc < 0) {
		/* Nothing left the host (no mbuf, the neighbour's queue full). With nothing in
		 * flight no ACK and no retransmission would bring the send back, and an orphan
		 * would wait for ever: retry on the persist timer (Linux's probe timer does it). */
		if (!ts->tmr[TT_RTX]) {
			ts->persist = true;
			tcp_arm_rtx(s, ts);
		}
		return rc;
	}
	if (fin)
		ts->flags |= TSF_FIN_SENT;
	tcp_rack_on_send(s, ts, seq, seq + dlen + (fin ? 1 : 0));
	if (retransmit) {
		tcp_trace_rtx(s, ts, seq, dlen + (fin ? 1 : 0));
		STAT_INC(s, tcp_retransmit);
		ts->stat_retransmits++;
		if (ts->undo_valid && ts->undo_n < TCP_UNDO_MAX) {
			if (!ts->undo_n)
				ts->undo_tsval = tcp_ts_now(s, ts);
			ts->undo_rtx[ts->undo_n++] = seq;
		} else
			ts->undo_valid = false;
		/* Karn: a retransmitted range gives no RTT sample. */
		if ((ts->flags & TSF_RTT_TIMING) && seq_lt(seq, ts->rtt_seq))
			ts->flags &= ~TSF_RTT_TIMING;
	} else {
		STAT_ADD(s, tcp_bytes_tx, dlen);
		if (!(ts->flags & TSF_RTT_TIMING)) {
			ts->flags |= TSF_RTT_TIMING;
			ts->rtt_seq = seq + dlen + (fin ? 1 : 0);
			ts->rtt_start_ns = s->now_ns;
		}
	}
	uint32_t sent_end = seq + dlen + (fin ? 1 : 0);
	if (seq_gt(sent_end, ts->snd_max))
		ts->snd_max = sent_end;
	if (!ts->tmr[TT_RTX] || ts->persist) {
		ts->persist = false;
		arm_rtx_tlp(s, ts);
	} else if (!retransmit && ts->tmr[TT_TLP]) {
		tcp_arm_tlp(s, ts); /* RFC 8985 7.2: from the last new data sent */
	}
	return 0;
}

static void state_after_fin_sent(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (ts->state == TPA_TCP_ESTABLISHED)
		tcp_set_state(s, ts, TPA_TCP_FIN_WAIT1);
	else if (ts->state == TPA_TCP_CLOSE_WAIT)
		tcp_set_state(s, ts, TPA_TCP_LAST_ACK);
}

/* New data (and FIN) from snd_nxt, within min(cwnd, peer window) minus what is in flight. */
static bool send_new(struct tpa_stack *s, struct tcp_sock *ts, uint32_t mss, uint32_t budget,
                     bool one)
{
	/* A reply on an idle connection: nothing in flight, all that is queued fits one segment
	 * the window and budget allow, no FIN, no cork. The loop below would send the same one
	 * segment (Nagle has nothing outstanding to wait for) and stop. */
	uint32_t queued = ts->sb.len;
	if (ts->snd_nxt == ts->snd_una && queued && queued <= mss && queued <= budget &&
	    (int32_t)ts->snd_wnd > 0 && queued <= ts->snd_wnd && !fin_wanted(ts) &&
	    !(ts->flags & (TSF_CORK | TSF_MSG_MORE))) {
		if (tcp_send_segment(s, ts, ts->snd_nxt, queued, false) < 0)
			return false;
		ts->snd_nxt += queued;
		if (queued < mss)
			ts->snd_sml = ts->snd_nxt;
		return true;
	}
	bool sent_any = false;
	for (;;) {
		uint32_t end = data_end(ts);
		uint32_t avail = seq_lt(ts->snd_nxt, end) ? end - ts->snd_nxt : 0;
		bool fin_pending = fin_wanted(ts) && !seq_gt(ts->snd_nxt, end);
		if (!avail && !fin_pending)
			break;
		uint32_t wnd_edge = ts->snd_una + ts->snd_wnd;
		uint32_t usable = seq_gt(wnd_edge, ts->snd_nxt) ? wnd_edge - ts->snd_nxt : 0;
		if (usable > budget)
			usable = budget;
		uint32_t len = avail < mss ? avail : mss;
		if (len > usable)
			len = usable;
		if (avail && !len)
			break;
		if (len < mss && (len < avail || !fin_pending)) {
			/* A short segment: only when it empties the queue (and Nagle/cork allow),
			 * or it is at least half the largest window the peer offered. */
			bool all = len == avail;
			bool outstanding = ts->snd_nxt != ts->snd_una;
			bool half_window = len >= ts->max_snd_wnd / 2 && len > 0;
			bool corked = (ts->flags & (TSF_CORK | TSF_MSG_MORE)) != 0;
			/* Nagle as Minshall refined it: hold a short segment only behind another
			 * unacknowledged short one. Behind full-sized segments it would wait for
			 * an ACK a delaying receiver (RFC 1122 4.2.3.2) sends only after its timer,
			 * when the odd segment count leaves one segment unacknowledged. */
			bool nagle_ok = (ts->flags & TSF_NODELAY) || !outstanding ||
			                !seq_gt(ts->snd_sml, ts->snd_una);
			/* With nothing in flight no ACK will come to clock out more: send what the
			 * window allows rather than wait (the RFC 1122 override, at once). */
			bool idle_window = !outstanding && len > 0 && len < avail && !corked;
			if (!half_window && !idle_window && !(all && !corked && nagle_ok))
				break;
		}
		bool with_fin = fin_pending && ts->snd_nxt + len == end;
		if (!len && !with_fin)
			break;
		if (tcp_send_segment(s, ts, ts->snd_nxt, len + (with_fin ? 1 : 0), false) < 0)
			break;
		ts->snd_nxt += len + (with_fin ? 1 : 0);
		if (len < mss)
			ts->snd_sml = ts->snd_nxt;
		if (with_fin)
			state_after_fin_sent(s, ts);
		sent_any = true;
		budget = budget > len ? budget - len : 0;
		/* The queue emptied without a FIN to follow: nothing more this call. */
		if (one || with_fin || (len == avail && !fin_pending))
			break;
	}
	return sent_any;
}

/* Recovery with RACK (RFC 8985): what it marked lost first, then new data, while the pipe
 * leaves room in cwnd. Nothing else is resent: a hole not yet lost waits for its time. */
static void send_rack_recovery(struct tpa_stack *s, struct tcp_sock *ts, uint32_t mss)
{
	for (int guard = 0; guard < 1024; guard++) {
		uint32_t pipe = tcp_rack_pipe(ts);
		uint32_t cwnd = tcp_cc_cwnd(&ts->cc);
		if (pipe >= cwnd || cwnd - pipe < mss)
			break;
		uint32_t seq, len;
		if (tcp_rack_next_lost(ts, mss, &seq, &len)) {
			if (tcp_send_segment(s, ts, seq, len, true) < 0)
				break;
			if (seq_gt(seq + len, ts->high_rxt))
				ts->high_rxt = seq + len;
			continue;
		}
		if (!send_new(s, ts, mss, mss, true))
			break;
	}
}

static bool send_sack_recovery(struct tpa_stack *s, struct tcp_sock *ts, uint32_t mss)
{
	bool sent = false;
	for (int guard = 0; guard < 1024; guard++) {
		uint32_t pipe = tcp_sack_pipe(&ts->scoreboard, ts->snd_una, ts->snd_max,
		                              ts->high_rxt, mss, tcp_dupthresh(s, ts));
		uint32_t cwnd = tcp_cc_cwnd(&ts->cc);
		if (pipe >= cwnd || cwnd - pipe < mss)
			break;
		uint32_t end = data_end(ts);
		uint32_t wnd_edge = ts->snd_una + ts->snd_wnd;
		bool new_ok = (seq_lt(ts->snd_nxt, end) ||
		               (fin_wanted(ts) && !(ts->flags & TSF_FIN_SENT))) &&
		              seq_lt(ts->snd_nxt, wnd_edge);
		uint32_t seq = 0, len = 0;
		enum tcp_sack_next nx = tcp_sack_next_seg(
		        &ts->scoreboard, ts->snd_una, ts->snd_max, ts->high_rxt, mss,
		        tcp_dupthresh(s, ts), new_ok, ts->rescue_rxt, ts->rescue_valid, &seq, &len);
		if (nx == TCP_SACK_NEXT_NONE)
			break;
		if (nx == TCP_SACK_NEXT_NEW_DATA) {
			if (!send_new(s, ts, mss, mss, true))
				break;
			sent = true;
			continue;
		}
		if (tcp_send_segment(s, ts, seq, len, true) < 0)
			break;
		sent = true;
		if (seq == ts->snd_una) {
			ts->rxt_una = seq;
			ts->rxt_mark = ts->snd_max;
			ts->rxt_marked = true;
		}
		if (nx == TCP_SACK_NEXT_RESCUE) {
			ts->rescue_rxt = ts->recover;
			ts->rescue_valid = true;
		} else if (seq_gt(seq + len, ts->high_rxt)) {
			ts->high_rxt = seq + len;
		}
	}
	return sent;
}

/* The probe: new data if the peer's window allows, else the last segment again. */
void tcp_send_tlp(struct tpa_stack *s, struct tcp_sock *ts)
{
	uint32_t mss = tcp_eff_mss(s, ts);
	ts->tlp_sent = true;
	if (ts->snd_una == ts->snd_max || ts->snd_nxt != ts->snd_max)
		return;
	if (send_new(s, ts, mss, mss, true)) {
		tcp_tlp_sent(s, ts, ts->snd_max, false);
		return;
	}
	uint32_t len = ts->snd_max - ts->snd_una;
	if (len > mss)
		len = mss;
	if (tcp_send_segment(s, ts, ts->snd_max - len, len, true) == 0)
		tcp_tlp_sent(s, ts, ts->snd_max, true);
}

bool tcp_tx_direct_off;

/* The reply of an idle connection, sent directly: nothing in flight, everything queued fits
 * one segment that the peer's window and the congestion window allow, no FIN, cork, recovery
 * or SACK blocks to report. tcp_output would reach send_new's first case, tcp_send_segment
 * and xmit for the same one segment (ACK|PSH, timestamps the only option): this is those
 * three fused, every field and counter set as they set it, in the same order. */
/* idle_reply_ok() for queued bytes waiting in the ring, MSG_MORE aside. */
static inline bool idle_reply_fits(const struct tcp_sock *ts, uint32_t queued, uint32_t mss)
{
	return ts->snd_nxt == ts->snd_una && queued && queued <= mss &&
	       !(ts->flags & (TSF_IN_RECOVERY | TSF_CORK | TSF_SHUT_WR)) &&
	       (int32_t)ts->snd_wnd > 0 && queued <= ts->snd_wnd &&
	       queued <= tcp_cc_cwnd(&ts->cc) && !needs_general_opts(ts, TCP_ACK);
}

static bool idle_reply_ok(const struct tcp_sock *ts, uint32_t mss)
{
	return !tcp_tx_direct_off && !(ts->flags & TSF_MSG_MORE) &&
	       idle_reply_fits(ts, ts->sb.len, mss);
}

/* What tcp_send_segment does when xmit fails (no mbuf, the neighbour's queue full). */
static void idle_reply_failed(struct tpa_stack *s, struct tcp_sock *ts)
{
	if (!ts->tmr[TT_RTX]) {
		ts->persist = true;
		tcp_arm_rtx(s, ts);
	}
}

/* Where a reply left the host: what tcp_send_segment and send_new record for the one new
 * segment [seq, seq+len) after xmit. */
static inline __attribute__((always_inline)) void
idle_reply_sent(struct tpa_stack *s, struct tcp_sock *ts, uint32_t seq, uint32_t len, uint32_t mss)
{
	uint32_t end = seq + len;
	if ((ts->flags & TSF_SACK_OK) && !tcp_rack_append_new(&ts->rack, seq, end, s->now_ns))
		tcp_rack_on_send(s, ts, seq, end);
	STAT_ADD(s, tcp_bytes_tx, len);
	if (!(ts->flags & TSF_RTT_TIMING)) {
		ts->flags |= TSF_RTT_TIMING;
		ts->rtt_seq = end;
		ts->rtt_start_ns = s->now_ns;
	}
	if (seq_gt(end, ts->snd_max))
		ts->snd_max = end;
	if (!ts->tmr[TT_RTX] || ts->persist) {
		ts->persist = false;
		arm_rtx_tlp(s, ts);
	} else if (ts->tmr[TT_TLP]) {
		tcp_arm_tlp(s, ts);
	}
	ts->snd_nxt = end;
	if (len < mss)
		ts->snd_sml = end;
}

static void send_idle_reply(struct tpa_stack *s, struct tcp_sock *ts, uint32_t mss)
{
	uint32_t seq = ts->snd_nxt, len = ts->sb.len;
	struct rte_mbuf *m = seg_alloc(s);
	if (!m)
		return idle_reply_failed(s, ts);
	uint32_t hlen = TCP_HDR_LEN + ((ts->flags & TSF_TS_OK) ? 12 : 0);
	struct tcp_hdr *th = (struct tcp_hdr *)rte_pktmbuf_append(m, (uint16_t)(hlen + len));
	if (!th) {
		rte_pktmbuf_free(m);
		STAT_INC(s, mbuf_alloc_fail);
		return idle_reply_failed(s, ts);
	}
	put_fixed(ts, th, seq, TCP_ACK | TCP_PSH, hlen);
	put_window(ts, th);
	if (hlen > TCP_HDR_LEN)
		put_ts_aligned(s, ts, (uint8_t *)(th + 1));
	fill_payload_cksum(s, ts, m, th, hlen, seq, len);
	ack_sent(ts);
	STAT_INC(s, tcp_tx);
	STAT_INC(s, tcp_tx_direct);
	ts->last_send_ns = s->now_ns;
	if (ipv4_output_cached(s, m, ts->raddr, IPPROTO_TCP, &ts->fc) < 0)
		return idle_reply_failed(s, ts);
	idle_reply_sent(s, ts, seq, len, mss);
}

/* The header's checksum over ph, the sum of the pseudo header and the header's other fields,
 * the payload copied from buf into the send ring and the segment in the same pass (as
 * fill_payload_cksum sums and copies it). With checksum offload ph is the pseudo header's. */
static inline __attribute__((always_inline)) void
reply_payload_cksum(struct tpa_stack *s, struct tcp_sock *ts, struct rte_mbuf *m,
                    struct tcp_hdr *th, uint32_t hlen, const void *buf, uint32_t len, uint32_t ph)
{
	uint8_t *payload = (uint8_t *)th + hlen;
	if (ipv4_tx_l4_cksum_offload(s)) {
		memcpy(ts->sb.buf, buf, len);
		memcpy(payload, buf, len);
		cksum_to_device(m, th, hlen, ph);
		return;
	}
	th->cksum = 0;
	th->cksum = tpa_csum_fold(tpa_csum_copy2(ts->sb.buf, payload, buf, len, ph));
}

bool tcp_send_reply(struct tpa_stack *s, struct tcp_sock *ts, const void *buf, uint32_t len)
{
	if (tcp_tx_direct_off)
		return false;
	stack_now(s);
	uint32_t mss = tcp_eff_mss(s, ts);
	/* tcp_output restarts the congestion window after an idle period: left to it. */
	if (ts->snd_nxt == ts->snd_una && ts->last_send_ns &&
	    s->now_ns - ts->last_send_ns > tcp_rtt_rto_ns(&ts->rtt))
		return false;
	if (!idle_reply_fits(ts, len, mss))
		return false;
	uint32_t hlen = TCP_HDR_LEN + ((ts->flags & TSF_TS_OK) ? 12 : 0);
	uint32_t l4_len = hlen + len, frame_len = (uint32_t)sizeof(ts->fc.hdr) + l4_len;
	if (!ipv4_cache_usable(s, &ts->fc, ts->raddr, IPPROTO_TCP, IPV4_HDR_LEN + l4_len))
		return false;
	struct rte_mbuf *m = stack_mbuf_alloc(s);
	if (!m)
		return false;
	/* seg_alloc's headroom and rte_pktmbuf_append's tailroom, which the general path checks
	 * (a pool too small for them fails there). */
	if (rte_pktmbuf_headroom(m) < TCP_L2L3_HEADROOM || rte_pktmbuf_tailroom(m) < l4_len) {
		stack_mbuf_recycle(s, m);
		return false;
	}
	/* The mbuf as rte_pktmbuf_append, then ipv4_output_cached's rte_pktmbuf_prepend leave it.
	 */
	m->data_off = (uint16_t)(m->data_off - sizeof(ts->fc.hdr));
	m->data_len = (uint16_t)frame_len;
	m->pkt_len = frame_len;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct tcp_hdr *th = (struct tcp_hdr *)(f + sizeof(ts->fc.hdr));
	uint32_t seq = ts->snd_nxt;
	put_fixed(ts, th, seq, TCP_ACK | TCP_PSH, hlen);
	/* The header's sum from the values stored rather than read back: 16- and 32-bit words
	 * as they lie in memory add up to the same one's complement sum. */
	uint64_t hsum = (uint64_t)th->sport + th->dport + th->seq + th->ack +
	                rte_cpu_to_be_16((uint16_t)(th->off << 8 | th->flags));
	hsum += put_window(ts, th);
	if (hlen > TCP_HDR_LEN)
		hsum += put_ts_aligned(s, ts, (uint8_t *)(th + 1));
	uint32_t laddr = ts->laddr ? ts->laddr : s->cfg.ipv4_addr;
	uint32_t ph = tpa_csum_pseudo_ipv4(laddr, ts->raddr, IPPROTO_TCP, (uint16_t)l4_len);
	if (!ipv4_tx_l4_cksum_offload(s)) {
		hsum += ph;
		hsum = (hsum & 0xffffffffu) + (hsum >> 32);
		ph = (uint32_t)((hsum & 0xffffffffu) + (hsum >> 32));
	}
	reply_payload_cksum(s, ts, m, th, hlen, buf, len, ph);
	ts->sb.len = len;
	ts->flags &= ~TSF_MSG_MORE;
	ack_sent(ts);
	STAT_INC(s, tcp_tx);
	STAT_INC(s, tcp_tx_direct);
	ts->last_send_ns = s->now_ns;
	ipv4_cache_put(s, m, f, &ts->fc, IPV4_HDR_LEN + l4_len);
	stack_sent_hold(s, m);
	stack_tx_frame(s, m);
	idle_reply_sent(s, ts, seq, len, mss);
	return true;
}

void tcp_output(struct tpa_stack *s, struct tcp_sock *ts)
{
	switch (ts->state) {
	case TPA_TCP_ESTABLISHED:
	case TPA_TCP_CLOSE_WAIT:
	case TPA_TCP_FIN_WAIT1:
	case TPA_TCP_FIN_WAIT2:
	case TPA_TCP_CLOSING:
	case TPA_TCP_LAST_ACK:
		break;
	case TPA_TCP_TIME_WAIT:
		if (ts->flags & TSF_ACK_NOW)
			tcp_send_ack(s, ts);
		return;
	default:
		return;
	}
	uint32_t mss = tcp_eff_mss(s, ts);
	uint32_t before = ts->snd_nxt;
	if (ts->snd_nxt == ts->snd_una && ts->last_send_ns &&
	    s->now_ns - ts->last_send_ns > tcp_rtt_rto_ns(&ts->rtt))
		tcp_cc_after_idle(&ts->cc, (s->now_ns - ts->last_send_ns) / 1000,
		                  tcp_rtt_rto_us(&ts->rtt), s->now_ns / 1000);
	if (idle_reply_ok(ts, mss)) {
		send_idle_reply(s, ts, mss);
	} else if ((ts->flags & TSF_IN_RECOVERY) && tcp_rack_on(ts)) {
		send_rack_recovery(s, ts, mss);
	} else if ((ts->flags & TSF_IN_RECOVERY) && (ts->flags & TSF_SACK_OK)) {
		send_sack_recovery(s, ts, mss);
	} else {
		uint32_t flight = ts->snd_nxt - ts->snd_una;
		uint32_t cwnd = tcp_cc_cwnd(&ts->cc);
		/* RFC 3042 limited transmit: the first two duplicate ACKs each let one new
		 * segment out, so small windows still produce three duplicates. */
		if (!(ts->flags & TSF_IN_RECOVERY) && ts->dupacks && ts->snd_nxt == ts->snd_max)
			cwnd += (ts->dupacks < 2 ? ts->dupacks : 2) * mss;
		uint32_t budget = cwnd > flight ? cwnd - flight : 0;
		send_new(s, ts, mss, budget, false);
	}
	/* Zero window with data waiting and nothing in flight: probe (persist timer). */
	if (ts->snd_nxt == ts->snd_una && ts->snd_wnd == 0 &&
	    (seq_lt(ts->snd_nxt, data_end(ts)) ||
	     (fin_wanted(ts) && !(ts->flags & TSF_FIN_SENT))) &&
	    !ts->tmr[TT_RTX]) {
		ts->persist = true;
		tcp_arm_rtx(s, ts);
	}
	if (ts->snd_nxt == before && (ts->flags & TSF_ACK_NOW))
		tcp_send_ack(s, ts);
}
