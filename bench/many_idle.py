#!/usr/bin/env python3
"""Start-up peak and idle RSS/CPU of `litestream replicate` with N idle databases, several binaries side by side
(issue 21): the same window for each, so their CPU figures compare on a busy machine.

Each binary gets its own folder of N small WAL databases (one 1 KB row each, python3 sqlite3) in one watched `dir:`
entry, replicated to a file replica. All binaries start together; VmRSS is sampled every 0.2 s (the start-up peak is
the highest sample); after --settle seconds the process's CPU (utime+stime from /proc/PID/stat, 10 ms ticks) is
taken over --window seconds, with the RSS at its start and end. With --gc, LITESTREAM_DEBUG_GC=10 prints the
managed heap every 10 s on stderr; its first and last lines in the window are reported.

  bench/many_idle.py --count 1000 --exe before=/work/main/bin/linux-x64/litestream --exe after=bin/linux-x64/litestream
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def cpu_seconds(pid):
    """utime + stime of the whole process, exited threads included (a per-thread sum loses retired pool threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def make_databases(folder, count):
    os.makedirs(folder)
    for i in range(count):
        db = sqlite3.connect(os.path.join(folder, f"tenant{i:04d}.db"))
        db.execute("PRAGMA journal_mode=wal")
        db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        db.execute("INSERT INTO t(v) VALUES (randomblob(1024))")
        db.commit()
        db.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exe", action="append", required=True, help="LABEL=PATH (repeatable)")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--settle", type=float, default=60, help="seconds after start before the CPU window")
    p.add_argument("--window", type=float, default=60)
    p.add_argument("--gc", action="store_true", help="LITESTREAM_DEBUG_GC=10 and report the managed heap")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="many-idle-")
    runs = []
    try:
        for spec in args.exe:
            label, exe = spec.split("=", 1)
            folder = os.path.join(work, label, "dbs")
            make_databases(folder, args.count)
            config = os.path.join(work, label, "litestream.yml")
            with open(config, "w") as f:
                f.write(f"dbs:\n  - dir: {folder}\n    pattern: \"*.db\"\n    watch: true\n"
                        f"    replicas:\n      - url: file://{os.path.join(work, label, 'replica')}\n")
            runs.append({"label": label, "exe": os.path.abspath(exe), "config": config})
        env = dict(os.environ, LITESTREAM_DEBUG_GC="10") if args.gc else dict(os.environ)
        for run in runs:
            run["stderr"] = open(os.path.join(work, run["label"], "stderr.log"), "w+")
            run["proc"] = subprocess.Popen([run["exe"], "replicate", "-config", run["config"]], env=env,
                                           stdout=subprocess.DEVNULL, stderr=run["stderr"])
            run["peak"] = 0
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                for run in runs:
                    run["peak"] = max(run["peak"], rss_kib(run["proc"].pid))
                time.sleep(0.2)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        time.sleep(args.settle)
        load_before = os.getloadavg()[0]
        for run in runs:
            run["rss_start"] = rss_kib(run["proc"].pid)
            run["cpu_start"] = cpu_seconds(run["proc"].pid)
            with open(run["stderr"].name) as f:
                run["gc_start"] = len(f.readlines())
        window_start = time.monotonic()
        time.sleep(args.window)
        elapsed = time.monotonic() - window_start
        for run in runs:
            run["cpu"] = cpu_seconds(run["proc"].pid) - run["cpu_start"]
            run["rss_end"] = rss_kib(run["proc"].pid)
        load_after = os.getloadavg()[0]
        stop.set()
        for run in runs:
            run["proc"].terminate()
        for run in runs:
            run["proc"].wait(60)
        result = {"count": args.count, "settle_s": args.settle, "window_s": round(elapsed, 1),
                  "load": [round(load_before, 1), round(load_after, 1)], "started_s_ago": round(time.monotonic() - started)}
        for run in runs:
            with open(run["stderr"].name) as f:
                gc_lines = [line.strip() for line in f.readlines()[run["gc_start"]:] if line.startswith("gc:")]
            result[run["label"]] = {
                "startup_peak_rss_mb": round(run["peak"] / 1024, 1),
                "idle_rss_mb": [round(run["rss_start"] / 1024, 1), round(run["rss_end"] / 1024, 1)],
                "idle_cpu_pct_core": round(100 * run["cpu"] / elapsed, 3),
                **({"gc_window": gc_lines[:1] + gc_lines[-1:]} if args.gc else {}),
            }
        print(json.dumps(result, indent=1))
    finally:
        for run in runs:
            if "proc" in run and run["proc"].poll() is None:
                run["proc"].kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
