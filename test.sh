#!/usr/bin/env bash
# Runs every test: builds the static SQLite archive and publishes the NativeAOT exe first (the CLI,
# end-to-end and acceptance tests drive bin/linux-x64/litestream), then each test project with a TRX
# log in TestResults/ (counted by .ci/run). The linux-arm64 binary is cross-published too when the
# cross toolchain is installed (.ci/install.sh installs it). The format library runs a second time with hardware
# intrinsics off, so the scalar CRC path is proven too.
set -uo pipefail
cd "$(dirname "$0")"
status=0
# S3 tests and the S3 acceptance check use the s3rver that .ci/install.sh puts in .tools/.
[ -x .tools/node_modules/.bin/s3rver ] && export S3RVER="$PWD/.tools/node_modules/.bin/s3rver"
./publish.sh || exit 1
if command -v aarch64-linux-gnu-gcc >/dev/null; then
  ./publish.sh -r linux-arm64 || status=1   # tested under qemu by Arm64Tests
fi
dotnet build Litestream.slnx -c Release -nologo -v q || exit 1
for p in tests/*/*.Tests.csproj; do
  name=$(basename "$p" .csproj)
  dotnet test "$p" -c Release --no-build --logger "trx;LogFileName=$name.trx" --results-directory "TestResults/$name" || status=1
done
DOTNET_EnableHWIntrinsic=0 dotnet test tests/Litestream.Ltx.Tests/Litestream.Ltx.Tests.csproj -c Release --no-build \
  --logger "trx;LogFileName=scalar.trx" --results-directory TestResults/Litestream.Ltx.Tests.NoIntrinsics || status=1
exit $status
