#!/usr/bin/env bash
# Builds the static SQLite archive linked into the litestream executable.
#   build/sqlite.sh [linux-x64|linux-arm64]  ->  .build/sqlite/<rid>/libsqlite3.a
# The amalgamation comes from the npm package better-sqlite3 (the only registry copy reachable here);
# both the package and sqlite3.c are pinned by sha256, so a changed download fails the build.
# SQLite >= 3.51.3 is required: 3.7.0-3.51.2 carry the WAL-reset corruption bug.
set -euo pipefail
cd "$(dirname "$0")/.."
rid=${1:-linux-x64}
pkg=better-sqlite3@13.2.0
pkg_sha=40487589df3496f2ee0079d22b73c63fccebe7db0e8ee9a2c42421861e321e0b
src_sha=75a4760a7b9727a4c4c877aec92eacf39e52a8f2921ce00bd33be6d3a8e8e254
out=.build/sqlite/$rid
# Built before, and by this script as it is now (a new compile option rebuilds an existing checkout's archive).
[ -f "$out/libsqlite3.a" ] && [ "$out/libsqlite3.a" -nt build/sqlite.sh ] && exit 0

src=.build/sqlite/src
if [ ! -f "$src/sqlite3.c" ] || [ "$(sha256sum "$src/sqlite3.c" | cut -d' ' -f1)" != "$src_sha" ]; then
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && npm pack "$pkg" --silent > /dev/null)
  tgz=$(ls "$src"/better-sqlite3-*.tgz)
  [ "$(sha256sum "$tgz" | cut -d' ' -f1)" = "$pkg_sha" ] || { echo "error: $pkg checksum changed" >&2; exit 1; }
  tar xzf "$tgz" -C "$src" package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h package/deps/sqlite3/sqlite3ext.h
  mv "$src"/package/deps/sqlite3/* "$src"/ && rm -rf "$src/package" "$tgz"
  [ "$(sha256sum "$src/sqlite3.c" | cut -d' ' -f1)" = "$src_sha" ] || { echo "error: sqlite3.c checksum changed" >&2; exit 1; }
fi

case $rid in
  linux-x64) cc=${CC:-gcc}; ar=${AR:-ar} ;;
  linux-arm64) cc=aarch64-linux-gnu-gcc; ar=aarch64-linux-gnu-ar ;;
  *) echo "error: unsupported rid $rid" >&2; exit 1 ;;
esac
mkdir -p "$out"
# Options: thread-safe, no memory statistics (a global mutex otherwise), the modules a user's database may
# declare (FTS3/4/5, R*Tree, JSON, math) so integrity checks of such databases work; sqlite_dbpage, through which
# the daemon applies the pages a replica node forwards (POST /forward, Litestream.Client's WithHaltAsync).
"$cc" -O2 -fPIC -DNDEBUG -DSQLITE_THREADSAFE=1 -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_DQS=0 \
  -DSQLITE_ENABLE_SNAPSHOT -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS \
  -DSQLITE_ENABLE_FTS4 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_MATH_FUNCTIONS \
  -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_DBPAGE_VTAB -DHAVE_USLEEP=1 -c "$src/sqlite3.c" -o "$out/sqlite3.o"
"$ar" rcs "$out/libsqlite3.a" "$out/sqlite3.o"
rm "$out/sqlite3.o"
echo "built $out/libsqlite3.a ($(grep -m1 '#define SQLITE_VERSION ' "$src/sqlite3.h" | cut -d'"' -f2))"
