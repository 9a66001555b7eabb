/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Send-side SACK scoreboard and the RFC 6675 loss-recovery helpers (IsLost, NextSeg, SetPipe).
 *
 * Contract:
 * - Pure and bounded: a sorted, merged set of at most TCP_SACK_MAX_RANGES SACKed byte ranges
 *   [start, end) in (snd_una, snd_nxt]; no malloc. Sequence numbers use tcp_seq.h arithmetic.
 * - Never claims more than the receiver reported: invalid blocks (reversed, empty, below or
 *   straddling snd_una, beyond snd_nxt, D-SACK) are ignored. If the set is full, the range
 *   farthest above snd_una is dropped: data there is merely treated as unSACKed (a spurious
 *   retransmission at worst), never the other way round.
 * - Lost-ness is evaluated per hole: every unSACKed byte between two SACKed ranges has the same
 *   ranges above it. A hole is lost (RFC 6675 IsLost) when at least DupThresh SACKed ranges lie
 *   above it, or more than (DupThresh - 1) * SMSS SACKed bytes do. Contiguous small segments
 *   merge into one range, so counting ranges is conservative; the caller's duplicate-ACK count
 *   still triggers recovery (RFC 6675 section 5) and NextSeg rule 3 repairs such holes.
 * - high_rxt below is the END (exclusive) of what was retransmitted in the current recovery,
 *   i.e. RFC 6675's HighRxt + 1. Set it to snd_una when recovery starts.
 * - snd_nxt arguments mean the highest sequence number sent + 1 (SND.MAX, RFC 6675 HighData
 *   + 1), even when the sender has rewound its next-to-send pointer after a timeout.
 */
#ifndef TPA_TCP_SACK_H
#define TPA_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_SACK_MAX_RANGES 32
#define TCP_SACK_DUPTHRESH  3

/* A SACK block as carried in the option (host byte order here): bytes [start, end). */
struct tcp_sack_block {
	uint32_t start;
	uint32_t end;
};

struct tcp_sack_scoreboard {
	struct tcp_sack_block r[TCP_SACK_MAX_RANGES]; /* ascending, disjoint, non-adjacent */
	uint32_t n;                                   /* ranges in use */
	uint32_t sacked_bytes;                        /* sum of range lengths */
};

/* What tcp_sack_update() learned from one ACK's blocks. */
struct tcp_sack_update_result {
	uint32_t newly_sacked; /* bytes SACKed by this ACK that were not SACKed before */
	bool dsack;            /* first block was a D-SACK (RFC 2883): a duplicate arrived */
	uint8_t ignored;       /* blocks ignored as invalid (not counting a D-SACK) */
};

/* What NextSeg (RFC 6675 section 4) tells the sender to transmit. */
enum tcp_sack_next {
	TCP_SACK_NEXT_NONE = 0, /* nothing (rule 5): wait for ACKs */
	TCP_SACK_NEXT_LOST,     /* rule 1: retransmit [*seq, *seq + *len), a lost hole */
	TCP_SACK_NEXT_NEW_DATA, /* rule 2: send up to one SMSS of new data from snd_nxt */
	TCP_SACK_NEXT_UNSACKED, /* rule 3: retransmit [*seq, *seq + *len), not yet deemed lost */
	TCP_SACK_NEXT_RESCUE,   /* rule 4: rescue retransmission; caller sets RescueRxt */
};

void tcp_sack_init(struct tcp_sack_scoreboard *sb);
/* Forget everything (e.g. after an RTO, RFC 2018: the receiver may have reneged). */
static inline void tcp_sack_clear(struct tcp_sack_scoreboard *sb)
{
	tcp_sack_init(sb);
}

/* Process one ACK: drop everything below snd_una (the ACK's cumulative ack, already applied),
 * then merge the n blocks. snd_nxt bounds valid blocks (highest sequence sent + 1). The first
 * block is a D-SACK if it lies below snd_una or inside the second block (RFC 2883). */
struct tcp_sack_update_result tcp_sack_update(struct tcp_sack_scoreboard *sb, uint32_t snd_una,
                                              uint32_t snd_nxt, const struct tcp_sack_block *blocks,
                                              unsigned n);

/* Whether the first of n blocks is a D-SACK (RFC 2883) on an ACK acknowledging up to ack: it
 * lies below ack, or inside the second block. */
bool tcp_sack_is_dsack(const struct tcp_sack_block *blocks, unsigned n, uint32_t ack);

/* Drop SACK state below a new snd_una (also done by tcp_sack_update()). */
void tcp_sack_advance(struct tcp_sack_scoreboard *sb, uint32_t snd_una);

bool tcp_sack_is_sacked(const struct tcp_sack_scoreboard *sb, uint32_t seq);

/* Bytes from seq up to the next SACKed byte, at most limit - seq (seq < limit, seq unSACKed;
 * 0 if seq is SACKed or seq >= limit). Sizes a retransmission that must not resend SACKed
 * data. */
uint32_t tcp_sack_unsacked_len(const struct tcp_sack_scoreboard *sb, uint32_t seq, uint32_t limit);
/* First unSACKed byte at or after seq (skips a SACKed range seq falls in). */
uint32_t tcp_sack_skip_sacked(const struct tcp_sack_scoreboard *sb, uint32_t seq);

/* RFC 6675 IsLost(seq) with the given SMSS and DupThresh (use TCP_SACK_DUPTHRESH). */
bool tcp_sack_is_lost(const struct tcp_sack_scoreboard *sb, uint32_t seq, uint32_t mss,
                      unsigned dupthresh);

/* RFC 6675 SetPipe: bytes considered in the network among [snd_una, snd_nxt). */
uint32_t tcp_sack_pipe(const struct tcp_sack_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
                       uint32_t high_rxt, uint32_t mss, unsigned dupthresh);

/* RFC 6675 NextSeg. new_data_ok: the caller has unsent data and the peer's window allows one
 * more segment (rule 2). rescue_rxt/rescue_valid: RescueRxt from this recovery (rule 4; the
 * caller sets RescueRxt = RecoveryPoint when it sends a rescue and does NOT move high_rxt).
 * For LOST/UNSACKED/RESCUE, [*seq, *seq + *len) is to be retransmitted, len <= mss, all of it
 * unSACKed; for LOST/UNSACKED the caller then sets high_rxt = *seq + *len. */
enum tcp_sack_next tcp_sack_next_seg(const struct tcp_sack_scoreboard *sb, uint32_t snd_una,
                                     uint32_t snd_nxt, uint32_t high_rxt, uint32_t mss,
                                     unsigned dupthresh, bool new_data_ok, uint32_t rescue_rxt,
                                     bool rescue_valid, uint32_t *seq, uint32_t *len);

static inline uint32_t tcp_sack_sacked_bytes(const struct tcp_sack_scoreboard *sb)
{
	return sb->sacked_bytes;
}
static inline bool tcp_sack_empty(const struct tcp_sack_scoreboard *sb)
{
	return sb->n == 0;
}
/* End (exclusive) of the highest SACKed range: RFC 6675 "highest octet covered by any received
 * SACK" + 1. Only meaningful when not empty. */
static inline uint32_t tcp_sack_high_sacked(const struct tcp_sack_scoreboard *sb)
{
	return sb->n ? sb->r[sb->n - 1].end : 0;
}

#endif
