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
 *
 * TPA_USER=name (`tpa run --user name`): the program is started as root, the engine starts
 * before main() and the process becomes that user (its groups, gid, uid, HOME/USER/LOGNAME)
 * before the program runs a line: for programs that must not run as root (PostgreSQL) or
 * should not (every daemon), with no privilege left once they run.
 */
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "publish.h"
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
	/* The inspection file goes to the new owner, who removes it at exit. */
	shim_publish_chown(e != keep ? e : r != keep ? r : s, (gid_t)-1);
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

static __attribute__((noreturn)) void user_die(const char *msg)
{
	(void)!syscall(SYS_write, 2, msg, strlen(msg));
	_exit(1);
}

void shim_become_user(void)
{
	const char *name = shim.cfg.user;
	char line[700];
	struct passwd *pw = getpwnam(name);
	char *end;
	unsigned long uid = strtoul(name, &end, 10);
	if (!pw && *name && !*end)
		pw = getpwuid((uid_t)uid);
	if (!pw) {
		snprintf(line, sizeof(line),
		         "tpa: invalid TPA_USER='%s': no such user on this host (expected a user "
		         "name or uid from the user database, e.g. redis)\n",
		         name);
		user_die(line);
	}
	if (geteuid() == pw->pw_uid)
		return; /* already that user: nothing to give up */
	if (geteuid() != 0) {
		snprintf(line, sizeof(line),
		         "tpa: TPA_USER=%s: start the program as root: the engine needs root to "
		         "start "
		         "and the program then runs as %s with no privileges\n",
		         name, pw->pw_name);
		user_die(line);
	}
	char err[512];
	shim_lock();
	int rc = shim_engine_try_start(err, sizeof(err));
	shim_unlock();
	if (rc < 0)
		shim_engine_fatal(err);
	shim_publish_chown(pw->pw_uid, pw->pw_gid); /* so that the program removes it at exit */
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(line, sizeof(line), "tpa: TPA_USER=%s: cannot become that user: %s\n",
		         name, strerror(errno));
		user_die(line);
	}
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
}
