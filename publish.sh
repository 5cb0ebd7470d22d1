#!/usr/bin/env bash
# Builds the single `litestream` executable: bin/<rid>/litestream (default rid linux-x64), and the SQLite
# loadable extension bin/<rid>/litestream-vfs.so (the read-replica VFS; it uses the host's SQLite).
#   ./publish.sh              linux-x64
#   ./publish.sh -r RID       linux-x64 or linux-arm64
#   ./publish.sh --backends file,s3   only the exe, with only those backends (the trimmer drops the other
#                             clients and their SDKs): bin/<rid>-file-s3/litestream; the default has them all
#   ./publish.sh --mapped-types   only the exe, its type data mapped from the file instead of rebuilt at start-up
#                             (non-PIE; lower RSS, +2.5 MB of file: src/Litestream.Aot/NativeAot.props): bin/<rid>-mapped/
# It only picks the RID, makes sure the static SQLite archive exists, and calls dotnet publish: every
# AOT setting lives in src/Litestream.Aot/Litestream.Aot.csproj. Any trim/AOT warning fails the build
# (TreatWarningsAsErrors). Instruction set: x64 = x86-64-v2 + AES/PCLMULQDQ (CPUs since 2010/2011; NativeAOT
# has no runtime IsSupported checks, so the CRC-64 fold needs PCLMULQDQ in the baseline: `litestream version
# -verbose` prints the kernel); arm64 = ARMv8.0 (the CRC-64 uses the table there).
set -euo pipefail
cd "$(dirname "$0")"
rids=(linux-x64)
backends=""
mapped=""
while [ $# -gt 0 ]; do
  case $1 in
    -r|--rid) rids=("$2"); shift 2 ;;
    --backends|-backends) backends=$2; shift 2 ;;
    --mapped-types) mapped=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; echo "hint: ./publish.sh [-r linux-x64|linux-arm64]" >&2; exit 2 ;;
  esac
done
# Each step says what it starts, with its time: a NativeAOT link takes minutes on a 2-core machine.
step() { echo "[$(date +%H:%M:%S)] $rid: $*"; }
for rid in "${rids[@]}"; do
  if [ -f ".build/sqlite/$rid/libsqlite3.a" ] && [ ".build/sqlite/$rid/libsqlite3.a" -nt build/sqlite.sh ]; then
    step "SQLite archive: .build/sqlite/$rid/libsqlite3.a (built before)"
  else
    step "SQLite archive: compiling the amalgamation (about a minute)"
  fi
  build/sqlite.sh "$rid"
  extra=()
  if [ "$rid" = linux-arm64 ]; then
    extra=(-p:CppCompilerAndLinker="$PWD/build/cc-arm64" -p:ObjCopyName=aarch64-linux-gnu-objcopy)
  fi
  out="bin/$rid"
  projects=(src/Litestream.Aot/Litestream.Aot.csproj src/Litestream.Vfs/Litestream.Vfs.csproj)
  if [ -n "$backends" ]; then
    # A subset build gets its own output and intermediate folders, so it never mixes with the full build's.
    out="bin/$rid-${backends//,/-}"
    projects=(src/Litestream.Aot/Litestream.Aot.csproj)
    extra+=(-p:LitestreamBackends="${backends//,/%2C}")
  fi
  if [ -n "$mapped" ]; then
    out="$out-mapped"
    projects=(src/Litestream.Aot/Litestream.Aot.csproj)
    extra+=(-p:MappedTypeData=true)
  fi
  if [ "$out" != "bin/$rid" ]; then
    extra+=(--artifacts-path ".build/backends-${out#bin/$rid-}")
  fi
  for project in "${projects[@]}"; do
    case $project in
      *Aot*) step "litestream: dotnet publish, NativeAOT (2-4 min on 2 idle cores)" ;;
      *) step "litestream-vfs.so: dotnet publish, NativeAOT shared library (1-3 min on 2 idle cores)" ;;
    esac
    log=$(mktemp)
    if ! dotnet publish "$project" -c Release -r "$rid" -o "$out" -nologo "${extra[@]}" > "$log" 2>&1; then
      grep -E "error|warning" "$log" | sort -u | head -40 >&2
      echo "error: publish of $project for $rid failed (full log: $log)" >&2
      exit 1
    fi
    if grep -qE "warning (IL|CS)[0-9]+" "$log"; then
      grep -E "warning (IL|CS)[0-9]+" "$log" | sort -u >&2
      echo "error: publish of $project for $rid produced warnings" >&2
      exit 1
    fi
    rm -f "$log"
  done
  rm -f "$out/Litestream.Aot" "$out/Litestream.Vfs.so"
  rm -f "$out"/*.dbg "$out"/*.pdb "$out"/*.xml
  for file in "$out/litestream" "$out/litestream-vfs.so"; do
    if [ -f "$file" ]; then echo "$file: $(stat -c %s "$file") bytes"; fi
  done
done
