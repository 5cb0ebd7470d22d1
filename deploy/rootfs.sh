#!/usr/bin/env bash
# Builds a directory holding what deploy/Dockerfile's base image provides (glibc, libssl3, CA
# certificates, /tmp) plus the binary — nothing else: no shell, no sqlite3, no dotnet.
#   deploy/rootfs.sh ROOT [path/to/litestream]
set -euo pipefail
root=${1:?usage: deploy/rootfs.sh ROOT [litestream]}
exe=${2:-$(dirname "$0")/../bin/linux-x64/litestream}
rm -rf "$root"; mkdir -p "$root"/{usr/local/bin,tmp,etc/ssl/certs,data}
chmod 1777 "$root/tmp"
copy() { mkdir -p "$root$(dirname "$1")"; cp -L "$1" "$root$1"; }
# The dynamic loader and every library the binary links, plus OpenSSL (dlopen'ed for HTTPS).
for lib in $(ldd "$exe" | grep -o '/[^ ]*'); do copy "$lib"; done
for lib in /usr/lib/x86_64-linux-gnu/libssl.so.3 /usr/lib/x86_64-linux-gnu/libcrypto.so.3 /lib/x86_64-linux-gnu/libz.so.1; do
  [ -e "$lib" ] && copy "$lib"
done
[ -e /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp "$exe" "$root/usr/local/bin/litestream"
du -sh "$root" | cut -f1
