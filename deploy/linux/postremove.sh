#!/bin/sh
# After removal, for both packages: deb postrm (remove | purge | upgrade | ...) and rpm %postun (0 = erase,
# 1 = upgrade). systemd forgets the unit. The litestream user and /var/lib/litestream stay: databases may live
# there, and a user id that files still carry must not be handed to someone else.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
