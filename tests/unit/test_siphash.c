/* SPDX-License-Identifier: BSD-3-Clause */
/* SipHash-2-4 against the 64 reference vectors of the SipHash paper's reference code:
 * key 00 01 .. 0f, message i bytes 00 01 .. (i-1), for i = 0..63. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"

static const uint64_t reference_vectors[64] = {
        0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
        0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
        0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
        0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
        0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
        0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull,
        0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull,
        0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, 0xad87a3535c49ef28ull, 0x32d892fad841c342ull,
        0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull, 0x15e034d40fa197aeull,
        0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
        0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull,
        0xf935451de4f21df2ull, 0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull,
        0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, 0xee64435a9752fe72ull, 0xa192d576b245165aull,
        0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull,
        0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
        0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

static void reference_key(uint8_t key[SIPHASH_KEY_LEN])
{
	for (int i = 0; i < SIPHASH_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

START_TEST(all_reference_vectors)
{
	uint8_t key[SIPHASH_KEY_LEN], msg[64];
	reference_key(key);
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (int len = 0; len < 64; len++)
		ck_assert_msg(siphash24(key, msg, (size_t)len) == reference_vectors[len],
		              "length %d", len);
}
END_TEST

START_TEST(empty_message_may_be_null)
{
	uint8_t key[SIPHASH_KEY_LEN];
	reference_key(key);
	ck_assert(siphash24(key, NULL, 0) == reference_vectors[0]);
}
END_TEST

/* The input need not be aligned: the same bytes at an odd address hash the same. */
START_TEST(unaligned_input)
{
	uint8_t key[SIPHASH_KEY_LEN], buf[80];
	reference_key(key);
	for (int i = 0; i < 63; i++)
		buf[1 + i] = (uint8_t)i;
	ck_assert(siphash24(key, buf + 1, 63) == reference_vectors[63]);
	ck_assert(siphash24(key, buf + 1, 17) == reference_vectors[17]);
}
END_TEST

START_TEST(key_changes_output)
{
	uint8_t key[SIPHASH_KEY_LEN], msg[15];
	reference_key(key);
	memset(msg, 0x5a, sizeof(msg));
	uint64_t base = siphash24(key, msg, sizeof(msg));
	for (int bit = 0; bit < 128; bit++) {
		key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(siphash24(key, msg, sizeof(msg)) != base, "key bit %d", bit);
		key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("siphash");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, all_reference_vectors);
	tcase_add_test(tc, empty_message_may_be_null);
	tcase_add_test(tc, unaligned_input);
	tcase_add_test(tc, key_changes_output);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
