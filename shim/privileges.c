/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Privileges dropped before the first accelerated socket.
 *
 * The engine needs root (AF_XDP sockets, the XDP program, its maps) and starts lazily, at the
 * first selected listen() or connect(). Servers that listen before they drop privileges (nginx's
 * master) start it as root. Others drop them first: memcached `-u memcache` calls setuid()
 * before it creates its listeners, which then could only fail. So a process that still runs as
 * root and is about to give it up starts the engine now, while it can: everything the engine
 * uses afterwards (AF_XDP sockets, map fds, hugepage memory, the root watchdog it forked) keeps
 * working without privileges. A start that fails here is remembered and reported by the first
 * accelerated socket, as if it had been tried there (engine.c: shim_engine_try_start).
 */
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#include "shim.h"

/* The uid arguments of a set*uid call; (uid_t)-1 = unchanged. */
static void before_uid_change(uid_t r, uid_t e, uid_t s)
{
	const uid_t keep = (uid_t)-1;
	if (!shim.enabled || shim.stack || geteuid() != 0)
		return;
	if ((r == keep || r == 0) && (e == keep || e == 0) && (s == keep || s == 0))
		return; /* stays root */
	int saved = errno;
	shim_lock();
	shim_engine_start_before_drop();
	shim_unlock();
	errno = saved;
}

typedef int (*uid1_fn)(uid_t);
typedef int (*uid2_fn)(uid_t, uid_t);
typedef int (*uid3_fn)(uid_t, uid_t, uid_t);

#define REAL_UID(name, type)                                                                       \
	static type real_##name;                                                                   \
	if (!real_##name)                                                                          \
		real_##name = (type)dlsym(RTLD_NEXT, #name);                                       \
	if (!real_##name) {                                                                        \
		errno = ENOSYS;                                                                    \
		return -1;                                                                         \
	}

int setuid(uid_t uid)
{
	REAL_UID(setuid, uid1_fn);
	before_uid_change(uid, uid, uid);
	return real_setuid(uid);
}

int seteuid(uid_t uid)
{
	REAL_UID(seteuid, uid1_fn);
	before_uid_change((uid_t)-1, uid, (uid_t)-1);
	return real_seteuid(uid);
}

int setreuid(uid_t r, uid_t e)
{
	REAL_UID(setreuid, uid2_fn);
	before_uid_change(r, e, (uid_t)-1);
	return real_setreuid(r, e);
}

int setresuid(uid_t r, uid_t e, uid_t s)
{
	REAL_UID(setresuid, uid3_fn);
	before_uid_change(r, e, s);
	return real_setresuid(r, e, s);
}
