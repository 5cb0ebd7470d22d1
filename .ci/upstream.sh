#!/usr/bin/env bash
# Fetches the upstream Litestream binary (v0.3.13, the build the npm registry serves) into
# .tools/upstream/package/litestream for interop tests and bench/run.sh. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
exe=.tools/upstream/package/litestream
[ -x "$exe" ] && exit 0
mkdir -p .tools/upstream
(cd .tools/upstream && npm pack @flydotio/litestream-linux-x64@1.0.1 --silent > /dev/null && tar xzf flydotio-litestream-linux-x64-1.0.1.tgz && rm -f ./*.tgz)
chmod +x "$exe"
