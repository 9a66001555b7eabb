/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shim's selection settings: which sockets run on tpa and how blocking calls wait.
 *
 * Contract: parsing is strict and pure (no allocation, no global state, no I/O except reading
 * the file named by TPA_CONFIG). Every failure fills `err` with one line naming the setting, the
 * bad value and what is accepted; the caller stops the program with it. Environment variables
 * override the file. Keys beginning with TPA_ that are not the shim's own are collected for the
 * engine, which accepts or rejects them.
 */
#ifndef TPA_SHIM_CONFIG_H
#define TPA_SHIM_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHIM_MAX_PORT_RANGES     64
#define SHIM_MAX_DESTS           64
#define SHIM_MAX_ENGINE_SETTINGS 32
#define SHIM_MAX_VALUE           256
/* tpa trace: rings of 1088 bytes each in the inspection file (shim/publish.c) */
#define SHIM_TRACE_CONNS_DEFAULT 1024u
#define SHIM_TRACE_CONNS_MAX     65536u

struct shim_port_range {
	uint16_t lo, hi; /* inclusive */
};

struct shim_dest {
	uint32_t net_be, mask_be;
	uint16_t port_lo, port_hi; /* inclusive; 1-65535 when the port was left out */
};

struct shim_engine_setting {
	char key[64];
	char value[SHIM_MAX_VALUE];
};

struct shim_config {
	char iface[IF_NAMESIZE];
	struct shim_port_range ports[SHIM_MAX_PORT_RANGES];
	unsigned n_ports;
	struct shim_dest dests[SHIM_MAX_DESTS];
	unsigned n_dests;
	uint32_t spin_us;   /* TPA_SPIN_US: busy-poll budget before sleeping (default 50) */
	bool busy_poll;     /* TPA_BUSY_POLL=1: never sleep */
	bool busy_poll_set; /* TPA_BUSY_POLL was given (else: busy on ports with no wake-up fd) */
	bool accept_kernel; /* TPA_ACCEPT_KERNEL: wildcard listeners also accept from the kernel */
	char user[64];      /* TPA_USER: the user to run as once the engine is up ("" = stay) */
	bool trace;         /* TPA_TRACE: per-connection event rings for tpa trace (default 1) */
	uint32_t trace_conns; /* TPA_TRACE_CONNS: connections traced at once (default 1024) */
	/* Engine settings from the config file, handed over at engine start. */
	struct shim_engine_setting engine[SHIM_MAX_ENGINE_SETTINGS];
	unsigned n_engine;
};

enum shim_config_result {
	SHIM_CONFIG_OK = 0,
	SHIM_CONFIG_NOT_MINE = 1, /* a key the shim does not know */
	SHIM_CONFIG_ERROR = -1,   /* err says why */
};

void shim_config_init(struct shim_config *c);
/* One setting by name (TPA_IFACE, TPA_PORTS, ...). */
enum shim_config_result shim_config_set(struct shim_config *c, const char *key, const char *value,
                                        char *err, size_t errlen);
/* A file of KEY=VALUE lines, '#' comments and blank lines. Unknown TPA_* keys are kept for the
 * engine; anything else is an error naming the file and line. 0 or -1. */
int shim_config_load_file(struct shim_config *c, const char *path, char *err, size_t errlen);
/* TPA_CONFIG (file) first, then the shim's environment variables. 0 or -1. */
int shim_config_load(struct shim_config *c, char *err, size_t errlen);

/* Anything selected at all? When false the shim passes every call straight through. */
bool shim_config_enabled(const struct shim_config *c);
bool shim_config_port_selected(const struct shim_config *c, uint16_t port);
bool shim_config_dest_selected(const struct shim_config *c, uint32_t ip_be, uint16_t port);

#endif
