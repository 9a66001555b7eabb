/* SPDX-License-Identifier: BSD-3-Clause */
#include "sleep.h"

#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct shim_sleep_registry local_registry;
static struct shim_sleep_registry *reg = &local_registry;
static int my_owner = -1;
static bool events_raised;
static int kick_fd = -1;

int shim_sleep_init(void)
{
	if (kick_fd < 0)
		kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | EFD_SEMAPHORE);
	return kick_fd;
}

int shim_kick_fd(void)
{
	return kick_fd;
}

void shim_sleep_use_shared(struct shim_sleep_registry *r, int owner)
{
	reg = r;
	my_owner = owner;
}

void shim_sleep_set_owner(int owner)
{
	my_owner = owner;
	events_raised = false;
}

void shim_sleep_begin(struct shim_sleeper *w)
{
	w->idx = -1;
	for (int i = 0; i < SHIM_SLEEPERS_MAX; i++) {
		if (!reg->e[i].busy) {
			reg->e[i].busy = 1;
			reg->e[i].kicked = 0;
			reg->e[i].owner = my_owner;
			reg->used++;
			w->idx = i;
			return;
		}
	}
}

void shim_sleep_end(struct shim_sleeper *w)
{
	if (w->idx < 0)
		return;
	bool kicked = reg->e[w->idx].kicked;
	reg->e[w->idx].busy = 0;
	reg->e[w->idx].kicked = 0;
	reg->used--;
	w->idx = -1;
	/* Our own token: written before kicked was set, both under the lock, so it is there.
	 * Raw syscalls: these fds are ours, never the program's interposed read/write. */
	uint64_t v;
	if (kicked && kick_fd >= 0)
		(void)!syscall(SYS_read, kick_fd, &v, sizeof(v));
}

void shim_sleepers_kick(void)
{
	uint64_t n = 0;
	events_raised = false;
	if (!reg->used)
		return;
	for (int i = 0; i < SHIM_SLEEPERS_MAX; i++) {
		if (reg->e[i].busy && !reg->e[i].kicked) {
			reg->e[i].kicked = 1;
			n++;
		}
	}
	if (n && kick_fd >= 0)
		(void)!syscall(SYS_write, kick_fd, &n, sizeof(n));
}

bool shim_sleeper_kicked(const struct shim_sleeper *w)
{
	return w->idx >= 0 && reg->e[w->idx].kicked;
}

void shim_sleep_note_event(void)
{
	events_raised = true;
}

bool shim_sleepers_any(void)
{
	return reg->used > 0;
}

void shim_sleepers_after_poll(int packets)
{
	if ((packets > 0 || events_raised) && shim_sleepers_any())
		shim_sleepers_kick();
	else if (!shim_sleepers_any())
		events_raised = false;
}

void shim_sleepers_reap(int owner)
{
	for (int i = 0; i < SHIM_SLEEPERS_MAX; i++) {
		if (!reg->e[i].busy || reg->e[i].owner != owner)
			continue;
		uint64_t v;
		if (reg->e[i].kicked && kick_fd >= 0)
			(void)!syscall(SYS_read, kick_fd, &v, sizeof(v));
		reg->e[i].busy = 0;
		reg->e[i].kicked = 0;
		reg->used--;
	}
}
