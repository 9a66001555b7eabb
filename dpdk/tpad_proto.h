/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control protocol between tpad (the per-interface owner, dpdk/tpad/) and the engines of
 * the programs it serves (tpad_client.c). One SOCK_SEQPACKET connection per program family on
 * an abstract Unix address, tpad_ctl_name(): abstract names belong to the network namespace,
 * so each namespace's interface has its own owner and no file needs permissions or cleanup.
 *
 * Contract:
 * - Every message is one struct tpad_msg; each request gets exactly one reply, in order.
 * - HELLO (pid, program name in text, slot_hint = the slot held before a reconnect or
 *   TPAD_SLOT_ANY) -> OK with the slot (the memif id of the program's link) and in text the
 *   memif socket name, or ERR with errno and one line in text.
 *   The OK also carries the lease's token.
 * - JOIN (slot, token): one more connection for a lease, for a process of the family that has
 *   no copy of the first one (the lease was taken again after a tpad restart, by another
 *   process of the family) -> OK or ERR.
 * - STEER (port, on) -> OK, or ERR EADDRINUSE naming the program that holds the port.
 * - The connections are the program's lease: every process of its fork family inherits them,
 *   so tpad sees the last one close exactly when the last of them is gone (exit, crash,
 *   SIGKILL). Then its ports go back to the kernel and the peers of its connections get a RST.
 */
#ifndef TPA_DPDK_TPAD_PROTO_H
#define TPA_DPDK_TPAD_PROTO_H

#include <stdint.h>
#include <stdio.h>

#define TPAD_PROTO_VERSION 1u
#define TPAD_SLOT_ANY      0xffffu
/* Programs served at once per interface (memif links tpad opens at start). */
#define TPAD_SLOTS_DEFAULT 8u
#define TPAD_SLOTS_MAX     32u

enum tpad_msg_type {
	TPAD_HELLO = 1,
	TPAD_STEER = 2,
	TPAD_JOIN = 3,
	TPAD_OK = 100,
	TPAD_ERR = 101,
};

struct tpad_msg {
	uint32_t version; /* TPAD_PROTO_VERSION */
	uint32_t type;    /* enum tpad_msg_type */
	int32_t pid;      /* HELLO: the program's pid */
	int32_t err;      /* ERR: errno */
	uint16_t slot;    /* HELLO: hint; OK to HELLO: the slot given */
	uint16_t port;    /* STEER */
	uint8_t on;       /* STEER: 1 on, 0 off */
	uint8_t pad[3];
	uint64_t token; /* OK to HELLO, JOIN */
	char text[240]; /* HELLO: program name; OK to HELLO: memif socket; ERR: the reason */
};

/* tpad's doorbell page (a sealed memfd, given with the lease and mapped read-only): a program
 * rings its slot's tpad doorbell after sending only while tpad sleeps. */
struct tpad_bell_page {
	uint32_t sleeping;
};

/* The fds given with an OK to HELLO or JOIN (SCM_RIGHTS, in this order). */
enum { TPAD_FD_BELL_TPAD, TPAD_FD_BELL_PROG, TPAD_FD_PAGE, TPAD_FDS };

/* The abstract socket names for an interface (without the leading NUL of the address). */
static inline void tpad_ctl_name(char *out, size_t len, const char *iface)
{
	snprintf(out, len, "tpa/tpad/%s/ctl", iface);
}

static inline void tpad_memif_name(char *out, size_t len, const char *iface)
{
	snprintf(out, len, "tpa/tpad/%s/memif", iface);
}

#endif
