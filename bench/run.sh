#!/usr/bin/env bash
# One command for the side-by-side benchmark: ours vs upstream Litestream. See bench/README.md.
#   bench/run.sh            full run (about 40-60 minutes with the 1 000-database idle rows; writes bench/RESULTS.latest.md and bench/results.json)
#   bench/run.sh --quick    small smoke run (CI runs this so the harness cannot rot)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x bin/linux-x64/litestream ] || ./publish.sh
if [ "${1:-}" = "--quick" ]; then
  exec python3 bench/run.py --quick --json "${TMPDIR:-/tmp}/litestream-bench-quick.json" "${@:2}"
fi
python3 bench/run.py --md bench/RESULTS.latest.md --json bench/results.json "$@"
