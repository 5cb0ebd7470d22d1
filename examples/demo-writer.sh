#!/usr/bin/env bash
# Writes a row a second into demo/app.db (the database examples/litestream.yml replicates).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo
python3 - <<'P'
import sqlite3, time
c = sqlite3.connect("demo/app.db", isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, at TEXT)")
while True:
    c.execute("INSERT INTO events(at) VALUES (datetime('now'))")
    time.sleep(1)
P
