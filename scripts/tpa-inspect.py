#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tpa sockets / tpa stats: look inside running accelerated programs.

Every engine publishes its counters and socket table in <dir>/tpa-<pid>.stats (dir:
TPA_PUBLISH_DIR, default /dev/shm); the layout is shim/publish.h. This reads those files:
no signal, no ptrace, the program is never stopped. A reader allowed to write the file (its
owner, root) asks the program for a fresh copy and waits for it (at most --wait seconds);
others read what is there (counters at most a second old, the last socket walk).

  tpa sockets [--pid P] [--json] [--listen | --connections]
  tpa stats   [--pid P] [--json] [--interval S [--count N]] [--zeros]
"""
import argparse
import errno
import fcntl
import glob
import json
import os
import socket
import stat
import struct
import sys
import time

MAGIC = 0x3142555041505400
VERSION = 1
HEADER_READ = 324 + 4 * 256  # up to the end of family_pids
COUNTER = struct.Struct("<48sQII")
SOCK = struct.Struct("<iBBBBIIHHiIIIIIIIIIIIIIIIIQQQ16x")
GAUGE = 1
SK_ORPHAN, SK_UNACCEPTED, SK_TS, SK_SACK = 1, 2, 4, 8
STATES = {1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
          6: "TIME-WAIT", 7: "CLOSED", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN",
          11: "CLOSING"}
SOCK_FIELDS = ("id", "state", "flags", "snd_wscale", "rcv_wscale", "laddr", "raddr", "lport",
               "rport", "pid", "nholders", "rcv_queued", "snd_queued", "backlog", "acc_queued",
               "syn_queued", "rtt_us", "rttvar_us", "rto_ms", "snd_mss", "rcv_mss", "cwnd",
               "ssthresh", "snd_wnd", "rcv_wnd", "pad0", "retransmits", "bytes_acked",
               "bytes_received")
assert COUNTER.size == 64 and SOCK.size == 128


def die(msg):
    print("tpa: " + msg, file=sys.stderr)
    sys.exit(2)


def u64(b, off):
    return struct.unpack_from("<Q", b, off)[0]


def u32(b, off):
    return struct.unpack_from("<I", b, off)[0]


def i32(b, off):
    return struct.unpack_from("<i", b, off)[0]


def cstr(b):
    return b.split(b"\0", 1)[0].decode(errors="replace")


def pid_alive(pid):
    return pid > 0 and os.path.exists("/proc/%d" % pid)


def comm_of(pid, default):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() or default
    except OSError:
        return default


class Program:
    """One published file, opened for reading (and writing, when allowed)."""

    def __init__(self, path, fd, writable, hdr):
        self.path, self.fd, self.writable = path, fd, writable
        self.hdr = hdr
        self.pid = i32(hdr, 48)
        self.comm = cstr(hdr[56:72])
        self.iface = cstr(hdr[72:104])
        self.ipv4 = socket.inet_ntoa(hdr[104:108])
        self.counters_off = u64(hdr, 24)
        self.socks_off = u64(hdr, 40)
        self.max_sockets = u32(hdr, 52)

    def close(self):
        os.close(self.fd)

    def read(self, off, n):
        return os.pread(self.fd, n, off)

    def request(self, wait_s):
        """Ask for a fresh copy (counters and sockets); True once it is there."""
        if not self.writable:
            return False
        req = u64(self.read(128, 8), 0) + 1
        os.pwrite(self.fd, struct.pack("<Q", req), 128)
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            served = u64(self.read(136, 8), 0)
            if served >= req:
                return True
            time.sleep(0.002)
        return False

    def _consistent(self, seq_off, body):
        """Copy a section behind its sequence lock (odd while written)."""
        for _ in range(2000):
            s1 = u64(self.read(seq_off, 8), 0)
            if s1 & 1:
                time.sleep(0.0005)
                continue
            data = body()
            if u64(self.read(seq_off, 8), 0) == s1:
                return data
        raise RuntimeError("%s: the copy kept changing" % self.path)

    def counters(self):
        def body():
            h = self.read(192, 24)
            t, n, wpid = u64(h, 8), u32(h, 16), i32(h, 20)
            raw = self.read(self.counters_off, n * COUNTER.size)
            out = []
            for i in range(len(raw) // COUNTER.size):
                name, value, flags, _ = COUNTER.unpack_from(raw, i * COUNTER.size)
                out.append((cstr(name), value, flags))
            return t, wpid, out
        return self._consistent(192, body)

    def sockets(self):
        def body():
            h = self.read(256, 64 + 4 + 4 * 256)
            t, n, total, wpid = u64(h, 8), u32(h, 16), u32(h, 20), i32(h, 28)
            nfam = min(u32(h, 64), 256)
            fam = list(struct.unpack_from("<%di" % nfam, h, 68))
            raw = self.read(self.socks_off, n * SOCK.size)
            socks = [dict(zip(SOCK_FIELDS, SOCK.unpack_from(raw, i * SOCK.size)))
                     for i in range(len(raw) // SOCK.size)]
            return t, total, wpid, fam, socks
        return self._consistent(256, body)


def open_programs(args):
    """The live programs' files (stale ones are removed when allowed, else skipped)."""
    d = args.dir or os.environ.get("TPA_PUBLISH_DIR") or "/dev/shm"
    progs = []
    for path in sorted(glob.glob(os.path.join(d, "tpa-*.stats"))):
        flags = os.O_NOFOLLOW | os.O_NONBLOCK  # never block on a FIFO named like ours
        try:
            fd, writable = os.open(path, os.O_RDWR | flags), True
        except PermissionError:
            try:
                fd, writable = os.open(path, os.O_RDONLY | flags), False
            except OSError:
                continue
        except OSError:
            continue
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            continue
        hdr = os.pread(fd, HEADER_READ, 0)
        if len(hdr) < HEADER_READ or u64(hdr, 0) != MAGIC:
            os.close(fd)
            continue
        if u32(hdr, 8) != VERSION or u32(hdr, 16) != COUNTER.size or u32(hdr, 32) != SOCK.size:
            print("tpa: %s: layout version %d, this tool reads %d" % (path, u32(hdr, 8), VERSION),
                  file=sys.stderr)
            os.close(fd)
            continue
        # The family holds a shared lock while any of its processes lives.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            stale = not pid_alive(i32(hdr, 48))
            if stale:
                try:
                    os.unlink(path)
                except OSError:
                    pass
            fcntl.flock(fd, fcntl.LOCK_UN)
            if stale:
                os.close(fd)
                continue
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        p = Program(path, fd, writable, hdr)
        if args.pid and args.pid != p.pid:
            # Any process of the family names it (the list comes with a socket walk).
            p.request(args.wait)
            _, _, _, fam, _ = p.sockets()
            if args.pid not in fam:
                p.close()
                continue
        progs.append(p)
    return progs


# ---- formatting ----
def human(n, unit=""):
    """1234567 -> 1.2M (SI for counts, IEC for bytes)."""
    base, suffixes = (1024.0, ["", "Ki", "Mi", "Gi", "Ti"]) if unit == "B" else \
        (1000.0, ["", "k", "M", "G", "T"])
    v = float(n)
    for s in suffixes:
        if abs(v) < base or s == suffixes[-1]:
            if s == "":
                return ("%d" % n if isinstance(n, int) else "%.1f" % v) + unit
            return "%.1f%s%s" % (v, s, unit)
        v /= base
    return str(n)


def ms(us):
    return "%.3fms" % (us / 1000.0)


def table(rows, right):
    """Aligned columns; `right` holds the indexes of right-aligned ones. A column empty in
    every row but the heading is left out."""
    if not rows:
        return []
    keep = [i for i in range(len(rows[0])) if any(r[i] for r in rows[1:])]
    rows = [[r[i] for i in keep] for r in rows]
    right = {j for j, i in enumerate(keep) if i in right}
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w[i]) if i in right else c.ljust(w[i]) for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
    return out


def sock_json(s, comms):
    ip = lambda a: socket.inet_ntoa(struct.pack("<I", a))  # noqa: E731 (stored big-endian)
    listener = s["state"] == 10
    d = {
        "id": s["id"], "state": STATES.get(s["state"], str(s["state"])),
        "local": "%s:%d" % (ip(s["laddr"]), s["lport"]),
        "peer": "*:*" if listener else "%s:%d" % (ip(s["raddr"]), s["rport"]),
        "pid": s["pid"] or None, "process": comms.get(s["pid"]) if s["pid"] else None,
        "holders": s["nholders"], "orphan": bool(s["flags"] & SK_ORPHAN),
        "unaccepted": bool(s["flags"] & SK_UNACCEPTED),
    }
    if listener:
        d.update(accept_queue=s["acc_queued"], backlog=s["backlog"], syn_queue=s["syn_queued"])
        return d
    d.update(recv_q=s["rcv_queued"], send_q=s["snd_queued"], rtt_us=s["rtt_us"],
             rttvar_us=s["rttvar_us"], rto_ms=s["rto_ms"], cwnd_bytes=s["cwnd"],
             cwnd_segs=(s["cwnd"] + s["snd_mss"] // 2) // s["snd_mss"] if s["snd_mss"] else 0,
             ssthresh_bytes=s["ssthresh"], snd_mss=s["snd_mss"], rcv_mss=s["rcv_mss"],
             snd_wnd=s["snd_wnd"], rcv_wnd=s["rcv_wnd"], snd_wscale=s["snd_wscale"],
             rcv_wscale=s["rcv_wscale"], timestamps=bool(s["flags"] & SK_TS),
             sack=bool(s["flags"] & SK_SACK), retransmits=s["retransmits"],
             bytes_out=s["bytes_acked"], bytes_in=s["bytes_received"])
    return d


def cmd_sockets(args, progs):
    docs, lines = [], []
    for p in progs:
        fresh = p.request(args.wait)
        t, total, wpid, fam, socks = p.sockets()
        comms = {pid: comm_of(pid, p.comm) for pid in set(fam) | {s["pid"] for s in socks} if pid}
        entries = [sock_json(s, comms) for s in socks]
        if args.listen:
            entries = [e for e in entries if e["state"] == "LISTEN"]
        elif args.connections:
            entries = [e for e in entries if e["state"] != "LISTEN"]
        # Listeners first, then by local and peer address.
        entries.sort(key=lambda e: (e["state"] != "LISTEN", e["local"], e["peer"]))
        age = round((time.monotonic_ns() - t) / 1e6, 3) if t else None
        docs.append({"pid": p.pid, "process": comm_of(p.pid, p.comm), "family": fam,
                     "iface": p.iface, "ipv4": p.ipv4, "snapshot_age_ms": age, "fresh": fresh,
                     "sockets_total": total, "sockets_shown": len(entries), "sockets": entries})
        if args.json:
            continue
        lines.append("%s pid %d%s on %s %s: %d sockets%s%s" % (
            comm_of(p.pid, p.comm), p.pid,
            " (family %s)" % " ".join(map(str, fam)) if len(fam) > 1 else "",
            p.iface, p.ipv4, total,
            "" if len(socks) == total else " (%d shown: file full)" % len(socks),
            "" if t == 0 or fresh else ", copy %.0f ms old" % age))
        if t == 0:
            lines.append("  (no socket table yet: ask as root or as the program's user)")
            continue
        rows = [["State", "Recv-Q", "Send-Q", "Local", "Peer", "Process", "rtt", "rttvar",
                 "cwnd", "ssthresh", "retrans", "bytes-in", "bytes-out", "wscale", "mss"]]
        for e in entries:
            proc = "%s/%d" % (e["process"], e["pid"]) if e["pid"] else \
                ("(orphan)" if e["orphan"] else "(queued)" if e["unaccepted"] else "-")
            if e["state"] == "LISTEN":
                rows.append([e["state"], str(e["accept_queue"]), str(e["backlog"]), e["local"],
                             e["peer"], proc, "", "", "", "", "", "", "",
                             "", "syn-q %d" % e["syn_queue"]])
                continue
            ss = e["ssthresh_bytes"]
            mss = e["snd_mss"] or 1
            rows.append([e["state"], str(e["recv_q"]), str(e["send_q"]), e["local"], e["peer"],
                         proc, ms(e["rtt_us"]), ms(e["rttvar_us"]), "%d" % e["cwnd_segs"],
                         "-" if ss >= 0x7fffffff else "%d" % ((ss + mss // 2) // mss),
                         str(e["retransmits"]), human(e["bytes_in"], "B"),
                         human(e["bytes_out"], "B"),
                         "%d,%d" % (e["snd_wscale"], e["rcv_wscale"]), str(e["snd_mss"])])
        lines += ["  " + ln for ln in table(rows, {1, 2, 6, 7, 8, 9, 10, 11, 12, 14})]
        lines.append("  (cwnd and ssthresh in segments of mss bytes; rtt smoothed)")
    if args.json:
        print(json.dumps({"programs": docs}, indent=1))
    else:
        print("\n".join(lines) if lines else "tpa: no accelerated program running")


def sample(p, wait):
    p.request(wait)
    t, wpid, cs = p.counters()
    return t, cs


def cmd_stats(args, progs):
    prev = {}
    n = 0
    while True:
        docs, lines = [], []
        for p in progs:
            t, cs = sample(p, args.wait)
            before = prev.get(p.path)
            prev[p.path] = (t, {c[0]: c[1] for c in cs})
            dt = (t - before[0]) / 1e9 if before and t > before[0] else None
            doc = {"pid": p.pid, "process": comm_of(p.pid, p.comm), "iface": p.iface,
                   "ipv4": p.ipv4, "time_ns": t, "counters": {c[0]: c[1] for c in cs},
                   "gauges": [c[0] for c in cs if c[2] & GAUGE]}
            if dt:
                doc["interval_s"] = dt
                doc["delta"] = {c[0]: c[1] - before[1].get(c[0], 0) for c in cs
                                if not c[2] & GAUGE}
                doc["rate_per_s"] = {k: v / dt for k, v in doc["delta"].items()}
            docs.append(doc)
            if args.json:
                continue
            lines.append("%s pid %d on %s %s%s" % (doc["process"], p.pid, p.iface, p.ipv4,
                                                   ", last %.2f s" % dt if dt else ""))
            head = ["counter", "total"] + (["delta", "rate"] if dt else [])
            rows = [head]
            for name, value, flags in cs:
                d = doc.get("delta", {}).get(name)
                if not args.zeros and value == 0 and not d:
                    continue
                unit = "B" if "bytes" in name else ""
                row = [name, human(value, unit) if unit else str(value)]
                if dt:
                    if flags & GAUGE:
                        row += ["", "(level)"]
                    else:
                        row += [str(d), human(d / dt, unit) + "/s"]
                rows.append(row)
            lines += ["  " + ln for ln in table(rows, {1, 2, 3})]
        if args.interval and n == 0:
            pass  # the first sample is the base of the first interval
        elif args.json:
            print(json.dumps({"programs": docs}), flush=True)
        else:
            print("\n".join(lines) if lines else "tpa: no accelerated program running",
                  flush=True)
        if not args.interval:
            return
        if args.count and n >= args.count:
            return
        n += 1
        time.sleep(args.interval)


def main():
    ap = argparse.ArgumentParser(prog="tpa", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--pid", type=int, help="only the program (or fork family) of pid P")
    common.add_argument("--json", action="store_true", help="JSON instead of columns")
    common.add_argument("--dir", help="where programs publish (default TPA_PUBLISH_DIR "
                        "or /dev/shm)")
    common.add_argument("--wait", type=float, default=1.0,
                        help="how long to wait for a fresh copy (s, default 1)")
    s = sub.add_parser("sockets", parents=[common], help="sockets, like ss -tni")
    s.add_argument("-l", "--listen", action="store_true", help="listeners only")
    s.add_argument("-c", "--connections", action="store_true", help="connections only")
    st = sub.add_parser("stats", parents=[common], help="counters, like nstat")
    st.add_argument("--interval", type=float, help="print deltas and rates every S seconds")
    st.add_argument("--count", type=int, help="stop after N intervals")
    st.add_argument("--zeros", action="store_true", help="show counters that are 0")
    args = ap.parse_args()
    progs = open_programs(args)
    if args.pid and not progs:
        die("no accelerated program with pid %d (nothing published in %s)" %
            (args.pid, args.dir or os.environ.get("TPA_PUBLISH_DIR") or "/dev/shm"))
    try:
        (cmd_sockets if args.cmd == "sockets" else cmd_stats)(args, progs)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
