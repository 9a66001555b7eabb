/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * native_echo PORT: an echo server on tpa's native API (engine configured from TPA_*), for
 * e2e/test_many_connections.sh. Native sockets need no kernel fd, so one process can hold more
 * connections than its RLIMIT_NOFILE (under the shim every connection keeps one). Holds nothing
 * per connection beyond the stack's socket and one byte. Prints "ready" once it listens; at
 * SIGTERM every non-zero stack counter as "tpa: NAME VALUE" (as the shim's TPA_SHIM_STATS).
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tpa/dpdk.h"
#include "tpa/stack.h"

static volatile sig_atomic_t stop;
static uint32_t closed_by_us;

/* Sockets whose readiness may have changed, each queued once (the hook only queues: the stack
 * must not be re-entered from it). */
struct ready {
	int *q;
	uint8_t *queued;
	uint8_t *accepted; /* a child still in the accept queue is not ours to read or close */
	uint32_t n, cap;
};

static void on_sock_event(void *ctx, int sock, const struct tpa_sock_state *st)
{
	struct ready *r = ctx;
	(void)st;
	if (sock < 0 || (uint32_t)sock >= r->cap || r->queued[sock])
		return;
	r->queued[sock] = 1;
	r->q[r->n++] = sock;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_counter(void *arg, const char *name, uint64_t v)
{
	(void)arg;
	if (v)
		printf("tpa: %s %" PRIu64 "\n", name, v);
}

static void serve(struct tpa_stack *st, struct ready *r, int ls, int sock)
{
	char buf[4096];
	if (sock == ls) {
		int c;
		while ((c = tpa_accept(st, ls, NULL, NULL)) >= 0) {
			if ((uint32_t)c >= r->cap) {
				tpa_close(st, c);
				continue;
			}
			r->accepted[c] = 1;
			serve(st, r, ls, c); /* its data may have come with the handshake */
		}
		return;
	}
	if (!r->accepted[sock])
		return;
	for (;;) {
		ssize_t n = tpa_recv(st, sock, buf, sizeof(buf), 0);
		if (n == -EAGAIN)
			return;
		if (n <= 0 || tpa_send(st, sock, buf, (size_t)n, 0) != n) {
			r->accepted[sock] = 0;
			closed_by_us++;
			tpa_close(st, sock); /* EOF, error, or a peer that does not read */
			return;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: native_echo PORT\n");
		return 2;
	}
	const char *ms = getenv("TPA_MAX_SOCKETS");
	struct ready r = {.cap = ms ? (uint32_t)strtoul(ms, NULL, 10) : 65536};
	r.q = calloc(r.cap, sizeof(*r.q));
	r.queued = calloc(r.cap, 1);
	r.accepted = calloc(r.cap, 1);
	struct tpa_engine_config cfg;
	char err[512];
	tpa_engine_config_init(&cfg);
	bool mem = r.q && r.queued && r.accepted;
	if (!mem || tpa_engine_config_from_env(&cfg, err, sizeof(err))) {
		fprintf(stderr, "native_echo: %s\n", mem ? err : "out of memory");
		return 2;
	}
	cfg.sock_event = on_sock_event;
	cfg.sock_event_ctx = &r;
	struct tpa_engine *eng = tpa_engine_create(&cfg, err, sizeof(err));
	if (!eng) {
		fprintf(stderr, "native_echo: %s\n", err);
		return 1;
	}
	struct tpa_stack *st = tpa_engine_stack(eng);
	int ls = tpa_socket(st);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
	int rc = ls < 0 ? ls : tpa_bind(st, ls, (struct sockaddr *)&sa, sizeof(sa));
	if (!rc)
		rc = tpa_listen(st, ls, 4096);
	if (rc) {
		fprintf(stderr, "native_echo: listen: %s\n", strerror(-rc));
		tpa_engine_destroy(eng);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		if (tpa_engine_poll(eng) == 0 && r.n == 0)
			tpa_engine_wait(eng, 100 * 1000000ll);
		while (r.n) {
			int s = r.q[--r.n];
			r.queued[s] = 0;
			serve(st, &r, ls, s);
		}
	}
	uint32_t held = 0;
	for (uint32_t i = 0; i < r.cap; i++)
		held += r.accepted[i];
	printf("held %u connections, the stack %u sockets, closed by us %u\n", held,
	       tpa_stack_socket_count(st), closed_by_us);
	tpa_stack_stats_foreach(st, print_counter, NULL);
	tpa_engine_stats_foreach(eng, print_counter, NULL);
	fflush(stdout);
	tpa_engine_destroy(eng);
	free(r.q);
	free(r.queued);
	free(r.accepted);
	return 0;
}
