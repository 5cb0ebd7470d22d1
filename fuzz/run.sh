#!/usr/bin/env bash
# Long fuzzing run with afl++ (apt-get install afl++) and SharpFuzz (dotnet tool SharpFuzz.CommandLine 2.3.0).
#   fuzz/run.sh ltx|config [afl-fuzz options...]     e.g. fuzz/run.sh ltx -V 3600
# Builds fuzz/Litestream.Fuzz into .fuzz/<target>/bin, instruments the assemblies under test, seeds the corpus
# (LTX fixtures from ../shared/spec/testdata, read there and never copied into the repo; our own configs),
# and runs afl-fuzz with findings in .fuzz/<target>/findings. Replay a finding without afl:
#   .fuzz/<target>/bin/Litestream.Fuzz <target> --replay .fuzz/<target>/findings/default/crashes/id:*
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-}
case $target in
  ltx) assemblies=(Litestream.Ltx.dll) ;;
  config) assemblies=(Litestream.Aot.dll YamlDotNet.dll) ;;
  *) echo "error: unknown target '$target'" >&2; echo "hint: fuzz/run.sh ltx|config [afl-fuzz options]" >&2; exit 2 ;;
esac
shift
command -v afl-fuzz >/dev/null || { echo "error: afl-fuzz not found" >&2; echo "hint: apt-get install afl++" >&2; exit 1; }
export PATH="$PATH:$HOME/.dotnet/tools"
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0
work=.fuzz/$target
rm -rf "$work/bin" "$work/in"
mkdir -p "$work/in"
dotnet publish fuzz/Litestream.Fuzz/Litestream.Fuzz.csproj -c Release -o "$work/bin" -nologo -v q
for a in "${assemblies[@]}"; do
  sharpfuzz "$work/bin/$a"
done
if [ "$target" = ltx ]; then
  spec=../shared/spec/testdata
  [ -d "$spec" ] || { echo "error: $spec not found (LTX seeds are read from there)" >&2; exit 1; }
  # Small seeds fuzz fastest: every fixture up to 64 KB.
  find "$spec" -name '*.ltx' -size -64k -exec cp {} "$work/in/" \;
else
  cp fuzz/corpus/config/*.yml examples/litestream.yml "$work/in/"
fi
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=${AFL_NO_UI:-1}
# -t: the .NET runtime starts slowly; -m none: the runtime reserves far more address space than afl's default.
exec afl-fuzz -i "$work/in" -o "$work/findings" -t 10000 -m none "$@" -- "$work/bin/Litestream.Fuzz" "$target"
