/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet capture in the engine's datapath (tpa capture): the frames the stack receives (after
 * the device and fault injection) and the frames it transmits (as handed to the port), copied
 * into a ring in memory the engine's owner gives it, where another process drains them into a
 * pcap file.
 *
 * Contract:
 * - Off (no ring attached), a burst costs one predictable branch on the rx path and one on the
 *   tx path; nothing per frame.
 * - On, each frame is copied (up to snaplen bytes) as one record; a frame that does not fit in
 *   the free part of the ring is counted in `dropped` and not copied: the datapath never waits
 *   for the reader. Transmitted frames whose checksums the device was to fill get them filled
 *   in the copy, so a reader sees what went on the wire.
 * - Single writer (whoever polls the engine; the shim serialises them). The writer stores
 *   records, then `head` (release); the reader consumes up to `head` and stores `tail`.
 *
 * Layout (little-endian, offsets in bytes): struct tpa_capture_ctl (the reader writes its
 * first 64 bytes, the engine the rest) and a ring of `size` bytes (a power of two) of records:
 * struct tpa_capture_rec, the frame's first caplen bytes, padding to 8. Where fewer than
 * sizeof(struct tpa_capture_rec) bytes remain before the ring's end, the next record starts
 * at offset 0; a record with caplen TPA_CAPTURE_PAD only fills the end of the ring.
 */
#ifndef TPA_CAPTURE_H
#define TPA_CAPTURE_H

#include <stdint.h>

#define TPA_CAPTURE_PAD 0xffffffffu
#define TPA_CAPTURE_RX  0
#define TPA_CAPTURE_TX  1

struct tpa_capture_ctl { /* 128 bytes */
	/* 0: written by the reader */
	uint32_t want;     /* 0  1: capture wanted (the engine's owner starts and stops it) */
	uint16_t port;     /* 4  keep only IPv4 TCP frames from or to this port; 0: every frame */
	uint16_t pad0;     /* 6 */
	uint32_t snaplen;  /* 8  bytes kept of each frame; 0: all */
	uint32_t pad1;     /* 12 */
	uint64_t tail;     /* 16 ring bytes consumed */
	uint64_t alive_ns; /* 24 the reader's CLOCK_MONOTONIC when it last drained */
	uint8_t pad2[32];  /* 32 */
	/* 64: written by the engine */
	uint64_t head;    /* 64 ring bytes written */
	uint64_t frames;  /* 72 frames copied */
	uint64_t dropped; /* 80 frames not copied: the ring was full */
	uint32_t on;      /* 88 1 while copying */
	uint32_t size;    /* 92 ring bytes */
	uint8_t pad3[32]; /* 96 */
};

struct tpa_capture_rec {  /* 24 bytes, then the frame */
	uint32_t len;     /* 0  bytes the record takes, header and padding included */
	uint32_t caplen;  /* 4  frame bytes kept, or TPA_CAPTURE_PAD */
	uint32_t origlen; /* 8  the frame's length */
	uint8_t dir;      /* 12 TPA_CAPTURE_RX / TPA_CAPTURE_TX */
	uint8_t pad[3];   /* 13 */
	uint64_t t_ns;    /* 16 CLOCK_MONOTONIC (tpa_engine_now_ns) */
};

struct tpa_engine;

/* Start copying frames into ring (size bytes, a power of two of at least 4096) under ctl,
 * with ctl's port and snaplen as they are now; replaces a capture running. 0 or -EINVAL. */
int tpa_engine_capture_start(struct tpa_engine *e, struct tpa_capture_ctl *ctl, void *ring,
                             uint32_t size);
/* Stop copying (ctl->on becomes 0). */
void tpa_engine_capture_stop(struct tpa_engine *e);

#endif
