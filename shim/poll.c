/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * epoll over sets that mix accelerated sockets with kernel fds.
 *
 * epoll: the program's epoll fd stays a real kernel epoll holding exactly its kernel fds (its
 * data.u64 space is the program's, so nothing of ours may go in). Once an accelerated socket
 * joins, a private "inner" epoll holds the program's epoll fd, the engine's wait fd, the kick
 * eventfd and the kernel listener of every accelerated listener (so loopback connections count
 * as readiness of the accelerated fd); a sleeping epoll_wait sleeps on the inner one.
 * Accelerated members live in user space; the stack's sock_event hook puts them on their epoll's
 * ready list, so a wait never scans idle sockets. As in the kernel, level-triggered members stay
 * on the list after a report until a wait finds them not ready (a read that empties a socket
 * leaves them where they are), edge-triggered ones leave it when reported (the next hook call
 * brings them back), EPOLLONESHOT members are disarmed until EPOLL_CTL_MOD. Closing the last fd
 * of a socket removes it from every set.
 * poll and select: poll_select.c.
 * Waiting is shim_wait (wait.c), as for every blocking call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"
#include "tpa/dpdk.h"
#include "tpa/stack.h"

/* data.u64 in the inner epoll: these two, or a member pointer (a kernel listener). */
#define INNER_APP      0ull /* the program's epoll fd has events */
#define INNER_INTERNAL 1ull /* engine wait fd / kick fd */

struct shim_epoll;

struct shim_epoll_member {
	struct shim_epoll *ep;
	struct shim_sock *s;
	int fd;
	uint32_t events; /* what the program asked for, EPOLLET/ONESHOT included */
	uint32_t wants;  /* the readiness bits it reports (member_wants), kept with events */
	epoll_data_t data;
	bool disarmed; /* ONESHOT fired */
	bool on_ready;
	bool kready; /* the kernel listener reported a connection */
	bool leaves; /* EPOLLET or EPOLLONESHOT: leaves the ready list when reported */
	/* A connection's member waiting for input only: a socket read dry is not ready for it
	 * (member_bits); never a listener's, which is never read */
	bool input_only;
	struct shim_epoll_member *next_in_sock;
	struct shim_epoll_member *next, *prev;   /* all members of ep */
	struct shim_epoll_member *rnext, *rprev; /* ready list */
};

struct shim_epoll {
	int epfd;
	int inner; /* private epoll, -1 until an accelerated socket joins */
	int n_members;
	struct shim_epoll_member all;   /* list head */
	struct shim_epoll_member ready; /* list head */
};

static struct shim_epoll **ept; /* epfd -> state, same size as the fd table */

/* A TCP socket the program put in an epoll set before the shim took it over (nginx adds an
 * upstream connection before connect(), Java's NIO registers before connecting): its kernel
 * registrations, kept so that connect() or listen() can move them to the accelerated socket.
 * Left in the kernel set, the placeholder socket would report EPOLLOUT|EPOLLHUP and the wait
 * would never run the stack for it. Indexed by fd, same size as the fd table. */
struct pre_reg {
	int epfd;
	uint32_t events;
	epoll_data_t data;
	struct pre_reg *next;
};
static struct pre_reg **pre_regs;
static uint8_t *pre_candidate; /* a TCP socket the shim may still take over */

static struct shim_epoll *ep_get(int epfd)
{
	if (!ept || epfd < 0 || epfd >= shim_fdt_size())
		return NULL;
	return __atomic_load_n(&ept[epfd], __ATOMIC_ACQUIRE);
}

static int ept_init(void)
{
	if (ept)
		return 0;
	/* Heap, not mmap: a leak checker must see the pointers it holds. */
	ept = calloc((size_t)shim_fdt_size(), sizeof(*ept));
	return ept ? 0 : -1;
}

static void ready_add(struct shim_epoll_member *m)
{
	if (m->on_ready || m->disarmed)
		return;
	struct shim_epoll *ep = m->ep;
	m->rprev = ep->ready.rprev;
	m->rnext = &ep->ready;
	ep->ready.rprev->rnext = m;
	ep->ready.rprev = m;
	m->on_ready = true;
}

/* m is on the ready list: off it. */
static void ready_unlink(struct shim_epoll_member *m)
{
	m->rprev->rnext = m->rnext;
	m->rnext->rprev = m->rprev;
	m->on_ready = false;
}

static void ready_del(struct shim_epoll_member *m)
{
	if (m->on_ready)
		ready_unlink(m);
}

uint32_t shim_poll_bits(const struct tpa_sock_state *st)
{
	uint32_t r = st->events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP);
	/* Linux reports a stream writable only when at least a third of the send buffer is
	 * free (free >= queued / 2), so a writer woken by poll can send a real chunk. Nothing
	 * queued (the usual case at a request's arrival) is always that. */
	uint32_t q = st->snd_queued;
	if (q && (r & EPOLLOUT) && !(r & (EPOLLERR | EPOLLHUP)) &&
	    (int64_t)st->sndbuf - q < (int64_t)(q / 2))
		r &= ~(uint32_t)EPOLLOUT;
	/* IN brings RDNORM and OUT brings WRNORM: both sit 6 bits above. */
	_Static_assert(EPOLLIN << 6 == EPOLLRDNORM && EPOLLOUT << 6 == EPOLLWRNORM, "epoll bits");
	return r | (r & (EPOLLIN | EPOLLOUT)) << 6;
}

/* Out of line: the epoll paths mostly find what the hook saw (member_bits). */
static __attribute__((noinline)) uint32_t sock_poll_bits(struct shim_sock *s)
{
	if (s->inherited)
		return 0;
	struct tpa_sock_state st;
	tpa_sock_state(shim.stack, s->sock, &st);
	return shim_poll_bits(&st);
}

uint32_t shim_sock_readiness(struct shim_sock *s)
{
	return sock_poll_bits(s);
}

static uint32_t member_wants(const struct shim_epoll_member *m)
{
	return m->wants;
}

/* What a member's socket is ready for (lock held): what the hook saw in this taking of the lock,
 * else nothing for a member waiting only for input on a socket read dry since the last hook
 * call (no look at the stack: a level-triggered member stays listed after every report, so
 * each wait meets those of the sockets just read), else the stack's answer. collect_accel has
 * its own copy. */
static uint32_t member_bits(const struct shim_epoll_member *m)
{
	struct shim_sock *s = m->s;
	if (s->bits_epoch == shim_lock_epoch) /* never an inherited socket's */
		return s->bits;
	if (s->rd_dry && m->input_only)
		return 0;
	return sock_poll_bits(s);
}

/* The socket's count of edge-triggered members goes up by one (lock held). The first one
 * starts the IN edge tracking (last_nread) from what is readable now: what arrived before is
 * no edge for it (an edge-triggered member added while readable is reported by member_check). */
static void et_count_up(struct shim_sock *s)
{
	if (s->n_et++ || s->inherited || !shim.stack)
		return;
	shim_et_restart(s);
}

void shim_et_restart(struct shim_sock *s)
{
	struct tpa_sock_state st;
	tpa_sock_state(shim.stack, s->sock, &st);
	s->last_nread = (st.events & TPA_EV_IN) ? (int)st.rcv_queued : 0;
}

static void member_set_events(struct shim_epoll_member *m, uint32_t events)
{
	bool was_et = m->events & EPOLLET, et = events & EPOLLET;
	if (et && !was_et)
		et_count_up(m->s);
	else if (was_et && !et)
		m->s->n_et--;
	m->events = events;
	m->wants = (events & ~(EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)) | EPOLLERR |
	           EPOLLHUP;
	m->leaves = (events & (EPOLLET | EPOLLONESHOT)) != 0;
	const uint32_t input = EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
	m->input_only = m->s->kind == SHIM_CONN && !(m->wants & ~input);
}

/* Called from the sock_event hook path (lock held). */
static void member_check(struct shim_epoll_member *m)
{
	uint32_t cur = member_bits(m) | (m->kready ? EPOLLIN | EPOLLRDNORM : 0);
	if (cur & member_wants(m))
		ready_add(m);
}

void shim_epoll_notify(struct shim_sock *s, uint32_t edges)
{
	/* The hook has just set the socket's bits for this taking of the lock. A kernel
	 * listener's connection (kready) needs no look here: inner_apply put that member on the
	 * ready list, and only collect_accel (which clears kready) or a disarm takes it off
	 * while kready stays set, so ready_add would do nothing for it. */
	uint32_t bits = s->bits;
	for (struct shim_epoll_member *m = s->members; m; m = m->next_in_sock) {
		if (!(m->events & EPOLLET)) {
			if (bits & member_wants(m))
				ready_add(m);
		} else if (edges & member_wants(m)) {
			ready_add(m);
		}
	}
}

static void member_free(struct shim_epoll_member *m)
{
	struct shim_epoll *ep = m->ep;
	ready_del(m);
	m->prev->next = m->next;
	m->next->prev = m->prev;
	ep->n_members--;
	if (m->events & EPOLLET)
		m->s->n_et--;
	struct shim_epoll_member **pp = &m->s->members;
	while (*pp && *pp != m)
		pp = &(*pp)->next_in_sock;
	if (*pp)
		*pp = m->next_in_sock;
	if (m->s->kind == SHIM_LISTENER && ep->inner >= 0)
		REAL(epoll_ctl)(ep->inner, EPOLL_CTL_DEL, m->s->kfd, NULL);
	free(m);
}

void shim_epoll_forget(struct shim_sock *s)
{
	while (s->members)
		member_free(s->members);
}

static struct shim_epoll *ep_new(int epfd)
{
	struct shim_epoll *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return NULL;
	ep->epfd = epfd;
	ep->inner = -1;
	ep->all.next = ep->all.prev = &ep->all;
	ep->ready.rnext = ep->ready.rprev = &ep->ready;
	__atomic_store_n(&ept[epfd], ep, __ATOMIC_RELEASE);
	return ep;
}

static void ep_free(struct shim_epoll *ep)
{
	while (ep->all.next != &ep->all)
		member_free(ep->all.next);
	__atomic_store_n(&ept[ep->epfd], NULL, __ATOMIC_RELEASE);
	if (ep->inner >= 0)
		REAL(close)(ep->inner);
	free(ep);
}

/* An fd number was closed or reused: drop epoll state kept under it (lock not held). */
void shim_epoll_fd_gone(int fd)
{
	if (!ep_get(fd))
		return;
	shim_lock();
	struct shim_epoll *ep = ep_get(fd);
	if (ep)
		ep_free(ep);
	shim_unlock();
}

static int track_epoll(int epfd)
{
	/* Not EAL's interrupt thread's own (tracking takes the lock, which must never hold up a
	 * round of its callbacks: tpa_engine_epoll_wait_end). */
	if (epfd >= 0 && shim.enabled && !tpa_engine_eal_thread()) {
		shim_epoll_fd_gone(epfd);
		shim_fd_appeared(epfd);
		shim_lock();
		if (ept_init() == 0 && epfd < shim_fdt_size() && !ep_get(epfd))
			ep_new(epfd);
		shim_unlock();
	}
	return epfd;
}

int epoll_create(int size)
{
	return track_epoll(REAL(epoll_create)(size));
}

int epoll_create1(int flags)
{
	return track_epoll(REAL(epoll_create1)(flags));
}

static int make_inner(struct shim_epoll *ep)
{
	if (ep->inner >= 0)
		return 0;
	int fd = REAL(epoll_create1)(EPOLL_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = INNER_APP};
	if (REAL(epoll_ctl)(fd, EPOLL_CTL_ADD, ep->epfd, &ev) < 0) {
		int e = errno;
		REAL(close)(fd);
		return -e;
	}
	int fds[2] = {shim.wait_fd, shim_kick_fd()};
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = INNER_INTERNAL};
		if (REAL(epoll_ctl)(fd, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
			int e = errno;
			REAL(close)(fd);
			return -e;
		}
	}
	ep->inner = fd;
	return 0;
}

static struct shim_epoll_member *member_find(struct shim_epoll *ep, struct shim_sock *s, int fd)
{
	for (struct shim_epoll_member *m = s->members; m; m = m->next_in_sock)
		if (m->ep == ep && m->fd == fd)
			return m;
	return NULL;
}

static int accel_ctl(int epfd, int op, int fd, struct shim_sock *s, struct epoll_event *event)
{
	struct shim_epoll *ep = ep_get(epfd);
	if (!ep) {
		/* Not an epoll the shim saw created: let the kernel say what it is. */
		int fl = REAL(fcntl)(epfd, F_GETFD);
		errno = fl < 0 ? EBADF : EINVAL;
		return -1;
	}
	if (fd == epfd) {
		errno = EINVAL;
		return -1;
	}
	if (s->inherited) {
		errno = EBADF;
		return -1;
	}
	if (op != EPOLL_CTL_DEL && !event) {
		errno = EFAULT;
		return -1;
	}
	struct shim_epoll_member *m = member_find(ep, s, fd);
	switch (op) {
	case EPOLL_CTL_ADD: {
		if (m) {
			errno = EEXIST;
			return -1;
		}
		int r = make_inner(ep);
		if (r < 0)
			return (int)shim_ret(r);
		m = calloc(1, sizeof(*m));
		if (!m) {
			errno = ENOMEM;
			return -1;
		}
		m->ep = ep;
		m->s = s;
		m->fd = fd;
		if (s->kind == SHIM_LISTENER && shim.cfg.accept_kernel) {
			struct epoll_event kev = {.events = EPOLLIN,
			                          .data.u64 = (uint64_t)(uintptr_t)m};
			if (REAL(epoll_ctl)(ep->inner, EPOLL_CTL_ADD, s->kfd, &kev) < 0) {
				int e = errno;
				free(m);
				errno = e;
				return -1;
			}
		}
		member_set_events(m, event->events); /* counts an edge-triggered member in */
		m->data = event->data;
		m->next = ep->all.next;
		m->prev = &ep->all;
		ep->all.next->prev = m;
		ep->all.next = m;
		m->next_in_sock = s->members;
		s->members = m;
		ep->n_members++;
		member_check(m);
		return 0;
	}
	case EPOLL_CTL_MOD:
		if (!m) {
			errno = ENOENT;
			return -1;
		}
		if ((event->events | m->events) & EPOLLEXCLUSIVE) {
			errno = EINVAL;
			return -1;
		}
		member_set_events(m, event->events);
		m->data = event->data;
		m->disarmed = false;
		ready_del(m);
		member_check(m);
		return 0;
	case EPOLL_CTL_DEL:
		if (!m) {
			errno = ENOENT;
			return -1;
		}
		member_free(m);
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

static void pre_regs_clear(int fd)
{
	for (struct pre_reg *r = pre_regs[fd], *next; r; r = next) {
		next = r->next;
		free(r);
	}
	pre_regs[fd] = NULL;
}

void shim_epoll_candidate(int fd, int domain, int type)
{
	/* Not EAL's interrupt thread's own sockets: the lock must never hold up that thread. */
	if (fd < 0 || fd >= shim_fdt_size() || !shim.enabled || tpa_engine_eal_thread())
		return;
	bool tcp = (domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_STREAM;
	if (!tcp && (!pre_candidate || !pre_candidate[fd]))
		return;
	shim_lock();
	if (!pre_candidate) {
		pre_candidate = calloc((size_t)shim_fdt_size(), sizeof(*pre_candidate));
		pre_regs = calloc((size_t)shim_fdt_size(), sizeof(*pre_regs));
		if (!pre_candidate || !pre_regs) {
			free(pre_candidate);
			free(pre_regs);
			pre_candidate = NULL;
			pre_regs = NULL;
			shim_unlock();
			return;
		}
	}
	pre_regs_clear(fd);
	pre_candidate[fd] = tcp;
	shim_unlock();
}

/* A kernel epoll_ctl that succeeded on a candidate socket: its registrations as the kernel now
 * holds them (lock held). */
static void pre_reg_note(int epfd, int op, int fd, const struct epoll_event *event)
{
	struct pre_reg **pp = &pre_regs[fd];
	while (*pp && (*pp)->epfd != epfd)
		pp = &(*pp)->next;
	if (op == EPOLL_CTL_DEL) {
		if (*pp) {
			struct pre_reg *r = *pp;
			*pp = r->next;
			free(r);
		}
		return;
	}
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return; /* the set keeps the placeholder: as before, no worse */
		(*pp)->epfd = epfd;
	}
	(*pp)->events = event->events;
	(*pp)->data = event->data;
}

static int accel_ctl(int epfd, int op, int fd, struct shim_sock *s, struct epoll_event *event);

void shim_epoll_adopted(int fd, struct shim_sock *s)
{
	if (!pre_candidate || fd < 0 || fd >= shim_fdt_size() || !pre_candidate[fd])
		return;
	pre_candidate[fd] = 0;
	for (struct pre_reg *r = pre_regs[fd]; r; r = r->next) {
		if (!ep_get(r->epfd) || REAL(epoll_ctl)(r->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
			continue; /* that set is gone, or no longer holds it */
		struct epoll_event ev = {.events = r->events, .data = r->data};
		int e = errno;
		if (accel_ctl(r->epfd, EPOLL_CTL_ADD, fd, s, &ev) < 0 && shim.stats)
			fprintf(stderr,
			        "tpa: fd %d: its epoll registration could not follow it: %s\n", fd,
			        strerror(errno));
		errno = e;
	}
	pre_regs_clear(fd);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	struct shim_sock *s = shim_fdt_get(fd);
	if (!s) {
		if (!pre_candidate || fd < 0 || fd >= shim_fdt_size() || !pre_candidate[fd])
			return REAL(epoll_ctl)(epfd, op, fd, event);
		shim_lock();
		int r = REAL(epoll_ctl)(epfd, op, fd, event);
		int e = errno;
		if (r == 0 && ep_get(epfd) && shim_fdt_get(fd) == NULL && pre_candidate[fd])
			pre_reg_note(epfd, op, fd, event);
		shim_unlock();
		errno = e;
		return r;
	}
	shim_lock();
	int r = accel_ctl(epfd, op, fd, s, event);
	int e = errno;
	shim_unlock();
	errno = e;
	return r;
}

/* Ready accelerated members into out[] (lock held). A reported level-triggered member stays on
 * the list but goes behind the members not looked at (as the kernel's epoll does): the ones that
 * stay are where the walk began, so when the walk stops early they move to the tail together. */
static int collect_accel(struct shim_epoll *ep, struct epoll_event *out, int max)
{
	struct epoll_event *o = out, *end = out + max;
	struct shim_epoll_member *head = &ep->ready;
	struct shim_epoll_member *m = head->rnext;
	uint64_t epoch = shim_lock_epoch; /* member_bits, with what it needs in registers */
	if (max <= 0)
		return 0;
	while (m != head) {
		struct shim_epoll_member *next = m->rnext;
		struct shim_sock *s = m->s;
		uint32_t cur;
		if (__builtin_expect(s->bits_epoch == epoch, 1)) {
			cur = s->bits;
		} else if (!(s->rd_dry && m->input_only)) {
			cur = sock_poll_bits(s);
		} else { /* a connection's member: no kernel listener's connection (kready) */
			ready_unlink(m);
			m = next;
			continue;
		}
		if (__builtin_expect(m->kready, 0)) {
			cur |= EPOLLIN | EPOLLRDNORM;
			m->kready = false;
		}
		uint32_t rep = cur & member_wants(m);
		if (!rep) {
			ready_unlink(m);
			m = next;
			continue;
		}
		o->events = rep;
		o->data = m->data;
		if (__builtin_expect(m->leaves, 0)) {
			if (m->events & EPOLLONESHOT)
				m->disarmed = true;
			ready_unlink(m);
		}
		m = next;
		if (++o == end)
			break; /* full: m is the first member not looked at */
	}
	/* m: the first member not looked at. Those before it are the ones that stay. */
	struct shim_epoll_member *first = head->rnext;
	if (m != head && first != m) {
		struct shim_epoll_member *last = m->rprev, *tail = head->rprev;
		head->rnext = m;
		m->rprev = head;
		tail->rnext = first;
		first->rprev = tail;
		last->rnext = head;
		head->rprev = last;
	}
	return (int)(o - out);
}

/* What the inner epoll reported (lock held): kernel listeners with connections become ready
 * members. Returns INNER_GOT_APP when the program's own epoll has events and INNER_GOT_MEMBER
 * when a kernel listener became ready. */
#define INNER_GOT_APP    1
#define INNER_GOT_MEMBER 2
static int inner_apply(const struct epoll_event *ev, int k)
{
	int got = 0;
	for (int i = 0; i < k; i++) {
		uint64_t d = ev[i].data.u64;
		if (d == INNER_APP)
			got |= INNER_GOT_APP;
		if (d == INNER_APP || d == INNER_INTERNAL)
			continue;
		struct shim_epoll_member *m = (struct shim_epoll_member *)(uintptr_t)d;
		m->kready = true;
		ready_add(m);
		got |= INNER_GOT_MEMBER;
	}
	return got;
}

#define INNER_EVENTS 16

/* An epoll_wait in progress: what the sleep saw is read by the next check. */
struct epoll_wait_ctx {
	struct shim_epoll *ep;
	struct epoll_event *evs;
	int max;
	bool slept;
	int n_woke;
	struct epoll_event woke[INNER_EVENTS];
};

/*
 * One look (lock held): poll the engine, take the ready accelerated members and, when asked
 * or after a sleep, the kernel side: the inner epoll, which holds the program's epoll fd, so
 * the program's own epoll is read only when it has events. The first look always includes the
 * kernel (what is ready on both sides is reported together, as the kernel does).
 */
static int epoll_check(void *arg, bool look_kernel)
{
	struct epoll_wait_ctx *c = arg;
	struct shim_epoll *ep = c->ep;
	shim_engine_poll();
	int n = collect_accel(ep, c->evs, c->max);
	int got = 0;
	if (c->slept) {
		c->slept = false;
		got = inner_apply(c->woke, c->n_woke);
	} else if (look_kernel) {
		struct epoll_event ev[INNER_EVENTS];
		int k = REAL(epoll_wait)(ep->inner, ev, INNER_EVENTS, 0);
		got = k > 0 ? inner_apply(ev, k) : 0;
	}
	if ((got & INNER_GOT_MEMBER) && n < c->max)
		n += collect_accel(ep, c->evs + n, c->max - n);
	if ((got & INNER_GOT_APP) && n < c->max) {
		int k = REAL(epoll_wait)(ep->epfd, c->evs + n, c->max - n, 0);
		if (k > 0)
			n += k;
	}
	return n;
}

static int epoll_sleep(void *arg, const struct timespec *ts, const sigset_t *mask)
{
	struct epoll_wait_ctx *c = arg;
	int ms = -1;
	if (ts) {
		uint64_t ns = (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
		uint64_t m = (ns + 999999) / 1000000;
		ms = m > INT_MAX ? INT_MAX : (int)m;
	}
	int k = REAL(epoll_pwait)(c->ep->inner, c->woke, INNER_EVENTS, ms, mask);
	if (k < 0)
		return errno == EINTR ? -EINTR : 0;
	c->slept = true;
	c->n_woke = k;
	return 0;
}

static int accel_epoll_wait(struct shim_epoll *ep, struct epoll_event *evs, int max, int timeout,
                            const sigset_t *app_mask)
{
	struct epoll_wait_ctx c = {.ep = ep, .evs = evs, .max = max};
	struct shim_waiter w = {.check = epoll_check, .sleep = epoll_sleep, .arg = &c};
	uint64_t deadline = timeout < 0 ? UINT64_MAX : shim_now_ns() + (uint64_t)timeout * 1000000;
	return shim_wait(&w, deadline, app_mask);
}

int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout, const sigset_t *mask)
{
	struct shim_epoll *ep = ep_get(epfd);
	if (!ep || !__atomic_load_n(&ep->n_members, __ATOMIC_ACQUIRE)) {
		shim_tx_flush_unlocked();
		return REAL(epoll_pwait)(epfd, evs, max, timeout, mask);
	}
	if (max <= 0 || !evs) {
		errno = max <= 0 ? EINVAL : EFAULT;
		return -1;
	}
	shim_lock();
	int r = accel_epoll_wait(ep, evs, max, timeout, mask);
	shim_unlock();
	return (int)shim_ret(r);
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	struct shim_epoll *ep = ep_get(epfd);
	if (!ep || !__atomic_load_n(&ep->n_members, __ATOMIC_ACQUIRE)) {
		/* Also EAL's interrupt thread, between its rounds of callbacks. */
		tpa_engine_epoll_wait_begin();
		shim_tx_flush_unlocked();
		int r = REAL(epoll_wait)(epfd, evs, max, timeout);
		tpa_engine_epoll_wait_end();
		return r;
	}
	return epoll_pwait(epfd, evs, max, timeout, NULL);
}
