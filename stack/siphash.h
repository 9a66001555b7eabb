/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed
 * 64-bit PRF for short inputs. Used for RFC 6528 ISNs and other per-flow secrets.
 * Contract: pure function of (key, message); the key is 16 bytes read as two little-endian
 * 64-bit words, the message any byte string (len may be 0; data may be NULL when len is 0).
 */
#ifndef TPA_SIPHASH_H
#define TPA_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len);

#endif
