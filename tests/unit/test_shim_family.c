/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shim's lock (shim/family.c): a process-local level alone while the family is one
 * process, the robust family mutex beside it from a fork with the engine running until the
 * family is one process again; a fork before the engine started gives the child a family of
 * its own. Each case forks real processes; each child reports through a pipe.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "family.h"

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void setup(void)
{
	ck_assert_int_eq(shim_family_init(1024), 0);
	ck_assert_int_eq(shim_family_join(), 0);
}

/* One byte from the child, or -1 when none came within ms. */
static int read_byte(int fd, int ms)
{
	for (int waited = 0; waited <= ms; waited += 5) {
		char c;
		if (read(fd, &c, 1) == 1)
			return c;
		pause_ms(5);
	}
	return -1;
}

static int exit_code(pid_t pid)
{
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Fork as the shim does: the lock held across fork(), the hooks around it. */
static pid_t family_fork(bool engine)
{
	shim_family_lock();
	shim_family_fork_prepare(engine);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		shim_family_lock_forget();
		if (engine)
			shim_family_fork_child();
		else
			shim_family_fork_child_alone();
		return 0;
	}
	shim_family_fork_parent();
	shim_family_unlock();
	return pid;
}

START_TEST(one_process_uses_the_local_level)
{
	setup();
	ck_assert(!shim_family_multi());
	ck_assert(shim_family_trylock());
	ck_assert(!shim_family_trylock()); /* not recursive: core.c counts the depth */
	shim_family_unlock();
	ck_assert(shim_family_trylock());
	shim_family_unlock();
	ck_assert(!shim_family_lock()); /* the local level alone */
	shim_family_unlock();
	ck_assert(!shim_family_lock_wanted());
}
END_TEST

static void *lock_once(void *arg)
{
	(void)arg;
	shim_family_lock();
	shim_family_unlock();
	return NULL;
}

static void *held_in_other_thread(void *arg)
{
	*(bool *)arg = shim_family_held_here();
	return NULL;
}

/* The holder knows itself (a nested taking only counts, shim.h), another thread does not, and
 * a fork child's thread is another thread. */
START_TEST(the_holding_thread_knows_it_holds_the_lock)
{
	setup();
	ck_assert(!shim_family_held_here());
	shim_family_lock();
	ck_assert(shim_family_held_here());
	bool other = true;
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, held_in_other_thread, &other), 0);
	pthread_join(t, NULL);
	ck_assert(!other);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		shim_family_lock_forget();
		_exit(shim_family_held_here() ? 1 : 0);
	}
	ck_assert_int_eq(exit_code(pid), 0);
	shim_family_unlock();
	ck_assert(!shim_family_held_here());
	ck_assert(shim_family_trylock());
	ck_assert(shim_family_held_here());
	shim_family_unlock();
}
END_TEST

START_TEST(a_waiting_thread_is_seen)
{
	setup();
	shim_family_lock();
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, lock_once, NULL), 0);
	for (int i = 0; i < 400 && !shim_family_lock_wanted(); i++)
		pause_ms(5);
	ck_assert(shim_family_lock_wanted());
	shim_family_unlock();
	pthread_join(t, NULL);
	ck_assert(!shim_family_lock_wanted());
}
END_TEST

/* Parent and fork child exclude each other; once the child is gone and reaped, the family is
 * one process again and the local level alone is taken. */
START_TEST(fork_shares_the_lock_until_the_child_is_gone)
{
	setup();
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	shim_family_lock(); /* held across the fork: the child must wait for it */
	shim_family_fork_prepare(true);
	ck_assert(shim_family_multi());
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		shim_family_lock_forget();
		if (!shim_family_fork_child())
			_exit(2);
		if (!shim_family_lock()) /* the family level too */
			_exit(3);
		(void)!write(p[1], "L", 1);
		pause_ms(300); /* hold it: the parent's trylock must fail meanwhile */
		shim_family_unlock();
		shim_family_leave();
		_exit(0);
	}
	shim_family_fork_parent();
	ck_assert_int_eq(read_byte(p[0], 100), -1); /* we hold it */
	shim_family_unlock();
	ck_assert_int_eq(read_byte(p[0], 2000), 'L');
	ck_assert(!shim_family_trylock());
	ck_assert_int_eq(exit_code(pid), 0);
	ck_assert(shim_family_trylock());
	ck_assert(shim_family_multi());
	shim_family_reap(NULL);
	ck_assert(!shim_family_multi());
	shim_family_unlock();
}
END_TEST

/* A child killed while it holds the lock: the parent takes it all the same. */
START_TEST(a_child_killed_holding_the_lock_is_recovered)
{
	setup();
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	pid_t pid = family_fork(true);
	if (pid == 0) {
		shim_family_lock();
		(void)!write(p[1], "L", 1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read_byte(p[0], 2000), 'L');
	ck_assert(!shim_family_trylock());
	kill(pid, SIGKILL);
	ck_assert_int_eq(exit_code(pid), 128 + SIGKILL);
	shim_family_lock();
	shim_family_reap(NULL);
	ck_assert(!shim_family_multi());
	shim_family_unlock();
}
END_TEST

/* Forked before the engine started (a daemon's child): a family of its own, so neither
 * process waits for the other, and each keeps the local level alone. */
START_TEST(fork_before_the_engine_gives_the_child_its_own_family)
{
	setup();
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	pid_t pid = family_fork(false);
	if (pid == 0) {
		bool ok = !shim_family_multi() && shim_family_join() == 0 && shim_family_trylock();
		(void)!write(p[1], ok ? "Y" : "N", 1);
		pause_ms(300);
		_exit(0);
	}
	ck_assert(!shim_family_multi());
	ck_assert_int_eq(read_byte(p[0], 2000), 'Y');
	ck_assert(shim_family_trylock()); /* the child holds its own lock, not ours */
	shim_family_unlock();
	ck_assert_int_eq(exit_code(pid), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shim_family");
	TCase *tc = tcase_create("lock");
	tcase_set_timeout(tc, 30);
	/* Each case needs a process of its own: the region is mapped once per process. */
	tcase_add_test(tc, one_process_uses_the_local_level);
	tcase_add_test(tc, the_holding_thread_knows_it_holds_the_lock);
	tcase_add_test(tc, a_waiting_thread_is_seen);
	tcase_add_test(tc, fork_shares_the_lock_until_the_child_is_gone);
	tcase_add_test(tc, a_child_killed_holding_the_lock_is_recovered);
	tcase_add_test(tc, fork_before_the_engine_gives_the_child_its_own_family);
	suite_add_tcase(s, tc);
	return check_run(s, CK_FORK);
}
