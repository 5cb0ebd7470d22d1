#!/bin/sh
# Container start-up the Litestream way: restore the database if this is a fresh container and the
# replica has a backup, then run the application under `replicate -exec`, which replicates until the
# application exits and exits with its code (signals are forwarded).
#   ENTRYPOINT ["/entrypoint.sh"], with DB_PATH and the app command in APP_CMD.
set -e
litestream restore -if-db-not-exists -if-replica-exists -config /etc/litestream.yml "$DB_PATH"
exec litestream replicate -config /etc/litestream.yml -exec "$APP_CMD"
