/* SPDX-License-Identifier: BSD-3-Clause */
#include "sleep.h"

#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct shim_sleeper sleepers = {&sleepers, &sleepers, false};
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

void shim_sleep_begin(struct shim_sleeper *w)
{
	w->kicked = false;
	w->next = &sleepers;
	w->prev = sleepers.prev;
	sleepers.prev->next = w;
	sleepers.prev = w;
}

void shim_sleep_end(struct shim_sleeper *w)
{
	w->prev->next = w->next;
	w->next->prev = w->prev;
	w->next = w->prev = w;
	/* Our own token: written before kicked was set, both under the lock, so it is there.
	 * Raw syscalls: these fds are ours, never the program's interposed read/write. */
	uint64_t v;
	if (w->kicked && kick_fd >= 0)
		(void)!syscall(SYS_read, kick_fd, &v, sizeof(v));
}

void shim_sleepers_kick(void)
{
	uint64_t n = 0;
	events_raised = false;
	for (struct shim_sleeper *w = sleepers.next; w != &sleepers; w = w->next) {
		if (!w->kicked) {
			w->kicked = true;
			n++;
		}
	}
	if (n && kick_fd >= 0)
		(void)!syscall(SYS_write, kick_fd, &n, sizeof(n));
}

void shim_sleep_note_event(void)
{
	events_raised = true;
}

bool shim_sleepers_any(void)
{
	return sleepers.next != &sleepers;
}

void shim_sleepers_after_poll(int packets)
{
	if ((packets > 0 || events_raised) && shim_sleepers_any())
		shim_sleepers_kick();
	else if (!shim_sleepers_any())
		events_raised = false;
}

void shim_sleepers_reset(void)
{
	sleepers.next = sleepers.prev = &sleepers;
	events_raised = false;
}
