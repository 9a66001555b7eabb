#!/usr/bin/env python3
"""Kernel-side TCP helpers for the dpdk/ end-to-end tests.

  echo HOST PORT BYTES [SEED]   send BYTES pseudo-random bytes, read the echo concurrently,
                                exit 0 only if every byte came back in order
  echo-ipopt HOST PORT BYTES    like echo, with IPv4 options on every packet (IHL 6)
  send HOST PORT BYTES          send BYTES of the example's test pattern, print sent count
  recv HOST PORT BYTES          read until EOF, exit 0 only if exactly BYTES of the example's
                                test pattern arrived
  connect HOST PORT             exit 0 if a connection is accepted
  echo-server HOST PORT COUNT   serve COUNT connections: echo everything until EOF, then close
"""
import hashlib
import os
import socket
import sys
import threading

CHUNK = 1 << 16


def pattern_stream():
    """The example's pattern: xorshift64 words, little-endian bytes."""
    x = 0x9E3779B97F4A7C15
    mask = (1 << 64) - 1
    while True:
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        yield x.to_bytes(8, "little")


def pattern_bytes(n):
    out = bytearray()
    for w in pattern_stream():
        out += w
        if len(out) >= n:
            return bytes(out[:n])


def rand_block(seed, i):
    return hashlib.sha256(b"%d:%d" % (seed, i)).digest() * (CHUNK // 32)


def echo(host, port, total, seed, ip_options=None):
    s = socket.socket()
    if ip_options:
        # Every packet of this connection carries IPv4 options (IHL > 5).
        s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, ip_options)
    s.settimeout(60)
    s.connect((host, port))
    s.settimeout(120)
    err = []

    def sender():
        try:
            sent, i = 0, 0
            while sent < total:
                blk = rand_block(seed, i)[: total - sent]
                s.sendall(blk)
                sent += len(blk)
                i += 1
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported by the main thread
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    got, i, pending = 0, 0, b""
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        pending += b
        while len(pending) >= CHUNK or (pending and got + len(pending) >= total):
            want = rand_block(seed, i)[: min(CHUNK, total - got)]
            if len(pending) < len(want):
                break
            if pending[: len(want)] != want:
                print("echo: data differs in block %d (offset %d)" % (i, got), file=sys.stderr)
                return 1
            pending = pending[len(want):]
            got += len(want)
            i += 1
            if got >= total:
                break
    t.join()
    if err:
        print("echo: send failed: %r" % err[0], file=sys.stderr)
        return 1
    if got != total or pending:
        print("echo: got %d of %d bytes (+%d extra)" % (got, total, len(pending)), file=sys.stderr)
        return 1
    print("echo: %d bytes each way, identical" % total)
    return 0


def pattern_chunks(total):
    gen = pattern_stream()
    left = total
    while left > 0:
        words = min(8192, (left + 7) // 8)
        blk = b"".join(next(gen) for _ in range(words))[:left]
        left -= len(blk)
        yield blk


def send(host, port, total):
    s = socket.create_connection((host, port), timeout=60)
    sent = 0
    for blk in pattern_chunks(total):
        s.sendall(blk)
        sent += len(blk)
    s.shutdown(socket.SHUT_WR)
    while s.recv(CHUNK):
        pass
    print("send: %d bytes" % sent)
    return 0


def recv(host, port, total):
    s = socket.create_connection((host, port), timeout=60)
    s.settimeout(120)
    data = bytearray()
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        data += b
    if len(data) != total:
        print("recv: got %d of %d bytes" % (len(data), total), file=sys.stderr)
        return 1
    off = 0
    for blk in pattern_chunks(total):
        if data[off:off + len(blk)] != blk:
            print("recv: data differs near offset %d" % off, file=sys.stderr)
            return 1
        off += len(blk)
    print("recv: %d bytes, identical" % total)
    return 0


def connect(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.close()
    return 0


def echo_server(host, port, count):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(64)
    print("listening", flush=True)

    def serve(c):
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
        c.close()

    threads = []
    for _ in range(count):
        c, _addr = ls.accept()
        t = threading.Thread(target=serve, args=(c,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return 0


def main():
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "echo":
        seed = int(sys.argv[5]) if len(sys.argv) > 5 else os.getpid()
        return echo(host, port, int(sys.argv[4]), seed)
    if cmd == "echo-ipopt":
        # 3 NOPs + end of options: the header grows to 24 bytes.
        return echo(host, port, int(sys.argv[4]), 5, ip_options=b"\x01\x01\x01\x00")
    if cmd == "send":
        return send(host, port, int(sys.argv[4]))
    if cmd == "recv":
        return recv(host, port, int(sys.argv[4]))
    if cmd == "echo-server":
        return echo_server(host, port, int(sys.argv[4]))
    if cmd == "connect":
        return connect(host, port)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
