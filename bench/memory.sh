#!/usr/bin/env bash
# The memory matrix of bench/RESULTS.md ("Memory for small devices"): binary size and steady RSS of
# `replicate` (one DB, 100 commits/s of ~1 KB, 60 s, median of the samples after 20 s) per GC/runtime
# setting. Runtime settings are environment variables on the shipped binary; build settings are
# publish variants in .bench/mem/<name> (a few minutes each). JSON lines go to .bench/mem/results.jsonl.
#   bench/memory.sh            x64 matrix + the shipped settings on arm64 under qemu (if published)
#   bench/memory.sh --no-build runtime settings only
set -euo pipefail
cd "$(dirname "$0")/.."
out=.bench/mem
mkdir -p "$out"
: > "$out/results.jsonl"
exe=bin/linux-x64/litestream
[ -x "$exe" ] || ./publish.sh
measure() { python3 bench/memory.py "$@" | tee -a "$out/results.jsonl"; }

measure --exe "$exe" --label "shipped (workstation, non-concurrent GC)"
measure --exe "$exe" --label "concurrent GC on" --env DOTNET_gcConcurrent=1
measure --exe "$exe" --label "server GC" --env DOTNET_gcServer=1
measure --exe "$exe" --label "gen0 budget 1 MiB" --env DOTNET_GCgen0size=0x100000
measure --exe "$exe" --label "gen0 budget 256 KiB" --env DOTNET_GCgen0size=0x40000
measure --exe "$exe" --label "heap hard limit 16 MiB" --env DOTNET_GCHeapHardLimit=0x1000000
measure --exe "$exe" --label "LITESTREAM_MEMORY_LIMIT=16MB" --env LITESTREAM_MEMORY_LIMIT=16MB
measure --exe "$exe" --label "conserve memory 5" --env DOTNET_GCConserveMemory=5

if [ "${1:-}" != --no-build ]; then
  variant() {
    local name=$1; shift
    build/sqlite.sh linux-x64 >/dev/null
    dotnet publish src/Litestream.Aot/Litestream.Aot.csproj -c Release -r linux-x64 -o "$out/$name" -nologo -v q "$@" >/dev/null
    mv "$out/$name/Litestream.Cli" "$out/$name/litestream" 2>/dev/null || true
    measure --exe "$out/$name/litestream" --label "build: $*"
  }
  variant speed -p:OptimizationPreference=Speed
  variant icu -p:InvariantGlobalization=false
  variant reskeys -p:UseSystemResourceKeys=true
  variant concurrent -p:ConcurrentGarbageCollection=true
fi

if [ -x bin/linux-arm64/litestream ] && command -v qemu-aarch64 >/dev/null; then
  measure --exe bin/linux-arm64/litestream --qemu --label "arm64 (qemu) shipped"
  measure --exe bin/linux-arm64/litestream --qemu --label "arm64 (qemu) LITESTREAM_MEMORY_LIMIT=16MB" --env LITESTREAM_MEMORY_LIMIT=16MB
fi
