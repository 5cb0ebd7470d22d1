#!/bin/sh
# Serverless pattern: restore on cold start, run the handler, then `replicate -once` before the
# function returns, so the next cold start (anywhere) sees the writes. -once exits non-zero if the
# sync failed, so the platform can retry the invocation instead of losing the write.
set -e
litestream restore -if-db-not-exists -if-replica-exists -config /etc/litestream.yml "$DB_PATH"
"$@"                                       # the function's handler
litestream replicate -once -config /etc/litestream.yml
