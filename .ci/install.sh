#!/usr/bin/env bash
# Installs what the build and tests need on a fresh Debian machine that has only the .NET SDK; test.sh runs
# it first. Idempotent, and quick when everything is present (well under a second: it only looks): a C
# compiler for the static SQLite archive, npm to fetch the SQLite amalgamation, the sqlite3 CLI and python3
# for the writer processes tests start, python3-venv and better-sqlite3 (the VFS package tests), the arm64
# cross toolchain and qemu, the packaging tools (dpkg-deb comes with dpkg, rpmbuild with rpm), nats-server,
# s3rver, Azurite, rclone and nginx (WebDAV), firebase-tools (the GCS emulator), the upstream binary.
set -euo pipefail
need=()
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v python3 >/dev/null || need+=(python3)
# The VFS tests load litestream-vfs.so into Python's sqlite3: a pyenv python3 often lacks load_extension.
# Debian's is looked for first: starting a pyenv shim alone can take seconds on a busy machine.
[ -x /usr/bin/python3 ] \
  || python3 -c "import sqlite3, sys; sys.exit(0 if hasattr(sqlite3.Connection, 'enable_load_extension') else 1)" 2>/dev/null \
  || need+=(python3)
# The VFS package tests (deploy/python, deploy/npm): a venv for the wheel; make and g++ compile better-sqlite3 below.
/usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)
command -v make >/dev/null || need+=(make)
command -v g++ >/dev/null || need+=(g++)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v npm >/dev/null || need+=(npm)
command -v clang >/dev/null || command -v gcc >/dev/null || need+=(clang)
[ -e /usr/lib/x86_64-linux-gnu/liblz4.so.1 ] || need+=(liblz4-1)
# linux-arm64 cross-publish and its tests under qemu-user
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
# deploy/package.sh and its tests: rpmbuild, readelf, file; the shells the completion tests load the scripts into;
# groff/man/col to render the man page; systemd-analyze to verify the unit.
command -v rpmbuild >/dev/null || need+=(rpm)
command -v readelf >/dev/null || need+=(binutils)
command -v file >/dev/null || need+=(file)
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
command -v groff >/dev/null || need+=(groff-base)
command -v man >/dev/null || need+=(man-db)
command -v col >/dev/null || need+=(bsdextrautils)
command -v systemd-analyze >/dev/null || need+=(systemd)
# SFTP tests: the fixture runs its own sshd (internal-sftp) on a loopback port with a temporary host key.
{ [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null; } || need+=(openssh-server openssh-client)
# WebDAV tests: two servers that differ, each started by its fixture on a loopback port (rclone serve webdav;
# nginx in the foreground with the dav module and dav-ext for PROPFIND).
command -v rclone >/dev/null || need+=(rclone)
{ [ -x /usr/sbin/nginx ] && [ -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ]; } || need+=(nginx-light libnginx-mod-http-dav-ext)
# NATS tests: the fixture runs nats-server -js on a loopback port with a temporary store.
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
# The monitoring tests: promtool checks the /metrics exposition, a real Prometheus scrapes it.
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# s3rver (S3 tests and the S3 acceptance check), with the one-line fix that makes delimiter listings
# return CommonPrefixes more than one level down (INFRA.md "S3"); both steps are no-ops when done.
tools="$(cd "$(dirname "$0")/.." && pwd)/.tools"
if [ ! -e "$tools/node_modules/s3rver/package.json" ]; then
  echo "installing: s3rver@3.7.1 (npm, into .tools/)"
  npm install --prefix "$tools" --no-audit --no-fund --save-exact s3rver@3.7.1 >/dev/null
fi
# Azurite (Azure Blob tests): azurite-blob on a loopback port, started by the test fixture.
if [ ! -e "$tools/node_modules/azurite/package.json" ]; then
  echo "installing: azurite@3.37.0 (npm, into .tools/)"
  npm install --prefix "$tools" --no-audit --no-fund --save-exact azurite@3.37.0 >/dev/null
fi
# firebase-tools (gs tests): its Cloud Storage emulator is the local GCS JSON API (tests/Shared/gcs_emulator.js serves
# it on a loopback port). fake-gcs-server ships only through PyPI and Go, which this machine cannot reach.
# A prefix of its own (its ~700 packages never touch s3rver's tree); no install scripts: they only build re2 (C++,
# many minutes) and check esbuild, which the storage emulator needs neither of.
if [ ! -e "$tools/firebase/node_modules/firebase-tools/package.json" ]; then
  echo "installing: firebase-tools@15.37.0 (npm, into .tools/firebase/; large, a few minutes)"
  mkdir -p "$tools/firebase"
  npm install --prefix "$tools/firebase" --no-audit --no-fund --ignore-scripts --save-exact firebase-tools@15.37.0 >/dev/null
fi
# better-sqlite3 (the npm VFS package test loads the extension into it): compiled from source against the installed
# node's headers (prebuild-install would download a prebuilt binary from outside the registries); a prefix of its own.
# npm_config_nodedir stops node-gyp from downloading the headers. A few minutes, once.
bs3="$tools/better-sqlite3/node_modules/better-sqlite3"
if [ ! -e "$bs3/build/Release/better_sqlite3.node" ]; then
  echo "installing: better-sqlite3@12.9.0 (npm, into .tools/better-sqlite3/; compiled from source, a few minutes)"
  nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  [ -e "$nodedir/include/node/node.h" ] || { echo "error: no node headers in $nodedir/include/node (needed to compile better-sqlite3)" >&2; exit 1; }
  mkdir -p "$tools/better-sqlite3"
  export npm_config_nodedir="$nodedir" npm_config_build_from_source=true
  npm install --prefix "$tools/better-sqlite3" --no-audit --no-fund --save-exact better-sqlite3@12.9.0 >/dev/null
  # npm versions that hold back install scripts until approved leave the addon unbuilt: build it explicitly.
  [ -e "$bs3/build/Release/better_sqlite3.node" ] || npm rebuild --prefix "$tools/better-sqlite3" better-sqlite3 >/dev/null
  unset npm_config_nodedir npm_config_build_from_source
fi
# After every npm install (one may have re-extracted s3rver), patched only when the patch is missing.
store="$tools/node_modules/s3rver/lib/stores/filesystem.js"
if grep -q '^[[:space:]]*delimiterEnc &&$' "$store"; then
  sed -i 's/^\([[:space:]]*\)delimiterEnc &&$/\1false \&\& delimiterEnc \&\&/' "$store"
fi
# CopyObject: AWS's SDKs percent-encode the '/' between bucket and key in x-amz-copy-source (AWS, MinIO and R2
# accept it); s3rver decodes the header with decodeURI, which leaves %2F, and answers NoSuchBucket.
object="$tools/node_modules/s3rver/lib/controllers/object.js"
if grep -q "copySource = decodeURI(ctx" "$object"; then
  sed -i "s/copySource = decodeURI(ctx/copySource = decodeURIComponent(ctx/" "$object"
fi
# The upstream binary for the interop test and bench/run.py: test.sh fails that test when it is missing.
bash "$(dirname "$0")/upstream.sh" || { echo "error: could not fetch the upstream binary (.ci/upstream.sh)" >&2; exit 1; }
