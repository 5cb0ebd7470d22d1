#!/usr/bin/env python3
"""Writes src/Litestream.Aot/startup.order: the managed methods `litestream version` and a `replicate` with one
database run, in the order they first run, for ILC's explicit method layout (IlcOrderFile, issue 22 goals 1-3). The
replicate starts idle and then replicates a writer's commits (captures, checkpoints, level-1 compaction), so the code
a replicator under load runs sits right after the start-up code instead of across the text (under load the text
pages a run touched were 5.2 of its 18 MB).

  bench/startup-order.py bin/linux-x64/litestream [--seconds 90] [--out src/Litestream.Aot/startup.order]

Needs valgrind (lackey traces every superblock the process runs) and the build's symbols: the exe's .dbg
(src/Litestream.Aot/bin/Release/net10.0/linux-x64/native/Litestream.Aot.dbg after ./publish.sh), found by the exe's
.gnu_debuglink name next to it or in that folder. Without the layout the methods a run needs are spread over the whole
text, and the kernel maps 64 KiB around each page touched, so `version` kept 5.8 MB of text resident for 0.3 MB of
code. A method missing from the file (renamed, new) is only placed after the listed ones: the file can lag the code.
"""
import argparse
import bisect
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALGRIND_PIE_BASE = 0x108000  # where valgrind loads a position-independent executable on amd64


def managed_symbols(dbg: str) -> tuple[list[int], list[str]]:
    """Start addresses and names of the methods ILC compiled (the __managedcode section), sorted by address."""
    sections = subprocess.run(["readelf", "-SW", dbg], capture_output=True, text=True, check=True).stdout
    m = re.search(r"__managedcode\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", sections)
    if not m:
        sys.exit(f"error: {dbg} has no __managedcode section\nhint: is it the .dbg of a NativeAOT build?")
    lo, hi = int(m.group(1), 16), int(m.group(1), 16) + int(m.group(2), 16)
    syms = []
    for line in subprocess.run(["nm", "-n", "--defined-only", dbg], capture_output=True, text=True, check=True).stdout.splitlines():
        p = line.split()
        # Section labels (__start___managedcode) share the first method's address: they name no method.
        if len(p) == 3 and p[1] in "tT" and not p[2].startswith("__"):
            syms.append((int(p[0], 16), p[2]))
    # Every text symbol bounds the one before it; only the managed ones are kept as names.
    return [a for a, _ in syms], [n if lo <= a < hi else "" for a, n in syms]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exe")
    ap.add_argument("--dbg")
    ap.add_argument("--seconds", type=float, default=90, help="how long the replicate runs under valgrind")
    ap.add_argument("--load-after", type=float, default=30, help="seconds of idle before the writer starts")
    ap.add_argument("--out", default=os.path.join(ROOT, "src/Litestream.Aot/startup.order"))
    args = ap.parse_args()
    exe = os.path.abspath(args.exe)
    dbg = args.dbg
    if not dbg:
        link = subprocess.run(["readelf", "--string-dump=.gnu_debuglink", exe], capture_output=True, text=True).stdout
        m = re.search(r"\]\s+(\S+\.dbg)", link)
        name = m.group(1) if m else "Litestream.Aot.dbg"
        for d in (os.path.dirname(exe), os.path.join(ROOT, "src/Litestream.Aot/bin/Release/net10.0/linux-x64/native")):
            if os.path.exists(os.path.join(d, name)):
                dbg = os.path.join(d, name)
                break
    if not dbg:
        sys.exit("error: no .dbg for the exe\nhint: give --dbg, the Litestream.Aot.dbg of the same build")
    elf_type = subprocess.run(["readelf", "-hW", exe], capture_output=True, text=True, check=True).stdout
    base = VALGRIND_PIE_BASE if "DYN (" in elf_type else 0
    addrs, names = managed_symbols(dbg)

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "db.db")
        c = sqlite3.connect(db)
        c.execute("PRAGMA journal_mode=wal")
        c.execute("CREATE TABLE t(x)")
        c.executemany("INSERT INTO t VALUES(?)", [(i,) for i in range(1000)])
        c.commit()
        c.close()
        config = os.path.join(tmp, "litestream.yml")
        with open(config, "w") as f:
            f.write(f"dbs:\n  - path: {db}\n    replica: {{url: file://{tmp}/replica}}\n")
        stop = threading.Event()
        runs = [([exe, "version"], None, None),
                ([exe, "replicate", "-config", config], args.seconds, lambda: write_load(db, args.load_after, stop))]
        seen, order = set(), []
        for command, seconds, during in runs:
            print(f"tracing {' '.join(command[1:2])} under valgrind", file=sys.stderr)
            for a in trace(command, seconds, during, stop):
                i = bisect.bisect_right(addrs, a - base) - 1
                if i >= 0 and names[i] and names[i] not in seen:
                    seen.add(names[i])
                    order.append(names[i])
    with open(args.out, "w") as f:
        f.write("\n".join(order) + "\n")
    print(f"{args.out}: {len(order)} methods", file=sys.stderr)
    return 0


def write_load(db: str, after: float, stop: threading.Event) -> None:
    """After `after` s of idle, commits until stopped: small rows, and 4 KiB ones that grow the WAL past the
    1,000-page checkpoint threshold within a minute, so a busy database's captures, checkpoints and uploads run."""
    if stop.wait(after):
        return
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA synchronous=NORMAL")
    n = 0
    while not stop.is_set():
        c.execute("INSERT INTO t VALUES(randomblob(?))", (4096 if n % 10 == 0 else 100,))
        n += 1
        stop.wait(0.05)  # ~20 commits/s: what a replicator under valgrind keeps up with
    c.close()


def trace(command: list[str], seconds: float | None, during=None, stop: threading.Event | None = None) -> list[int]:
    """Addresses of the superblocks `command` runs, each once, in the order they first run (valgrind's lackey),
    with `during` running beside it until the command is stopped."""
    r, w = os.pipe()
    proc = subprocess.Popen(["valgrind", "--tool=lackey", "--trace-superblocks=yes", f"--log-fd={w}", *command],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(w,))
    os.close(w)
    # lackey prints every superblock each time it runs: awk keeps the first of each at C speed, which a Python
    # reader could not (valgrind then waits on the pipe, and a daemon's minutes become hours).
    first = subprocess.Popen(["awk", "/^SB / && !seen[$2]++ { print $2 }"], stdin=r, stdout=subprocess.PIPE, text=True)
    os.close(r)
    # A daemon is stopped after `seconds` the way an operator stops it, so its shutdown path is traced too.
    timer = threading.Timer(seconds, proc.send_signal, (signal.SIGTERM,)) if seconds else None
    if timer:
        timer.start()
    helper = threading.Thread(target=during, daemon=True) if during else None
    if helper:
        helper.start()
    order = [int(line, 16) for line in first.stdout]
    first.wait()
    proc.wait()
    if timer:
        timer.cancel()
    if helper:
        stop.set()
        helper.join()
    return order


if __name__ == "__main__":
    sys.exit(main())
