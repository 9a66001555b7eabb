/* SPDX-License-Identifier: BSD-3-Clause */
/* SACK scoreboard and RFC 6675 IsLost / SetPipe / NextSeg on worked examples, plus a
 * randomised comparison against a byte-map model. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_sack.h"
#include "tcp_seq.h"

#define MSS 1000u

static struct tcp_sack_update_result sack(struct tcp_sack_scoreboard *sb, uint32_t una,
                                          uint32_t nxt, uint32_t start, uint32_t end)
{
	struct tcp_sack_block b = {start, end};
	return tcp_sack_update(sb, una, nxt, &b, 1);
}

/* Ranges sorted, disjoint, non-adjacent, inside (una, nxt], byte count consistent. */
static void check_invariants(const struct tcp_sack_scoreboard *sb, uint32_t una, uint32_t nxt)
{
	/* Plain ifs: this runs after every update of the randomised test. */
	uint32_t bytes = 0;
	if (sb->n > TCP_SACK_MAX_RANGES)
		ck_abort_msg("%u ranges", sb->n);
	for (uint32_t i = 0; i < sb->n; i++) {
		const struct tcp_sack_block *r = &sb->r[i];
		if (!seq_lt(r->start, r->end) || seq_lt(r->start, una) || seq_gt(r->end, nxt))
			ck_abort_msg("range %u [%u, %u) bad for una %u nxt %u", i, r->start, r->end,
			             una, nxt);
		if (i && !seq_lt(sb->r[i - 1].end, r->start))
			ck_abort_msg("ranges %u and %u overlap or touch", i - 1, i);
		bytes += r->end - r->start;
	}
	if (bytes != sb->sacked_bytes)
		ck_abort_msg("sacked_bytes %u, ranges hold %u", sb->sacked_bytes, bytes);
}

START_TEST(merge_ranges)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	ck_assert(tcp_sack_empty(&sb));
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 2000, 3000).newly_sacked, 1000);
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 4000, 5000).newly_sacked, 1000);
	ck_assert_uint_eq(sb.n, 2);
	/* Filling the gap exactly joins the neighbours. */
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 3000, 4000).newly_sacked, 1000);
	ck_assert_uint_eq(sb.n, 1);
	ck_assert_uint_eq(sb.r[0].start, 2000);
	ck_assert_uint_eq(sb.r[0].end, 5000);
	/* Overlap at the bottom, duplicate inside, overlap at the top. */
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 1500, 2500).newly_sacked, 500);
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 3000, 3500).newly_sacked, 0);
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 4500, 6000).newly_sacked, 1000);
	ck_assert_uint_eq(sb.n, 1);
	ck_assert_uint_eq(tcp_sack_sacked_bytes(&sb), 4500);
	/* One block covering several ranges swallows them. */
	sack(&sb, 1000, 11000, 7000, 8000);
	sack(&sb, 1000, 11000, 9000, 9500);
	ck_assert_uint_eq(sb.n, 3);
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 5000, 10000).newly_sacked, 1000 + 1000 + 500);
	ck_assert_uint_eq(sb.n, 1);
	ck_assert_uint_eq(sb.r[0].start, 1500);
	ck_assert_uint_eq(sb.r[0].end, 10000);
	ck_assert_uint_eq(tcp_sack_high_sacked(&sb), 10000);
	check_invariants(&sb, 1000, 11000);
}
END_TEST

START_TEST(several_blocks_in_one_ack)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	/* Most recent block first, as receivers send them (RFC 2018). */
	struct tcp_sack_block b[3] = {{6000, 7000}, {2000, 3000}, {4000, 5000}};
	struct tcp_sack_update_result res = tcp_sack_update(&sb, 1000, 11000, b, 3);
	ck_assert_uint_eq(res.newly_sacked, 3000);
	ck_assert(!res.dsack);
	ck_assert_uint_eq(res.ignored, 0);
	ck_assert_uint_eq(sb.n, 3);
	ck_assert_uint_eq(sb.r[0].start, 2000);
	ck_assert_uint_eq(sb.r[2].end, 7000);
	check_invariants(&sb, 1000, 11000);
}
END_TEST

START_TEST(invalid_blocks_ignored)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	sack(&sb, 1000, 11000, 4000, 5000);
	struct tcp_sack_block b[6] = {
	        {4000, 5000},   /* valid, already known (keeps block 0 from being a D-SACK) */
	        {3000, 2000},   /* reversed */
	        {3000, 3000},   /* empty */
	        {500, 900},     /* below snd_una */
	        {10000, 12000}, /* beyond snd_nxt */
	        {900, 1500},    /* straddles snd_una */
	};
	struct tcp_sack_update_result res = tcp_sack_update(&sb, 1000, 11000, b, 6);
	ck_assert_uint_eq(res.ignored, 5);
	ck_assert_uint_eq(res.newly_sacked, 0);
	ck_assert(!res.dsack);
	ck_assert_uint_eq(sb.n, 1);
	ck_assert_uint_eq(tcp_sack_sacked_bytes(&sb), 1000);
	/* Far-away blocks, in either half of sequence space, never enter the board. */
	ck_assert_uint_eq(sack(&sb, 1000, 11000, 1000 + 0x7fff0000u, 1000 + 0x7fff1000u).ignored,
	                  1);
	struct tcp_sack_update_result far =
	        sack(&sb, 1000, 11000, 1000 + 0x80000000u, 1000 + 0x80001000u);
	ck_assert(far.dsack || far.ignored == 1);
	ck_assert_uint_eq(far.newly_sacked, 0);
	ck_assert_uint_eq(sb.n, 1);
	/* NULL blocks with n > 0 is treated as no blocks. */
	ck_assert_uint_eq(tcp_sack_update(&sb, 1000, 11000, NULL, 4).ignored, 0);
	check_invariants(&sb, 1000, 11000);
}
END_TEST

START_TEST(dsack_detection)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	/* First block below the cumulative ACK: a duplicate of acknowledged data. */
	struct tcp_sack_block below[2] = {{500, 1000}, {3000, 4000}};
	struct tcp_sack_update_result res = tcp_sack_update(&sb, 1000, 11000, below, 2);
	ck_assert(res.dsack);
	ck_assert_uint_eq(res.ignored, 0);
	ck_assert_uint_eq(res.newly_sacked, 1000);
	ck_assert_uint_eq(sb.n, 1);
	/* First block inside the second: a duplicate of SACKed data; the second still counts. */
	struct tcp_sack_block inside[2] = {{5000, 5500}, {5000, 7000}};
	res = tcp_sack_update(&sb, 1000, 11000, inside, 2);
	ck_assert(res.dsack);
	ck_assert_uint_eq(res.newly_sacked, 2000);
	ck_assert(!tcp_sack_is_sacked(&sb, 4500));
	ck_assert(tcp_sack_is_sacked(&sb, 5000));
	check_invariants(&sb, 1000, 11000);
	/* An empty block below the ACK reports nothing (it counted as a D-SACK). */
	struct tcp_sack_block empty[1] = {{500, 500}};
	res = tcp_sack_update(&sb, 1000, 11000, empty, 1);
	ck_assert(!res.dsack);
	ck_assert_uint_eq(res.ignored, 1);
	ck_assert(!tcp_sack_is_dsack(empty, 1, 1000));
	/* On an old ACK (up to 2000, below snd_una), its own ACK field decides. */
	struct tcp_sack_block old[1] = {{1500, 1600}};
	ck_assert(tcp_sack_is_dsack(old, 1, 2000));
	ck_assert(!tcp_sack_is_dsack(old, 1, 1500));
}
END_TEST

START_TEST(advance_trims_and_drops)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	sack(&sb, 1000, 11000, 2000, 3000);
	sack(&sb, 1000, 11000, 4000, 5000);
	sack(&sb, 1000, 11000, 6000, 7000);
	tcp_sack_advance(&sb, 3000); /* exactly the end of the first range */
	ck_assert_uint_eq(sb.n, 2);
	ck_assert_uint_eq(tcp_sack_sacked_bytes(&sb), 2000);
	tcp_sack_advance(&sb, 4500); /* into the middle of a range */
	ck_assert_uint_eq(sb.r[0].start, 4500);
	ck_assert_uint_eq(tcp_sack_sacked_bytes(&sb), 1500);
	check_invariants(&sb, 4500, 11000);
	/* tcp_sack_update() advances too. */
	sack(&sb, 8000, 11000, 9000, 10000);
	ck_assert_uint_eq(sb.n, 1);
	ck_assert_uint_eq(sb.r[0].start, 9000);
	tcp_sack_advance(&sb, 11000);
	ck_assert(tcp_sack_empty(&sb));
	ck_assert_uint_eq(tcp_sack_sacked_bytes(&sb), 0);
}
END_TEST

START_TEST(capacity_overflow)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	uint32_t una = 0, nxt = 1000000;
	for (uint32_t i = 0; i < TCP_SACK_MAX_RANGES + 8; i++)
		sack(&sb, una, nxt, 1000 + i * 2000, 2000 + i * 2000);
	/* The ranges nearest snd_una are kept, the rest is forgotten (not invented). */
	ck_assert_uint_eq(sb.n, TCP_SACK_MAX_RANGES);
	ck_assert_uint_eq(tcp_sack_sacked_bytes(&sb), TCP_SACK_MAX_RANGES * 1000);
	ck_assert_uint_eq(sb.r[0].start, 1000);
	ck_assert_uint_eq(tcp_sack_high_sacked(&sb), 2000 + (TCP_SACK_MAX_RANGES - 1) * 2000);
	/* A new low range evicts the highest. */
	uint32_t old_top = sb.r[TCP_SACK_MAX_RANGES - 1].start;
	struct tcp_sack_update_result res = sack(&sb, una, nxt, 100, 200);
	ck_assert_uint_eq(res.newly_sacked, 100);
	ck_assert_uint_eq(sb.n, TCP_SACK_MAX_RANGES);
	ck_assert(!tcp_sack_is_sacked(&sb, old_top));
	ck_assert(tcp_sack_is_sacked(&sb, 100));
	/* Merging still works when full. */
	ck_assert_uint_eq(sack(&sb, una, nxt, 2000, 3000).newly_sacked, 1000);
	ck_assert_uint_eq(sb.n, TCP_SACK_MAX_RANGES - 1);
	check_invariants(&sb, una, nxt);
}
END_TEST

START_TEST(queries)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	sack(&sb, 1000, 11000, 3000, 4000);
	sack(&sb, 1000, 11000, 5000, 6000);
	ck_assert(!tcp_sack_is_sacked(&sb, 2999));
	ck_assert(tcp_sack_is_sacked(&sb, 3000));
	ck_assert(tcp_sack_is_sacked(&sb, 3999));
	ck_assert(!tcp_sack_is_sacked(&sb, 4000));
	ck_assert_uint_eq(tcp_sack_skip_sacked(&sb, 3500), 4000);
	ck_assert_uint_eq(tcp_sack_skip_sacked(&sb, 4500), 4500);
	ck_assert_uint_eq(tcp_sack_unsacked_len(&sb, 1000, 11000), 2000);
	ck_assert_uint_eq(tcp_sack_unsacked_len(&sb, 4200, 11000), 800);
	ck_assert_uint_eq(tcp_sack_unsacked_len(&sb, 6000, 11000), 5000);
	ck_assert_uint_eq(tcp_sack_unsacked_len(&sb, 6000, 6500), 500);
	ck_assert_uint_eq(tcp_sack_unsacked_len(&sb, 3500, 11000), 0);
	ck_assert_uint_eq(tcp_sack_unsacked_len(&sb, 11000, 11000), 0);
}
END_TEST

START_TEST(is_lost_thresholds)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	sack(&sb, 1000, 11000, 2000, 3000);
	ck_assert(!tcp_sack_is_lost(&sb, 1000, MSS, 3));
	sack(&sb, 1000, 11000, 4000, 5000);
	ck_assert(!tcp_sack_is_lost(&sb, 1000, MSS, 3)); /* 2 ranges, 2000 B: not > 2*SMSS */
	sack(&sb, 1000, 11000, 6000, 6100);
	ck_assert(tcp_sack_is_lost(&sb, 1000, MSS, 3));  /* 3 discontiguous ranges */
	ck_assert(!tcp_sack_is_lost(&sb, 3000, MSS, 3)); /* only 2 above 3000 */
	ck_assert(!tcp_sack_is_lost(&sb, 10000, MSS, 3));
	/* DupThresh 2 makes the hole above the first range lost too. */
	ck_assert(tcp_sack_is_lost(&sb, 3000, MSS, 2));

	/* Range rule alone: three small discontiguous SACKed segments (300 bytes in all). */
	tcp_sack_init(&sb);
	sack(&sb, 1000, 11000, 2000, 2100);
	sack(&sb, 1000, 11000, 3000, 3100);
	ck_assert(!tcp_sack_is_lost(&sb, 1000, MSS, 3));
	sack(&sb, 1000, 11000, 4000, 4100);
	ck_assert(tcp_sack_is_lost(&sb, 1000, MSS, 3));
	ck_assert(!tcp_sack_is_lost(&sb, 2100, MSS, 3));

	/* Byte rule: more than (DupThresh - 1) * SMSS in one range. */
	tcp_sack_init(&sb);
	sack(&sb, 1000, 11000, 2000, 4000); /* exactly 2 * SMSS */
	ck_assert(!tcp_sack_is_lost(&sb, 1000, MSS, 3));
	sack(&sb, 1000, 11000, 4000, 4001);
	ck_assert(tcp_sack_is_lost(&sb, 1000, MSS, 3));
	/* Only octets above seq count: from inside the range, fewer remain. */
	ck_assert(!tcp_sack_is_lost(&sb, 2500, MSS, 3));
}
END_TEST

/* RFC 6675 worked example: 10 segments of 1000 bytes from 1000; segments at 3000, 5000 and
 * 7000 SACKed. Segments 1000 and 2000 are lost (3 SACKed ranges above); 4000 and 6000 are
 * not (2 and 1 above); 8000..10999 are simply in flight. */
static void worked_example(struct tcp_sack_scoreboard *sb, uint32_t base)
{
	tcp_sack_init(sb);
	struct tcp_sack_block b[3] = {
	        {base + 7000, base + 8000}, {base + 5000, base + 6000}, {base + 3000, base + 4000}};
	tcp_sack_update(sb, base + 1000, base + 11000, b, 3);
}

static void check_pipe_and_nextseg(uint32_t base)
{
	struct tcp_sack_scoreboard sb;
	worked_example(&sb, base);
	uint32_t una = base + 1000, nxt = base + 11000;
	ck_assert(tcp_sack_is_lost(&sb, base + 1000, MSS, 3));
	ck_assert(tcp_sack_is_lost(&sb, base + 2000, MSS, 3));
	ck_assert(!tcp_sack_is_lost(&sb, base + 4000, MSS, 3));
	ck_assert(!tcp_sack_is_lost(&sb, base + 6000, MSS, 3));

	/* Pipe: 4000, 6000 and 8000..10999 are in flight; the lost 2000 bytes are not. */
	ck_assert_uint_eq(tcp_sack_pipe(&sb, una, nxt, una, MSS, 3), 5000);
	/* Retransmitting 1000..1999 puts it back in the pipe. */
	ck_assert_uint_eq(tcp_sack_pipe(&sb, una, nxt, base + 2000, MSS, 3), 6000);
	/* Retransmitted and not lost (4000..4999) counts twice: original and retransmission. */
	ck_assert_uint_eq(tcp_sack_pipe(&sb, una, nxt, base + 5000, MSS, 3), 8000);

	uint32_t seq = 0, len = 0;
	ck_assert_int_eq(tcp_sack_next_seg(&sb, una, nxt, una, MSS, 3, true, 0, false, &seq, &len),
	                 TCP_SACK_NEXT_LOST);
	ck_assert_uint_eq(seq, base + 1000);
	ck_assert_uint_eq(len, 1000);
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, una, nxt, base + 2000, MSS, 3, true, 0, false, &seq, &len),
	        TCP_SACK_NEXT_LOST);
	ck_assert_uint_eq(seq, base + 2000);
	ck_assert_uint_eq(len, 1000);
	/* The lost holes are done: new data first (rule 2)... */
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, una, nxt, base + 3000, MSS, 3, true, 0, false, &seq, &len),
	        TCP_SACK_NEXT_NEW_DATA);
	/* ...else the next unSACKed hole below the highest SACK (rule 3). */
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, una, nxt, base + 3000, MSS, 3, false, 0, false, &seq, &len),
	        TCP_SACK_NEXT_UNSACKED);
	ck_assert_uint_eq(seq, base + 4000);
	ck_assert_uint_eq(len, 1000);
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, una, nxt, base + 5000, MSS, 3, false, 0, false, &seq, &len),
	        TCP_SACK_NEXT_UNSACKED);
	ck_assert_uint_eq(seq, base + 6000);
	/* Everything below the highest SACK retransmitted: one rescue of the highest data. */
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, una, nxt, base + 7000, MSS, 3, false, 0, false, &seq, &len),
	        TCP_SACK_NEXT_RESCUE);
	ck_assert_uint_eq(seq, base + 10000);
	ck_assert_uint_eq(len, 1000);
	/* RescueRxt = RecoveryPoint (nxt) and snd_una not past it: no second rescue. */
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, una, nxt, base + 7000, MSS, 3, false, nxt, true, &seq, &len),
	        TCP_SACK_NEXT_NONE);
}

START_TEST(pipe_and_nextseg_worked_example)
{
	check_pipe_and_nextseg(0);
}
END_TEST

START_TEST(pipe_and_nextseg_across_wrap)
{
	check_pipe_and_nextseg(0xfffff000u);
	check_pipe_and_nextseg(0xffffe000u);
	check_pipe_and_nextseg(0x7ffff000u);
}
END_TEST

START_TEST(nextseg_short_holes)
{
	struct tcp_sack_scoreboard sb;
	tcp_sack_init(&sb);
	/* Hole of 500 bytes, then 3000 SACKed bytes: lost by the byte rule. */
	sack(&sb, 1000, 8000, 1500, 4500);
	uint32_t seq = 0, len = 0;
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, 1000, 8000, 1000, MSS, 3, false, 0, false, &seq, &len),
	        TCP_SACK_NEXT_LOST);
	ck_assert_uint_eq(seq, 1000);
	ck_assert_uint_eq(len, 500);
	/* high_rxt inside a hole: continue from there. */
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, 1000, 8000, 1200, MSS, 3, false, 0, false, &seq, &len),
	        TCP_SACK_NEXT_LOST);
	ck_assert_uint_eq(seq, 1200);
	ck_assert_uint_eq(len, 300);
	/* Rescue of a top hole shorter than SMSS: the whole hole. */
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, 1000, 4800, 1500, MSS, 3, false, 0, false, &seq, &len),
	        TCP_SACK_NEXT_RESCUE);
	ck_assert_uint_eq(seq, 4500);
	ck_assert_uint_eq(len, 300);
	/* Nothing outstanding unSACKed at all. */
	tcp_sack_init(&sb);
	ck_assert_int_eq(
	        tcp_sack_next_seg(&sb, 1000, 1000, 1000, MSS, 3, false, 0, false, &seq, &len),
	        TCP_SACK_NEXT_NONE);
	ck_assert_uint_eq(tcp_sack_pipe(&sb, 1000, 1000, 1000, MSS, 3), 0);
	/* No SACK information: everything outstanding is in the pipe. */
	ck_assert_uint_eq(tcp_sack_pipe(&sb, 1000, 9000, 1000, MSS, 3), 8000);
}
END_TEST

static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* The scoreboard against a byte map: same SACKed set while the capacity suffices, a subset
 * when it does not; pipe equals the RFC's per-octet SetPipe loop. */
START_TEST(randomised_against_model)
{
	enum { WIN = 3000 };
	static uint8_t model[WIN];
	int full_rounds = 0;
	for (int round = 0; round < 400; round++) {
		uint32_t base = rnd();
		uint32_t una_off = 0;
		struct tcp_sack_scoreboard sb;
		tcp_sack_init(&sb);
		memset(model, 0, sizeof(model));
		int nblocks = 1 + (int)(rnd() % (round < 200 ? 30 : 120));
		for (int k = 0; k < nblocks; k++) {
			/* Later rounds: many short blocks, to overflow the board. */
			uint32_t s = rnd() % (WIN + 200);
			uint32_t e = s + rnd() % (round < 200 ? 300 : 20);
			if (rnd() % 8 == 0)
				e = s - rnd() % 50; /* reversed or empty */
			if (rnd() % 16 == 0 && una_off < WIN - 100)
				una_off += rnd() % 100;
			struct tcp_sack_block b = {base + s, base + e};
			tcp_sack_update(&sb, base + una_off, base + WIN, &b, 1);
			bool valid = s < e && s >= una_off && e <= WIN;
			for (uint32_t i = 0; i < una_off; i++)
				model[i] = 0;
			if (valid)
				for (uint32_t i = s; i < e; i++)
					model[i] = 1;
			check_invariants(&sb, base + una_off, base + WIN);
		}
		bool exact = round < 200; /* at most 30 blocks: never over capacity */
		if (sb.n == TCP_SACK_MAX_RANGES)
			full_rounds++;
		for (uint32_t i = una_off; i < WIN; i++) {
			bool got = tcp_sack_is_sacked(&sb, base + i);
			/* Plain ifs: a Check assertion per octet would dominate the run time. */
			if (exact && got != model[i])
				ck_abort_msg("round %d offset %u: scoreboard %d model %d", round, i,
				             got, model[i]);
			if (got && !model[i])
				ck_abort_msg("invented SACK: round %d offset %u", round, i);
		}
		/* SetPipe, octet by octet as RFC 6675 writes it, with a random HighRxt. */
		uint32_t mss = 100 + rnd() % 400;
		uint32_t high_rxt = una_off + rnd() % (WIN - una_off + 1);
		uint32_t pipe = 0;
		for (uint32_t i = una_off; i < WIN; i++) {
			if (tcp_sack_is_sacked(&sb, base + i))
				continue;
			if (!tcp_sack_is_lost(&sb, base + i, mss, 3))
				pipe++;
			if (i < high_rxt)
				pipe++;
		}
		ck_assert_uint_eq(
		        tcp_sack_pipe(&sb, base + una_off, base + WIN, base + high_rxt, mss, 3),
		        pipe);
		/* NextSeg rule 1 returns the lowest lost unSACKed octet at or above HighRxt. */
		uint32_t expect = UINT32_MAX;
		for (uint32_t i = high_rxt; i < WIN; i++) {
			if (!tcp_sack_is_sacked(&sb, base + i) &&
			    seq_lt(base + i, tcp_sack_high_sacked(&sb)) &&
			    tcp_sack_is_lost(&sb, base + i, mss, 3)) {
				expect = i;
				break;
			}
		}
		uint32_t seq, len;
		enum tcp_sack_next nx =
		        tcp_sack_next_seg(&sb, base + una_off, base + WIN, base + high_rxt, mss, 3,
		                          false, 0, false, &seq, &len);
		if (expect != UINT32_MAX) {
			ck_assert_int_eq(nx, TCP_SACK_NEXT_LOST);
			ck_assert_uint_eq(seq, base + expect);
		} else {
			ck_assert_int_ne(nx, TCP_SACK_NEXT_LOST);
		}
		if (nx != TCP_SACK_NEXT_NONE) {
			ck_assert_uint_ge(len, 1);
			ck_assert_uint_le(len, mss);
			for (uint32_t i = 0; i < len; i++)
				if (tcp_sack_is_sacked(&sb, seq + i))
					ck_abort_msg("NextSeg returned SACKed data, round %d",
					             round);
		}
	}
	ck_assert_int_gt(full_rounds, 50); /* the overflow path was exercised */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_sack");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, merge_ranges);
	tcase_add_test(tc, several_blocks_in_one_ack);
	tcase_add_test(tc, invalid_blocks_ignored);
	tcase_add_test(tc, dsack_detection);
	tcase_add_test(tc, advance_trims_and_drops);
	tcase_add_test(tc, capacity_overflow);
	tcase_add_test(tc, queries);
	tcase_add_test(tc, is_lost_thresholds);
	tcase_add_test(tc, pipe_and_nextseg_worked_example);
	tcase_add_test(tc, pipe_and_nextseg_across_wrap);
	tcase_add_test(tc, nextseg_short_holes);
	tcase_add_test(tc, randomised_against_model);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
