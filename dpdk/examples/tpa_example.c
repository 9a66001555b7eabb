/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpa_example: servers and clients on tpa's native API (struct tpa_engine + tpa_* sockets),
 * single-threaded, event-driven through the stack's sock_event hook.
 *
 *   tpa_example server --port P --service echo|discard|source [--bytes N] [--once]
 *   tpa_example client --connect A.B.C.D:P --service check|source|discard|echo-rr
 *                      [--bytes N] [--conns C] [--msg-size S] [--seconds T]
 *   common: [--stats] [--nodelay] [--sha256]
 *
 * Services (server side and client side mirror each other):
 *   echo     send back everything received; close after the peer's FIN once all is sent
 *   discard  read and count until the peer's FIN; prints bytes and an FNV-1a hash
 *   source   send N bytes of the test pattern, then close
 *   check    (client) send N bytes of the pattern to an echo server and verify every byte
 *            that comes back; exit 0 only if all N came back intact
 *   echo-rr  (client) ping-pong messages of msg-size bytes for --seconds (benchmark)
 *
 * The test pattern is a seeded xorshift byte stream, so any byte's expected value is known.
 * The engine is configured from TPA_* environment variables (see docs/configuration-engine.md).
 * Prints "ready <ip> <port>" once a server listens; "result ..." lines at the end. With
 * --sha256 every connection's result line (clients' too) also carries the SHA-256 of all it
 * received and of all it sent (rx_sha256=, tx_sha256=), for a test to compare with the peer's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tpa/dpdk.h"
#include "tpa/stack.h"

#define IO_CHUNK  65536
#define MAX_CONNS 4096

enum service { SVC_ECHO, SVC_DISCARD, SVC_SOURCE, SVC_CHECK, SVC_ECHO_RR };

struct options {
	int server;
	uint16_t port;
	struct sockaddr_in peer;
	enum service svc;
	uint64_t bytes;
	int conns;
	uint32_t msg_size;
	double seconds;
	int once;
	int stats;
	int nodelay;
	int sha256;
};

/* SHA-256 (FIPS 180-4): a digest any test harness can compute too (the FNV-1a hash= stays for
 * compatibility). Plain C, a few hundred MB/s, so only computed with --sha256. */
struct sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed */
	uint8_t blk[64];
};

static const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};

static inline uint32_t ror32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_init(struct sha256 *c)
{
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, h0, sizeof(h0));
	c->len = 0;
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
		              ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 =
		        (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

static void sha256_update(struct sha256 *c, const uint8_t *p, size_t n)
{
	size_t fill = (size_t)(c->len & 63);
	c->len += n;
	if (fill) {
		size_t k = 64 - fill < n ? 64 - fill : n;
		memcpy(c->blk + fill, p, k);
		p += k;
		n -= k;
		if (fill + k < 64)
			return;
		sha256_block(c->h, c->blk);
	}
	for (; n >= 64; p += 64, n -= 64)
		sha256_block(c->h, p);
	memcpy(c->blk, p, n);
}

/* Hex digest of a copy: the running hash goes on. */
static void sha256_hex(const struct sha256 *c, char out[65])
{
	struct sha256 t = *c;
	uint64_t bits = t.len * 8;
	size_t fill = (size_t)(t.len & 63);
	t.blk[fill++] = 0x80;
	if (fill > 56) {
		memset(t.blk + fill, 0, 64 - fill);
		sha256_block(t.h, t.blk);
		fill = 0;
	}
	memset(t.blk + fill, 0, 56 - fill);
	for (int i = 0; i < 8; i++)
		t.blk[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_block(t.h, t.blk);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08" PRIx32, t.h[i]);
}

/* Byte stream i of the pattern: deterministic from the position, so the verifier can check
 * any received byte without keeping what was sent. */
struct pattern {
	uint64_t pos;
	uint64_t state;
	uint8_t word[8];
};

static uint8_t pattern_byte(struct pattern *p)
{
	if ((p->pos & 7) == 0) {
		uint64_t x = p->state;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p->state = x;
		memcpy(p->word, &x, 8);
	}
	return p->word[p->pos++ & 7];
}

static void pattern_fill(struct pattern *p, uint8_t *buf, size_t n)
{
	size_t i = 0;
	while (i < n && (p->pos & 7))
		buf[i++] = pattern_byte(p);
	/* Whole words at a time: the same stream, without the per-byte bookkeeping. */
	uint64_t x = p->state;
	for (; n - i >= 8; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
		p->pos += 8;
	}
	p->state = x;
	while (i < n)
		buf[i++] = pattern_byte(p);
}

static void pattern_init(struct pattern *p)
{
	*p = (struct pattern){0, 0x9e3779b97f4a7c15ull, {0}};
}

struct conn {
	int sock; /* -1 = free */
	int closing;
	int eof;
	int shut_wr;
	uint64_t sent, received;
	uint64_t hash;                /* FNV-1a of everything received */
	struct sha256 rx_sha, tx_sha; /* with --sha256 */
	struct pattern tx_pat, rx_pat;
	uint8_t *buf; /* echo: received, not yet sent back */
	size_t buf_len, buf_off;
	uint64_t rr_round_start; /* echo-rr: bytes of the current message received */
	uint64_t mismatch_at;
	int mismatch;
	int listen;
	int connected;
	int pending; /* on the ready list */
	int next_ready;
};

struct app {
	struct options o;
	struct tpa_engine *eng;
	struct tpa_stack *st;
	struct conn *conns; /* indexed by stack socket id, grown on demand */
	int nconns_alloc;
	int ready_head;
	int active; /* client connections still running */
	int done_ok, done_bad;
	uint64_t total_rx, total_tx, rr_msgs;
	int finished_one;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct conn *conn_get(struct app *a, int sock)
{
	if (sock < 0)
		return NULL;
	if (sock >= a->nconns_alloc) {
		int n = a->nconns_alloc ? a->nconns_alloc : 64;
		while (n <= sock)
			n *= 2;
		struct conn *c = realloc(a->conns, (size_t)n * sizeof(*c));
		if (!c)
			return NULL;
		for (int i = a->nconns_alloc; i < n; i++) {
			memset(&c[i], 0, sizeof(c[i]));
			c[i].sock = -1;
		}
		a->conns = c;
		a->nconns_alloc = n;
	}
	return &a->conns[sock];
}

static void mark_ready(struct app *a, int sock)
{
	struct conn *c = conn_get(a, sock);
	if (!c || c->sock < 0 || c->pending)
		return;
	c->pending = 1;
	c->next_ready = a->ready_head;
	a->ready_head = sock;
}

/* sock_event hook: readiness of `sock` may have changed. Only queue it; work happens in the
 * main loop (the stack must not be re-entered from its own hook). */
static void on_sock_event(void *ctx, int sock, const struct tpa_sock_state *st)
{
	(void)st;
	mark_ready(ctx, sock);
}

static struct conn *conn_open(struct app *a, int sock)
{
	struct conn *c = conn_get(a, sock);
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->sock = sock;
	c->hash = 0xcbf29ce484222325ull;
	sha256_init(&c->rx_sha);
	sha256_init(&c->tx_sha);
	pattern_init(&c->tx_pat);
	pattern_init(&c->rx_pat);
	if (a->o.svc == SVC_ECHO || a->o.svc == SVC_ECHO_RR)
		c->buf = malloc(IO_CHUNK);
	if (a->o.nodelay) {
		int one = 1;
		tpa_setsockopt(a->st, sock, TPA_SO_NODELAY, &one, sizeof(one));
	}
	return c;
}

static void conn_finish(struct app *a, struct conn *c, int ok)
{
	if (!c->listen) {
		if (a->o.sha256) {
			char rx[65], tx[65];
			sha256_hex(&c->rx_sha, rx);
			sha256_hex(&c->tx_sha, tx);
			printf("result conn rx=%" PRIu64 " tx=%" PRIu64 " hash=%016" PRIx64
			       " rx_sha256=%s tx_sha256=%s %s\n",
			       c->received, c->sent, c->hash, rx, tx, ok ? "ok" : "error");
		} else if (a->o.server) {
			printf("result conn rx=%" PRIu64 " tx=%" PRIu64 " hash=%016" PRIx64 " %s\n",
			       c->received, c->sent, c->hash, ok ? "ok" : "error");
		}
		if (ok)
			a->done_ok++;
		else
			a->done_bad++;
		a->total_rx += c->received;
		a->total_tx += c->sent;
		if (!a->o.server)
			a->active--;
		a->finished_one = 1;
	}
	tpa_close(a->st, c->sock);
	free(c->buf);
	c->buf = NULL;
	c->sock = -1;
	fflush(stdout);
}

/* Every byte the connection received or sent goes through these two. */
static void count_rx(struct app *a, struct conn *c, const uint8_t *p, size_t n)
{
	if (a->o.sha256)
		sha256_update(&c->rx_sha, p, n);
	c->received += n;
}

static void count_tx(struct app *a, struct conn *c, const uint8_t *p, size_t n)
{
	if (a->o.sha256)
		sha256_update(&c->tx_sha, p, n);
	c->sent += n;
}

static void hash_bytes(struct conn *c, const uint8_t *p, size_t n)
{
	uint64_t h = c->hash;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	c->hash = h;
}

static void verify_bytes(struct conn *c, const uint8_t *p, size_t n)
{
	static uint8_t want[IO_CHUNK];
	while (n) {
		size_t k = n < sizeof(want) ? n : sizeof(want);
		pattern_fill(&c->rx_pat, want, k);
		if (!c->mismatch && memcmp(p, want, k)) {
			size_t i = 0;
			while (p[i] == want[i])
				i++;
			c->mismatch = 1;
			c->mismatch_at = c->received + i;
		}
		p += k;
		n -= k;
	}
}

/* Send pattern bytes up to `limit` total. Returns < 0 on a fatal error. */
static int send_pattern(struct app *a, struct conn *c, uint64_t limit)
{
	static uint8_t buf[IO_CHUNK];
	while (c->sent < limit) {
		size_t n = (size_t)(limit - c->sent < IO_CHUNK ? limit - c->sent : IO_CHUNK);
		/* Generate on a copy of the generator: only what the stack takes is consumed. */
		struct pattern p = c->tx_pat;
		pattern_fill(&p, buf, n);
		ssize_t w = tpa_send(a->st, c->sock, buf, n, 0);
		if (w == -EAGAIN)
			return 0;
		if (w < 0)
			return (int)w;
		if ((size_t)w == n)
			c->tx_pat = p;
		else
			pattern_fill(&c->tx_pat, buf, (size_t)w); /* advance by what was taken */
		count_tx(a, c, buf, (size_t)w);
	}
	return 0;
}

/* The services below run a connection as far as it goes without blocking. Each returns a
 * negative errno on a socket error (the caller reports it and ends the connection), 1 when it
 * ended the connection itself, 0 when the connection waits for its next event. */
static uint8_t io_buf[IO_CHUNK];

static int svc_echo(struct app *a, struct conn *c)
{
	struct tpa_stack *st = a->st;
	for (;;) {
		if (c->buf_off < c->buf_len) {
			ssize_t w = tpa_send(st, c->sock, c->buf + c->buf_off,
			                     c->buf_len - c->buf_off, 0);
			if (w == -EAGAIN)
				break;
			if (w < 0)
				return (int)w;
			count_tx(a, c, c->buf + c->buf_off, (size_t)w);
			c->buf_off += (size_t)w;
			continue;
		}
		if (c->eof)
			break;
		ssize_t r = tpa_recv(st, c->sock, c->buf, IO_CHUNK, 0);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return (int)r;
		if (r == 0) {
			c->eof = 1;
			break;
		}
		hash_bytes(c, c->buf, (size_t)r);
		count_rx(a, c, c->buf, (size_t)r);
		c->buf_len = (size_t)r;
		c->buf_off = 0;
	}
	if (c->eof && c->buf_off >= c->buf_len) {
		conn_finish(a, c, 1);
		return 1;
	}
	return 0;
}

static int svc_discard(struct app *a, struct conn *c)
{
	for (;;) {
		ssize_t r = tpa_recv(a->st, c->sock, io_buf, sizeof(io_buf), 0);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return (int)r;
		if (r == 0) {
			conn_finish(a, c, 1);
			return 1;
		}
		hash_bytes(c, io_buf, (size_t)r);
		count_rx(a, c, io_buf, (size_t)r);
	}
}

static int svc_source(struct app *a, struct conn *c)
{
	int rc = send_pattern(a, c, a->o.bytes);
	if (rc || c->sent < a->o.bytes)
		return rc;
	/* Drain whatever the peer sends so close does not reset. */
	while (tpa_recv(a->st, c->sock, io_buf, sizeof(io_buf), 0) > 0)
		;
	conn_finish(a, c, 1);
	return 1;
}

static int svc_check(struct app *a, struct conn *c)
{
	int rc = send_pattern(a, c, a->o.bytes);
	if (rc)
		return rc;
	if (c->sent >= a->o.bytes && !c->shut_wr) {
		tpa_shutdown(a->st, c->sock, SHUT_WR);
		c->shut_wr = 1;
	}
	for (;;) {
		ssize_t r = tpa_recv(a->st, c->sock, io_buf, sizeof(io_buf), 0);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return (int)r;
		if (r == 0) {
			int ok = c->received == a->o.bytes && !c->mismatch;
			if (!ok)
				fprintf(stderr,
				        "check: received %" PRIu64 " of %" PRIu64
				        " bytes%s (first bad byte at %" PRIu64 ")\n",
				        c->received, a->o.bytes,
				        c->mismatch ? ", data differs" : "", c->mismatch_at);
			conn_finish(a, c, ok);
			return 1;
		}
		verify_bytes(c, io_buf, (size_t)r);
		count_rx(a, c, io_buf, (size_t)r);
	}
}

static int svc_echo_rr(struct app *a, struct conn *c)
{
	struct tpa_stack *st = a->st;
	for (;;) {
		if (c->rr_round_start == 0 && c->sent == c->received) {
			/* Start a new message. */
			struct pattern p = c->tx_pat;
			pattern_fill(&p, io_buf, a->o.msg_size);
			ssize_t w = tpa_send(st, c->sock, io_buf, a->o.msg_size, 0);
			if (w == -EAGAIN)
				return 0;
			if (w < 0 || (size_t)w != a->o.msg_size)
				return w < 0 ? (int)w : -EIO;
			c->tx_pat = p;
			count_tx(a, c, io_buf, (size_t)w);
			c->rr_round_start = 1;
		}
		ssize_t r = tpa_recv(st, c->sock, io_buf, sizeof(io_buf), 0);
		if (r == -EAGAIN)
			return 0;
		if (r <= 0)
			return r == 0 ? -ECONNRESET : (int)r;
		verify_bytes(c, io_buf, (size_t)r);
		count_rx(a, c, io_buf, (size_t)r);
		if (c->received == c->sent) {
			c->rr_round_start = 0;
			a->rr_msgs++;
		}
	}
}

/* An active open in progress: 1 once connected, 0 while pending, -1 when it failed (the
 * connection is ended). */
static int connect_done(struct app *a, struct conn *c)
{
	uint32_t ev = tpa_sock_events(a->st, c->sock);
	if (ev & (TPA_EV_ERR | TPA_EV_HUP)) {
		int e = 0;
		socklen_t l = sizeof(e);
		tpa_getsockopt(a->st, c->sock, TPA_SO_ERROR, &e, &l);
		fprintf(stderr, "connect: %s\n", strerror(e ? e : ECONNREFUSED));
		conn_finish(a, c, 0);
		return -1;
	}
	if (!(ev & TPA_EV_OUT))
		return 0;
	c->connected = 1;
	return 1;
}

static void handle_conn(struct app *a, struct conn *c)
{
	if (c->listen) {
		for (;;) {
			int ns = tpa_accept(a->st, c->sock, NULL, NULL);
			if (ns < 0)
				break;
			conn_open(a, ns);
			mark_ready(a, ns);
		}
		return;
	}
	if (!c->connected && connect_done(a, c) <= 0)
		return;
	int rc = 0;
	switch (a->o.svc) {
	case SVC_ECHO:
		rc = svc_echo(a, c);
		break;
	case SVC_DISCARD:
		rc = svc_discard(a, c);
		break;
	case SVC_SOURCE:
		rc = svc_source(a, c);
		break;
	case SVC_CHECK:
		rc = svc_check(a, c);
		break;
	case SVC_ECHO_RR:
		rc = svc_echo_rr(a, c);
		break;
	}
	if (rc < 0) {
		fprintf(stderr, "socket %d: %s\n", c->sock, strerror(-rc));
		conn_finish(a, c, 0);
	}
}

static void process_ready(struct app *a)
{
	while (a->ready_head >= 0) {
		int sock = a->ready_head;
		struct conn *c = &a->conns[sock];
		a->ready_head = c->next_ready;
		c->pending = 0;
		if (c->sock >= 0)
			handle_conn(a, c);
	}
}

static int parse_service(const char *s, enum service *svc)
{
	static const char *const names[] = {"echo", "discard", "source", "check", "echo-rr"};
	for (int i = 0; i < 5; i++)
		if (!strcmp(s, names[i])) {
			*svc = (enum service)i;
			return 0;
		}
	return -1;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: tpa_example server --port P --service echo|discard|source [--bytes N] "
	        "[--once]\n"
	        "       tpa_example client --connect IP:PORT --service "
	        "check|source|discard|echo-rr\n"
	        "                          [--bytes N] [--conns C] [--msg-size S] [--seconds T]\n"
	        "       common: [--stats] [--nodelay] [--sha256]\n"
	        "engine settings come from TPA_* environment variables, e.g. TPA_IFACE=eth0\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->svc = SVC_ECHO;
	o->bytes = 1 << 20;
	o->conns = 1;
	o->msg_size = 64;
	o->seconds = 5;
	if (argc < 2)
		return -1;
	if (!strcmp(argv[1], "server"))
		o->server = 1;
	else if (strcmp(argv[1], "client"))
		return -1;
	static const struct option longopts[] = {{"port", required_argument, 0, 'p'},
	                                         {"connect", required_argument, 0, 'c'},
	                                         {"service", required_argument, 0, 's'},
	                                         {"bytes", required_argument, 0, 'b'},
	                                         {"conns", required_argument, 0, 'n'},
	                                         {"msg-size", required_argument, 0, 'm'},
	                                         {"seconds", required_argument, 0, 't'},
	                                         {"once", no_argument, 0, 'o'},
	                                         {"stats", no_argument, 0, 'S'},
	                                         {"nodelay", no_argument, 0, 'N'},
	                                         {"sha256", no_argument, 0, 'H'},
	                                         {"help", no_argument, 0, 'h'},
	                                         {0, 0, 0, 0}};
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'p': {
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > 65535)
				return -1;
			o->port = (uint16_t)v;
			break;
		}
		case 'c': {
			char host[64];
			snprintf(host, sizeof(host), "%s", optarg);
			char *colon = strrchr(host, ':');
			if (!colon)
				return -1;
			*colon = '\0';
			long v = strtol(colon + 1, &end, 10);
			if (*end || v <= 0 || v > 65535)
				return -1;
			o->peer.sin_family = AF_INET;
			o->peer.sin_port = htons((uint16_t)v);
			if (inet_pton(AF_INET, host, &o->peer.sin_addr) != 1)
				return -1;
			break;
		}
		case 's':
			if (parse_service(optarg, &o->svc))
				return -1;
			break;
		case 'b':
			o->bytes = strtoull(optarg, &end, 10);
			if (*end == 'M')
				o->bytes <<= 20;
			else if (*end == 'K')
				o->bytes <<= 10;
			else if (*end)
				return -1;
			break;
		case 'n':
			o->conns = atoi(optarg);
			if (o->conns < 1 || o->conns > MAX_CONNS)
				return -1;
			break;
		case 'm':
			o->msg_size = (uint32_t)atoi(optarg);
			if (o->msg_size < 1 || o->msg_size > IO_CHUNK)
				return -1;
			break;
		case 't':
			o->seconds = atof(optarg);
			break;
		case 'o':
			o->once = 1;
			break;
		case 'S':
			o->stats = 1;
			break;
		case 'N':
			o->nodelay = 1;
			break;
		case 'H':
			o->sha256 = 1;
			break;
		default:
			return -1;
		}
	}
	if (o->server && !o->port)
		return -1;
	if (!o->server && !o->peer.sin_family)
		return -1;
	if (o->server && (o->svc == SVC_CHECK || o->svc == SVC_ECHO_RR))
		return -1;
	if (!o->server && o->svc == SVC_ECHO)
		return -1;
	return 0;
}

static void print_stat(void *arg, const char *name, uint64_t value)
{
	if (value)
		fprintf(arg, "  %s %" PRIu64 "\n", name, value);
}

/* The listener of a server. 0, or -1 with the reason printed. */
static int start_server(struct app *a, const char *ip)
{
	int rc = 0;
	int ls = tpa_socket(a->st);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(a->o.port)};
	int one = 1;
	if (ls >= 0)
		tpa_setsockopt(a->st, ls, TPA_SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || (rc = tpa_bind(a->st, ls, (struct sockaddr *)&sa, sizeof(sa))) ||
	    (rc = tpa_listen(a->st, ls, 1024))) {
		fprintf(stderr, "tpa_example: listen on port %u: %s\n", a->o.port,
		        strerror(ls < 0 ? -ls : -rc));
		return -1;
	}
	struct conn *c = conn_open(a, ls);
	c->listen = 1;
	c->connected = 1;
	printf("ready %s %u\n", ip, a->o.port);
	fflush(stdout);
	return 0;
}

/* A client's connections (non-blocking opens). 0, or 1 when one could not be started. */
static int start_clients(struct app *a)
{
	for (int i = 0; i < a->o.conns; i++) {
		int s = tpa_socket(a->st);
		if (s < 0) {
			fprintf(stderr, "tpa_socket: %s\n", strerror(-s));
			return 1;
		}
		conn_open(a, s);
		int r = tpa_connect(a->st, s, (struct sockaddr *)&a->o.peer, sizeof(a->o.peer));
		if (r && r != -EINPROGRESS) {
			fprintf(stderr, "tpa_connect: %s\n", strerror(-r));
			conn_finish(a, &a->conns[s], 0);
			return 1;
		}
		a->active++;
		mark_ready(a, s);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct app a;
	memset(&a, 0, sizeof(a));
	a.ready_head = -1;
	if (parse_args(argc, argv, &a.o)) {
		usage();
		return 2;
	}
	struct tpa_engine_config cfg;
	char err[512];
	tpa_engine_config_init(&cfg);
	if (tpa_engine_config_from_env(&cfg, err, sizeof(err))) {
		fprintf(stderr, "tpa_example: %s\n", err);
		return 2;
	}
	cfg.sock_event = on_sock_event;
	cfg.sock_event_ctx = &a;
	a.eng = tpa_engine_create(&cfg, err, sizeof(err));
	if (!a.eng) {
		fprintf(stderr, "tpa_example: %s\n", err);
		return 1;
	}
	a.st = tpa_engine_stack(a.eng);
	struct tpa_engine_info info;
	tpa_engine_get_info(a.eng, &info);
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &info.ipv4_addr, ip, sizeof(ip));
	fprintf(stderr, "tpa_example: %s on %s, %s/%u mtu %u, wait fd %d\n", info.port_name,
	        info.iface[0] ? info.iface : "-", ip, info.ipv4_prefix_len, info.mtu,
	        tpa_engine_wait_fd(a.eng));

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	int rc = 0;
	if (a.o.server) {
		if (start_server(&a, ip)) {
			tpa_engine_destroy(a.eng);
			return 1;
		}
	} else {
		rc = start_clients(&a);
	}

	uint64_t start = tpa_engine_now_ns();
	uint64_t end_ns = start + (uint64_t)(a.o.seconds * 1e9);
	while (!stop && !rc) {
		process_ready(&a);
		if (a.o.server && a.o.once && a.finished_one)
			break;
		if (!a.o.server && a.active <= 0)
			break;
		if (!a.o.server && a.o.svc == SVC_ECHO_RR && tpa_engine_now_ns() >= end_ns)
			break;
		/* Busy-poll while there is work; sleep in the kernel when idle. */
		if (tpa_engine_poll(a.eng) == 0 && a.ready_head < 0)
			tpa_engine_wait(a.eng, 100 * 1000000ll);
	}
	double secs = (double)(tpa_engine_now_ns() - start) / 1e9;
	if (!a.o.server) {
		for (int i = 0; i < a.nconns_alloc; i++)
			if (a.conns[i].sock >= 0 && !a.conns[i].listen) {
				struct conn *c = &a.conns[i];
				int ok = a.o.svc == SVC_ECHO_RR && !c->mismatch;
				conn_finish(&a, c, ok);
			}
		printf("result client ok=%d failed=%d rx=%" PRIu64 " tx=%" PRIu64 " msgs=%" PRIu64
		       " seconds=%.3f\n",
		       a.done_ok, a.done_bad, a.total_rx, a.total_tx, a.rr_msgs, secs);
		if (a.done_bad || a.done_ok != a.o.conns)
			rc = 1;
	}
	/* Let final FINs/ACKs go out before tearing the port down. */
	uint64_t linger_end = tpa_engine_now_ns() + 200000000ull;
	while (tpa_engine_now_ns() < linger_end)
		tpa_engine_wait(a.eng, 10 * 1000000ll);
	if (a.o.stats) {
		fprintf(stderr, "engine:\n");
		tpa_engine_stats_foreach(a.eng, print_stat, stderr);
		fprintf(stderr, "stack:\n");
		tpa_stack_stats_foreach(a.st, print_stat, stderr);
	}
	fflush(stdout);
	tpa_engine_destroy(a.eng);
	for (int i = 0; i < a.nconns_alloc; i++)
		free(a.conns[i].buf);
	free(a.conns);
	return rc;
}
