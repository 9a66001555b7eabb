/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One engine per kernel interface on the host: an flock on /run/tpa/if-<netns>-<ifindex>.lock,
 * held for the engine's life (and by its watchdog until the interface is cleaned up). A second
 * process asking for the same interface gets EBUSY and the holder's pid, before it touches
 * anything; a tpa XDP program found on an interface whose lock is free belongs to a dead
 * process and may be removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_impl.h"

#define LOCK_DIR "/run/tpa"

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
			return engine_seterr(err, errlen, EBUSY,
			                     "TPA_IFACE=%s is already used by another tpa process "
			                     "(pid %s); one accelerated process per interface",
			                     iface, pid[0] ? pid : "?");
		return 0; /* a file system without flock */
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)n, 0);
	*lock_fd = fd;
	return 0;
}
