#!/usr/bin/env python3
"""Steady RSS of `litestream replicate` for one database under a steady write load (issue 9 item 5).

Each run: a fresh WAL database, `replicate DB file://REPLICA` started with the given environment, a
writer committing --rate single-row transactions per second (about 1 KB each) for --seconds; VmRSS of
the replicator is sampled every 0.5 s after --warmup seconds. Reports the median and the peak of the
samples. Under --qemu the arm64 binary runs in qemu-aarch64 and the RSS is the emulator process's
(guest memory plus qemu's own, so only the differences between settings compare with x64).

  bench/memory.py --exe bin/linux-x64/litestream [--env K=V ...] [--label NAME]
  bench/memory.py --exe bin/linux-arm64/litestream --qemu
bench/memory.sh runs the whole matrix that bench/RESULTS.md reports.
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def writer(db, rate, stop, counts):
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA busy_timeout=5000")
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        c.execute("INSERT INTO t(v) VALUES (randomblob(1024))")
        counts[0] += 1
        if counts[0] % 5000 == 0:
            c.execute("DELETE FROM t WHERE id <= ?", (counts[0] - 5000,))
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def run(exe, env, qemu, seconds, warmup, rate):
    work = tempfile.mkdtemp(prefix="litestream-mem-")
    try:
        db = os.path.join(work, "app.db")
        sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").close()
        cmd = [exe, "replicate", db, f"file://{work}/replica"]
        if qemu:
            cmd = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"] + cmd
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stop = threading.Event()
        counts = [0]
        t = threading.Thread(target=writer, args=(db, rate, stop, counts))
        t.start()
        samples = []
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            time.sleep(0.5)
            if proc.poll() is not None:
                stop.set()
                t.join()
                raise SystemExit(f"replicate exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() - began >= warmup:
                samples.append(rss_kib(proc.pid))
        stop.set()
        t.join()
        proc.terminate()
        proc.wait(60)
        return {
            "median_kib": int(statistics.median(samples)),
            "peak_kib": max(samples),
            "commits": counts[0],
            "exit": proc.returncode,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exe", required=True)
    p.add_argument("--env", action="append", default=[], help="K=V for the replicator (repeatable)")
    p.add_argument("--qemu", action="store_true", help="run the arm64 binary under qemu-aarch64")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--warmup", type=float, default=20)
    p.add_argument("--rate", type=float, default=100, help="commits per second")
    p.add_argument("--label", default="")
    a = p.parse_args()
    env = dict(kv.split("=", 1) for kv in a.env)
    result = run(a.exe, env, a.qemu, a.seconds, a.warmup, a.rate)
    result.update(label=a.label or (" ".join(a.env) or "default"), size=os.path.getsize(a.exe), qemu=a.qemu)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
