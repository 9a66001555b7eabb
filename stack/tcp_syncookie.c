/* SPDX-License-Identifier: BSD-3-Clause */
/* RFC 4987 SYN cookies: see tcp_syncookie.h. */
#include <string.h>

#include "tcp_syncookie.h"

#define COUNTER_SHIFT_NS 36   /* 2^36 ns = 68.7 s per counter tick */
#define COUNTER_MASK     0x3f /* 6 bits: wraps after 73 minutes */
#define MAX_AGE_TICKS    2
#define TS_OPT_BITS      5

static const uint16_t mss_classes[] = {536, 1220, 1440, 1460};
#define N_MSS_CLASSES (sizeof(mss_classes) / sizeof(mss_classes[0]))

static uint32_t mac24(const uint8_t key[SIPHASH_KEY_LEN], uint32_t laddr_be, uint16_t lport_be,
                      uint32_t raddr_be, uint16_t rport_be, uint32_t peer_isn, uint32_t counter,
                      uint32_t cls)
{
	/* "tpa-syncookie" prefix: a different input space from the ISN's and TS offset's. */
	uint8_t msg[13 + 4 + 2 + 4 + 2 + 4 + 2];
	size_t n = 0;
	memcpy(msg + n, "tpa-syncookie", 13);
	n += 13;
	memcpy(msg + n, &laddr_be, 4);
	n += 4;
	memcpy(msg + n, &lport_be, 2);
	n += 2;
	memcpy(msg + n, &raddr_be, 4);
	n += 4;
	memcpy(msg + n, &rport_be, 2);
	n += 2;
	memcpy(msg + n, &peer_isn, 4);
	n += 4;
	msg[n++] = (uint8_t)counter;
	msg[n++] = (uint8_t)cls;
	return (uint32_t)siphash24(key, msg, n) & 0xffffff;
}

static uint32_t counter_now(uint64_t now_ns)
{
	return (uint32_t)(now_ns >> COUNTER_SHIFT_NS) & COUNTER_MASK;
}

uint32_t tcp_syncookie_make(const uint8_t key[SIPHASH_KEY_LEN], uint32_t laddr_be,
                            uint16_t lport_be, uint32_t raddr_be, uint16_t rport_be,
                            uint32_t peer_isn, uint16_t peer_mss, uint64_t now_ns, uint16_t *mss)
{
	uint32_t cls = 0;
	uint16_t want = peer_mss ? peer_mss : 536;
	for (uint32_t i = 0; i < N_MSS_CLASSES; i++)
		if (mss_classes[i] <= want)
			cls = i;
	*mss = mss_classes[cls];
	uint32_t counter = counter_now(now_ns);
	return counter << 26 | cls << 24 |
	       mac24(key, laddr_be, lport_be, raddr_be, rport_be, peer_isn, counter, cls);
}

bool tcp_syncookie_check(const uint8_t key[SIPHASH_KEY_LEN], uint32_t laddr_be, uint16_t lport_be,
                         uint32_t raddr_be, uint16_t rport_be, uint32_t peer_isn, uint32_t cookie,
                         uint64_t now_ns, uint16_t *mss)
{
	uint32_t counter = cookie >> 26;
	uint32_t cls = (cookie >> 24) & 3;
	uint32_t age = (counter_now(now_ns) - counter) & COUNTER_MASK;
	if (age > MAX_AGE_TICKS || (cookie & 0xffffff) != mac24(key, laddr_be, lport_be, raddr_be,
	                                                        rport_be, peer_isn, counter, cls))
		return false;
	*mss = mss_classes[cls];
	return true;
}
uint32_t tcp_syncookie_tsval(uint32_t ts_now, uint8_t wscale, bool sack_ok)
{
	uint32_t opts = (uint32_t)(wscale & 0xf) | (sack_ok ? 0x10u : 0u);
	uint32_t v = (ts_now & ~((1u << TS_OPT_BITS) - 1)) | opts;
	if ((int32_t)(v - ts_now) > 0)
		v -= 1u << TS_OPT_BITS;
	return v;
}

void tcp_syncookie_ts_decode(uint32_t tsecr, uint8_t *wscale, bool *sack_ok)
{
	*wscale = (uint8_t)(tsecr & 0xf);
	*sack_ok = (tsecr & 0x10) != 0;
}
