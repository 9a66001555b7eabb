/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wire formats: the byte layout of every header the stack reads or writes (Ethernet II, ARP for
 * IPv4 over Ethernet, IPv4, TCP and its options), as named field offsets from the start of
 * each header, field values, and the byte-order helpers that read and write them.
 *
 * Contract: parsing and building code names every field through this header and never writes a
 * bare byte offset. Offsets are in bytes from the first byte of the header they belong to.
 * The helpers read and write big-endian (network order) fields byte by byte, so they work at
 * any alignment and on any host; IPv4 addresses, which the stack keeps in network order in a
 * uint32_t (`*_be`), are copied as bytes (wire_load_addr / wire_store_addr). Nothing here
 * checks lengths: the caller has checked that the bytes it touches are inside the header.
 */
#ifndef TPA_WIRE_H
#define TPA_WIRE_H

#include <stdint.h>
#include <string.h>

/* ---- byte order ---------------------------------------------------------------------- */

static inline uint16_t wire_load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t wire_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wire_store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* An IPv4 address as the stack keeps it: network order in a uint32_t, copied unchanged. */
static inline uint32_t wire_load_addr(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void wire_store_addr(uint8_t *p, uint32_t addr_be)
{
	memcpy(p, &addr_be, 4);
}

/* ---- Ethernet II (IEEE 802.3) ---------------------------------------------------------- */

#define ETH_ADDR_LEN  6
#define ETH_HDR_LEN   14
#define ETH_OFF_DST   0 /* 6 bytes */
#define ETH_OFF_SRC   6 /* 6 bytes */
#define ETH_OFF_TYPE  12
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_QINQ 0x88a8

/* ---- ARP, IPv4 over Ethernet (RFC 826): always 28 bytes -------------------------------- */

#define ARP_PKT_LEN     28
#define ARP_OFF_HTYPE   0 /* hardware type, ARP_HTYPE_ETHER */
#define ARP_OFF_PTYPE   2 /* protocol type, ETH_TYPE_IPV4 */
#define ARP_OFF_HLEN    4 /* ETH_ADDR_LEN */
#define ARP_OFF_PLEN    5 /* 4 */
#define ARP_OFF_OP      6
#define ARP_OFF_SHA     8  /* sender hardware address */
#define ARP_OFF_SPA     14 /* sender protocol address */
#define ARP_OFF_THA     18 /* target hardware address */
#define ARP_OFF_TPA     24 /* target protocol address */
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST  1
#define ARP_OP_REPLY    2

/* ---- IPv4 (RFC 791) -------------------------------------------------------------------- */

#define IPV4_HDR_LEN          20 /* without options */
#define IPV4_HDR_MAX          60 /* IHL 15 */
#define IPV4_OFF_VER_IHL      0  /* version (high nibble), header length in words (low) */
#define IPV4_OFF_TOS          1
#define IPV4_OFF_TOT_LEN      2
#define IPV4_OFF_ID           4
#define IPV4_OFF_FRAG         6 /* flags (3 high bits) and fragment offset */
#define IPV4_OFF_TTL          8
#define IPV4_OFF_PROTO        9
#define IPV4_OFF_CSUM         10
#define IPV4_OFF_SRC          12
#define IPV4_OFF_DST          16
#define IPV4_VERSION          4
#define IPV4_VER_IHL_NO_OPTS  0x45 /* version 4, 5 words */
#define IPV4_FLAG_DF          0x4000
#define IPV4_FLAG_MF          0x2000
#define IPV4_FRAG_OFFSET_MASK 0x1fff

static inline unsigned ipv4_hdr_version(const uint8_t *h)
{
	return h[IPV4_OFF_VER_IHL] >> 4;
}

/* The header length in bytes, as the IHL field states it (not checked). */
static inline uint32_t ipv4_hdr_len(const uint8_t *h)
{
	return (uint32_t)(h[IPV4_OFF_VER_IHL] & 0xf) * 4;
}

/* ---- TCP (RFC 9293) -------------------------------------------------------------------- */
/* The header's fixed part is also struct tcp_hdr (tcp_impl.h); these name the same bytes. */

#define TCP_HDR_LEN     20 /* without options (tcp_impl.h states it too, identically) */
#define TCP_HDR_MAX     60 /* data offset 15 */
#define TCP_OFF_SPORT   0
#define TCP_OFF_DPORT   2
#define TCP_OFF_SEQ     4
#define TCP_OFF_ACK     8
#define TCP_OFF_DATAOFF 12 /* header length in words, high nibble */
#define TCP_OFF_FLAGS   13
#define TCP_OFF_WIN     14
#define TCP_OFF_CSUM    16
#define TCP_OFF_URP     18

/* The header length in bytes, as the data offset field states it (not checked). */
static inline uint32_t tcp_hdr_len(const uint8_t *th)
{
	return (uint32_t)(th[TCP_OFF_DATAOFF] >> 4) * 4;
}

/* Options: kind, then (except EOL and NOP) a length byte that counts kind and length. */
#define TCP_OPT_EOL            0
#define TCP_OPT_NOP            1
#define TCP_OPT_MSS            2 /* RFC 9293 3.2 */
#define TCP_OPT_WSCALE         3 /* RFC 7323 2 */
#define TCP_OPT_SACK_PERM      4 /* RFC 2018 2 */
#define TCP_OPT_SACK           5 /* RFC 2018 3 */
#define TCP_OPT_TS             8 /* RFC 7323 3 */
#define TCP_OPT_MSS_LEN        4
#define TCP_OPT_WSCALE_LEN     3
#define TCP_OPT_SACK_PERM_LEN  2
#define TCP_OPT_TS_LEN         10 /* TSval at +2, TSecr at +6 */
#define TCP_OPT_SACK_BLOCK_LEN 8  /* left edge, right edge; after the 2-byte kind and length */
#define TCP_OPT_SACK_OFF_RIGHT 4  /* a block's right edge, from the block's first byte */
#define TCP_OPT_OFF_VALUE      2  /* an option's value, from its kind byte */
#define TCP_OPT_TS_OFF_TSVAL   2
#define TCP_OPT_TS_OFF_TSECR   6

#endif
