#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the fault test (tests/hostile/test_live_faults.py): the test
# restarts it while the portal is under load, which it must never do to the shared cluster on
# 5432. Idempotent: a running cluster is left alone; a stopped one is started; a missing one is
# created. Nothing in it is kept: fsync is off and every database in it is the test's to drop.
#
#   deploy/fault/setup-fault-cluster.sh            # set up (or check) the cluster, running
#   deploy/fault/setup-fault-cluster.sh restart    # restart it (fast shutdown: sessions cut)
#   deploy/fault/setup-fault-cluster.sh stop       # stop it
#   deploy/fault/setup-fault-cluster.sh start      # start it and wait until it answers
#   deploy/fault/setup-fault-cluster.sh drop       # remove it
#
# Debian's cluster tools (pg_createcluster, pg_ctlcluster), run as root. The version is the one
# of the cluster on 5432 when there is one, else the newest installed. Connections from
# 127.0.0.1 are trusted (user postgres, no password): it listens on 127.0.0.1 only.
set -euo pipefail

FAULT_PORT=${FAULT_PORT:-5434}
FAULT_CLUSTER=${FAULT_CLUSTER:-fault}

say() { printf 'fault-cluster: %s\n' "$*"; }
die() { printf 'fault-cluster: %s\n' "$*" >&2; exit 1; }

command -v pg_lsclusters >/dev/null 2>&1 || die "Debian's postgresql-common tools are missing (apt-get install postgresql)"
[ "$(id -u)" -eq 0 ] || die "run as root (pg_createcluster / pg_ctlcluster)"

VERSION=${FAULT_VERSION:-$(pg_lsclusters -h | awk '$3 == 5432 {print $1; exit}')}
VERSION=${VERSION:-$(ls /usr/lib/postgresql | sort -n | tail -1)}
[ -n "$VERSION" ] || die "no PostgreSQL server installed"
CONF=/etc/postgresql/$VERSION/$FAULT_CLUSTER

exists() { pg_lsclusters -h | awk -v v="$VERSION" -v c="$FAULT_CLUSTER" '$1 == v && $2 == c {f=1} END {exit !f}'; }
ctl() { pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$FAULT_CLUSTER" "$@"; }
running() { ctl status >/dev/null 2>&1; }
answers() { pg_isready -h 127.0.0.1 -p "$FAULT_PORT" -q; }
wait_answers() {
  for _ in $(seq 1 300); do answers && return 0; sleep 0.1; done
  return 1
}
start() {
  running || ctl start
  wait_answers || die "$VERSION/$FAULT_CLUSTER does not answer on port $FAULT_PORT (log: /var/log/postgresql/postgresql-$VERSION-$FAULT_CLUSTER.log)"
}

case "${1:-setup}" in
  start) exists || die "no cluster $VERSION/$FAULT_CLUSTER (run $0 first)"; start; say "up on port $FAULT_PORT"; exit 0 ;;
  stop) exists || die "no cluster $VERSION/$FAULT_CLUSTER"; ctl stop -m fast 2>/dev/null || true; say "stopped"; exit 0 ;;
  restart)
    exists || die "no cluster $VERSION/$FAULT_CLUSTER (run $0 first)"
    ctl restart -m fast
    wait_answers || die "$VERSION/$FAULT_CLUSTER did not come back on port $FAULT_PORT"
    say "restarted on port $FAULT_PORT"; exit 0 ;;
  drop)
    if exists; then ctl stop -m immediate 2>/dev/null || true; pg_dropcluster "$VERSION" "$FAULT_CLUSTER"; fi
    say "dropped $VERSION/$FAULT_CLUSTER"; exit 0 ;;
  setup) ;;
  *) die "usage: $0 [setup|start|stop|restart|drop]" ;;
esac

if ! exists; then
  say "creating $VERSION/$FAULT_CLUSTER on port $FAULT_PORT"
  pg_createcluster "$VERSION" "$FAULT_CLUSTER" --port "$FAULT_PORT" >/dev/null
  cat >"$CONF/pg_hba.conf" <<'HBAEOF'
# Throwaway cluster for the fault test (deploy/fault/setup-fault-cluster.sh): local only, trusted.
local all all trust
host all all 127.0.0.1/32 trust
HBAEOF
  cat >"$CONF/conf.d/fault.conf" <<'CONFEOF'
# Throwaway: nothing here survives a crash on purpose, and restarts are quick.
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 32MB
CONFEOF
  chown postgres:postgres "$CONF/pg_hba.conf" "$CONF/conf.d/fault.conf"
fi
start
say "up on port $FAULT_PORT ($VERSION/$FAULT_CLUSTER)"
