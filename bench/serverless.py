#!/usr/bin/env python3
"""Cold-start cost of the serverless pattern (examples/serverless.sh), issue 9.

A 10 MB database (10 000 rows of 1 KB random blobs) is replicated once to a file replica. Then, --reps
times: `restore -if-db-not-exists -if-replica-exists` into a missing path (the cold start), one small
write, `replicate -once` (the sync before the function returns). Wall time and peak RSS of each
process come from wait4; reported as median and min-max.

  bench/serverless.py [--exe bin/linux-x64/litestream] [--reps 10] [--integrity-check quick]
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time


def timed(cmd):
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.read().decode()}")
    return wall * 1000, ru.ru_maxrss / 1024


def summary(values):
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exe", default="bin/linux-x64/litestream")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--integrity-check", default="quick", choices=["none", "quick", "full"])
    a = p.parse_args()
    exe = os.path.abspath(a.exe)
    work = tempfile.mkdtemp(prefix="litestream-cold-")
    try:
        db = os.path.join(work, "app.db")
        replica = f"file://{work}/replica"
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        c.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10000) "
                  "INSERT INTO t(v) SELECT randomblob(1000) FROM s")
        c.close()
        db_bytes = os.path.getsize(db)
        timed([exe, "replicate", "-once", db, replica])
        config = os.path.join(work, "litestream.yml")
        cold = os.path.join(work, "cold.db")
        with open(config, "w") as f:
            f.write(f"dbs:\n  - path: {cold}\n    replica:\n      url: {replica}\n")
        restore_ms, restore_mb, once_ms, once_mb = [], [], [], []
        for _ in range(a.reps):
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(cold + suffix):
                    os.remove(cold + suffix)
            shutil.rmtree(os.path.join(work, ".cold.db-litestream"), ignore_errors=True)
            ms, mb = timed([exe, "restore", "-if-db-not-exists", "-if-replica-exists",
                            "-integrity-check", a.integrity_check, "-config", config, cold])
            restore_ms.append(ms)
            restore_mb.append(mb)
            c = sqlite3.connect(cold, isolation_level=None)
            c.execute("INSERT INTO t(v) VALUES (randomblob(1000))")
            c.close()
            ms, mb = timed([exe, "replicate", "-once", "-config", config])
            once_ms.append(ms)
            once_mb.append(mb)
        print(json.dumps({
            "db_mb": round(db_bytes / 1e6, 1), "integrity_check": a.integrity_check, "reps": a.reps,
            "restore_ms": summary(restore_ms), "restore_maxrss_mb": summary(restore_mb),
            "replicate_once_ms": summary(once_ms), "replicate_once_maxrss_mb": summary(once_mb),
            "exe_bytes": os.path.getsize(exe),
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
