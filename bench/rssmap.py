#!/usr/bin/env python3
"""Where a process's resident megabytes are, by mapping: the exe's text, read-only data and hydrated type data,
the libraries, the GC heap and other anonymous memory (issue 22, bench/RESULTS.md "Start-up and idle floor").

  bench/rssmap.py -- bin/linux-x64/litestream version      a command, read at its exit_group (under gdb)
  bench/rssmap.py --pid 1234                                 a running process (e.g. an idle `replicate`)

RSS counts the file pages the kernel maps around every page touched (64 KiB fault-around), so the exe's rows are
what a run touched plus its neighbourhood, not what it needs.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def read_smaps(text: str) -> list[dict]:
    rows, cur = [], None
    for line in text.splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split(None, 5)
            cur = {"range": parts[0], "perms": parts[1], "path": parts[5].strip() if len(parts) > 5 else "", "rss": 0, "anon": 0}
            rows.append(cur)
        elif line.startswith("Rss:"):
            cur["rss"] = int(line.split()[1])
        elif line.startswith("Anonymous:"):
            cur["anon"] = int(line.split()[1])
    return rows


def name(row: dict, exe: str, after_exe: set[str]) -> str:
    path = row["path"]
    if path and os.path.basename(path) == os.path.basename(exe):
        kind = {"r-xp": "text", "r--p": "read-only data", "rw-p": "data (written)"}.get(row["perms"], row["perms"])
        return f"exe {kind}"
    if row["range"] in after_exe:
        return "exe .bss + .hydrated (type data written at start-up)"
    if path.startswith("/"):
        return os.path.basename(path)
    return path or "anonymous (GC heap, stacks, malloc)"


def report(smaps: str, exe: str) -> None:
    rows = read_smaps(smaps)
    # The anonymous mapping right after the exe's last file mapping is its .bss, .hydrated included.
    after_exe = set()
    for prev, row in zip(rows, rows[1:]):
        if os.path.basename(prev["path"]) == os.path.basename(exe) and not row["path"]:
            after_exe.add(row["range"])
    totals: dict[str, list[int]] = {}
    for row in rows:
        t = totals.setdefault(name(row, exe, after_exe), [0, 0])
        t[0] += row["rss"]
        t[1] += row["anon"]
    print(f"{'KiB':>8} {'anon':>8}  mapping")
    for key, (rss, anon) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        if rss:
            print(f"{rss:8d} {anon:8d}  {key}")
    print(f"{sum(r['rss'] for r in rows):8d} {sum(r['anon'] for r in rows):8d}  total")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int)
    ap.add_argument("command", nargs="*")
    args = ap.parse_args()
    if args.pid:
        report(open(f"/proc/{args.pid}/smaps").read(), os.readlink(f"/proc/{args.pid}/exe"))
        return 0
    if not args.command:
        ap.error("give a command or --pid")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "smaps")
        script = os.path.join(tmp, "gdb")
        with open(script, "w") as f:
            f.write("set pagination off\ncatch syscall exit_group\nrun\n"
                    f"python import gdb; open({out!r}, 'w').write(open('/proc/%d/smaps' % gdb.selected_inferior().pid).read())\n"
                    "kill\nquit\n")
        subprocess.run(["gdb", "-q", "-batch", "-x", script, "--args", *args.command],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if not os.path.exists(out):
            print("error: gdb did not stop the command at its exit\nhint: is gdb installed?", file=sys.stderr)
            return 1
        report(open(out).read(), args.command[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
