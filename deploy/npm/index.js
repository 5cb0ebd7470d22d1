"use strict";
// The Litestream read-replica VFS for SQLite (Litestream.Aot's NativeAOT build): the path of the packaged
// loadable extension for this machine, and load(db) for better-sqlite3 or node:sqlite. Upstream's package
// exports getLoadablePath() too; here the libraries ship inside this package, one per architecture.

const fs = require("fs");
const path = require("path");

// better-sqlite3 reads SQLITE_USE_URI once, when its first Database opens, and without it "file:app.db?vfs=litestream"
// is a plain file name (it never passes SQLITE_OPEN_URI): requiring this package first turns URI names on, unless the
// application set the variable itself.
if (process.env.SQLITE_USE_URI === undefined) {
  process.env.SQLITE_USE_URI = "1";
}

// process.arch -> the RID folder under lib/ (deploy/npm/build.sh copies bin/<rid>/litestream-vfs.so there).
const RIDS = { x64: "linux-x64", arm64: "linux-arm64" };

/** The filesystem path of litestream-vfs.so for this process's platform and architecture. */
function getLoadablePath() {
  const rid = process.platform === "linux" ? RIDS[process.arch] : undefined;
  if (!rid) {
    throw new Error(`litestream-vfs has no library for ${process.platform}-${process.arch} (Linux x64 and arm64 only)`);
  }
  const file = path.join(__dirname, "lib", rid, "litestream-vfs.so");
  if (!fs.existsSync(file)) {
    throw new Error(`litestream-vfs: ${file} is missing: this package was built without ${rid}`);
  }
  return file;
}

/**
 * Loads the extension into db (a better-sqlite3 Database, or a node:sqlite DatabaseSync opened with
 * allowExtension: true). Loading registers the "litestream" VFS for the whole process: later databases open a
 * replica with "file:app.db?vfs=litestream&replica=" + encodeURIComponent(url). Returns db.
 */
function load(db) {
  if (!db || typeof db.loadExtension !== "function") {
    throw new TypeError("litestream-vfs: load(db) needs a database with loadExtension (better-sqlite3, node:sqlite)");
  }
  db.loadExtension(getLoadablePath());
  return db;
}

module.exports = { getLoadablePath, load };
