#!/usr/bin/env bash
# Long mode of the reliability suite (never run in CI): the crash soak with 500 SIGKILLs of replicate
# (a quarter at random moments, the rest the instant a checkpoint, a compaction or a snapshot upload
# starts; the writer is killed every seventh round), 10 minutes of sustained writes (no SQLITE_BUSY,
# WAL bounded, checkpoints keep happening), 5 minutes of two replicators on one busy database (every
# second one refused naming the first's pid, the first killed with SIGKILL every fifth round and replaced,
# nothing lost), and an S3 server that stalls every request for 5 minutes under a writer at the default stall
# limits, then heals (reported throughout, nothing lost). Takes about 55 minutes; the summaries are printed at
# the end.
#   tests/long.sh                         all four
#   LITESTREAM_SOAK_KILLS=2000 tests/long.sh   more kills;  LITESTREAM_LOAD_SECONDS=3600: a longer load;
#   LITESTREAM_TWO_REPLICATORS_SECONDS=1800: two replicators for longer;  LITESTREAM_STALL_SECONDS=1800: a longer stall
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .tools/node_modules/.bin/s3rver ] && export S3RVER="$PWD/.tools/node_modules/.bin/s3rver"
[ -x bin/linux-x64/litestream ] || ./publish.sh
dotnet build tests/Litestream.Aot.Tests/Litestream.Aot.Tests.csproj -c Release -nologo -v q
LITESTREAM_LONG=1 dotnet test tests/Litestream.Aot.Tests/Litestream.Aot.Tests.csproj -c Release --no-build \
  --filter "FullyQualifiedName~KillDashNine_Long|FullyQualifiedName~SustainedWrites_TenMinutes|FullyQualifiedName~TwoReplicators_Long|FullyQualifiedName~ServerStallsForMinutes_Long" \
  --logger "console;verbosity=detailed" | grep -E "crash soak:|sustained load|two replicators:|Passed|Failed|error" 
