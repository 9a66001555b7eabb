#!/usr/bin/env python3
"""A small RESP client that checks every reply byte for byte.

usage: redis_check.py HOST PORT MODE [args]
  data N        N keys with random values (1 B .. 256 KiB), SET then GET pipelined, verified
  pipeline N    N commands written before reading any reply; every reply checked in order
  hold SECONDS  keep one connection open, PING every 50 ms, fail on any error or wrong reply
  abort N       write N commands, then reset the connection (SO_LINGER 0) without reading
Exit 0 only when every reply is exactly as expected.
"""
import os
import random
import socket
import struct
import sys
import time


class Resp:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return (kind, rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise ValueError("bad reply line %r" % line)

    def send(self, data):
        self.s.sendall(data)


def expect(got, want, what):
    if got != want:
        shown = repr(got)[:200]
        raise SystemExit("FAIL %s: got %s, expected %s" % (what, shown, repr(want)[:200]))


def mode_data(r, n):
    rnd = random.Random(42)
    values = {}
    for i in range(n):
        size = rnd.choice([1, 10, 100, 1000, 1460, 4096, 65536, 262144])
        values[b"tpa:key:%d" % i] = os.urandom(size)
    r.send(b"".join(Resp.encode("SET", k, v) for k, v in values.items()))
    for k in values:
        expect(r.reply(), (b"+", b"OK"), "SET %s" % k)
    r.send(b"".join(Resp.encode("GET", k) for k in values))
    for k, v in values.items():
        expect(r.reply(), v, "GET %s" % k)
    r.send(Resp.encode("DEL", *values.keys()))
    expect(r.reply(), len(values), "DEL")
    print("ok: %d values (%d bytes) written and read back exactly" %
          (n, sum(len(v) for v in values.values())))


def mode_pipeline(r, n):
    r.send(Resp.encode("DEL", "tpa:counter"))
    r.reply()
    r.send(b"".join(Resp.encode("INCR", "tpa:counter") for _ in range(n)))
    for i in range(1, n + 1):
        expect(r.reply(), i, "INCR #%d" % i)
    print("ok: %d pipelined INCR replies in order" % n)


def mode_hold(r, seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        r.send(Resp.encode("PING"))
        expect(r.reply(), (b"+", b"PONG"), "PING #%d" % n)
        n += 1
        time.sleep(0.05)
    print("ok: connection held %.1f s, %d PINGs answered" % (seconds, n))


def mode_abort(r, n):
    r.send(b"".join(Resp.encode("SET", "tpa:abort:%d" % i, "x" * 100) for i in range(n)))
    r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r.s.close()
    print("ok: wrote %d commands and reset the connection" % n)


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    arg = float(sys.argv[4]) if len(sys.argv) > 4 else 100
    r = Resp(host, port)
    {"data": lambda: mode_data(r, int(arg)), "pipeline": lambda: mode_pipeline(r, int(arg)),
     "hold": lambda: mode_hold(r, arg), "abort": lambda: mode_abort(r, int(arg))}[mode]()


if __name__ == "__main__":
    main()
