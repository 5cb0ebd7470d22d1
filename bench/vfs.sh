#!/usr/bin/env bash
# Reads through litestream-vfs.so against a full restore, on a ~100 MB database in a file replica:
#   bench/vfs.sh [ROWS]      (needs ./publish.sh first; default 100000 rows of 1 KB)
# Prints: the .so size; a point query cold (extension load + page index + 1st query, new process) and warm
# (new connection in the same process: our page cache is warm, SQLite's is not); `litestream restore` wall
# time; max RSS of a host (the sqlite3 CLI, then python3) scanning every row through the VFS with the default
# 10 MiB cache, each beside the same scan of the restored file without the VFS (the host's own share).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
so=$PWD/bin/linux-x64/litestream-vfs.so
exe=$PWD/bin/linux-x64/litestream
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A python3 whose sqlite3 module can load extensions (pyenv builds often cannot; Debian's can).
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
python3 - "$work/app.db" "$rows" <<'PY'
import sqlite3, sys, random
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
r = random.Random(1)
c.execute("BEGIN")
for i in range(int(sys.argv[2])):
    c.execute("INSERT INTO t(v) VALUES (?)", (r.randbytes(1000),))
c.execute("COMMIT")
PY
"$exe" replicate -once "$work/app.db" "file://$work/replica" > /dev/null 2>&1
echo "database: $(stat -c %s "$work/app.db") bytes; replica: $(du -sb "$work/replica" | cut -f1) bytes"
echo "litestream-vfs.so: $(stat -c %s "$so") bytes"
"$py" - "$so" "file://$work/replica" "$rows" <<'PY'
import sqlite3, sys, time
t0 = time.perf_counter()
b = sqlite3.connect(":memory:"); b.enable_load_extension(True); b.load_extension(sys.argv[1])
t1 = time.perf_counter()
def query(i):
    c = sqlite3.connect("file:app.db?vfs=litestream&replica=" + sys.argv[2], uri=True)
    n = c.execute("SELECT length(v) FROM t WHERE id = ?", (i,)).fetchone()[0]
    c.close()
    return n
rows = int(sys.argv[3])
query(rows // 2)
t2 = time.perf_counter()
warm = []
for i in range(20):
    s = time.perf_counter(); query(rows // 2); warm.append(time.perf_counter() - s)
other = []
for i in range(1, 21):
    s = time.perf_counter(); query(i * rows // 23); other.append(time.perf_counter() - s)
print("extension load: %.1f ms" % ((t1 - t0) * 1000))
print("point query cold (page index + first read, in-process): %.1f ms" % ((t2 - t1) * 1000))
print("point query warm (same row, new connection): median %.2f ms" % (sorted(warm)[10] * 1000))
print("point query other rows (cold pages, index warm): median %.2f ms" % (sorted(other)[10] * 1000))
PY
s=$(date +%s%N)
sqlite3 :memory: ".load $so" ".open file:app.db?vfs=litestream&replica=file://$work/replica" "SELECT length(v) FROM t WHERE id = $((rows / 3));" > /dev/null
e=$(date +%s%N)
echo "point query cold, whole sqlite3 CLI process: $(( (e - s) / 1000000 )) ms"
s=$(date +%s%N)
"$exe" restore -o "$work/restored.db" "file://$work/replica" > /dev/null 2>&1
e=$(date +%s%N)
echo "full restore: $(( (e - s) / 1000000 )) ms"
/usr/bin/time -f "sqlite3 CLI host, full scan through the VFS (default cache): max RSS %M KB" \
  sqlite3 :memory: ".load $so" ".open file:app.db?vfs=litestream&replica=file://$work/replica" "SELECT count(*), sum(length(v)) FROM t;"
/usr/bin/time -f "sqlite3 CLI host, same scan of the restored file without the VFS: max RSS %M KB" \
  sqlite3 "$work/restored.db" "SELECT count(*), sum(length(v)) FROM t;"
/usr/bin/time -f "python3 host, full scan through the VFS (default cache): max RSS %M KB" "$py" - "$so" "file://$work/replica" <<'PY'
import sqlite3, sys
b = sqlite3.connect(":memory:"); b.enable_load_extension(True); b.load_extension(sys.argv[1])
c = sqlite3.connect("file:app.db?vfs=litestream&replica=" + sys.argv[2], uri=True)
print("scanned", c.execute("SELECT count(*), sum(length(v)) FROM t").fetchone())
PY
/usr/bin/time -f "python3 host, same scan of the restored file without the VFS: max RSS %M KB" "$py" -c "import sqlite3,sys; print('scanned', sqlite3.connect(sys.argv[1]).execute('SELECT count(*), sum(length(v)) FROM t').fetchone())" "$work/restored.db"
