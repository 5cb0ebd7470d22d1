#!/usr/bin/env bash
# Builds the Python wheel litestream-vfs (import litestream_vfs; litestream_vfs.load(conn), as upstream's
# package) around the published bin/<rid>/litestream-vfs.so, one wheel per RID, into dist/:
#   litestream_vfs-<version>-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl    (linux-x64)
#   litestream_vfs-<version>-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl  (linux-arm64)
#
#   deploy/python/build.sh [-r linux-x64|linux-arm64]... [-o DIR]
#
# Without -r: linux-x64, and linux-arm64 when it is published. A library that is not published yet is published
# first. The version, author and homepage come from Directory.Build.props; the platform tag from the newest
# glibc symbol the library needs (readelf). Only python3's standard library writes the wheel (wheel.py): no
# setuptools, no network. Upload with `twine upload dist/litestream_vfs-*.whl`.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/props.sh
source deploy/vfs-so.sh
vfs_args "$@"
license=$(vfs_license)
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
for rid in "${rids[@]}"; do
  so=$(vfs_so "$rid")
  case $rid in linux-x64) arch=x86_64 ;; linux-arm64) arch=aarch64 ;; esac
  glibc=$(vfs_glibc "$so")
  platforms=(--platform "manylinux_${glibc/./_}_$arch")
  # manylinux2014 is the legacy name of manylinux_2_17: pip before 20.3 knows only that one.
  [ "$glibc" = 2.17 ] && platforms+=(--platform "manylinux2014_$arch")
  python3 deploy/python/wheel.py --so "$so" "${platforms[@]}" --version "$(prop Version)" --author "$(prop Authors)" \
    --homepage "$(prop RepositoryUrl)" --license "$license" --out "$out"
done
