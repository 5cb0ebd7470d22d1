#!/usr/bin/env bash
# The VFS hydration figures (issue 25): time to first query and to full hydration of a 1 GB replica from s3rver; host RSS during it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=${WORK:-/tmp/litestream-hydration}; rm -rf $W/s3 $W/db $W/copy; mkdir -p $W/s3 $W/db
PORT=4599
.tools/node_modules/.bin/s3rver -d $W/s3 -a 127.0.0.1 -p $PORT --configure-bucket bkt > $W/s3rver.log 2>&1 &
S3PID=$!
trap 'kill $S3PID 2>/dev/null' EXIT
python3 - <<PY
import sqlite3, os
c = sqlite3.connect("$W/db/app.db"); c.execute("PRAGMA journal_mode=wal"); c.execute("PRAGMA page_size=4096")
c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
for b in range(256):
    c.executemany("INSERT INTO t(v) VALUES (randomblob(4000))", [()] * 1000)  # ~4 MB per batch
    c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()
print("db bytes", os.path.getsize("$W/db/app.db"))
PY
cat > $W/ls.yml <<Y
access-key-id: S3RVER
secret-access-key: S3RVER
dbs:
  - path: $W/db/app.db
    replica:
      url: s3://bkt/app?endpoint=http://127.0.0.1:$PORT&force-path-style=true
Y
/usr/bin/time -f "replicate -once: %e s, %M KB" bin/linux-x64/litestream replicate -once -config $W/ls.yml 2>&1 | tail -2
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER LITESTREAM_HYDRATION_ENABLED=true LITESTREAM_HYDRATION_PATH=$W/copy/app.db
mkdir -p $W/copy
/usr/bin/python3 - <<PY
import sqlite3, time, re
def rss():
    s = open("/proc/self/status").read()
    return {k: int(re.search(k + r":\s+(\d+)", s).group(1)) // 1024 for k in ("VmRSS", "VmHWM")}
t0 = time.monotonic()
loader = sqlite3.connect(":memory:"); loader.enable_load_extension(True)
loader.load_extension("$ROOT/bin/linux-x64/litestream-vfs.so")
c = sqlite3.connect("file:app.db?vfs=litestream&replica=s3://bkt/app?endpoint=http://127.0.0.1:$PORT", uri=True)
n = c.execute("SELECT v FROM t WHERE id = 123456").fetchone()
t1 = time.monotonic()
print("first query %.3f s, rss %s" % (t1 - t0, rss()))
peak = 0
while True:
    p = c.execute("PRAGMA litestream_hydration_progress").fetchone()[0]
    peak = max(peak, rss()["VmRSS"])
    if float(p) >= 100.0:
        break
    time.sleep(0.05)
t2 = time.monotonic()
print("hydrated %.3f s after open (progress %s), peak sampled RSS %d MB, %s" % (t2 - t0, p, peak, rss()))
print("count", c.execute("SELECT count(*) FROM t").fetchone()[0], "after switch %.3f s" % (time.monotonic() - t2))
PY
