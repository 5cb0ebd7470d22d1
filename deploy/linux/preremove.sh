#!/bin/sh
# Before removal, for both packages: deb prerm (remove | upgrade NEW_VERSION | ...) and rpm %preun (0 = erase,
# 1 = upgrade). On removal only: stop the service (SIGTERM: it makes its last sync) and disable it.
set -e
case "$1" in
  remove|0) ;;
  *) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl stop litestream.service || true
fi
if command -v systemctl >/dev/null; then
  systemctl disable litestream.service >/dev/null 2>&1 || true
fi
