#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpus of tests/fuzz/fuzz_stack.c (its input format: 4 config bytes, then
operations). Real frames (raw, checksums computed here) and templated segments whose sequence
numbers the harness fills in, so the seeds reach established connections: handshakes with every
option, data with SACK and timestamps, FIN, RST, ARP, IP options, fragments, SYN cookies, zero
windows, retransmissions. Deterministic: rerun it and the files do not change.

    tests/fuzz/gen_corpus.py [DIR]   (default: tests/fuzz/corpus next to this script)
"""
import os
import struct
import sys

OUR_MAC = bytes([2, 0, 0, 0, 0, 1])
PEER_MAC = bytes([2, 0, 0, 0, 0, 2])
OUR_IP = bytes([10, 0, 0, 1])
PEER_IP = bytes([10, 0, 0, 2])

# opcodes (op % 20 in fuzz_stack.c)
SEG, RAW, RAW_IP, ARP, LISTEN, ACCEPT, CONNECT, SEND, RECV, CLOSE, SOCKOPT, CLOCK, NEXT_TIMER, \
    FAULTS, POLL = 0, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
# seg modes
SEQ_AUTO, SEQ_DELTA, SEQ_RAW, SEQ_THEIR_ACK = 0, 1, 2, 3
ACK_AUTO, ACK_DELTA, ACK_RAW, ACK_BEHIND = 0, 4, 8, 12
OPT_NONE, OPT_SYN, OPT_TS, OPT_TS_SACK, OPT_RAW, OPT_MSS, OPT_TS_RAW, OPT_SACKOK_WS = \
    (x << 4 for x in range(8))
KNOBS = 0x80


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ipv4(payload, proto=6, opts=b"", frag=0x4000, ident=1):
    ihl = 5 + len(opts) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), ident, frag, 64,
                    proto, 0, PEER_IP, OUR_IP) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def tcp(sport, dport, seq, ack, flags, win=65535, opts=b"", data=b""):
    off = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, win, 0, 0) + opts
    pseudo = PEER_IP + OUR_IP + struct.pack("!BBH", 0, 6, len(h) + len(data))
    c = csum(pseudo + h + data)
    return h[:16] + struct.pack("!H", c) + h[18:] + data


def eth(payload, ethertype=0x0800, dst=OUR_MAC):
    return dst + PEER_MAC + struct.pack("!H", ethertype) + payload


def arp(op, spa=PEER_IP, tpa=OUR_IP, dst=OUR_MAC, tha=bytes(6)):
    a = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + PEER_MAC + spa + tha + tpa
    return eth(a, 0x0806, dst)


SYN_OPTS = bytes([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 7])


def raw(frame):
    return bytes([RAW]) + struct.pack("!H", len(frame)) + frame


def seg(flow, flags, modes=0, win=65535, plen=0, extra=b""):
    """A templated segment; extra carries the mode-dependent bytes in the order op_seg reads
    them, then the split byte (unless the cut knob) and the timestamp step."""
    return bytes([SEG, flow, flags, modes]) + struct.pack("!H", win) + bytes([plen]) + extra


def plen_code(n):
    return n if n < 128 else 128 + (n + 11) // 12


def cfg(c0=0x0f, c1=0x07, c2=24, c3=0):
    return bytes([c0, c1, c2, c3])


# Common program pieces (flow 0 is peer port 40000 -> our port 80).
def handshake(flow=0, ws=7):
    return (seg(flow, SYN, OPT_SYN, extra=bytes([ws, 0, 1])) +
            seg(flow, ACK, OPT_TS, extra=bytes([0, 1])) + bytes([ACCEPT, 0]))


def data(flow, n, flags=ACK | PSH):
    return seg(flow, flags, OPT_TS, plen=plen_code(n), extra=bytes([0, 1]))


def send(sock, n, more=0):
    return bytes([SEND, sock]) + struct.pack("!H", n) + bytes([more])


def recv(sock, n, flags=0):
    return bytes([RECV, sock]) + struct.pack("!H", n) + bytes([flags])


def clock(b):
    return bytes([CLOCK, b])


SEEDS = {
    # Stateless frames as a real peer sends them.
    "syn_all_options": cfg() + raw(eth(ipv4(tcp(40000, 80, 1000, 0, SYN, opts=SYN_OPTS)))),
    "syn_plain_closed_port": cfg() + raw(eth(ipv4(tcp(40001, 81, 5, 0, SYN)))),
    "rst_closed_port": cfg() + raw(eth(ipv4(tcp(40002, 80, 5, 9, RST | ACK)))),
    "ack_no_socket": cfg() + raw(eth(ipv4(tcp(40003, 80, 5, 9, ACK, data=b"hello")))),
    "arp_request": cfg(c3=2) + raw(arp(1, dst=b"\xff" * 6)) + bytes([ARP, 0x01]),
    "arp_reply": cfg(c3=2) + bytes([CONNECT, 0]) + raw(arp(2, tha=OUR_MAC)) + bytes([ARP, 0x02]),
    "arp_gratuitous_moved": cfg() + raw(arp(1, spa=PEER_IP, tpa=PEER_IP, dst=b"\xff" * 6)) +
    bytes([ARP, 0x25]),
    "ip_options": cfg() + raw(eth(ipv4(tcp(40000, 80, 1000, 0, SYN, opts=SYN_OPTS),
                                       opts=bytes([7, 7, 4, 0, 0, 0, 0, 1])))) +
    seg(1, SYN, OPT_MSS | KNOBS, extra=b"\x05\xb4" + bytes([0x01, 2]) + bytes([1, 1, 1, 1, 1, 1, 1, 0]) +
        bytes([0, 1])),
    "ip_fragments": cfg() + raw(eth(ipv4(tcp(40000, 80, 1000, 0, SYN)[:16], frag=0x2000))) +
    raw(eth(ipv4(b"\0" * 8, frag=0x0002))) +
    seg(0, SYN, KNOBS, extra=bytes([0x02]) + b"\x20\x00" + bytes([0, 1])),
    "bad_checksums": cfg() + seg(0, SYN, KNOBS, extra=bytes([0x04, 0, 1])) +
    seg(0, SYN, KNOBS, extra=bytes([0x08, 0, 1])) +
    seg(0, SYN, KNOBS, extra=bytes([0x20, 30, 1])) +
    seg(0, SYN, KNOBS, extra=bytes([0x10, 17, 0, 1])),
    "raw_ip_udp": cfg() + bytes([RAW_IP, 28]) + ipv4(b"\0\x35\0\x35\0\x08\0\0", proto=17),
    # Conversations.
    "handshake_data_sack_fin": cfg() + handshake() + data(0, 100) + recv(1, 4096) +
    send(1, 5000) + seg(0, ACK, OPT_TS_SACK | ACK_BEHIND, extra=bytes([1, 40, 20, 0, 1])) +
    seg(0, ACK, OPT_TS, extra=bytes([0, 1])) + data(0, 10, FIN | ACK) + recv(1, 4096) +
    bytes([CLOSE, 1, 0]) + seg(0, ACK, OPT_TS, extra=bytes([0, 1])) + clock(0xff),
    "handshake_plain_rst": cfg(c0=0x10) + seg(0, SYN, extra=bytes([0, 1])) +
    seg(0, ACK, extra=bytes([0, 1])) + bytes([ACCEPT, 0]) + send(1, 100) +
    seg(0, RST, extra=bytes([0, 1])) + recv(1, 100),
    "active_open": cfg() + bytes([CONNECT, 0]) + seg(4, SYN | ACK, OPT_SYN, extra=bytes([8, 0, 1])) +
    send(1, 3000) + data(4, 1000) + recv(1, 2000, 1) + recv(1, 2000) + bytes([CLOSE, 1, 4 | 1]) +
    seg(4, ACK | FIN, OPT_TS, extra=bytes([0, 1])) + bytes([CLOSE, 1, 0]) + clock(0xfe),
    "zero_window_probe": cfg() + handshake() + send(1, 20000) +
    seg(0, ACK, OPT_TS, win=0, extra=bytes([0, 1])) + clock(0x3e) + bytes([NEXT_TIMER]) +
    bytes([NEXT_TIMER]) + seg(0, ACK, OPT_TS, win=0, extra=bytes([0, 1])) + clock(0x5e) +
    seg(0, ACK, OPT_TS, win=8192, extra=bytes([0, 1])),
    # Backlog 1: flow 0 fills the SYN queue, flow 2 gets a cookie and completes with it.
    "syn_cookies": cfg(c1=0x00) + seg(0, SYN, OPT_SYN, extra=bytes([7, 0, 1])) +
    seg(2, SYN, OPT_SYN, extra=bytes([7, 0, 1])) +
    seg(2, ACK, OPT_TS, plen=20, extra=bytes([0, 1])) + bytes([ACCEPT, 0]) +
    seg(0, ACK, OPT_TS, plen=20, extra=bytes([0, 1])) + bytes([ACCEPT, 0]) + recv(1, 100) +
    recv(2, 100),
    "retransmit_timeout": cfg(c1=0x47) + handshake() + send(1, 9000) +
    b"".join(bytes([NEXT_TIMER]) for _ in range(8)) + seg(0, ACK, OPT_TS, extra=bytes([0, 1])) +
    bytes([SOCKOPT, 1, 9]) + struct.pack("!I", 1000) + b"".join(clock(0xfd) for _ in range(4)),
    "out_of_order": cfg() + handshake() +
    seg(0, ACK, OPT_TS | SEQ_DELTA, plen=100, extra=bytes([100, 0, 1])) +
    seg(0, ACK, OPT_TS | SEQ_DELTA, plen=50, extra=bytes([250, 0, 1])) + data(0, 100) +
    recv(1, 1000) + bytes([FAULTS, 0x01 | 0x04]) + send(1, 3000) + bytes([FAULTS, 0]) +
    bytes([POLL]),
    "paws_old_ts": cfg() + handshake() +
    seg(0, ACK, OPT_TS_RAW, plen=10, extra=struct.pack("!II", 1, 0) + bytes([0, 1])) +
    data(0, 10),
    "listen_keepalive": cfg() + bytes([LISTEN, 0x0f]) + seg(1, SYN, extra=bytes([0, 1])) +
    seg(1, ACK, extra=bytes([0, 1])) + bytes([ACCEPT, 1, SOCKOPT, 2, 2]) +
    struct.pack("!I", 1) + bytes([SOCKOPT, 2, 3]) + struct.pack("!I", 1) +
    b"".join(clock(0xde) for _ in range(6)),
    "alloc_failure": cfg() + bytes([FAULTS, 0x02]) + seg(0, SYN, OPT_SYN, extra=bytes([7, 0, 1])) +
    bytes([FAULTS, 0x06]) + seg(1, SYN, OPT_SYN, extra=bytes([7, 0, 1])) +
    seg(1, ACK, OPT_TS, extra=bytes([0, 1])) + bytes([ACCEPT, 0]),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, blob in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
    print("%d seeds in %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
