/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tpad's start, loop and end (see tpad.h). Started by hand or by systemd as root, or on demand
 * by the first program that asks for the interface (dpdk/tpad_client.c): that one passes
 * --ready-fd, on which tpad writes "ok" once it serves or the line that says why it cannot, and
 * --on-demand, so tpad leaves (and the kernel gets the interface back) when no program is left.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "iface.h"
#include "mbuf_pool.h"
#include "port.h"
#include "tpad.h"

static struct tpad tpad;

uint64_t tpad_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	tpad.stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tpad --iface IF [--slots N] [--spin-us US] [--idle-exit S]\n"
	        "  Owns IF's AF_XDP queues and XDP steering program for every accelerated program\n"
	        "  on it (TPA_OWNER=tpad): each gets its own stack and a memif link to tpad.\n"
	        "  --slots N      programs served at once (default %u, at most %u)\n"
	        "  --spin-us US   poll this long after the last frame before sleeping (default "
	        "20)\n"
	        "  --idle-exit S  leave S seconds after the last program left (default: never; "
	        "5 when started on demand)\n",
	        TPAD_SLOTS_DEFAULT, TPAD_SLOTS_MAX);
}

struct tpad_args {
	const char *iface;
	unsigned slots;
	long spin_us;
	long idle_exit_s;
	int ready_fd;
	int on_demand;
};

static int parse_args(int argc, char **argv, struct tpad_args *a)
{
	static const struct option opts[] = {{"iface", required_argument, NULL, 'i'},
	                                     {"slots", required_argument, NULL, 's'},
	                                     {"spin-us", required_argument, NULL, 'p'},
	                                     {"idle-exit", required_argument, NULL, 'x'},
	                                     {"ready-fd", required_argument, NULL, 'r'},
	                                     {"on-demand", no_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	*a = (struct tpad_args){
	        .slots = TPAD_SLOTS_DEFAULT, .spin_us = 20, .idle_exit_s = -1, .ready_fd = -1};
	int c;
	while ((c = getopt_long(argc, argv, "i:s:h", opts, NULL)) != -1) {
		char *end = NULL;
		long v = optarg ? strtol(optarg, &end, 10) : 0;
		int bad = optarg && (!*optarg || *end || v < 0);
		switch (c) {
		case 'i':
			a->iface = optarg;
			break;
		case 's':
			if (bad || v < 1 || v > TPAD_SLOTS_MAX) {
				fprintf(stderr, "tpad: --slots: 1-%u (got '%s')\n", TPAD_SLOTS_MAX,
				        optarg);
				return -1;
			}
			a->slots = (unsigned)v;
			break;
		case 'p':
		case 'x':
		case 'r':
			if (bad) {
				fprintf(stderr, "tpad: --%s: a number >= 0 (got '%s')\n",
				        c == 'p'   ? "spin-us"
				        : c == 'x' ? "idle-exit"
				                   : "ready-fd",
				        optarg);
				return -1;
			}
			if (c == 'p')
				a->spin_us = v;
			else if (c == 'x')
				a->idle_exit_s = v;
			else
				a->ready_fd = (int)v;
			break;
		case 'd':
			a->on_demand = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!a->iface || !a->iface[0] || strlen(a->iface) >= IFNAMSIZ) {
		fprintf(stderr, "tpad: --iface: the kernel interface to own is required\n");
		return -1;
	}
	return 0;
}

/* The interface's addresses and queues, its lock, a stale program of ours removed, the
 * watchdog started (before EAL: see watchdog.c). */
static int take_interface(struct tpad *t, const struct tpa_engine_config *cfg, char *xdp_prog,
                          char *err, size_t errlen)
{
	struct nl_link_info li;
	int rc = nl_learn_link(t->iface, &li, err, errlen);
	if (rc)
		return rc;
	t->ifindex = li.ifindex;
	t->ipv4 = li.ipv4_addr;
	memcpy(t->mac, li.mac, 6);
	if (!t->ipv4)
		return engine_seterr(err, errlen, EADDRNOTAVAIL, "%s has no IPv4 address",
		                     t->iface);
	struct iface_probe ip;
	if ((rc = iface_probe(t->iface, &ip)))
		return engine_seterr(err, errlen, -rc, "%s: %s", t->iface, strerror(-rc));
	t->nq = ip.rx_queues < TPAD_QUEUES_MAX ? ip.rx_queues : TPAD_QUEUES_MAX;
	if ((rc = iface_lock_take(t->ifindex, t->iface, &t->lock_fd, err, errlen)))
		return rc;
	if ((rc = engine_find_xdp_prog(cfg, xdp_prog, TPA_ENGINE_PATH_MAX, err, errlen)))
		return rc;
	if ((rc = xdp_ctl_clear_stale(t->ifindex, err, errlen)) < 0)
		return rc;
	rc = watchdog_start(err, errlen);
	if (rc < 0)
		return rc;
	t->watchdog_fd = rc;
	watchdog_lock_file(rc, iface_lock_path());
	return 0;
}

static int start_eal(struct tpad *t, struct tpa_engine_config *cfg, const char *xdp_prog, char *err,
                     size_t errlen)
{
	size_t len = (size_t)(t->nq + t->nslots) * (TPA_ENGINE_PATH_MAX + 160);
	char *devargs = calloc(1, len);
	if (!devargs)
		return engine_seterr(err, errlen, ENOMEM, "out of memory");
	int rc = port_devargs(cfg, xdp_prog, 0, t->nq, devargs, len);
	char sock[128];
	tpad_memif_name(sock, sizeof(sock), t->iface);
	for (unsigned s = 0; !rc && s < t->nslots; s++) {
		size_t n = strlen(devargs);
		if ((size_t)snprintf(
		            devargs + n, len - n,
		            "\nnet_memif%u,role=server,socket=%s,socket-abstract=yes,id=%u", s,
		            sock, s) >= len - n)
			rc = -ENAMETOOLONG;
	}
	/* Each queue's fill and Rx rings hold 2048 buffers; each link's ring up to 1024. */
	unsigned mbufs = cfg->mbufs + t->nq * 2048u + t->nslots * 1024u;
	struct eal_args a;
	if (!rc)
		rc = eal_args_build(&a, cfg, devargs, mbufs, 0, err, errlen);
	free(devargs);
	if (rc)
		return rc;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* EAL's threads take no signal */
	char *argv[EAL_ARGS_MAX];
	memcpy(argv, a.argv, sizeof(argv));
	rc = rte_eal_init(a.argc, argv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		return engine_seterr(err, errlen, rte_errno, "DPDK EAL failed to start: %s",
		                     rte_strerror(rte_errno));
	t->pool = mbuf_pool_create("tpad", mbufs, SOCKET_ID_ANY, 1, &(unsigned){0});
	if (!t->pool)
		return engine_seterr(err, errlen, rte_errno, "mbuf pool of %u: %s", mbufs,
		                     rte_strerror(rte_errno));
	return 0;
}

/* Every queue's AF_XDP port started (each loads the program; only the last stays attached and
 * is pointed at every socket), then the memif links. */
static int start_ports(struct tpad *t, char *err, size_t errlen)
{
	static uint8_t before[PORT_FD_BITS / 8];
	uint32_t txo, rxo;
	int intr;
	for (unsigned q = 0; q < t->nq; q++) {
		char name[RTE_ETH_NAME_MAX_LEN];
		snprintf(name, sizeof(name), "net_af_xdp%u", q);
		if (rte_eth_dev_get_port_by_name(name, &t->xdp_ports[q]))
			return engine_seterr(err, errlen, ENODEV, "no port %s", name);
		socket_fds_snapshot(AF_XDP, before, PORT_FD_BITS);
		int rc = port_setup(t->xdp_ports[q], t->pool, 1, 0, &txo, &rxo, &intr, err, errlen);
		if (rc)
			return rc;
		if (socket_fds_new(AF_XDP, before, PORT_FD_BITS, &t->xsk_fds[q], 1) != 1)
			return engine_seterr(err, errlen, EIO, "%s: no AF_XDP socket", name);
		if (q + 1 < t->nq && (rc = xdp_ctl_detach_current(t->ifindex)) < 0)
			return engine_seterr(err, errlen, -rc, "XDP: detach: %s", strerror(-rc));
	}
	int rc = xdp_ctl_open(&t->xdp, t->ifindex, t->ipv4, err, errlen);
	if (rc)
		return rc;
	t->xdp_open = 1;
	for (unsigned q = 0; q < t->nq; q++)
		if ((rc = xdp_ctl_add_xsk(&t->xdp, q, t->xsk_fds[q])))
			return engine_seterr(err, errlen, -rc, "XDP: queue %u socket: %s", q,
			                     strerror(-rc));
	watchdog_arm(t->watchdog_fd, t->ifindex, t->xdp.prog_id, 0);
	for (unsigned s = 0; s < t->nslots; s++) {
		char name[RTE_ETH_NAME_MAX_LEN];
		snprintf(name, sizeof(name), "net_memif%u", s);
		struct tpad_slot *sl = &t->slots[s];
		if (rte_eth_dev_get_port_by_name(name, &sl->port_id))
			return engine_seterr(err, errlen, ENODEV, "no port %s", name);
		/* No memif Rx interrupts (DPDK 22.11 has none): doorbells instead (switch.c). */
		if ((rc = port_setup(sl->port_id, t->pool, 1, 0, &txo, &rxo, &intr, err, errlen)))
			return rc;
	}
	return 0;
}

static void tell_ready(int fd, const char *msg)
{
	if (fd < 0)
		return;
	(void)!write(fd, msg, strlen(msg));
	close(fd);
}

/* Requests and leases; after spin_ns without frames, sleep until something comes. */
static void wait_round(struct tpad *t, uint64_t *idle_since, uint64_t now)
{
	if (!*idle_since)
		*idle_since = now;
	struct epoll_event ev[16];
	int n = now - *idle_since >= t->spin_ns ? tpad_switch_sleep(t, 1000, ev, 16)
	                                        : epoll_wait(t->ep_fd, ev, 16, 0);
	for (int i = 0; i < n; i++)
		if (ev[i].data.u32 != TPAD_EV_WAKE)
			tpad_ctl_event(t, ev[i].data.u32);
}

/* Counters for people: /dev/shm/tpad-<pid>.stats, "name value" lines, rewritten every second
 * (read them with cat; tpa stats shows the programs' own). */
static void write_stats(const struct tpad *t, int remove_it)
{
	char path[64], tmp[72];
	snprintf(path, sizeof(path), "/dev/shm/tpad-%d.stats", (int)getpid());
	if (remove_it) {
		unlink(path);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f,
	        "iface %s\nqueues %u\nprograms %d\nrx_unowned %llu\ntx_foreign %llu\n"
	        "resets_sent %llu\nflows_dropped %llu\n",
	        t->iface, t->nq, tpad_programs(t), (unsigned long long)t->rx_unowned,
	        (unsigned long long)t->tx_foreign, (unsigned long long)t->resets_sent,
	        (unsigned long long)t->flows.dropped);
	for (unsigned s = 0; s < t->nslots; s++) {
		const struct tpad_slot *sl = &t->slots[s];
		if (sl->conns || sl->rx || sl->tx)
			fprintf(f,
			        "slot %u pid %d name %s ports %u rx %llu rx_dropped %llu "
			        "tx %llu tx_refused %llu\n",
			        s, (int)sl->pid, sl->name[0] ? sl->name : "-", sl->ports,
			        (unsigned long long)sl->rx, (unsigned long long)sl->rx_dropped,
			        (unsigned long long)sl->tx, (unsigned long long)sl->tx_refused);
	}
	fclose(f);
	rename(tmp, path);
}

/* Counter files of tpads that were killed (SIGKILL leaves them). */
static void sweep_stats(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int pid = 0;
		char tail[16] = "";
		if (sscanf(de->d_name, "tpad-%d.%15s", &pid, tail) != 2 || pid <= 0 ||
		    (strcmp(tail, "stats") && strcmp(tail, "stats.tmp")))
			continue;
		if (kill(pid, 0) < 0 && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
}

static void run(struct tpad *t)
{
	uint64_t idle_since = 0, next_ctl = 0, next_stats = 0;
	while (!t->stop) {
		unsigned work = tpad_switch_round(t);
		uint64_t now = tpad_now_ns();
		if (now >= next_stats) {
			write_stats(t, 0);
			next_stats = now + 1000000000ull;
		}
		if (work) {
			idle_since = 0;
			if (now >= next_ctl) { /* requests and leases while busy */
				wait_round(t, &(uint64_t){now}, now);
				next_ctl = now + 1000000;
			}
			continue;
		}
		wait_round(t, &idle_since, now);
		if (tpad_programs(t)) {
			t->empty_since_ns = 0;
		} else if (t->idle_exit_ns) {
			if (!t->empty_since_ns)
				t->empty_since_ns = now;
			else if (now - t->empty_since_ns >= t->idle_exit_ns)
				break;
		}
	}
}

static void finish(struct tpad *t)
{
	write_stats(t, 1);
	for (unsigned s = 0; s < t->nslots; s++)
		if (t->slots[s].conns)
			tpad_switch_reset_slot(t, s);
	if (t->xdp_open)
		xdp_ctl_close(&t->xdp, 1);
	watchdog_stop(t->watchdog_fd);
	iface_lock_remove_at_exit();
}

int main(int argc, char **argv)
{
	struct tpad_args a;
	if (parse_args(argc, argv, &a))
		return 2;
	struct tpad *t = &tpad;
	snprintf(t->iface, sizeof(t->iface), "%s", a.iface);
	t->nslots = a.slots;
	t->spin_ns = (uint64_t)a.spin_us * 1000u;
	t->on_demand = a.on_demand;
	long idle = a.idle_exit_s >= 0 ? a.idle_exit_s : a.on_demand ? 5 : 0;
	t->idle_exit_ns = (uint64_t)idle * 1000000000ull;
	t->watchdog_fd = t->lock_fd = t->ctl_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, a.on_demand ? SIG_IGN : on_signal);

	struct tpa_engine_config cfg;
	tpa_engine_config_init(&cfg);
	char err[512] = "";
	if (tpa_engine_config_from_env(&cfg, err, sizeof(err)) == 0) {
		cfg.port_kind = TPA_PORT_AF_XDP;
		snprintf(cfg.iface, sizeof(cfg.iface), "%s", a.iface);
	}
	char xdp_prog[TPA_ENGINE_PATH_MAX];
	int rc = err[0] ? -EINVAL : 0;
	if (!rc && geteuid() != 0)
		rc = engine_seterr(err, sizeof(err), EPERM,
		                   "needs root (it attaches XDP and opens AF_XDP sockets); start "
		                   "it as root, e.g. `systemctl start tpad@%s`",
		                   a.iface);
	if (!rc && (rc = tpad_ctl_open(t, err, sizeof(err))) == -EADDRINUSE) {
		tell_ready(a.ready_fd, "ok\n"); /* another tpad serves it: fine */
		return 0;
	}
	if (!rc)
		rc = take_interface(t, &cfg, xdp_prog, err, sizeof(err));
	if (!rc)
		rc = start_eal(t, &cfg, xdp_prog, err, sizeof(err));
	if (!rc)
		rc = start_ports(t, err, sizeof(err));
	if (!rc && tpad_switch_init(t))
		rc = engine_seterr(err, sizeof(err), ENOMEM, "flow table: out of memory");
	if (!rc)
		rc = tpad_ctl_listen(t, err, sizeof(err));
	if (rc) {
		char line[600];
		snprintf(line, sizeof(line), "tpad: %s: %s\n", a.iface, err);
		fputs(line, stderr);
		tell_ready(a.ready_fd, line);
		finish(t);
		return 1;
	}
	if (a.on_demand) {
		setsid();
		(void)!freopen("/dev/null", "r", stdin);
		(void)!freopen("/dev/null", "w", stdout);
		(void)!freopen("/dev/null", "w", stderr);
	}
	tell_ready(a.ready_fd, "ok\n");
	sweep_stats();
	run(t);
	finish(t);
	return 0;
}
