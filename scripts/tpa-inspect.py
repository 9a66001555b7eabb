#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tpa sockets / stats / capture / trace: look inside running accelerated programs.

Every engine publishes its counters, socket table and per-connection event trace in
<dir>/tpa-<pid>.stats (dir: TPA_PUBLISH_DIR, default /dev/shm); the layout is shim/publish.h
(trace: stack/include/tpa/trace.h, capture: dpdk/include/tpa/capture.h). This reads those
files: no signal, no ptrace, the program is never stopped. A reader allowed to write the file
(its owner, root) asks the program for a fresh copy and waits for it (at most --wait
seconds); others read what is there (counters at most a second old, the last socket walk).
The file of a program that died with a trace is kept as tpa-<pid>.dead for tpa trace.

  tpa sockets [--pid P] [--json] [--listen | --connections]
  tpa stats   [--pid P] [--json] [--interval S [--count N]] [--zeros]
  tpa capture -w FILE [-c N] [--port P] [--pid P] [--snaplen B]
  tpa trace   [--pid P] [--conn ADDR:PORT|PORT]... [--all] [--json] [--clean]
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
VERSION = 2
HEADER_READ = 2048 + 128  # up to the end of the capture control block
CAP_CTL = 2048  # struct tpa_capture_ctl in the header
CAP_REC = struct.Struct("<IIIB3xQ")
CAP_PAD = 0xffffffff
TRACE_MAGIC = 0x3143525441505400
TRACE_REC = struct.Struct("<QIBBH4I")
TRACE_RING_HDR = struct.Struct("<QQiB3xIIHHIQ16x")
DEAD_AGE_S = 86400
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
        self.start_ns, self.start_realtime_ns = u64(hdr, 112), u64(hdr, 120)
        self.trace_off, self.trace_len = u64(hdr, 1408), u64(hdr, 1416)
        self.dead = path.endswith(".dead")

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


def pub_dir(args):
    return args.dir or os.environ.get("TPA_PUBLISH_DIR") or "/dev/shm"


def has_trace(fd, hdr):
    """A file whose trace holds events (worth keeping after its program died)."""
    off = u64(hdr, 1408)
    if not off:
        return False
    a = os.pread(fd, 32, off)
    return len(a) == 32 and u64(a, 0) == TRACE_MAGIC and u64(a, 24) > 0


def bury(path, fd, hdr):
    """A dead program's file: kept as tpa-<pid>.dead (without its capture ring) when it has a
    trace, else removed (as the engine start does, shim/publish.c)."""
    dead = os.path.join(os.path.dirname(path), "tpa-%d.dead" % i32(hdr, 48))
    try:
        if has_trace(fd, hdr):
            if u64(hdr, 1424):
                os.truncate(path, u64(hdr, 1424))
            os.rename(path, dead)
            return
    except OSError:
        pass
    try:
        os.unlink(path)
    except OSError:
        pass


def open_file(path):
    """(fd, writable, header) of a published file of the current layout, or None."""
    flags = os.O_NOFOLLOW | os.O_NONBLOCK  # never block on a FIFO named like ours
    try:
        fd, writable = os.open(path, os.O_RDWR | flags), True
    except PermissionError:
        try:
            fd, writable = os.open(path, os.O_RDONLY | flags), False
        except OSError:
            return None
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    hdr = os.pread(fd, HEADER_READ, 0)
    if len(hdr) < HEADER_READ or u64(hdr, 0) != MAGIC:
        os.close(fd)
        return None
    if u32(hdr, 8) != VERSION or u32(hdr, 16) != COUNTER.size or u32(hdr, 32) != SOCK.size:
        print("tpa: %s: layout version %d, this tool reads %d" % (path, u32(hdr, 8), VERSION),
              file=sys.stderr)
        os.close(fd)
        return None
    return fd, writable, hdr


def open_programs(args, dead=False):
    """The live programs' files (stale ones are put aside when allowed, else skipped); with
    dead, then the files of programs that died with a trace (tpa-<pid>.dead)."""
    d = pub_dir(args)
    progs = []
    for path in sorted(glob.glob(os.path.join(d, "tpa-*.stats"))):
        opened = open_file(path)
        if not opened:
            continue
        fd, writable, hdr = opened
        # The family holds a shared lock while any of its processes lives.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            stale = not pid_alive(i32(hdr, 48))
            if stale:
                bury(path, fd, hdr)
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
    if not dead:
        return progs
    now = time.time()
    for path in sorted(glob.glob(os.path.join(d, "tpa-*.dead")),
                       key=lambda f: os.stat(f).st_mtime if os.path.exists(f) else 0):
        try:
            if now - os.lstat(path).st_mtime > DEAD_AGE_S:
                os.unlink(path)
                continue
        except OSError:
            continue
        opened = open_file(path)
        if not opened:
            continue
        fd, _, hdr = opened
        p = Program(path, fd, False, hdr)
        if args.pid and args.pid != p.pid:
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
        gone = [p for p in progs if not pid_alive(p.pid) and not os.path.exists(p.path)]
        for p in gone:  # its file went with it: no more intervals of stale counters
            print("tpa: %s pid %d exited" % (p.comm, p.pid), file=sys.stderr, flush=True)
            progs.remove(p)
        if args.interval and n and not progs:
            return
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


# ---- capture ----
def one_program(args, progs, what):
    live = [p for p in progs if not p.dead]
    if not live:
        die("no accelerated program running" + (" with pid %d" % args.pid if args.pid else ""))
    if len(live) > 1:
        die("%s: %d programs publish (%s): say which with --pid" % (
            what, len(live), ", ".join("%s %d" % (comm_of(p.pid, p.comm), p.pid) for p in live)))
    return live[0]


def pcap_header(snaplen):
    # nanosecond pcap (magic a1b23c4d), version 2.4, link type 1 (Ethernet)
    return struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, snaplen, 1)


def cmd_capture(args, progs):
    p = one_program(args, progs, "capture")
    if not p.writable:
        die("capture needs write access to %s (root or the program's user)" % p.path)
    try:  # one capture per program: a lock on the control block (released if we die)
        fcntl.lockf(p.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 128, CAP_CTL)
    except OSError:
        die("another tpa capture is running on %s pid %d" % (p.comm, p.pid))
    out = sys.stdout.buffer if args.w == "-" else open(args.w, "wb")
    snaplen = args.snaplen or 65535
    out.write(pcap_header(snaplen))
    ctl = CAP_CTL
    # port, snaplen, then alive and want: the program starts on its next poll
    os.pwrite(p.fd, struct.pack("<HHI", args.port or 0, 0, snaplen), ctl + 4)
    os.pwrite(p.fd, struct.pack("<Q", time.monotonic_ns()), ctl + 24)
    os.pwrite(p.fd, struct.pack("<I", 1), ctl)
    p.request(0)
    end = time.monotonic() + max(args.wait, 2.0)
    while u32(p.read(ctl + 88, 4), 0) != 1:
        if time.monotonic() > end:
            os.pwrite(p.fd, struct.pack("<I", 0), ctl)
            die("%s pid %d did not start capturing (not polling, or no room in %s)" % (
                p.comm, p.pid, os.path.dirname(p.path)))
        time.sleep(0.005)
    hdr = p.read(0, HEADER_READ)
    ring_off, size = u64(hdr, 1424), u32(hdr, 1432)
    dropped0 = u64(p.read(ctl + 80, 8), 0)
    tail = u64(p.read(ctl + 16, 8), 0)
    wall = time.time_ns() - time.monotonic_ns()
    n = 0
    print("tpa: capturing on %s pid %d (%s)%s, %s" % (
        comm_of(p.pid, p.comm), p.pid, p.iface, " port %d" % args.port if args.port else "",
        "%d frames" % args.c if args.c else "until interrupted"), file=sys.stderr)
    try:
        while not args.c or n < args.c:
            head = u64(p.read(ctl + 64, 8), 0)
            if head == tail:
                os.pwrite(p.fd, struct.pack("<Q", time.monotonic_ns()), ctl + 24)
                if u32(p.read(ctl + 88, 4), 0) != 1 or not pid_alive(p.pid):
                    break  # stopped by the program (exit)
                time.sleep(0.002)
                continue
            while tail < head and (not args.c or n < args.c):
                # up to head or the ring's end (no record crosses it), in one read
                pos = tail & (size - 1)
                if size - pos < CAP_REC.size:
                    tail += size - pos
                    continue
                data = p.read(ring_off + pos, min(head - tail, size - pos))
                off = 0
                while off < len(data) and (not args.c or n < args.c):
                    if len(data) - off < CAP_REC.size:
                        off = len(data)  # the ring's unused end
                        break
                    ln, caplen, origlen, _, t_ns = CAP_REC.unpack_from(data, off)
                    if ln < CAP_REC.size or ln & 7:
                        die("capture ring of pid %d is corrupt at %d" % (p.pid, tail + off))
                    if caplen != CAP_PAD:
                        t = wall + t_ns
                        out.write(struct.pack("<IIII", t // 1000000000, t % 1000000000,
                                              caplen, origlen))
                        out.write(data[off + CAP_REC.size:off + CAP_REC.size + caplen])
                        n += 1
                    off += ln
                tail += off
            os.pwrite(p.fd, struct.pack("<Q", tail), ctl + 16)
            os.pwrite(p.fd, struct.pack("<Q", time.monotonic_ns()), ctl + 24)
    except KeyboardInterrupt:
        pass
    finally:
        os.pwrite(p.fd, struct.pack("<I", 0), ctl)
        p.request(0)
        out.flush()
        if out is not sys.stdout.buffer:
            out.close()
    dropped = u64(p.read(ctl + 80, 8), 0) - dropped0
    print("tpa: %d frames written to %s, %d dropped (the reader was too slow)" % (
        n, args.w, dropped), file=sys.stderr)


# ---- trace ----
EVENTS = {1: "state", 2: "retransmit", 3: "rto", 4: "recovery", 5: "recovery-end",
          6: "undo", 7: "tlp", 8: "window", 9: "abort"}
CAUSES = {0: "-", 1: "rto", 2: "fast", 3: "rack", 4: "tlp"}
ERRNOS = {errno.ECONNRESET: "ECONNRESET", errno.ETIMEDOUT: "ETIMEDOUT", errno.EPIPE: "EPIPE",
          errno.ECONNREFUSED: "ECONNREFUSED", errno.ECONNABORTED: "ECONNABORTED"}


def read_trace(p):
    """[(ring header dict, [event dicts])] of every ring that was used."""
    if not p.trace_off:
        return []
    a = p.read(p.trace_off, 64)
    if len(a) < 64 or u64(a, 0) != TRACE_MAGIC:
        return []
    nrings, ring_size, nev = u32(a, 12), u32(a, 16), u32(a, 20)
    out = []
    for _ in range(3):  # rings that changed hands while copied are read again
        raw = p.read(p.trace_off + 64, nrings * ring_size)
        again = []
        for i in range(len(raw) // ring_size):
            base = i * ring_size
            (gen, nevents, sock_id, _, laddr, raddr, lport, rport, iss,
             open_ns) = TRACE_RING_HDR.unpack_from(raw, base)
            if gen == 0:
                continue
            if gen & 1:
                again.append(i)
                continue
            evs = []
            for k in range(max(0, nevents - nev), nevents):
                t, n, typ, a8, a16, v0, v1, v2, v3 = TRACE_REC.unpack_from(
                    raw, base + 64 + (k % nev) * TRACE_REC.size)
                if n != (k + 1) & 0xffffffff:
                    continue  # overwritten while copied
                evs.append(dict(k=k, t_ns=t, type=typ, a8=a8, a16=a16, v=(v0, v1, v2, v3)))
            ip = lambda x: socket.inet_ntoa(struct.pack("<I", x))  # noqa: E731
            out.append((dict(ring=i, gen=gen, sock_id=sock_id, events_total=nevents,
                             local="%s:%d" % (ip(laddr), lport),
                             peer="%s:%d" % (ip(raddr), rport), iss=iss, open_ns=open_ns), evs))
        if not again:
            break
        time.sleep(0.001)
    return out


def st_name(v):
    return "CLOSED" if v == 7 else STATES.get(v, str(v))


def event_json(e, iss, wall):
    d = {"time_ns": e["t_ns"], "time": fmt_wall(wall + e["t_ns"]),
         "event": EVENTS.get(e["type"], str(e["type"]))}
    v, t = e["v"], e["type"]
    rel = lambda x: (x - iss) & 0xffffffff  # noqa: E731 (relative to our ISN, as Wireshark)
    if t == 1:
        d.update(old=st_name(e["a16"]), new=st_name(e["a8"]))
    elif t == 2:
        d.update(cause=CAUSES.get(e["a8"], str(e["a8"])), seq=rel(v[0]), len=v[1],
                 cwnd=v[2], ssthresh=v[3])
    elif t == 3:
        d.update(syn=bool(e["a8"]), retries=e["a16"], rto_ms=v[0], snd_una=rel(v[1]),
                 cwnd=v[2], ssthresh=v[3])
    elif t == 4:
        d.update(cause=CAUSES.get(e["a8"], str(e["a8"])), snd_una=rel(v[0]), in_flight=v[1],
                 cwnd=v[2], ssthresh=v[3])
    elif t in (5, 6, 7):
        d.update(snd_una=rel(v[0]), snd_max=rel(v[1]), cwnd=v[2], ssthresh=v[3])
    elif t == 8:
        d.update(closed=bool(e["a8"]), window=v[0], snd_una=rel(v[1]))
    elif t == 9:
        d.update(error=ERRNOS.get(e["a16"], str(e["a16"])), snd_una=rel(v[0]))
    return d


def fmt_wall(ns):
    return time.strftime("%H:%M:%S", time.localtime(ns // 1000000000)) + \
        ".%06d" % (ns % 1000000000 // 1000)


def ssth(v):
    return "-" if v >= 0x7fffffff else human(v, "B")


def event_text(d):
    ev = d["event"]
    if ev == "state":
        return "%s -> %s" % (d["old"], d["new"])
    if ev == "retransmit":
        return "%-5s seq %d len %d  cwnd %s ssthresh %s" % (
            d["cause"], d["seq"], d["len"], human(d["cwnd"], "B"), ssth(d["ssthresh"]))
    if ev == "rto":
        return "%s#%d  rto %d ms  una %d  cwnd %s ssthresh %s" % (
            "syn " if d["syn"] else "", d["retries"], d["rto_ms"], d["snd_una"],
            human(d["cwnd"], "B"), ssth(d["ssthresh"]))
    if ev == "recovery":
        return "%-5s una %d in-flight %s  cwnd %s ssthresh %s" % (
            d["cause"], d["snd_una"], human(d["in_flight"], "B"), human(d["cwnd"], "B"),
            ssth(d["ssthresh"]))
    if ev in ("recovery-end", "undo", "tlp"):
        return "una %d max %d  cwnd %s ssthresh %s" % (
            d["snd_una"], d["snd_max"], human(d["cwnd"], "B"), ssth(d["ssthresh"]))
    if ev == "window":
        return ("peer window closed (0 B)" if d["closed"] else
                "peer window open (%s)" % human(d["window"], "B")) + "  una %d" % d["snd_una"]
    if ev == "abort":
        return d["error"]
    return ""


def conn_matches(c, wanted):
    for w in wanted:
        if ":" in w:
            if w in (c["local"], c["peer"]):
                return True
        elif w.isdigit() and (c["local"].endswith(":" + w) or c["peer"].endswith(":" + w)):
            return True
    return False


NOTABLE = {2, 3, 4, 6, 7, 8, 9}


def cmd_trace(args, progs):
    if args.clean:
        n = 0
        for path in glob.glob(os.path.join(pub_dir(args), "tpa-*.dead")):
            try:
                os.unlink(path)
                n += 1
            except OSError as e:
                print("tpa: %s: %s" % (path, e.strerror), file=sys.stderr)
        print("tpa: %d trace file%s of dead programs removed" % (n, "" if n == 1 else "s"))
        return
    docs, lines = [], []
    for p in progs:
        wall = p.start_realtime_ns - p.start_ns
        conns = []
        for c, evs in read_trace(p):
            if args.conn and not conn_matches(c, args.conn):
                continue
            if not args.all and not args.conn and not any(e["type"] in NOTABLE for e in evs):
                continue
            last = [e for e in evs if e["type"] == 1]
            c = dict(c, state=st_name(last[-1]["a8"]) if last else None,
                     events=[event_json(e, c["iss"], wall) for e in evs],
                     events_lost=c["events_total"] - len(evs))
            conns.append(c)
        conns.sort(key=lambda c: c["events"][-1]["time_ns"] if c["events"] else 0)
        doc = {"pid": p.pid, "process": p.comm if p.dead else comm_of(p.pid, p.comm),
               "alive": not p.dead, "file": p.path, "iface": p.iface,
               "traced": bool(p.trace_off), "connections": conns}
        docs.append(doc)
        if args.json:
            continue
        lines.append("%s pid %d on %s %s%s: %d connection%s%s" % (
            doc["process"], p.pid, p.iface, p.ipv4,
            " (exited; %s)" % p.path if p.dead else "", len(conns),
            "" if len(conns) == 1 else "s",
            "" if args.all or args.conn else " with retransmissions, timeouts, window or "
            "aborts (--all: every one)"))
        if not p.trace_off:
            lines.append("  (trace off: TPA_TRACE=0)")
        for c in conns:
            lines.append("  %s %s  sock %d%s%s" % (
                c["local"], c["peer"], c["sock_id"], "  " + c["state"] if c["state"] else "",
                "  (%d older events overwritten)" % c["events_lost"] if c["events_lost"] else ""))
            rows = []
            prev = None
            for e in c["events"]:
                dt = "" if prev is None else "+%.6fs" % ((e["time_ns"] - prev) / 1e9)
                prev = e["time_ns"]
                rows.append([e["time"], dt, e["event"], event_text(e)])
            lines += ["    " + ln for ln in table([["time", "delta", "event", ""]] + rows,
                                                  {1})]
    if args.json:
        print(json.dumps({"programs": docs}, indent=1))
    else:
        print("\n".join(lines) if lines else "tpa: no accelerated program running and no "
              "trace of one that died")


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
    cp = sub.add_parser("capture", parents=[common], help="the accelerated frames, as pcap")
    cp.add_argument("-w", required=True, metavar="FILE", help="pcap file to write (- : stdout)")
    cp.add_argument("-c", type=int, metavar="N", help="stop after N frames")
    cp.add_argument("--port", type=int, help="only IPv4 TCP frames from or to this port")
    cp.add_argument("--snaplen", type=int, help="bytes kept of each frame (default all)")
    tr = sub.add_parser("trace", parents=[common], help="recent TCP events per connection")
    tr.add_argument("--conn", action="append", metavar="ADDR:PORT|PORT",
                    help="connections with this local or peer address, or port (repeatable)")
    tr.add_argument("-a", "--all", action="store_true",
                    help="every traced connection, not only those with notable events")
    tr.add_argument("--clean", action="store_true",
                    help="remove the kept traces of programs that died")
    args = ap.parse_args()
    if args.cmd == "capture" and (args.c is not None and args.c <= 0 or
                                  args.port is not None and not 0 < args.port < 65536 or
                                  args.snaplen is not None and not 64 <= args.snaplen <= 65535):
        die("capture: -c takes a count above 0, --port 1..65535, --snaplen 64..65535")
    progs = open_programs(args, dead=args.cmd == "trace")
    if args.pid and not progs and not getattr(args, "clean", False):
        die("no accelerated program with pid %d (nothing published in %s)" %
            (args.pid, pub_dir(args)))
    cmds = {"sockets": cmd_sockets, "stats": cmd_stats, "capture": cmd_capture,
            "trace": cmd_trace}
    try:
        cmds[args.cmd](args, progs)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
