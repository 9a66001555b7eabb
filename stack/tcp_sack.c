/* SPDX-License-Identifier: BSD-3-Clause */
/* SACK scoreboard and RFC 6675 helpers; see tcp_sack.h for the contract. */
#include <string.h>

#include "tcp_sack.h"
#include "tcp_seq.h"

void tcp_sack_init(struct tcp_sack_scoreboard *sb)
{
	sb->n = 0;
	sb->sacked_bytes = 0;
}

static void remove_range(struct tcp_sack_scoreboard *sb, uint32_t i)
{
	sb->sacked_bytes -= sb->r[i].end - sb->r[i].start;
	memmove(&sb->r[i], &sb->r[i + 1], (sb->n - i - 1) * sizeof(sb->r[0]));
	sb->n--;
}

void tcp_sack_advance(struct tcp_sack_scoreboard *sb, uint32_t snd_una)
{
	uint32_t drop = 0;
	while (drop < sb->n && seq_leq(sb->r[drop].end, snd_una)) {
		sb->sacked_bytes -= sb->r[drop].end - sb->r[drop].start;
		drop++;
	}
	if (drop) {
		memmove(&sb->r[0], &sb->r[drop], (sb->n - drop) * sizeof(sb->r[0]));
		sb->n -= drop;
	}
	if (sb->n && seq_lt(sb->r[0].start, snd_una)) {
		sb->sacked_bytes -= snd_una - sb->r[0].start;
		sb->r[0].start = snd_una;
	}
}

/* Merge [start, end) into the set; returns how many of its bytes were not SACKed before. */
static uint32_t insert_range(struct tcp_sack_scoreboard *sb, uint32_t start, uint32_t end)
{
	/* First range that is not wholly below (and not adjacent to) the new one. */
	uint32_t lo = 0;
	while (lo < sb->n && seq_lt(sb->r[lo].end, start))
		lo++;
	/* Ranges lo..hi-1 overlap or touch [start, end). */
	uint32_t hi = lo;
	while (hi < sb->n && seq_leq(sb->r[hi].start, end))
		hi++;

	if (lo == hi) {
		/* Disjoint: needs a new slot. When full, keep the ranges nearest snd_una. */
		if (sb->n == TCP_SACK_MAX_RANGES) {
			if (lo == sb->n)
				return 0;
			remove_range(sb, sb->n - 1);
		}
		memmove(&sb->r[lo + 1], &sb->r[lo], (sb->n - lo) * sizeof(sb->r[0]));
		sb->r[lo].start = start;
		sb->r[lo].end = end;
		sb->n++;
		sb->sacked_bytes += end - start;
		return end - start;
	}

	uint32_t new_start = seq_min(start, sb->r[lo].start);
	uint32_t new_end = seq_max(end, sb->r[hi - 1].end);
	uint32_t old_bytes = 0;
	for (uint32_t i = lo; i < hi; i++)
		old_bytes += sb->r[i].end - sb->r[i].start;
	uint32_t merged = new_end - new_start;
	sb->r[lo].start = new_start;
	sb->r[lo].end = new_end;
	memmove(&sb->r[lo + 1], &sb->r[hi], (sb->n - hi) * sizeof(sb->r[0]));
	sb->n -= hi - lo - 1;
	sb->sacked_bytes += merged - old_bytes;
	return merged - old_bytes;
}

bool tcp_sack_is_dsack(const struct tcp_sack_block *blocks, unsigned n, uint32_t snd_una)
{
	const struct tcp_sack_block *b = &blocks[0];
	/* RFC 2883: a first block at or below the cumulative ACK reports a duplicate; a block
	 * straddling it can only be one too (new data there would have advanced the ACK). */
	if (!seq_lt(b->start, b->end))
		return false; /* empty or reversed: no report at all */
	if (seq_lt(b->start, snd_una))
		return true;
	if (n >= 2 && seq_geq(b->start, blocks[1].start) && seq_leq(b->end, blocks[1].end))
		return true;
	return false;
}

struct tcp_sack_update_result tcp_sack_update(struct tcp_sack_scoreboard *sb, uint32_t snd_una,
                                              uint32_t snd_nxt, const struct tcp_sack_block *blocks,
                                              unsigned n)
{
	struct tcp_sack_update_result res = {0};
	tcp_sack_advance(sb, snd_una);
	if (!blocks)
		n = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct tcp_sack_block *b = &blocks[i];
		if (i == 0 && tcp_sack_is_dsack(blocks, n, snd_una)) {
			res.dsack = true;
			continue;
		}
		if (!seq_lt(b->start, b->end) || seq_lt(b->start, snd_una) ||
		    seq_gt(b->end, snd_nxt) || seq_gt(b->start, snd_nxt)) {
			res.ignored++;
			continue;
		}
		res.newly_sacked += insert_range(sb, b->start, b->end);
	}
	return res;
}

/* Index of the range containing seq, or -1. */
static int find_range(const struct tcp_sack_scoreboard *sb, uint32_t seq)
{
	uint32_t lo = 0, hi = sb->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (seq_lt(seq, sb->r[mid].start))
			hi = mid;
		else if (seq_geq(seq, sb->r[mid].end))
			lo = mid + 1;
		else
			return (int)mid;
	}
	return -1;
}

bool tcp_sack_is_sacked(const struct tcp_sack_scoreboard *sb, uint32_t seq)
{
	return find_range(sb, seq) >= 0;
}

uint32_t tcp_sack_skip_sacked(const struct tcp_sack_scoreboard *sb, uint32_t seq)
{
	int i = find_range(sb, seq);
	return i < 0 ? seq : sb->r[i].end;
}

uint32_t tcp_sack_unsacked_len(const struct tcp_sack_scoreboard *sb, uint32_t seq, uint32_t limit)
{
	if (!seq_lt(seq, limit) || find_range(sb, seq) >= 0)
		return 0;
	uint32_t end = limit;
	for (uint32_t i = 0; i < sb->n; i++) {
		if (seq_gt(sb->r[i].start, seq)) {
			end = seq_min(end, sb->r[i].start);
			break;
		}
	}
	return end - seq;
}

/* IsLost's two tests on what lies above: `ranges` SACKed ranges holding `bytes` bytes. */
static bool lost_by(uint32_t ranges, uint32_t bytes, uint32_t mss, unsigned dupthresh)
{
	if (dupthresh == 0)
		dupthresh = 1;
	return ranges >= dupthresh || (uint64_t)bytes > (uint64_t)(dupthresh - 1) * mss;
}

bool tcp_sack_is_lost(const struct tcp_sack_scoreboard *sb, uint32_t seq, uint32_t mss,
                      unsigned dupthresh)
{
	uint32_t ranges = 0, bytes = 0;
	/* Octets strictly above seq, walking down from the top. */
	for (uint32_t i = sb->n; i-- > 0;) {
		const struct tcp_sack_block *r = &sb->r[i];
		if (seq_leq(r->end, seq + 1))
			break;
		uint32_t from = seq_max(r->start, seq + 1);
		ranges++;
		bytes += r->end - from;
		if (lost_by(ranges, bytes, mss, dupthresh))
			return true;
	}
	return false;
}

/* Walks the holes of [snd_una, snd_nxt) bottom-up, knowing what is SACKed above each. */
struct hole {
	uint32_t start, end;   /* unSACKed bytes [start, end), non-empty */
	uint32_t ranges_above; /* SACKed ranges wholly above the hole */
	uint32_t bytes_above;  /* SACKed bytes above the hole */
};

struct hole_walk {
	const struct tcp_sack_scoreboard *sb;
	uint32_t una, nxt;
	uint32_t i;           /* next hole lies below range i (i == n: the top hole) */
	uint32_t bytes_above; /* SACKed bytes in ranges i..n-1 */
};

static void hole_walk_init(struct hole_walk *w, const struct tcp_sack_scoreboard *sb, uint32_t una,
                           uint32_t nxt)
{
	w->sb = sb;
	w->una = una;
	w->nxt = nxt;
	w->i = 0;
	w->bytes_above = sb->sacked_bytes;
}

static bool hole_next(struct hole_walk *w, struct hole *h)
{
	const struct tcp_sack_scoreboard *sb = w->sb;
	while (w->i <= sb->n) {
		uint32_t i = w->i;
		uint32_t start = i == 0 ? w->una : seq_max(sb->r[i - 1].end, w->una);
		uint32_t end = i == sb->n ? w->nxt : seq_min(sb->r[i].start, w->nxt);
		if (i < sb->n)
			w->bytes_above -= sb->r[i].end - sb->r[i].start;
		w->i++;
		if (seq_lt(start, end)) {
			h->start = start;
			h->end = end;
			h->ranges_above = sb->n - i;
			h->bytes_above =
			        w->bytes_above + (i < sb->n ? sb->r[i].end - sb->r[i].start : 0);
			return true;
		}
	}
	return false;
}

uint32_t tcp_sack_pipe(const struct tcp_sack_scoreboard *sb, uint32_t snd_una, uint32_t snd_nxt,
                       uint32_t high_rxt, uint32_t mss, unsigned dupthresh)
{
	uint32_t rxt_end = seq_max(high_rxt, snd_una);
	if (seq_gt(rxt_end, snd_nxt))
		rxt_end = snd_nxt;
	uint64_t pipe = 0;
	struct hole_walk w;
	struct hole h;
	hole_walk_init(&w, sb, snd_una, snd_nxt);
	while (hole_next(&w, &h)) {
		if (!lost_by(h.ranges_above, h.bytes_above, mss, dupthresh))
			pipe += h.end - h.start;
		/* Retransmitted octets are in flight once more. */
		if (seq_lt(h.start, rxt_end))
			pipe += seq_min(h.end, rxt_end) - h.start;
	}
	return pipe > UINT32_MAX ? UINT32_MAX : (uint32_t)pipe;
}

enum tcp_sack_next tcp_sack_next_seg(const struct tcp_sack_scoreboard *sb, uint32_t snd_una,
                                     uint32_t snd_nxt, uint32_t high_rxt, uint32_t mss,
                                     unsigned dupthresh, bool new_data_ok, uint32_t rescue_rxt,
                                     bool rescue_valid, uint32_t *seq, uint32_t *len)
{
	uint32_t from = seq_max(high_rxt, snd_una);
	struct hole_walk w;
	struct hole h;
	if (mss == 0)
		mss = 1;

	/* Rule 1: the first hole byte not yet retransmitted, below the highest SACK, lost.
	 * Holes higher up have less SACKed above them, so the first candidate decides. */
	hole_walk_init(&w, sb, snd_una, snd_nxt);
	while (hole_next(&w, &h)) {
		if (h.ranges_above == 0)
			break;
		if (seq_leq(h.end, from))
			continue;
		if (lost_by(h.ranges_above, h.bytes_above, mss, dupthresh)) {
			*seq = seq_max(h.start, from);
			*len = seq_min(h.end - *seq, mss);
			return TCP_SACK_NEXT_LOST;
		}
		break;
	}

	/* Rule 2 */
	if (new_data_ok)
		return TCP_SACK_NEXT_NEW_DATA;

	/* Rule 3: as rule 1 without IsLost. */
	hole_walk_init(&w, sb, snd_una, snd_nxt);
	while (hole_next(&w, &h)) {
		if (h.ranges_above == 0)
			break;
		if (seq_leq(h.end, from))
			continue;
		*seq = seq_max(h.start, from);
		*len = seq_min(h.end - *seq, mss);
		return TCP_SACK_NEXT_UNSACKED;
	}

	/* Rule 4: one rescue retransmission per recovery, of the highest unSACKed data. */
	if (!rescue_valid || seq_gt(snd_una, rescue_rxt)) {
		struct hole top;
		bool any = false;
		hole_walk_init(&w, sb, snd_una, snd_nxt);
		while (hole_next(&w, &h)) {
			top = h;
			any = true;
		}
		if (any) {
			uint32_t hole_len = top.end - top.start;
			*len = hole_len < mss ? hole_len : mss;
			*seq = top.end - *len;
			return TCP_SACK_NEXT_RESCUE;
		}
	}
	return TCP_SACK_NEXT_NONE;
}
