/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: build wire frames by hand (Ethernet, ARP, IPv4, TCP with correct checksums)
 * and parse the ones a stack sends, so tests can inject crafted segments (RSTs, bad headers)
 * and check what went out. Addresses are in network byte order, other fields in host order.
 */
#ifndef TPA_TEST_SIM_CRAFT_H
#define TPA_TEST_SIM_CRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRAFT_TCP_FIN 0x01
#define CRAFT_TCP_SYN 0x02
#define CRAFT_TCP_RST 0x04
#define CRAFT_TCP_PSH 0x08
#define CRAFT_TCP_ACK 0x10

struct craft_tcp {
	uint8_t dst_mac[6], src_mac[6];
	uint32_t src_ip, dst_ip; /* network order */
	uint16_t sport, dport;   /* host order */
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	const void *payload;
	uint16_t payload_len;
	const uint8_t *options; /* raw TCP options, length a multiple of 4 */
	uint8_t options_len;
};

/* Write an Ethernet + IPv4 + TCP frame into buf (room for 14+20+60+payload); returns its length. */
size_t craft_tcp_frame(uint8_t *buf, const struct craft_tcp *t);
/* Ethernet + ARP frame. op 1 request, 2 reply. Returns its length (42). */
size_t craft_arp_frame(uint8_t *buf, const uint8_t eth_dst[6], const uint8_t eth_src[6],
                       uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
                       uint32_t tpa);
/* Recompute the IPv4 header checksum of the frame in buf (after a test edited the header). */
void craft_fix_ip_cksum(uint8_t *frame);
/* Recompute the TCP checksum of a len-byte frame built by craft_tcp_frame (after an edit). */
void craft_fix_tcp_cksum(uint8_t *frame, size_t len);

/* A parsed TCP/IPv4 frame (pointers into the frame). */
struct parsed_tcp {
	uint32_t src_ip, dst_ip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	uint32_t payload_len;
	const uint8_t *payload;
};
/* True if frame is Ethernet/IPv4/TCP; fills *p. */
bool parse_tcp_frame(const uint8_t *frame, size_t len, struct parsed_tcp *p);

#endif
