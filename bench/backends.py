#!/usr/bin/env python3
"""Throughput of every storage backend against its real local server, through the published exe.

For each backend the script starts the server the tests use (s3rver, Azurite, OpenSSH sshd, rclone WebDAV,
nats-server -js, firebase-tools' Cloud Storage emulator; `file` needs none), writes one ~100 MB database of
random (incompressible) rows, runs `litestream replicate -once` (the whole database goes up as the first LTX
file) and `litestream restore -o` (it comes back, verified), and prints MB/s of database bytes for each, as a
Markdown table. The wall times include the exe's start (milliseconds) and the server's own work: all servers run
on this machine, so the figures measure the client and the local server together, not a network.

Usage: bench/backends.py [--exe bin/linux-x64/litestream] [--mb 100] [--only file,s3,...] [--md FILE]
Tools come from where .ci/install.sh puts them (.tools/node_modules, .tools/firebase or $FIREBASE_TOOLS, apt's
sshd, rclone, nats-server). A backend whose server is missing is reported as such, not measured.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# Random per run: never a word the redaction registry or a log could confuse with anything.
SECRET = "bench-" + os.urandom(8).hex()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f}s")


class Server:
    """One server process in its own temp dir; stopped (SIGTERM, then SIGKILL) when the backend is done."""

    def __init__(self, name: str, argv: list[str], port: int, env: dict | None = None):
        self.name, self.port = name, port
        self.log = open(Path(tempfile.gettempdir()) / f"bench-{name}-{port}.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        wait_port(port, self.proc, name)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- per-backend setup: (server, replica yaml lines, env)

def setup_file(work: Path):
    return None, [f"type: file", f"path: {work / 'replica'}"], {}


def setup_s3(work: Path):
    script = TOOLS / "node_modules" / ".bin" / "s3rver"
    if not script.exists():
        raise FileNotFoundError("s3rver (.tools/node_modules/.bin/s3rver)")
    port = free_port()
    (work / "s3").mkdir()
    server = Server("s3rver", ["node", str(script), "-d", str(work / "s3"), "-a", "127.0.0.1", "-p", str(port), "--configure-bucket", "bkt"],
                    port, {"NODE_OPTIONS": "--openssl-legacy-provider"})
    return server, [f"url: s3://bkt/db?endpoint=http://127.0.0.1:{port}&forcePathStyle=true&region=us-east-1",
                    "access-key-id: S3RVER", "secret-access-key: S3RVER"], {}


def azure_create_container(port: int, container: str) -> None:
    """PUT ?restype=container with a SharedKey signature (Azurite's well-known account key)."""
    date = formatdate(usegmt=True)
    version = "2021-08-06"
    resource = f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
    to_sign = "PUT\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{version}\n" + resource
    signature = base64.b64encode(hmac.new(base64.b64decode(AZURITE_KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}/{container}?restype=container", method="PUT",
                                     headers={"x-ms-date": date, "x-ms-version": version, "Content-Length": "0",
                                              "Authorization": f"SharedKey {AZURITE_ACCOUNT}:{signature}"})
    urllib.request.urlopen(request, timeout=30).close()


def setup_abs(work: Path):
    script = TOOLS / "node_modules" / ".bin" / "azurite-blob"
    if not script.exists():
        raise FileNotFoundError("Azurite (.tools/node_modules/.bin/azurite-blob)")
    port = free_port()
    (work / "azurite").mkdir()
    server = Server("azurite", [str(script), "--blobHost", "127.0.0.1", "--blobPort", str(port), "-l", str(work / "azurite"),
                                "--skipApiVersionCheck", "--loose", "--silent"], port)
    azure_create_container(port, "replicas")
    return server, [f"url: abs://{AZURITE_ACCOUNT}@replicas/db?endpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT}",
                    f"account-key: {AZURITE_KEY}"], {}


def setup_sftp(work: Path):
    if not Path("/usr/sbin/sshd").exists():
        raise FileNotFoundError("sshd (apt openssh-server)")
    d = work / "sshd"
    (d / "data").mkdir(parents=True)
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "litestream-bench", "-f", str(d / key)], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)
    port = free_port()
    (d / "sshd_config").write_text("\n".join([
        "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {d}/host_key", f"PidFile {d}/sshd.pid",
        f"AuthorizedKeysFile {d}/authorized_keys", "StrictModes no", "UsePAM no", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp", ""]))
    server = Server("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")], port)
    host_key = (d / "host_key.pub").read_text().strip()
    import getpass
    return server, ["type: sftp", f"host: 127.0.0.1:{port}", f"user: {getpass.getuser()}", f"key-path: {d / 'client_key'}",
                    f"path: {d / 'data' / 'db'}", f"host-key: {host_key}"], {}


def setup_webdav(work: Path):
    rclone = shutil.which("rclone")
    if rclone is None:
        raise FileNotFoundError("rclone (apt rclone)")
    port = free_port()
    (work / "dav").mkdir()
    server = Server("rclone", [rclone, "serve", "webdav", str(work / "dav"), "--addr", f"127.0.0.1:{port}", "--config", "/dev/null",
                               "--user", "litestream", "--pass", SECRET, "--log-level", "ERROR"], port)
    return server, ["type: webdav", f"webdav-url: http://127.0.0.1:{port}/", "webdav-username: litestream",
                    f"webdav-password: {SECRET}", "path: db"], {}


def nats_create_bucket(port: int, bucket: str) -> None:
    """The JetStream stream behind an object store bucket, made as nats.go's CreateObjectStore makes it."""
    config = {"name": f"OBJ_{bucket}", "subjects": [f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"], "storage": "file",
              "retention": "limits", "discard": "new", "num_replicas": 1, "max_msgs": -1, "max_bytes": -1, "max_age": 0,
              "max_msg_size": -1, "allow_rollup_hdrs": True, "allow_direct": True, "duplicate_window": 120_000_000_000}
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        f.readline()  # INFO
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"user":"litestream","pass":"' + SECRET.encode() + b'","headers":true}\r\n')
        s.sendall(b"SUB _INBOX.bench 1\r\n")
        body = json.dumps(config).encode()
        s.sendall(f"PUB $JS.API.STREAM.CREATE.OBJ_{bucket} _INBOX.bench {len(body)}\r\n".encode() + body + b"\r\nPING\r\n")
        while True:
            line = f.readline()
            if line.startswith(b"MSG"):
                answer = json.loads(f.read(int(line.split()[-1]) + 2))
                if "error" in answer:
                    raise RuntimeError(f"nats: stream create: {answer['error']}")
                return
            if line.startswith(b"-ERR") or not line:
                raise RuntimeError(f"nats: {line!r}")


def setup_nats(work: Path):
    program = "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else shutil.which("nats-server")
    if program is None:
        raise FileNotFoundError("nats-server (apt nats-server)")
    port = free_port()
    (work / "nats").mkdir()
    server = Server("nats", [program, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(work / "nats"),
                             "--user", "litestream", "--pass", SECRET], port)
    nats_create_bucket(port, "backups")
    return server, [f"url: nats://127.0.0.1:{port}/backups/db", "username: litestream", f"password: {SECRET}"], {}


def setup_gs(work: Path):
    tools = Path(os.environ["FIREBASE_TOOLS"]) if os.environ.get("FIREBASE_TOOLS") else TOOLS / "firebase" / "node_modules" / "firebase-tools"
    if not (tools / "package.json").exists():
        raise FileNotFoundError("firebase-tools (.tools/firebase)")
    port = free_port()
    (work / "gcs").mkdir()
    server = Server("gcs", ["node", str(ROOT / "tests" / "Shared" / "gcs_emulator.js"), str(tools), str(port), str(work / "gcs")], port)
    return server, ["url: gs://bkt/db"], {"STORAGE_EMULATOR_HOST": f"127.0.0.1:{port}"}


BACKENDS = {
    "file": ("file (local disk)", setup_file),
    "s3": ("s3 (s3rver 3.7.1)", setup_s3),
    "abs": ("abs (Azurite)", setup_abs),
    "sftp": ("sftp (OpenSSH sshd)", setup_sftp),
    "webdav": ("webdav (rclone serve webdav)", setup_webdav),
    "nats": ("nats (nats-server -js)", setup_nats),
    "gs": ("gs (firebase-tools emulator)", setup_gs),
}


# ---------------------------------------------------------------- the measurement

def make_database(path: Path, megabytes: int) -> int:
    """Random 4000-byte blobs (incompressible, about one page per row) until the file is ~megabytes."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)")
    rows = megabytes * 1024 * 1024 // 4096
    for start in range(0, rows, 1000):
        con.executemany("INSERT INTO t (data) VALUES (?)", ((os.urandom(4000),) for _ in range(min(1000, rows - start))))
        con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path.stat().st_size


def rows_digest(path: Path) -> str:
    """SHA-256 over every row of t, after an integrity check."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise RuntimeError(f"{path.name}: integrity check failed")
        digest = hashlib.sha256()
        for rowid, data in con.execute("SELECT id, data FROM t ORDER BY id"):
            digest.update(rowid.to_bytes(8, "little") + data)
        return digest.hexdigest()
    finally:
        con.close()


def timed(argv: list[str], env: dict, timeout: float = 1800) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} exited {r.returncode}: {r.stdout.decode(errors='replace')[-600:]}")
    return wall


def measure(exe: Path, key: str, megabytes: int, source: Path, size: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{key}-") as tmp:
        work = Path(tmp)
        server, replica, extra_env = BACKENDS[key][1](work)
        try:
            db = work / "app.db"
            shutil.copy(source, db)
            config = work / "litestream.yml"
            config.write_text(f"dbs:\n  - path: {db}\n    replica:\n" + "".join(f"      {line}\n" for line in replica))
            env = {**os.environ, **extra_env}
            up = timed([str(exe), "replicate", "-once", "-config", str(config)], env)
            out = work / "restored.db"
            down = timed([str(exe), "restore", "-config", str(config), "-o", str(out), str(db)], env)
            # replicate adds its own tables (_litestream_seq, _litestream_lock), so the rows are compared, not the files.
            if rows_digest(out) != rows_digest(source):
                raise RuntimeError("restored rows differ from the original's")
            return size / 1e6 / up, size / 1e6 / down
        finally:
            if server is not None:
                server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", default=str(ROOT / "bin" / "linux-x64" / "litestream"))
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--only", default=",".join(BACKENDS))
    ap.add_argument("--md", help="also write the table to this file")
    args = ap.parse_args()
    exe = Path(args.exe)
    if not exe.exists():
        print(f"error: {exe} not found\nhint: ./publish.sh first", file=sys.stderr)
        return 1
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    for k in keys:
        if k not in BACKENDS:
            print(f"error: unknown backend {k}\nhint: one of {', '.join(BACKENDS)}", file=sys.stderr)
            return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-db-") as tmp:
        source = Path(tmp) / "source.db"
        size = make_database(source, args.mb)
        print(f"database: {size / 1e6:.1f} MB of random rows", file=sys.stderr)
        for k in keys:
            label = BACKENDS[k][0]
            try:
                up, down = measure(exe, k, args.mb, source, size)
                rows.append(f"| {label} | {up:.1f} | {down:.1f} |")
            except FileNotFoundError as e:
                rows.append(f"| {label} | not installed: {e} | |")
            except Exception as e:  # one backend failing must not hide the others' figures
                print(f"{k}: {e}", file=sys.stderr)
                rows.append(f"| {label} | failed: {str(e).splitlines()[0][:120]} | |")
            print(rows[-1], file=sys.stderr)
    table = "\n".join([f"{args.mb} MB database ({size / 1e6:.1f} MB), {datetime.date.today().isoformat()}, exe {exe.stat().st_size:,} bytes", "",
                       "| backend (local server) | replicate -once MB/s | restore MB/s |", "|---|---|---|", *rows])
    print(table)
    if args.md:
        Path(args.md).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
