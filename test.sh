#!/usr/bin/env bash
# Runs every test, on a fresh clone too: installs what the tests need (.ci/install.sh: idempotent, about a
# second when everything is present), builds the static SQLite archive and publishes the NativeAOT exe (the
# CLI, end-to-end and acceptance tests drive bin/linux-x64/litestream), cross-publishes linux-arm64 (run
# under qemu by Arm64Tests), then each test project with a TRX log in TestResults/ (counted by .ci/run).
# The format library runs a second time with hardware intrinsics off, so the scalar CRC path is proven too.
# LITESTREAM_TEST_STRICT=1: a test whose tool, server or published binary is missing fails instead of
# skipping (tests/Shared/Prerequisites.cs); only by-design modes (long mode) skip.
set -uo pipefail
cd "$(dirname "$0")"
status=0
bash .ci/install.sh || { echo "error: installing the test prerequisites failed (.ci/install.sh)" >&2; exit 1; }
export LITESTREAM_TEST_STRICT=1
export S3RVER="$PWD/.tools/node_modules/.bin/s3rver"   # also read by the S3 acceptance check
./publish.sh || exit 1
./publish.sh -r linux-arm64 || status=1
dotnet build Litestream.slnx -c Release -nologo -v q || exit 1
for p in tests/*/*.Tests.csproj; do
  name=$(basename "$p" .csproj)
  dotnet test "$p" -c Release --no-build --logger "trx;LogFileName=$name.trx" --results-directory "TestResults/$name" || status=1
done
DOTNET_EnableHWIntrinsic=0 dotnet test tests/Litestream.Ltx.Tests/Litestream.Ltx.Tests.csproj -c Release --no-build \
  --logger "trx;LogFileName=scalar.trx" --results-directory TestResults/Litestream.Ltx.Tests.NoIntrinsics || status=1
exit $status
