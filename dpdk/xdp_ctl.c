/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control of the steering program attached to the interface (DPDK's af_xdp PMD loads and
 * attaches it). Its maps are found through the attached program (program id -> map ids ->
 * names), never through bpffs pins, which do not survive `ip netns exec`.
 * Detaching is conditional on the attached program still being the one we know, so we never
 * remove a program somebody attached after us.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine_impl.h"
#include "tpa_steer_maps.h"

/* The attached program's id and mode flag (XDP_FLAGS_DRV_MODE / SKB_MODE / HW_MODE). */
static int attached_prog(int ifindex, uint32_t *id, uint32_t *mode_flag)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int rc = bpf_xdp_query(ifindex, 0, &q);
	if (rc)
		return rc;
	*id = q.prog_id;
	switch (q.attach_mode) {
	case XDP_ATTACHED_SKB:
		*mode_flag = XDP_FLAGS_SKB_MODE;
		break;
	case XDP_ATTACHED_HW:
		*mode_flag = XDP_FLAGS_HW_MODE;
		break;
	default:
		*mode_flag = XDP_FLAGS_DRV_MODE;
		break;
	}
	return 0;
}

static int prog_name(uint32_t id, char *name, size_t len)
{
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return fd;
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	uint32_t ilen = sizeof(info);
	int rc = bpf_obj_get_info_by_fd(fd, &info, &ilen);
	close(fd);
	if (rc)
		return rc;
	snprintf(name, len, "%s", info.name);
	return 0;
}

/* Detach program `id` from ifindex if it is still the attached one. */
static int detach_if_same(int ifindex, uint32_t id)
{
	uint32_t cur, mode;
	if (attached_prog(ifindex, &cur, &mode) || cur != id || !id)
		return 0;
	int pfd = bpf_prog_get_fd_by_id(id);
	if (pfd < 0)
		return pfd;
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = pfd);
	int rc = bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &o);
	close(pfd);
	return rc ? rc : 1;
}

int xdp_ctl_detach_prog(int ifindex, uint32_t id)
{
	return detach_if_same(ifindex, id);
}

int xdp_ctl_detach_current(int ifindex)
{
	uint32_t id, mode;
	if (attached_prog(ifindex, &id, &mode) || !id)
		return 0;
	char name[32] = "";
	if (prog_name(id, name, sizeof(name)) || strcmp(name, TPA_STEER_PROG_NAME))
		return -EBUSY;
	return detach_if_same(ifindex, id);
}

int xdp_ctl_add_xsk(struct xdp_ctl *x, uint32_t queue, int xsk_fd)
{
	if (x->xsks_fd < 0)
		return -ENOENT;
	return bpf_map_update_elem(x->xsks_fd, &queue, &xsk_fd, BPF_ANY) ? -errno : 0;
}

int xdp_ctl_clear_stale(int ifindex, char *err, size_t errlen)
{
	uint32_t id, mode;
	if (attached_prog(ifindex, &id, &mode) || !id)
		return 0;
	char name[32] = "";
	if (prog_name(id, name, sizeof(name)) == 0 && !strcmp(name, TPA_STEER_PROG_NAME)) {
		int rc = detach_if_same(ifindex, id);
		return rc < 0 ? engine_seterr(err, errlen, -rc,
		                              "XDP: cannot remove a stale tpa program (id %u): %s",
		                              id, strerror(-rc))
		              : 1;
	}
	return engine_seterr(
	        err, errlen, EBUSY,
	        "XDP: interface already carries another XDP program ('%s', id %u); "
	        "remove it (ip link set dev <iface> xdp off) or use TPA_PORT_TYPE=af_packet",
	        name, id);
}

int xdp_ctl_open(struct xdp_ctl *x, int ifindex, uint32_t ipv4_addr_be, char *err, size_t errlen)
{
	memset(x, 0, sizeof(*x));
	x->ifindex = ifindex;
	x->ports_fd = x->config_fd = x->stats_fd = x->xsks_fd = -1;
	uint32_t mode;
	if (attached_prog(ifindex, &x->prog_id, &mode) || !x->prog_id)
		return engine_seterr(err, errlen, ENOENT,
		                     "XDP: no program attached to ifindex %d after port start",
		                     ifindex);
	int pfd = bpf_prog_get_fd_by_id(x->prog_id);
	if (pfd < 0)
		return engine_seterr(err, errlen, -pfd, "XDP: program %u: %s", x->prog_id,
		                     strerror(-pfd));
	uint32_t map_ids[16];
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 16;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	uint32_t ilen = sizeof(info);
	int rc = bpf_obj_get_info_by_fd(pfd, &info, &ilen);
	close(pfd);
	if (rc)
		return engine_seterr(err, errlen, -rc, "XDP: program info: %s", strerror(-rc));
	if (strcmp(info.name, TPA_STEER_PROG_NAME))
		return engine_seterr(
		        err, errlen, EINVAL,
		        "XDP: the attached program is '%s', not tpa's '%s' (TPA_XDP_PROG "
		        "must be tpa_steer.bpf.o)",
		        info.name, TPA_STEER_PROG_NAME);
	for (uint32_t i = 0; i < info.nr_map_ids && i < 16; i++) {
		int mfd = bpf_map_get_fd_by_id(map_ids[i]);
		if (mfd < 0)
			continue;
		struct bpf_map_info mi;
		memset(&mi, 0, sizeof(mi));
		uint32_t mlen = sizeof(mi);
		if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen)) {
			close(mfd);
			continue;
		}
		int *slot = !strcmp(mi.name, TPA_STEER_MAP_PORTS)    ? &x->ports_fd
		            : !strcmp(mi.name, TPA_STEER_MAP_CONFIG) ? &x->config_fd
		            : !strcmp(mi.name, TPA_STEER_MAP_STATS)  ? &x->stats_fd
		            : !strcmp(mi.name, TPA_STEER_MAP_XSKS)   ? &x->xsks_fd
		                                                     : NULL;
		if (slot && *slot < 0)
			*slot = mfd;
		else
			close(mfd);
	}
	if (x->ports_fd < 0 || x->config_fd < 0) {
		xdp_ctl_close(x, 0);
		return engine_seterr(err, errlen, ENOENT,
		                     "XDP: program %u lacks the %s/%s maps (wrong object file?)",
		                     x->prog_id, TPA_STEER_MAP_PORTS, TPA_STEER_MAP_CONFIG);
	}
	struct tpa_steer_config c = {.ipv4_addr = ipv4_addr_be};
	uint32_t key = 0;
	rc = bpf_map_update_elem(x->config_fd, &key, &c, BPF_ANY);
	if (rc) {
		xdp_ctl_close(x, 0);
		return engine_seterr(err, errlen, -rc, "XDP: setting the address: %s",
		                     strerror(-rc));
	}
	return 0;
}

int xdp_ctl_steer(struct xdp_ctl *x, uint16_t port, int on)
{
	if (x->ports_fd < 0)
		return -ENODEV;
	if (on) {
		uint8_t one = 1;
		return bpf_map_update_elem(x->ports_fd, &port, &one, BPF_ANY);
	}
	int rc = bpf_map_delete_elem(x->ports_fd, &port);
	return rc == -ENOENT ? 0 : rc;
}

void xdp_ctl_stats(struct xdp_ctl *x, uint64_t *redirected, uint64_t *passed, uint64_t *no_socket)
{
	*redirected = *passed = *no_socket = 0;
	if (x->stats_fd < 0)
		return;
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || ncpu > 1024)
		return;
	uint64_t vals[1024];
	for (uint32_t key = 0; key < TPA_STEER_STAT_MAX; key++) {
		if (bpf_map_lookup_elem(x->stats_fd, &key, vals))
			continue;
		uint64_t sum = 0;
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
		if (key == TPA_STEER_STAT_REDIRECT)
			*redirected = sum;
		else if (key == TPA_STEER_STAT_PASS)
			*passed = sum;
		else
			*no_socket = sum;
	}
}

/* ---- tc variant (af_packet) ------------------------------------------------------------ */

#define TPA_TC_HANDLE 0x7470 /* "tp" */
#define TPA_TC_PRIO   1

int xdp_ctl_tc_detach(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = TPA_TC_HANDLE, .priority = TPA_TC_PRIO);
	if (bpf_tc_query(&hook, &q))
		return 0;
	/* Only ours: same handle/priority and the program's name. */
	char name[32] = "";
	if (prog_name(q.prog_id, name, sizeof(name)) || strcmp(name, TPA_STEER_TC_PROG_NAME))
		return 0;
	LIBBPF_OPTS(bpf_tc_opts, d, .handle = TPA_TC_HANDLE, .priority = TPA_TC_PRIO);
	return bpf_tc_detach(&hook, &d) ? -1 : 1;
}

/* A veth segments what it receives only if the peer's kernel does (TSO), and it turns the
 * peer's TSO off only while an XDP program runs natively on this end. A packet socket would
 * otherwise get 64 KiB GSO frames that no packet buffer holds. The program passes everything
 * here (its socket map stays empty); the tc filter does the steering. */
static uint32_t attach_xdp_pass(struct bpf_object *obj, int ifindex)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, TPA_STEER_PROG_NAME);
	if (!p)
		return 0;
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	if (bpf_xdp_attach(ifindex, bpf_program__fd(p),
	                   XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, &o))
		return 0;
	uint32_t id = 0, mode = 0;
	return attached_prog(ifindex, &id, &mode) == 0 ? id : 0;
}

int xdp_ctl_open_tc(struct xdp_ctl *x, int ifindex, const char *obj_path, uint32_t ipv4_addr_be,
                    int segment_on_peer, char *err, size_t errlen)
{
	memset(x, 0, sizeof(*x));
	x->ifindex = ifindex;
	x->ports_fd = x->config_fd = x->stats_fd = x->xsks_fd = -1;
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (!obj)
		return engine_seterr(err, errlen, errno ? errno : EINVAL,
		                     "TPA_XDP_PROG: cannot open %s", obj_path);
	int rc = bpf_object__load(obj);
	struct bpf_program *prog =
	        rc ? NULL : bpf_object__find_program_by_name(obj, TPA_STEER_TC_PROG_NAME);
	if (!prog) {
		bpf_object__close(obj);
		return engine_seterr(err, errlen, rc ? -rc : ENOENT,
		                     "TPA_XDP_PROG: %s: loading the tc program '%s' failed%s%s",
		                     obj_path, TPA_STEER_TC_PROG_NAME, rc ? ": " : "",
		                     rc ? strerror(-rc) : "");
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST) {
		bpf_object__close(obj);
		return engine_seterr(err, errlen, -rc, "tc: creating the ingress hook: %s",
		                     strerror(-rc));
	}
	x->tc_hook_created = rc == 0;
	/* REPLACE: a filter left by a dead engine is taken over. */
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = TPA_TC_HANDLE, .priority = TPA_TC_PRIO,
	            .prog_fd = bpf_program__fd(prog), .flags = BPF_TC_F_REPLACE);
	rc = bpf_tc_attach(&hook, &o);
	if (rc) {
		bpf_object__close(obj);
		return engine_seterr(err, errlen, -rc, "tc: attaching %s: %s",
		                     TPA_STEER_TC_PROG_NAME, strerror(-rc));
	}
	x->tc = 1;
	x->prog_id = o.prog_id;
	if (segment_on_peer)
		x->xdp_pass_id = attach_xdp_pass(obj, ifindex);
	x->ports_fd = dup(bpf_object__find_map_fd_by_name(obj, TPA_STEER_MAP_PORTS));
	x->config_fd = dup(bpf_object__find_map_fd_by_name(obj, TPA_STEER_MAP_CONFIG));
	x->stats_fd = dup(bpf_object__find_map_fd_by_name(obj, TPA_STEER_MAP_STATS));
	bpf_object__close(obj); /* the attached filter keeps the program and its maps */
	struct tpa_steer_config c = {.ipv4_addr = ipv4_addr_be};
	uint32_t key = 0;
	if (x->ports_fd < 0 || x->config_fd < 0 ||
	    bpf_map_update_elem(x->config_fd, &key, &c, BPF_ANY)) {
		xdp_ctl_close(x, 1);
		return engine_seterr(err, errlen, EINVAL, "tc: %s lacks its maps", obj_path);
	}
	return 0;
}

int xdp_ctl_close(struct xdp_ctl *x, int detach)
{
	int rc = 0;
	int *fds[] = {&x->ports_fd, &x->config_fd, &x->stats_fd, &x->xsks_fd};
	for (size_t i = 0; i < 4; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	if (detach && x->tc) {
		if (xdp_ctl_tc_detach(x->ifindex) < 0)
			rc = -EPERM;
		if (x->tc_hook_created) {
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = x->ifindex,
			            .attach_point = BPF_TC_INGRESS);
			bpf_tc_hook_destroy(&hook);
		}
	} else if (detach && x->prog_id && detach_if_same(x->ifindex, x->prog_id) < 0) {
		rc = -EPERM;
	}
	if (detach && x->xdp_pass_id && detach_if_same(x->ifindex, x->xdp_pass_id) < 0)
		rc = -EPERM;
	x->xdp_pass_id = 0;
	x->prog_id = 0;
	x->tc = 0;
	return rc;
}
