#!/usr/bin/env bash
# Builds the npm package litestream-vfs (getLoadablePath() and load(db) for better-sqlite3 or node:sqlite) around
# the published bin/<rid>/litestream-vfs.so into dist/litestream-vfs-<version>.tgz, with `npm pack`.
#
#   deploy/npm/build.sh [-r linux-x64|linux-arm64]... [-o DIR]
#
# Without -r: linux-x64, and linux-arm64 when it is published; every RID's library goes into the one package
# (lib/<rid>/litestream-vfs.so) and its "cpu" field lists them. A library that is not published yet is
# published first. The version, author and repository come from Directory.Build.props. No network: the package
# has no dependencies. Publish with `npm publish dist/litestream-vfs-<version>.tgz`.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/props.sh
source deploy/vfs-so.sh
vfs_args "$@"
license=$(vfs_license)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cpus=()
for rid in "${rids[@]}"; do
  so=$(vfs_so "$rid")
  mkdir -p "$stage/lib/$rid"
  cp "$so" "$stage/lib/$rid/"
  case $rid in linux-x64) cpus+=(x64) ;; linux-arm64) cpus+=(arm64) ;; esac
done
cp deploy/npm/index.js deploy/npm/index.d.ts deploy/npm/README.md "$stage/"
cp "$license" "$stage/LICENSE"
# package.json: the checked-in template with what Directory.Build.props and the RIDs decide filled in.
VERSION=$(prop Version) AUTHOR=$(prop Authors) REPO=$(prop RepositoryUrl) CPUS="${cpus[*]}" \
  node -e '
    const fs = require("fs"), [src, dst] = process.argv.slice(1), p = JSON.parse(fs.readFileSync(src, "utf8"));
    Object.assign(p, { version: process.env.VERSION, author: process.env.AUTHOR, homepage: process.env.REPO, cpu: process.env.CPUS.split(" ") });
    p.repository.url = "git+" + process.env.REPO + ".git";
    fs.writeFileSync(dst, JSON.stringify(p, null, 2) + "\n");' deploy/npm/package.json "$stage/package.json"
mkdir -p "$out"
outdir=$(cd "$out" && pwd)
tgz=$(cd "$stage" && npm pack --silent --pack-destination "$outdir")
echo "$out/$tgz"
