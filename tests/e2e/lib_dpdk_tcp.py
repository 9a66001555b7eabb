#!/usr/bin/env python3
"""Kernel-side TCP helpers for the dpdk/ end-to-end tests.

  echo HOST PORT BYTES [SEED] [--peer-log LOG]
                                send BYTES of data stream SEED, read the echo concurrently,
                                exit 0 only if every byte came back in order and the SHA-256
                                of all sent equals that of all received
  echo-ipopt HOST PORT BYTES [--peer-log LOG]
                                like echo, with IPv4 options on every packet (IHL 6)
  send HOST PORT BYTES [--peer-log LOG]
                                send BYTES of the example's test pattern, print sent count
  recv HOST PORT BYTES [--peer-log LOG]
                                read until EOF, exit 0 only if exactly BYTES of the example's
                                test pattern arrived
  connect HOST PORT             exit 0 if a connection is accepted
  echo-server HOST PORT COUNT   serve COUNT connections: echo everything until EOF, then close;
                                prints "conn rx=N tx=N rx_sha256=H tx_sha256=H" for each
  mirror LOG_A LOG_B COUNT      LOG_A reports COUNT connections (tpa_example --sha256 "result
                                conn" lines, or echo-server "conn" lines) and each has its
                                mirror image in LOG_B: rx and tx swapped, bytes and SHA-256
  selftest                      the stream and the verifier catch misplaced, lost and extra
                                bytes (no network)

Each transfer prints "sha256 sent=H received=H" (hex SHA-256 of everything this end sent and
received). --peer-log LOG: the peer is tpa_example --sha256 writing LOG; it must report this
connection with the mirror image (its rx = our sent, its tx = our received, bytes and SHA-256),
so the example's own view of the stream is checked too.

Data streams: every offset holds its own bytes (SHAKE-128 keyed by seed and block number), so a
segment delivered at any wrong offset is caught, whatever the shift.
"""
import hashlib
import os
import re
import socket
import sys
import threading
import time

CHUNK = 1 << 16
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


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


def stream_block(seed, i):
    """Block i (CHUNK bytes) of data stream seed. SHAKE-128 output never repeats, unlike a
    digest repeated to fill a block (a shift by a multiple of its length went unseen)."""
    return hashlib.shake_128(b"tpa-e2e stream %d block %d" % (seed, i)).digest(CHUNK)


def stream_chunks(seed, total):
    i = 0
    while total > 0:
        blk = stream_block(seed, i)
        if total < len(blk):
            blk = blk[:total]
        total -= len(blk)
        i += 1
        yield blk


class Verifier:
    """Checks bytes as they arrive, in any sizes, against an expected stream of blocks; hashes
    them. bad_at: stream offset of the first wrong byte (None while all is well)."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.want, self.off = b"", 0
        self.got = 0
        self.extra = 0
        self.bad_at = None
        self.sha = hashlib.sha256()

    def feed(self, data):
        self.sha.update(data)
        pos = 0
        while pos < len(data) and self.bad_at is None:
            if self.off == len(self.want):
                self.want, self.off = next(self.blocks, b""), 0
                if not self.want:
                    self.extra += len(data) - pos
                    break
            n = min(len(data) - pos, len(self.want) - self.off)
            if data[pos:pos + n] != self.want[self.off:self.off + n]:
                k = next(j for j in range(n) if data[pos + j] != self.want[self.off + j])
                self.bad_at = self.got + k
            self.got += n
            self.off += n
            pos += n

    def problem(self, total):
        if self.bad_at is not None:
            return "data differs at offset %d" % self.bad_at
        if self.got != total or self.extra:
            return "got %d of %d bytes (+%d extra)" % (self.got, total, self.extra)
        return None


def check_peer_log(log, what, peer_rx, peer_tx, rx_sha, tx_sha):
    """The example's result line for this connection, as the mirror image of ours."""
    want = re.compile(r"^result conn rx=%d tx=%d .*rx_sha256=%s tx_sha256=%s ok$" %
                      (peer_rx, peer_tx, rx_sha, tx_sha))
    lines = []
    for _ in range(100):  # the peer prints as it closes: at most a moment after our EOF
        try:
            with open(log) as f:
                lines = [ln.rstrip("\n") for ln in f if ln.startswith("result conn")]
        except OSError:
            pass
        if any(want.match(ln) for ln in lines):
            print("%s: the peer reports the same bytes (rx %d, tx %d) and SHA-256" %
                  (what, peer_rx, peer_tx))
            return 0
        time.sleep(0.1)
    print("%s: %s has no result line with rx=%d tx=%d rx_sha256=%s tx_sha256=%s; it has:" %
          (what, log, peer_rx, peer_tx, rx_sha, tx_sha), file=sys.stderr)
    for ln in lines:
        print("  " + ln, file=sys.stderr)
    return 1


def echo(host, port, total, seed, ip_options=None, peer_log=None):
    s = socket.socket()
    if ip_options:
        # Every packet of this connection carries IPv4 options (IHL > 5).
        s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, ip_options)
    s.settimeout(60)
    s.connect((host, port))
    s.settimeout(120)
    err = []
    tx_sha = hashlib.sha256()

    def sender():
        try:
            for blk in stream_chunks(seed, total):
                s.sendall(blk)
                tx_sha.update(blk)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported by the main thread
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    v = Verifier(stream_chunks(seed, total))
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        v.feed(b)
        if v.bad_at is not None:
            break
    t.join()
    if err:
        print("echo: send failed: %r" % err[0], file=sys.stderr)
        return 1
    bad = v.problem(total)
    if bad:
        print("echo: " + bad, file=sys.stderr)
        return 1
    sent, received = tx_sha.hexdigest(), v.sha.hexdigest()
    print("sha256 sent=%s received=%s" % (sent, received))
    if sent != received:
        print("echo: SHA-256 of what came back differs from what was sent", file=sys.stderr)
        return 1
    print("echo: %d bytes each way, identical" % total)
    if peer_log:
        return check_peer_log(peer_log, "echo", total, total, sent, received)
    return 0


def pattern_chunks(total):
    gen = pattern_stream()
    left = total
    while left > 0:
        words = min(8192, (left + 7) // 8)
        blk = b"".join(next(gen) for _ in range(words))[:left]
        left -= len(blk)
        yield blk


def send(host, port, total, peer_log=None):
    s = socket.create_connection((host, port), timeout=60)
    sent = 0
    sha = hashlib.sha256()
    for blk in pattern_chunks(total):
        s.sendall(blk)
        sha.update(blk)
        sent += len(blk)
    s.shutdown(socket.SHUT_WR)
    rx = hashlib.sha256()
    while True:
        b = s.recv(CHUNK)
        if not b:
            break
        rx.update(b)
    print("sha256 sent=%s received=%s" % (sha.hexdigest(), rx.hexdigest()))
    print("send: %d bytes" % sent)
    if peer_log:
        return check_peer_log(peer_log, "send", sent, 0, sha.hexdigest(), EMPTY_SHA256)
    return 0


def recv(host, port, total, peer_log=None):
    s = socket.create_connection((host, port), timeout=60)
    s.settimeout(120)
    v = Verifier(pattern_chunks(total))
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        v.feed(b)
    bad = v.problem(total)
    if bad:
        print("recv: " + bad, file=sys.stderr)
        return 1
    print("sha256 sent=%s received=%s" % (EMPTY_SHA256, v.sha.hexdigest()))
    print("recv: %d bytes, identical" % total)
    if peer_log:
        return check_peer_log(peer_log, "recv", 0, total, EMPTY_SHA256, v.sha.hexdigest())
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

    lock = threading.Lock()

    def serve(c):
        n, sha = 0, hashlib.sha256()
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            sha.update(b)
            n += len(b)
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
        c.close()
        # What came in went back out, byte for byte: one hash serves both ways.
        with lock:
            print("conn rx=%d tx=%d rx_sha256=%s tx_sha256=%s" %
                  (n, n, sha.hexdigest(), sha.hexdigest()), flush=True)

    threads = []
    for _ in range(count):
        c, _addr = ls.accept()
        t = threading.Thread(target=serve, args=(c,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return 0


CONN_RE = re.compile(r"^(?:result )?conn rx=(\d+) tx=(\d+) .*?rx_sha256=([0-9a-f]{64}) "
                     r"tx_sha256=([0-9a-f]{64})")


def conn_lines(log):
    out = []
    with open(log) as f:
        for ln in f:
            m = CONN_RE.match(ln)
            if m and not ln.rstrip().endswith(" error"):
                out.append(m.groups())
    return out


def mirror(log_a, log_b, count):
    a, b = conn_lines(log_a), conn_lines(log_b)
    if len(a) != count:
        print("mirror: %s reports %d good connections, not %d" % (log_a, len(a), count),
              file=sys.stderr)
        return 1
    for rx, tx, rx_sha, tx_sha in a:
        twin = (tx, rx, tx_sha, rx_sha)
        if twin not in b:
            print("mirror: %s has no connection with rx=%s tx=%s rx_sha256=%s tx_sha256=%s" %
                  ((log_b,) + twin), file=sys.stderr)
            return 1
        b.remove(twin)
    print("mirror: %d connections, both ends agree on bytes and SHA-256 each way" % count)
    return 0


def selftest():
    total = 1 << 20
    data = b"".join(stream_chunks(11, total))
    assert len(data) == total

    def verdict(buf, feed=1000):
        v = Verifier(stream_chunks(11, total))
        for i in range(0, len(buf), feed):
            v.feed(buf[i:i + feed])
        return v.problem(total), v.sha.hexdigest()

    assert verdict(data, 1447) == (None, hashlib.sha256(data).hexdigest())
    # One segment's payload taken from the wrong place: 4 x 1448 = 181 x 32 bytes away (the
    # old stream, a 32-byte digest repeated over each 64 KiB block, could not see this), then
    # other shifts, within a block and across blocks.
    for shift in (5792, 32, 8, 1, CHUNK, 3 * CHUNK + 64):
        bad = bytearray(data)
        bad[100000:101448] = data[100000 + shift:101448 + shift]
        assert verdict(bytes(bad))[0] == "data differs at offset 100000", shift
    assert verdict(data[:-1])[0] == "got %d of %d bytes (+0 extra)" % (total - 1, total)
    assert verdict(data + b"x")[0] == "got %d of %d bytes (+1 extra)" % (total, total)
    assert verdict(data[:5000] + data[5001:] + b"x")[0] == "data differs at offset 5000"
    # Streams of other seeds differ from the first byte.
    assert stream_block(12, 0)[:8] != stream_block(11, 0)[:8]
    print("selftest: ok")
    return 0


def main():
    args, peer_log = sys.argv[1:], None
    if args == ["selftest"]:
        return selftest()
    if len(args) == 4 and args[0] == "mirror":
        return mirror(args[1], args[2], int(args[3]))
    if "--peer-log" in args:
        k = args.index("--peer-log")
        peer_log = args[k + 1]
        del args[k:k + 2]
    cmd, host, port = args[0], args[1], int(args[2])
    if cmd == "echo":
        seed = int(args[4]) if len(args) > 4 else os.getpid()
        return echo(host, port, int(args[3]), seed, peer_log=peer_log)
    if cmd == "echo-ipopt":
        # 3 NOPs + end of options: the header grows to 24 bytes.
        return echo(host, port, int(args[3]), 5, ip_options=b"\x01\x01\x01\x00",
                    peer_log=peer_log)
    if cmd == "send":
        return send(host, port, int(args[3]), peer_log)
    if cmd == "recv":
        return recv(host, port, int(args[3]), peer_log)
    if cmd == "echo-server":
        return echo_server(host, port, int(args[3]))
    if cmd == "connect":
        return connect(host, port)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
