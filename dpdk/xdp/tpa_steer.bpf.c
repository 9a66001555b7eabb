/* SPDX-License-Identifier: BSD-3-Clause OR GPL-2.0 */
/*
 * tpa's XDP steering program. Hands to the AF_XDP socket of the receiving queue only the
 * frames the tpa engine serves: IPv4 TCP, not a fragment, to our address, to a destination port
 * listed in tpa_ports. Everything else (ARP, ICMP, UDP, other ports, IPv6, VLAN-tagged,
 * malformed) goes on to the kernel with XDP_PASS, so the kernel keeps serving the interface.
 * If no AF_XDP socket sits on the queue, bpf_redirect_map falls back to XDP_PASS.
 * tpa_steer_tc is the af_packet variant (see below).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tpa_steer_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, TPA_STEER_XSKS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TPA_STEER_PORTS_MAX);
	__type(key, __u16);
	__type(value, __u8);
} tpa_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tpa_steer_config);
} tpa_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TPA_STEER_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tpa_stats SEC(".maps");

static __always_inline int count(__u32 stat, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&tpa_stats, &stat);
	if (n)
		*n += 1;
	return verdict;
}

/* Is this frame one the engine serves? Every header access is bounds-checked against
 * data_end first, as the verifier requires. */
/* A connection the kernel owns on a steered port (accepted by the kernel listener before the
 * stack took the port, or a handshake the kernel was in the middle of) stays the kernel's:
 * the stack would answer its segments with a reset. The lookup finds established and
 * half-open kernel sockets first, the listener (which the stack shares) only otherwise. */
static __always_inline int kernel_owns(void *ctx, struct iphdr *ip, struct tcphdr *tcp)
{
	struct bpf_sock_tuple t = {};
	t.ipv4.saddr = ip->saddr;
	t.ipv4.daddr = ip->daddr;
	t.ipv4.sport = tcp->source;
	t.ipv4.dport = tcp->dest;
	struct bpf_sock *sk = bpf_skc_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	int owned = sk->state != BPF_TCP_LISTEN;
	bpf_sk_release(sk);
	return owned;
}

static __always_inline int is_steered(void *ctx, void *data, void *data_end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return 0;
	if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_TCP)
		return 0;
	/* Fragments (MF set or an offset) go to the kernel: the stack does not reassemble. */
	if (ip->frag_off & bpf_htons(0x3fff))
		return 0;

	__u32 key = 0;
	struct tpa_steer_config *cfg = bpf_map_lookup_elem(&tpa_config, &key);
	if (!cfg)
		return 0;
	if (cfg->ipv4_addr && ip->daddr != cfg->ipv4_addr)
		return 0;

	/* IHL counts 32-bit words; options (IHL > 5) are skipped. */
	__u32 ihl_bytes = (__u32)ip->ihl * 4;
	struct tcphdr *tcp = (void *)((__u8 *)ip + ihl_bytes);
	if ((void *)(tcp + 1) > data_end)
		return 0;

	__u16 dport = bpf_ntohs(tcp->dest);
	__u8 *on = bpf_map_lookup_elem(&tpa_ports, &dport);
	if (!on || !*on)
		return 0;
	return !kernel_owns(ctx, ip, tcp);
}

SEC("xdp")
int tpa_steer(struct xdp_md *ctx)
{
	if (!is_steered(ctx, (void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return count(TPA_STEER_STAT_PASS, XDP_PASS);
	int verdict = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
	return count(verdict == XDP_REDIRECT ? TPA_STEER_STAT_REDIRECT : TPA_STEER_STAT_NO_SOCKET,
	             verdict);
}

/*
 * The same decision at the tc ingress hook, for af_packet ports: packet sockets (the engine's)
 * get their copy before tc ingress runs, so dropping the engine's frames here keeps the kernel's
 * TCP from answering them (with RSTs) while the kernel still sees everything else.
 */
SEC("tc")
int tpa_steer_tc(struct __sk_buff *skb)
{
	/* Headers may sit in paged data: make the most we ever look at linear. */
	const __u32 want = sizeof(struct ethhdr) + 60 + sizeof(struct tcphdr);
	if ((void *)(long)skb->data + want > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);
	if (!is_steered(skb, (void *)(long)skb->data, (void *)(long)skb->data_end))
		return count(TPA_STEER_STAT_PASS, TC_ACT_OK);
	return count(TPA_STEER_STAT_REDIRECT, TC_ACT_SHOT);
}

char _license[] SEC("license") = "Dual BSD/GPL";
