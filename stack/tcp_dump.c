/* SPDX-License-Identifier: BSD-3-Clause */
/* Inspection of the socket table (tpa_stack_sock_foreach) and TPA_SO_INFO's contents. */
#include <string.h>

#include <rte_byteorder.h>

#include "tcp_impl.h"
#include "tcp_seq.h"

void tcp_fill_info(const struct tcp_sock *ts, struct tpa_tcp_info *ti)
{
	memset(ti, 0, sizeof(*ti));
	ti->state = ts->state;
	ti->rtt_us = tcp_rtt_srtt_us(&ts->rtt);
	ti->rttvar_us = tcp_rtt_rttvar_us(&ts->rtt);
	ti->rto_ms = tcp_rtt_rto_us(&ts->rtt) / 1000;
	ti->snd_mss = ts->snd_mss;
	ti->rcv_mss = ts->peer_mss;
	ti->snd_cwnd = ts->cc.cwnd;
	ti->snd_ssthresh = ts->cc.ssthresh;
	ti->snd_wnd = ts->snd_wnd;
	ti->rcv_wnd = seq_gt(ts->rcv_adv_edge, ts->rcv_nxt) ? ts->rcv_adv_edge - ts->rcv_nxt : 0;
	ti->snd_wscale = ts->snd_wscale;
	ti->rcv_wscale = ts->rcv_wscale;
	ti->timestamps = !!(ts->flags & TSF_TS_OK);
	ti->sack = !!(ts->flags & TSF_SACK_OK);
	ti->retransmits = ts->stat_retransmits;
	ti->bytes_acked = ts->stat_bytes_acked;
	ti->bytes_received = ts->stat_bytes_received;
}

void tpa_stack_sock_foreach(const struct tpa_stack *s,
                            void (*fn)(void *arg, const struct tpa_sock_dump *d), void *arg)
{
	const struct tcp_layer *tl = tcp_of(s);
	if (!tl || !fn)
		return;
	for (uint32_t id = 0; id < tl->max_socks; id++) {
		const struct tcp_sock *ts = tl->socks[id];
		if (!ts)
			continue;
		struct tpa_sock_dump d;
		memset(&d, 0, sizeof(d));
		d.id = ts->id;
		d.state = ts->state;
		d.laddr = ts->laddr;
		d.raddr = ts->raddr;
		d.lport = rte_be_to_cpu_16(ts->lport);
		d.rport = rte_be_to_cpu_16(ts->rport);
		d.orphan = !!(ts->flags & TSF_USER_CLOSED);
		d.unaccepted = ts->listener != TCP_NO_SOCK;
		if (ts->state == TPA_TCP_LISTEN) {
			d.backlog = (uint32_t)ts->backlog;
			d.acc_queued = ts->acc_count;
			d.syn_queued = ts->syn_count;
		} else {
			d.rcv_queued = ts->rcv_queued;
			d.snd_queued = ts->sb.len;
		}
		tcp_fill_info(ts, &d.info);
		fn(arg, &d);
	}
}
