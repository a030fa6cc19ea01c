#!/usr/bin/env bash
# Make sure the local PostgreSQL and Redis answer; start them (Debian packages) when they do not.
# Used by `make run`, `make test` and .ci/run so a fresh machine needs no manual step.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }
redis_up() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

wait_for() {  # name, check function, seconds
  local name=$1 check=$2 seconds=$3
  for _ in $(seq 1 "$seconds"); do
    if $check; then return 0; fi
    sleep 1
  done
  echo "ensure-services: $name did not come up within ${seconds}s" >&2
  return 1
}

if pg_up; then
  echo "PostgreSQL: running on $PGHOST:$PGPORT"
else
  echo "PostgreSQL: not answering on $PGHOST:$PGPORT, starting it"
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  else
    echo "ensure-services: PostgreSQL is not installed (apt-get install postgresql) or not on $PGHOST:$PGPORT" >&2
    exit 1
  fi
  wait_for PostgreSQL pg_up 30
  echo "PostgreSQL: started"
fi

if redis_up; then
  echo "Redis: running on $REDIS_HOST:$REDIS_PORT"
else
  echo "Redis: not answering on $REDIS_HOST:$REDIS_PORT, starting it"
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  else
    echo "ensure-services: redis-server is not installed (apt-get install redis-server)" >&2
    exit 1
  fi
  wait_for Redis redis_up 30
  echo "Redis: started"
fi
