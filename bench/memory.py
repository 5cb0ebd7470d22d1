#!/usr/bin/env python3
"""RSS of `litestream replicate` for one database, idle and under a steady write load (issue 9).

Each run: a fresh WAL database (~5 MB: the writer keeps the newest 5000 rows), `replicate DB
file://REPLICA` started with the given environment, then
  1. idle: no writes for --idle seconds; the RSS at its end is reported;
  2. load: a writer committing --rate single-row transactions per second (1 KB random blob each) for
     --seconds; VmRSS of the replicator is sampled every second and the samples after --warmup
     seconds give the median and the peak;
  3. catch-up: after the last commit, the replica is restored (with --restore-exe) every 0.5 s until it
     holds that commit; the time this takes is reported (proves the replicator kept up).
Also reported: the replicator's CPU seconds during the load (utime+stime from /proc).
Under --qemu the arm64 binary runs in qemu-aarch64 and the RSS is the emulator process's: guest memory
plus qemu's own (its page-tracking heap, translated code and host libraries); guest_* fields estimate the
guest's share from the mappings (see guest_kib), which is what compares with x64.

  bench/memory.py --exe bin/linux-x64/litestream [--env K=V ...] [--label NAME]
  bench/memory.py --exe bin/linux-arm64/litestream --qemu --restore-exe bin/linux-x64/litestream
bench/memory.sh runs the matrix that bench/RESULTS.md reports.
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def guest_kib(pid, exe):
    """Under qemu-user: the guest's share of the emulator's RSS, estimated from its mappings: the guest
    binary and guest libraries (/usr/aarch64-linux-gnu) plus anonymous rw memory, leaving out qemu's own
    malloc heap ([heap]: page tracking for every guest mapping, large because the GC reserves a wide
    range), its translated code (rwx) and host libraries. qemu's few anonymous allocations are counted in."""
    exe = os.path.realpath(exe)
    total, perms, path = 0, "", ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and len(parts) >= 5 and parts[0].replace("-", "").isalnum() and ":" in parts[3]:
                perms, path = parts[1], (parts[5] if len(parts) > 5 else "")
            elif line.startswith("Rss:"):
                guest_file = path == exe or path.startswith("/usr/aarch64-linux-gnu/")
                guest_anon = path == "" and "x" not in perms
                if guest_file or guest_anon:
                    total += int(parts[1])
    return total


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def writer(db, rate, stop, state):
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA busy_timeout=5000")
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        state["last_id"] = c.execute("INSERT INTO t(v) VALUES (randomblob(1024))").lastrowid
        state["commits"] += 1
        if state["commits"] % 1000 == 0:
            c.execute("DELETE FROM t WHERE id <= ?", (state["last_id"] - 5000,))
            state["commits"] += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:
            next_at = time.monotonic()  # fell behind by more than a second: do not burst to catch up
    c.close()


def restored_max_id(restore_exe, replica, out):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)
    r = subprocess.run([restore_exe, "restore", "-integrity-check", "none", "-o", out, f"file://{replica}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return None
    c = sqlite3.connect(out)
    try:
        return c.execute("SELECT max(id) FROM t").fetchone()[0]
    finally:
        c.close()


def run(exe, env, qemu, restore_exe, idle, seconds, warmup, rate):
    work = tempfile.mkdtemp(prefix="litestream-mem-")
    proc = None
    try:
        db = os.path.join(work, "app.db")
        replica = os.path.join(work, "replica")
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        c.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 5000) "
                  "INSERT INTO t(v) SELECT randomblob(1024) FROM s")
        c.close()
        cmd = [exe, "replicate", db, f"file://{replica}"]
        if qemu:
            cmd = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"] + cmd
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def alive():
            if proc.poll() is not None:
                raise SystemExit(f"replicate exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")

        time.sleep(idle)
        alive()
        idle_kib = rss_kib(proc.pid)
        idle_guest = guest_kib(proc.pid, exe) if qemu else None

        stop = threading.Event()
        state = {"commits": 0, "last_id": 0}
        t = threading.Thread(target=writer, args=(db, rate, stop, state))
        cpu0 = cpu_seconds(proc.pid)
        began = time.monotonic()
        t.start()
        samples, guest = [], []
        tick = began
        while True:
            tick += 1.0
            time.sleep(max(0.0, tick - time.monotonic()))
            alive()
            elapsed = time.monotonic() - began
            if elapsed >= warmup:
                samples.append(rss_kib(proc.pid))
                if qemu:
                    guest.append(guest_kib(proc.pid, exe))
            if elapsed >= seconds:
                break
        stop.set()
        t.join()
        stopped = time.monotonic()
        load_s = stopped - began
        cpu = cpu_seconds(proc.pid) - cpu0

        out = os.path.join(work, "restored.db")
        catch_up = None
        while time.monotonic() - stopped < 60:
            alive()
            if restored_max_id(restore_exe, replica, out) == state["last_id"]:
                catch_up = time.monotonic() - stopped
                break
            time.sleep(0.5)
        proc.terminate()
        proc.wait(60)
        result = {
            "idle_kib": idle_kib,
            "median_kib": int(statistics.median(samples)),
            "peak_kib": max(samples),
            "samples": len(samples),
            "commits": state["commits"],
            "txn_per_s": round(state["commits"] / load_s, 1),
            "cpu_s": round(cpu, 2),
            "catch_up_s": None if catch_up is None else round(catch_up, 2),
            "exit": proc.returncode,
        }
        if qemu:
            result.update(guest_idle_kib=idle_guest, guest_median_kib=int(statistics.median(guest)), guest_peak_kib=max(guest))
        return result
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exe", required=True)
    p.add_argument("--env", action="append", default=[], help="K=V for the replicator (repeatable)")
    p.add_argument("--qemu", action="store_true", help="run the arm64 binary under qemu-aarch64")
    p.add_argument("--restore-exe", help="binary that restores for the catch-up check (default --exe; "
                                          "give an x64 one with --qemu)")
    p.add_argument("--idle", type=float, default=10, help="idle seconds before the load")
    p.add_argument("--seconds", type=float, default=120, help="length of the load")
    p.add_argument("--warmup", type=float, default=30, help="load seconds before sampling starts")
    p.add_argument("--rate", type=float, default=200, help="commits per second")
    p.add_argument("--label", default="")
    a = p.parse_args()
    env = dict(kv.split("=", 1) for kv in a.env)
    restore_exe = a.restore_exe or a.exe
    result = run(a.exe, env, a.qemu, restore_exe, a.idle, a.seconds, a.warmup, a.rate)
    result.update(label=a.label or (" ".join(a.env) or "default"), size=os.path.getsize(a.exe), qemu=a.qemu,
                  rate=a.rate, seconds=a.seconds, warmup=a.warmup)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
