#!/usr/bin/env bash
# The matrix of bench/RESULTS.md "Runtime settings for issue 9": binary size, idle RSS and steady RSS of
# `replicate` (one ~5 MB DB, 200 commits/s of 1 KB for 120 s, samples every second after 30 s; see
# bench/memory.py) per GC/runtime setting. JSON lines are appended to .bench/mem/results.jsonl.
#   bench/memory.sh env       runtime knobs (environment variables) on the shipped bin/linux-x64/litestream
#   bench/memory.sh builds    build settings: one publish variant per setting in .bench/mem/<name>
#                             (a few minutes each; bin/ is not touched)
#   bench/memory.sh qemu      bin/linux-arm64/litestream under qemu-aarch64, shipped and with a budget
#   bench/memory.sh           all three
set -euo pipefail
cd "$(dirname "$0")/.."
out=.bench/mem
mkdir -p "$out"
exe=bin/linux-x64/litestream
[ -x "$exe" ] || ./publish.sh -r linux-x64
measure() { python3 bench/memory.py "$@" | tee -a "$out/results.jsonl"; }
parts=("${@:-env builds qemu}")
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }

if want env; then
  # The runtime reads DOTNET_GC* values as hex digits WITHOUT a 0x prefix ("0x2000000" is ignored).
  # The shipped binary bakes GCgen0size=100000 (csproj); the gen0 rows override it.
  measure --exe "$exe" --label "shipped"
  measure --exe "$exe" --label "DOTNET_GCgen0size=512KiB" --env DOTNET_GCgen0size=80000
  measure --exe "$exe" --label "DOTNET_GCgen0size=4MiB" --env DOTNET_GCgen0size=400000
  measure --exe "$exe" --label "DOTNET_GCgen0MaxBudget=1MiB" --env DOTNET_GCgen0MaxBudget=100000
  measure --exe "$exe" --label "DOTNET_GCRegionSize=1MiB" --env DOTNET_GCRegionSize=100000
  measure --exe "$exe" --label "DOTNET_GCConserveMemory=5" --env DOTNET_GCConserveMemory=5
  measure --exe "$exe" --label "DOTNET_GCHeapHardLimit=32MiB" --env DOTNET_GCHeapHardLimit=2000000
  measure --exe "$exe" --label "LITESTREAM_MEMORY_LIMIT=32MiB" --env LITESTREAM_MEMORY_LIMIT=32MiB
  measure --exe "$exe" --label "LITESTREAM_MEMORY_LIMIT=16MiB" --env LITESTREAM_MEMORY_LIMIT=16MiB
fi

if want builds; then
  # One property flipped from the shipped csproj per variant. The native object directory is removed
  # first: ILC's incremental check does not see a changed -p: property (a stale native link was seen).
  variant() {
    local name=$1; shift
    build/sqlite.sh linux-x64 >/dev/null
    rm -rf src/Litestream.Aot/obj/Release/net10.0/linux-x64/native
    dotnet publish src/Litestream.Aot/Litestream.Aot.csproj -c Release -r linux-x64 -o "$out/$name" -nologo -v q "$@" >/dev/null
    mv "$out/$name/Litestream.Cli" "$out/$name/litestream"
    rm -rf src/Litestream.Aot/obj/Release/net10.0/linux-x64/native
    measure --exe "$out/$name/litestream" --label "build: $*"
  }
  variant server -p:ServerGarbageCollection=true
  variant concurrent -p:ConcurrentGarbageCollection=true
  variant icu -p:InvariantGlobalization=false
  variant reskeys -p:UseSystemResourceKeys=true
fi

if want qemu; then
  [ -x bin/linux-arm64/litestream ] || ./publish.sh -r linux-arm64
  measure --exe bin/linux-arm64/litestream --qemu --restore-exe "$exe" --label "arm64 (qemu) shipped"
  measure --exe bin/linux-arm64/litestream --qemu --restore-exe "$exe" --label "arm64 (qemu) LITESTREAM_MEMORY_LIMIT=32MiB" --env LITESTREAM_MEMORY_LIMIT=32MiB
  # qemu-user's own heap grows with the guest's reserved address space; a 1 GiB GC range shows how much.
  measure --exe bin/linux-arm64/litestream --qemu --restore-exe "$exe" --label "arm64 (qemu) DOTNET_GCRegionRange=1GiB" --env DOTNET_GCRegionRange=40000000
fi
