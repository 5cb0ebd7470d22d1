#!/usr/bin/env python3
"""What the application's writer does with and without a replicator beside it, in counts, not throughput (issue 22
goal 0): a machine other sessions keep busy spreads txn/s widely, while the syscalls a commit makes do not depend on
how fast it runs. The writer is bench/run.py's (single-row INSERT transactions, busy_timeout 5000), run under
`strace -f` for the same number of transactions alone and beside `litestream replicate`; the table is per 1,000
transactions: fsync/fdatasync, fcntl lock calls, checkpoint attempts (the CKPT lock byte of the -shm taken: SQLite's
autocheckpoint tries on every commit once the WAL holds >= 1000 frames and cannot restart it), busy-handler sleeps
(the writer waiting on someone's write lock), pwrite/pread, and the WAL file's size before the writer closes (a restarted WAL is
overwritten in place; one that cannot restart grows).

Usage: bench/writer_probe.py [--exe bin/linux-x64/litestream] [--txns N] [--modes NORMAL,FULL,FULL-warm] [--reps R]
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, Daemon, make_db, newest_replica_files, wait_for, write_txns  # noqa: E402

WRITER = """
import os, resource, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA busy_timeout=5000")
c.execute("PRAGMA synchronous=" + sys.argv[3])
r0 = resource.getrusage(resource.RUSAGE_SELF)
for i in range(int(sys.argv[2])):
    c.execute("INSERT INTO t(v) VALUES (?)", ("row%d" % i,))
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, os.path.getsize(sys.argv[1] + "-wal"))
c.close()
"""

# SQLite's -shm lock bytes start at 120: WRITE 120, CKPT 121, RECOVER 122, READ(0..4) 123-127.
CKPT_LOCK = re.compile(r"fcntl\(\d+, F_SETLK, \{l_type=F_WRLCK, l_whence=SEEK_SET, l_start=121, l_len=1\}")
CALL = re.compile(r"^\d+\s+(?:<\.\.\. )?(\w+)\(")


def writer_cpu(db: Path, n: int, sync: str) -> float:
    """The writer's CPU seconds for n commits (no strace), from getrusage in the writer itself."""
    return float(subprocess.run([sys.executable, "-c", WRITER, str(db), str(n), sync], check=True, capture_output=True, text=True).stdout.split()[0])


def strace_counts(db: Path, n: int, sync: str, out: Path) -> dict[str, float]:
    cmd = ["strace", "-f", "-qq", "-o", str(out), "-e", "trace=fsync,fdatasync,fcntl,pwrite64,pread64,nanosleep,clock_nanosleep,futex",
           sys.executable, "-c", WRITER, str(db), str(n), sync]
    walmax = int(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()[1])
    counts: dict[str, int] = {}
    ckpt = 0
    for line in out.read_text().splitlines():
        if "resumed>" in line:
            continue
        m = CALL.match(line)
        if not m:
            continue
        name = m.group(1)
        name = {"fdatasync": "fsync", "clock_nanosleep": "sleep", "nanosleep": "sleep"}.get(name, name)
        counts[name] = counts.get(name, 0) + 1
        if CKPT_LOCK.search(line):
            ckpt += 1
    per = 1000 / n
    return {"fsync": counts.get("fsync", 0) * per, "fcntl": counts.get("fcntl", 0) * per, "ckpt attempts": ckpt * per,
            "busy sleeps": counts.get("sleep", 0) * per, "futex": counts.get("futex", 0) * per,
            "pwrite": counts.get("pwrite64", 0) * per, "pread": counts.get("pread64", 0) * per,
            "WAL MB": walmax / 1e6}


def start(exe: Path, work: Path, db: Path) -> Daemon:
    rep = Daemon([str(exe), "replicate", str(db), f"file://{work}/replica"], work / "rep.log")
    wait_for(lambda: newest_replica_files(work / "replica") > 0, 20)
    return rep


def sample(exe: Path | None, work: Path, n: int, sync: str, warm: bool, restarted: bool, strace: bool) -> dict[str, float]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / "app.db"
    make_db(db, 10)
    rep = None
    try:
        if exe is not None and restarted:
            # A replicator that ran before (its tables exist) and an application whose last close deleted the WAL.
            start(exe, work, db).stop()
            write_txns(db, 1, sync)
        if exe is not None:
            rep = start(exe, work, db)
        if warm:
            write_txns(db, n, sync)
            time.sleep(1.5)
        time.sleep(1)
        if not strace:
            return {"writer CPU ms": writer_cpu(db, n, sync) * 1e6 / n}
        return strace_counts(db, n, sync, work / "strace.txt")
    finally:
        if rep is not None:
            rep.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default=str(ROOT / "bin" / "linux-x64" / "litestream"))
    ap.add_argument("--txns", type=int, default=10000)
    ap.add_argument("--modes", default="NORMAL,FULL,FULL-warm", help="NORMAL, FULL; -warm: the WAL written once first; -restarted: the replicator ran before and the WAL was deleted")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    exe = Path(a.exe)
    with tempfile.TemporaryDirectory(prefix="ls-writer-probe-") as tmp:
        for mode in a.modes.split(","):
            sync, warm, restarted = mode.split("-")[0], "-warm" in mode, "-restarted" in mode
            n = a.txns if sync == "NORMAL" else a.txns // 4
            rows: dict[str, list[dict[str, float]]] = {"alone": [], "with replicator": []}
            for _ in range(a.reps):
                for who, e in (("alone", None), ("with replicator", exe)):
                    counts = sample(e, Path(tmp) / "w", n, sync, warm, restarted, strace=True)
                    counts.update(sample(e, Path(tmp) / "w", n, sync, warm, restarted, strace=False))
                    rows[who].append(counts)
            keys = list(rows["alone"][0])
            print(f"\n{mode}, {n} txns, per 1,000 txns (median of {a.reps}; WAL in MB; writer CPU ms without strace)")
            print("| | " + " | ".join(keys) + " |")
            print("|---|" + "---|" * len(keys))
            for who, samples in rows.items():
                print(f"| {who} | " + " | ".join(f"{statistics.median(s[k] for s in samples):.1f}" for k in keys) + " |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
