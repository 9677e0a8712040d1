#!/usr/bin/env bash
# A streaming read replica of the local PostgreSQL, for the replica routing test and for trying
# DATABASE_REPLICA_URL on one machine. Idempotent: a replica that is already streaming is left
# alone; a stopped one is started; a broken or missing one is rebuilt with pg_basebackup.
#
#   deploy/replica/setup-local-replica.sh          # set up (or check) the replica
#   deploy/replica/setup-local-replica.sh stop     # stop it (the test's "replica down")
#   deploy/replica/setup-local-replica.sh start    # start it again and wait until it streams
#   deploy/replica/setup-local-replica.sh start-no-wait
#
# Debian's cluster tools (pg_createcluster, pg_ctlcluster), run as root. The primary is the
# cluster on PRIMARY_PORT (127.0.0.1:5432); it is never restarted unless its wal_level is
# `minimal` (PostgreSQL's default is `replica`, which is enough). Replication connections from
# 127.0.0.1 are allowed in its pg_hba.conf with the same method as its other local TCP
# connections, then the configuration is reloaded (no restart). With PGPASSWORD set (a primary
# without trust) the replica connects with it.
set -euo pipefail

PRIMARY_HOST=${PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
REPLICA_CLUSTER=${REPLICA_CLUSTER:-replica}
SLOT=${REPLICA_SLOT:-rp_local_replica}
PGUSER=${PGUSER:-postgres}
export PGUSER

say() { printf 'replica: %s\n' "$*"; }
die() { printf 'replica: %s\n' "$*" >&2; exit 1; }

command -v pg_lsclusters >/dev/null 2>&1 || die "Debian's postgresql-common tools are missing (apt-get install postgresql)"
[ "$(id -u)" -eq 0 ] || die "run as root (pg_createcluster / pg_ctlcluster)"

# The primary's version is the replica's: the cluster listening on PRIMARY_PORT.
VERSION=$(pg_lsclusters -h | awk -v p="$PRIMARY_PORT" '$3 == p {print $1; exit}')
[ -n "$VERSION" ] || die "no local cluster on port $PRIMARY_PORT"
PRIMARY_CLUSTER=$(pg_lsclusters -h | awk -v p="$PRIMARY_PORT" '$3 == p {print $2; exit}')
[ "$PRIMARY_CLUSTER" != "$REPLICA_CLUSTER" ] || die "the replica cluster name is the primary's"
DATA=/var/lib/postgresql/$VERSION/$REPLICA_CLUSTER
CONF=/etc/postgresql/$VERSION/$REPLICA_CLUSTER

primary() { psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -d postgres -XAtqc "$1"; }
on_replica() { psql -h 127.0.0.1 -p "$REPLICA_PORT" -d postgres -XAtqc "$1" 2>/dev/null; }
exists() { pg_lsclusters -h | awk -v v="$VERSION" -v c="$REPLICA_CLUSTER" '$1 == v && $2 == c {f=1} END {exit !f}'; }
streaming() {
  [ "$(on_replica "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')")" = "t" ]
}
wait_streaming() {
  for _ in $(seq 1 120); do streaming && return 0; sleep 1; done
  return 1
}
running() { pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$REPLICA_CLUSTER" status >/dev/null 2>&1; }
stop_replica() {
  # Immediate: what a crash looks like, and no shutdown restartpoint to wait for on a slow disk
  # (a standby restarts from its last restartpoint and replays the rest).
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$REPLICA_CLUSTER" stop -m immediate 2>/dev/null || true
  for _ in $(seq 1 120); do running || return 0; sleep 1; done
  return 1
}
start_replica() {
  for _ in $(seq 1 120); do running && break; pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$REPLICA_CLUSTER" start 2>/dev/null && break; sleep 1; done
  wait_streaming
}

case "${1:-setup}" in
  stop)
    exists || die "no cluster $VERSION/$REPLICA_CLUSTER"
    stop_replica || die "$VERSION/$REPLICA_CLUSTER did not stop"
    say "stopped $VERSION/$REPLICA_CLUSTER"; exit 0 ;;
  start-no-wait)
    exists || die "no cluster $VERSION/$REPLICA_CLUSTER"
    running || pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$REPLICA_CLUSTER" start >/dev/null 2>&1 &
    say "starting $VERSION/$REPLICA_CLUSTER in the background"; exit 0 ;;
  start)
    exists || die "no cluster $VERSION/$REPLICA_CLUSTER"
    start_replica || die "$VERSION/$REPLICA_CLUSTER did not start streaming"
    say "streaming on port $REPLICA_PORT"; exit 0 ;;
  setup) ;;
  *) die "usage: $0 [setup|stop|start|start-no-wait]" ;;
esac

primary 'SELECT 1' >/dev/null || die "the primary on $PRIMARY_HOST:$PRIMARY_PORT does not answer"

# Already there: nothing to do. Stopped: start it, and rebuild only if it cannot catch up.
if exists; then
  if streaming || start_replica; then
    say "$VERSION/$REPLICA_CLUSTER already streaming from port $PRIMARY_PORT on port $REPLICA_PORT"
    exit 0
  fi
  say "$VERSION/$REPLICA_CLUSTER does not stream: rebuilding it"
fi

# --- the primary: WAL for replicas, and replication connections from 127.0.0.1 ---------------
WAL_LEVEL=$(primary 'SHOW wal_level')
if [ "$WAL_LEVEL" = "minimal" ] || [ "$(primary 'SHOW max_wal_senders')" = "0" ]; then
  say "the primary has wal_level=$WAL_LEVEL: setting replica and max_wal_senders=10, RESTARTING the primary"
  primary "ALTER SYSTEM SET wal_level = 'replica'"
  primary "ALTER SYSTEM SET max_wal_senders = 10"
  pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$PRIMARY_CLUSTER" restart
  for _ in $(seq 1 30); do pg_isready -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -q && break; sleep 1; done
fi
HBA=$(primary 'SHOW hba_file')
if ! psql "host=$PRIMARY_HOST port=$PRIMARY_PORT dbname=postgres replication=true" -XAtqc 'IDENTIFY_SYSTEM' >/dev/null 2>&1; then
  # The method of the primary's own 127.0.0.1 line (trust here, scram-sha-256 on a stock cluster).
  METHOD=$(awk '$1 == "host" && $2 == "all" && $4 == "127.0.0.1/32" {print $5; exit}' "$HBA")
  METHOD=${METHOD:-scram-sha-256}
  if ! grep -Eq "^host[[:space:]]+replication[[:space:]]+(all|$PGUSER)[[:space:]]+127\.0\.0\.1/32" "$HBA"; then
    say "allowing replication from 127.0.0.1 in $HBA ($METHOD) and reloading the primary"
    printf '# streaming replica on this machine (deploy/replica/setup-local-replica.sh)\nhost replication %s 127.0.0.1/32 %s\n' \
      "$PGUSER" "$METHOD" >>"$HBA"
  fi
  primary 'SELECT pg_reload_conf()' >/dev/null
  sleep 1
  psql "host=$PRIMARY_HOST port=$PRIMARY_PORT dbname=postgres replication=true" -XAtqc 'IDENTIFY_SYSTEM' >/dev/null \
    || die "the primary still refuses replication connections from 127.0.0.1 (see $HBA)"
fi

# --- the replica: a fresh cluster filled by pg_basebackup -----------------------------------
if exists; then
  stop_replica || die "$VERSION/$REPLICA_CLUSTER did not stop"
  pg_dropcluster "$VERSION" "$REPLICA_CLUSTER"
fi
say "creating $VERSION/$REPLICA_CLUSTER on port $REPLICA_PORT"
pg_createcluster "$VERSION" "$REPLICA_CLUSTER" --port "$REPLICA_PORT" >/dev/null
# Same client authentication as the primary (the roles and their passwords arrive by streaming).
cp "$HBA" "$CONF/pg_hba.conf"
chown postgres:postgres "$CONF/pg_hba.conf"
cat >"$CONF/conf.d/replica.conf" <<CONFEOF
# Long report queries are not cancelled by replay; the primary keeps the rows they need.
hot_standby = on
hot_standby_feedback = on
listen_addresses = '127.0.0.1'
CONFEOF
chown postgres:postgres "$CONF/conf.d/replica.conf"
find "$DATA" -mindepth 1 -delete
# A physical replication slot keeps the WAL the replica has not received yet on the primary, so
# a replica that was stopped (the routing test stops it) resumes streaming instead of needing a
# rebuild. Remove the replica with `pg_dropcluster` AND the slot (SELECT
# pg_drop_replication_slot('$SLOT')), or the primary keeps WAL for it forever.
primary "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null
# -R writes standby.signal, primary_conninfo and primary_slot_name; -X stream copies the WAL
# written meanwhile; -C -S creates the slot.
su postgres -c "PGPASSWORD='${PGPASSWORD:-}' pg_basebackup -h '$PRIMARY_HOST' -p '$PRIMARY_PORT' -U '$PGUSER' \
  -D '$DATA' -R -X stream -c fast -C -S '$SLOT'"
start_replica || die "$VERSION/$REPLICA_CLUSTER did not start streaming (log: /var/log/postgresql/postgresql-$VERSION-$REPLICA_CLUSTER.log)"
say "streaming from port $PRIMARY_PORT on port $REPLICA_PORT"
