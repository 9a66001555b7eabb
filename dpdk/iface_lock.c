/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One engine per kernel interface on the host: an flock on /run/tpa/if-<netns>-<ifindex>.lock,
 * held for the engine's life. A second process asking for the same interface gets EBUSY and the
 * holder's pid, before it touches anything; a tpa XDP program found on an interface whose lock
 * is free belongs to a dead process and may be removed.
 *
 * The file is removed at exit by the last process of the owner's family (fork children share
 * the engine and the lock) to exit normally, so lock files do not pile up (one per namespace
 * and interface ever used). Removing a lock file is only safe if every taker checks, once it
 * holds the lock, that the file it locked is still the one at the path: otherwise a taker that
 * opened the old file just before the unlink and a taker that created the new one would both
 * think they hold the interface. With that check, any free lock file may be removed at any
 * time by anyone holding its lock (tests sweep the ones left by SIGKILL).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_impl.h"

#define LOCK_DIR "/run/tpa"
/* Each retry means someone removed the file between our open and our flock: a handful is
 * plenty, and the bound keeps a misbehaving remover from spinning us forever. */
#define LOCK_TRIES 16

/* The last lock this process (or the parent it was forked from) took, for removal at exit. */
static char held_path[128];
static dev_t held_dev;
static ino_t held_ino;

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Registered while the engine is created, so it runs after exit handlers registered later
 * (the shim's, which destroys the engine or leaves it to the rest of the family first). Forked
 * children inherit it: whichever process of the family exits last removes the file. */
void iface_lock_remove_if_free(const char *path)
{
	struct stat at_path, st;
	if (stat(path, &at_path) < 0)
		return;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return; /* dropped privileges: the watchdog removes it */
	/* A new open file description gets the lock only if no process holds it: not our own
	 * engine (not destroyed), not another process of the family still running, not a new
	 * owner. Removed while we hold it, so a taker waiting on this file sees it gone and
	 * retries on a new one. */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && same_file(&st, &at_path))
		(void)unlink(path);
	close(fd);
}

void iface_lock_remove_at_exit(void)
{
	if (!held_path[0])
		return;
	struct stat at_path;
	if (stat(held_path, &at_path) < 0 || at_path.st_dev != held_dev ||
	    at_path.st_ino != held_ino)
		return; /* already replaced by a later owner: theirs now */
	iface_lock_remove_if_free(held_path);
}

const char *iface_lock_path(void)
{
	return held_path;
}

static void remember_lock(const char *path, const struct stat *st)
{
	static int registered;
	snprintf(held_path, sizeof(held_path), "%s", path);
	held_dev = st->st_dev;
	held_ino = st->st_ino;
	if (!registered && atexit(iface_lock_remove_at_exit) == 0)
		registered = 1;
}

int iface_lock_take(int ifindex, const char *iface, int *lock_fd, char *err, size_t errlen)
{
	*lock_fd = -1;
	struct stat ns;
	if (stat("/proc/self/ns/net", &ns) < 0)
		ns.st_ino = 0;
	char path[128];
	snprintf(path, sizeof(path), LOCK_DIR "/if-%lu-%d.lock", (unsigned long)ns.st_ino, ifindex);
	(void)mkdir("/run", 0755);
	(void)mkdir(LOCK_DIR, 0755);
	for (int tries = 0; tries < LOCK_TRIES; tries++) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) /* no /run to write to: nothing to coordinate with */
			return 0;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			char pid[32] = "";
			ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			close(fd);
			if (e == EWOULDBLOCK)
				return engine_seterr(
				        err, errlen, EBUSY,
				        "TPA_IFACE=%s is already used by another tpa process "
				        "(pid %s), which holds it alone; to share it, run "
				        "every program with TPA_OWNER=tpad (tpa run --owner tpad)",
				        iface, pid[0] ? pid : "?");
			return 0; /* a file system without flock */
		}
		struct stat mine, at_path;
		if (fstat(fd, &mine) < 0 || stat(path, &at_path) < 0 ||
		    !same_file(&mine, &at_path)) {
			close(fd); /* removed under us by its previous owner: lock the new one */
			continue;
		}
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (ftruncate(fd, 0) == 0)
			(void)!pwrite(fd, pid, (size_t)n, 0);
		*lock_fd = fd;
		remember_lock(path, &mine);
		return 0;
	}
	return engine_seterr(err, errlen, EBUSY, "TPA_IFACE=%s: lock file %s keeps being replaced",
	                     iface, path);
}
