#!/usr/bin/env python3
"""Measures a running clamd-protocol daemon for benches/realdb-peers.sh (standard library only).

    realdb.py cpu SOCKET PID SCANS
        CPU milliseconds the daemon spends per INSTREAM scan of 4 KiB of random bytes (the CPU time of all its
        threads over SCANS scans, one at a time, divided by SCANS), and the client's median round trip in
        milliseconds.
    realdb.py reload SOCKET PID DB_DIR [hash|body]
        Appends a signature for a 4 KiB marker to the set (hash, the default: its MD5 to DB_DIR/daily.hdb;
        body: 32 of its bytes as a body signature to DB_DIR/daily.ndb, which makes a daemon rebuild its
        pattern matcher), sends RELOAD, and meanwhile sends the marker
        as a new INSTREAM scan every 100 ms (10 scans a second, each on its own connection) and reads the
        daemon's VmRSS every 20 ms, until the marker has been FOUND for 1 s (at most 300 s). Prints the
        steady RSS before, the peak during, the reload time (RELOAD to the first FOUND), scans sent, scans
        answered, and the longest wait for an answer.

Output: `key value` lines.
"""

import hashlib
import os
import socket
import statistics
import struct
import sys
import threading
import time


def instream(path, data, timeout=300.0):
    """One INSTREAM scan; returns the reply (without its NUL)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(b"zINSTREAM\0" + struct.pack(">I", len(data)) + data + struct.pack(">I", 0))
        reply = b""
        while not reply.endswith(b"\0"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply.rstrip(b"\0").decode(errors="replace")
    finally:
        s.close()


def command(path, text):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path)
    try:
        s.sendall(b"z" + text.encode() + b"\0")
        return s.recv(4096).rstrip(b"\0").decode(errors="replace")
    finally:
        s.close()


def cpu_seconds(pid):
    """CPU time of every thread of the process, in seconds, to the nanosecond (schedstat; utime and stime count
    10 ms ticks, too coarse for scans of a millisecond)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended meanwhile
    return total / 1e9


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cpu(path, pid, scans):
    data = os.urandom(4096)
    instream(path, data)  # warm
    trips = []
    before = cpu_seconds(pid)
    for _ in range(scans):
        started = time.perf_counter()
        reply = instream(path, data)
        trips.append(time.perf_counter() - started)
        if not reply.endswith("OK"):
            sys.exit(f"unexpected reply to a random 4 KiB: {reply}")
    spent = cpu_seconds(pid) - before
    print(f"cpu_ms {spent / scans * 1000:.3f}")
    print(f"round_trip_ms {statistics.median(trips) * 1000:.3f}")


def reload(path, pid, db_dir, kind="hash"):
    marker = os.urandom(4096)
    if kind == "hash":
        file, line = "daily.hdb", f"{hashlib.md5(marker).hexdigest()}:4096:Bench.Reload.Marker\n"
    else:
        file, line = "daily.ndb", f"Bench.Reload.Marker:0:*:{marker[1000:1032].hex()}\n"
    with open(os.path.join(db_dir, file), "a") as f:
        f.write(line)
    steady = rss_kib(pid)
    stop = threading.Event()
    found_at = []
    results = []  # (sent at, wait or None)
    lock = threading.Lock()

    def scan_once():
        sent = time.monotonic()
        try:
            reply = instream(path, marker)
            wait = time.monotonic() - sent
        except OSError:
            reply, wait = "", None
        with lock:
            results.append((sent, wait))
            if reply.endswith("FOUND") and "Bench.Reload.Marker" in reply:
                found_at.append(time.monotonic())

    peak = steady

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    reloaded = time.monotonic()
    reply = command(path, "RELOAD")
    if reply != "RELOADING":
        sys.exit(f"RELOAD answered {reply!r}")
    workers = []
    deadline = reloaded + 300
    while time.monotonic() < deadline:
        with lock:
            done = found_at and time.monotonic() - min(found_at) > 1.0
        if done:
            break
        worker = threading.Thread(target=scan_once)
        worker.start()
        workers.append(worker)
        time.sleep(0.1)
    for worker in workers:
        worker.join()
    stop.set()
    sampler.join()
    answered = [wait for _, wait in results if wait is not None]
    print(f"steady_kib {steady}")
    print(f"peak_kib {peak}")
    print(f"reload_s {min(found_at) - reloaded:.2f}" if found_at else "reload_s never")
    print(f"sent {len(results)}")
    print(f"answered {len(answered)}")
    print(f"longest_wait_ms {max(answered) * 1000:.0f}" if answered else "longest_wait_ms -")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "cpu":
        cpu(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "reload" and sys.argv[5:] in ([], ["hash"], ["body"]):
        reload(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
