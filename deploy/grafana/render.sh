#!/usr/bin/env bash
# Draws deploy/grafana/litestream.png: the dashboard's panels over real scraped data, for the README.
#
# No Grafana server here (AGPL, not packaged), so Prometheus's own graph page stands in: the published exe replicates a
# database that a SQLite writer in another process commits to (bursts and pauses, so lag and upload rate move), a real
# Prometheus scrapes its `addr:` every 2 s, and headless Chromium screenshots the graph of each panel, laid out two a
# row. A 12 s replica outage a third of the way in gives the errors and the lag something to show. The queries are
# read from litestream.json (as Grafana substitutes its variables), so the picture cannot drift from the dashboard.
#
#   deploy/grafana/render.sh [seconds of writing, default 100]
# Needs: bin/linux-x64/litestream (./publish.sh), prometheus, python3, chromium-headless-shell (or chromium).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
exe=${LITESTREAM_EXE:-$repo/bin/linux-x64/litestream}
seconds=${1:-100}
out=$here/litestream.png
chrome=$(command -v chromium-headless-shell || command -v chromium || true)
[[ -x $exe ]] || { echo "error: $exe not found" >&2; echo "hint: ./publish.sh -r linux-x64" >&2; exit 1; }
[[ -n $chrome ]] || { echo "error: no headless Chromium" >&2; echo "hint: apt-get install chromium-headless-shell" >&2; exit 1; }
command -v prometheus >/dev/null || { echo "error: no prometheus" >&2; echo "hint: apt-get install prometheus" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    chattr -i "$work/replica/ltx/0" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
metrics_port=$(free_port)
prom_port=$(free_port)

cat >"$work/litestream.yml" <<EOF
addr: 127.0.0.1:$metrics_port
validation:
  interval: 15s
dbs:
  - path: $work/app.db
    monitor-interval: 1s
    replica:
      url: file://$work/replica
      sync-interval: 1s
EOF

# The writer: a commit of 1-64 random rows every 20-200 ms, with a 10 s pause every 30 s, and a burst of large rows
# (WAL growth, a checkpoint) in the middle of the run.
cat >"$work/writer.py" <<'EOF'
import os, random, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, at REAL, v BLOB)")
start = time.time()
end = start + float(sys.argv[2])
burst = False
while time.time() < end:
    t = time.time() - start
    if int(t) % 30 >= 20:
        time.sleep(0.2)
        continue
    large = not burst and t > float(sys.argv[2]) / 2
    c.execute("BEGIN")
    for _ in range(400 if large else random.randint(1, 64)):
        c.execute("INSERT INTO t(at, v) VALUES (?, ?)", (t, os.urandom(8000 if large else random.randint(100, 2000))))
    c.execute("COMMIT")
    burst = burst or large
    time.sleep(random.uniform(0.02, 0.2))
EOF

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: litestream
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
EOF

python3 "$work/writer.py" "$work/app.db" 1 # the database exists before replicate starts
"$exe" replicate -config "$work/litestream.yml" >"$work/litestream.log" 2>&1 &
pids+=($!)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$prom_port/-/ready" >/dev/null && curl -fs "http://127.0.0.1:$metrics_port/metrics" >/dev/null && break
    sleep 0.2
done
echo "writing for ${seconds}s; replicate on 127.0.0.1:$metrics_port, prometheus on 127.0.0.1:$prom_port" >&2
# A replica outage a third of the way in, so the errors and the lag have something to show: the L0 folder made
# immutable for 12 s (chattr +i stops root too), then writable again and replication catches up.
(
    sleep $((seconds / 3))
    if chattr +i "$work/replica/ltx/0" 2>/dev/null; then
        sleep 12
        chattr -i "$work/replica/ltx/0"
    else
        echo "note: chattr +i failed (not root, or not ext2/3/4): no outage in the picture" >&2
    fi
) &
pids+=($!)
python3 "$work/writer.py" "$work/app.db" "$seconds"
sleep 6 # the last uploads, and two more scrapes

# The panels the dashboard is about (lag, upload rate, errors, WAL size, validation), each query exactly as
# litestream.json has it (Grafana's variables substituted as Grafana does: every database, a rate window of four scrape
# intervals). Prometheus draws one query per graph page, so a panel with several targets gives the ones named here.
# Chromium screenshots each graph page on its own (frames of another origin in one page are not reliably drawn), then
# a page that lays the screenshots out two a row, each cut to its graph and legend.
curl -fsG "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=litestream_txid' | grep -q '"value"' ||
    { echo "error: prometheus scraped no litestream_txid from the exe; its log:" >&2; cat "$work/litestream.log" >&2; exit 1; }
range=$((seconds + 20))s
python3 - "$here/litestream.json" "$prom_port" "$range" "$work" <<'PY'
import html, json, sys, urllib.parse
dashboard, port, rng, work = sys.argv[1:5]
cells = [("Seconds since last upload (alert on this)", 0), ("Upload rate", 0),
         ("Transactions waiting for upload", 0), ("Errors", 1),
         ("WAL and database size", 0), ("Last validation", 0)]
panels = {p["title"]: p for p in json.load(open(dashboard))["panels"]}
figures, urls = [], []
for i, (title, target) in enumerate(cells):
    expr = panels[title]["targets"][target]["expr"].replace("$db", ".*").replace("$__rate_interval", "8s")
    query = urllib.parse.urlencode({"g0.expr": expr, "g0.tab": "0", "g0.stacked": "0", "g0.range_input": rng})
    urls.append(f"http://127.0.0.1:{port}/graph?{query}\n")
    figures.append(f'<figure><figcaption>{html.escape(title)}<code>{html.escape(expr)}</code></figcaption>'
                   f'<div><img src="cell-{i}.png"></div></figure>')
open(f"{work}/cells.txt", "w").write("".join(urls))
open(f"{work}/grid.html", "w").write("""<!doctype html><meta charset="utf-8"><style>
body{margin:6px;font:600 14px sans-serif;background:#fff;display:grid;grid-template-columns:repeat(2,600px);gap:6px}
figure{margin:0;border:1px solid #ccc}figcaption{padding:4px 8px;background:#f2f2f2;height:38px;overflow:hidden}
code{display:block;font:11px monospace;color:#555;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
div{height:470px;overflow:hidden}img{display:block;margin-top:-440px}</style>
""" + "".join(figures))
PY
shot() { "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$1" \
    --virtual-time-budget=20000 --screenshot="$2" "$3" >/dev/null 2>&1; }
i=0
while read -r url; do
    shot 600,1000 "$work/cell-$i.png" "$url"
    i=$((i + 1))
done <"$work/cells.txt"
shot 1220,1600 "$work/shot.png" "file://$work/grid.html"
cp "$work/shot.png" "$out"
echo "$out: $(stat -c %s "$out") bytes" >&2
