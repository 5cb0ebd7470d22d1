#!/bin/sh
# After install or upgrade, for both packages: deb postinst (configure [OLD_VERSION]) and rpm %post (1 = install,
# 2 = upgrade). Creates the service user, its data directory and the config's permissions; never enables or starts
# the service on a first install (there is nothing to replicate until /etc/litestream.yml lists a database), and
# restarts it on an upgrade only if it was running.
set -e
case "$1" in
  configure) if [ -n "$2" ]; then upgrade=1; else upgrade=; fi ;;
  1) upgrade= ;;
  2) upgrade=1 ;;
  *) exit 0 ;;
esac
if ! getent group litestream >/dev/null; then
  groupadd --system litestream
fi
if ! getent passwd litestream >/dev/null; then
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  useradd --system --gid litestream --home-dir /var/lib/litestream --no-create-home --shell "$nologin" \
    --comment "Litestream replication" litestream
fi
install -d -o litestream -g litestream -m 0750 /var/lib/litestream
if [ -z "$upgrade" ]; then
  # The config may hold storage credentials: readable by root and the service's group only.
  chgrp litestream /etc/litestream.yml
  chmod 0640 /etc/litestream.yml
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  if [ -n "$upgrade" ]; then
    systemctl try-restart litestream.service || true
  fi
fi
if [ -z "$upgrade" ]; then
  echo "litestream: list your databases in /etc/litestream.yml, then run: systemctl enable --now litestream"
fi
