#!/bin/sh
# The read replica: on first start its data directory is a pg_basebackup of the primary (with a
# replication slot, so a replica that was down catches up instead of needing a rebuild), then it
# runs as a hot standby that follows the primary.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h postgres-primary -p 5432 -q; do sleep 1; done
  export PGPASSWORD="$REPLICATION_PASSWORD"
  pg_basebackup -h postgres-primary -p 5432 -U replicator -D "$PGDATA" -R -X stream -C -S replica1 -c fast \
    || pg_basebackup -h postgres-primary -p 5432 -U replicator -D "$PGDATA" -R -X stream -S replica1 -c fast
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
