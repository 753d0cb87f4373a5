#!/usr/bin/env bash
# Prints the DATABASE_URL of a PostgreSQL database for the benchmarks (default name
# educompte_bench), after installing and starting PostgreSQL if needed — the same steps
# as .ci/run. Everything but the URL goes to stderr.
#   bench/pg.sh [DBNAME]
set -euo pipefail
db="${1:-educompte_bench}"
role=educompte
password=educompte
export DEBIAN_FRONTEND=noninteractive

can_login() {
  PGPASSWORD=$password psql -h 127.0.0.1 -p "$1" -U $role -d postgres -tAc 'SELECT 1' \
    >/dev/null 2>&1
}

port=""
if command -v pg_lsclusters >/dev/null 2>&1; then
  port=$(pg_lsclusters -h 2>/dev/null | awk '$4=="online"{print $3; exit}')
fi
if [ -z "$port" ] || ! can_login "$port"; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench/pg.sh: no PostgreSQL with role $role on loopback, and installing one needs root;" \
      "set BENCH_DATABASE_URL instead" >&2
    exit 1
  fi
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "bench/pg.sh: installing PostgreSQL" >&2
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
    pg_lsclusters -h 2>/dev/null | grep -q . || pg_createcluster "$pg_version" main >&2
    pg_ctlcluster "$pg_version" main start >&2
  fi
  port=$(pg_lsclusters -h | awk '$4=="online"{print $3; exit}')
  su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_roles WHERE rolname='$role'\"" \
    | grep -q 1 \
    || su postgres -c "psql -q -p $port -c \"CREATE ROLE $role LOGIN SUPERUSER PASSWORD '$password'\"" >&2
fi

exists=$(PGPASSWORD=$password psql -h 127.0.0.1 -p "$port" -U $role -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname='$db'")
if [ "$exists" != 1 ]; then
  echo "bench/pg.sh: creating database $db" >&2
  PGPASSWORD=$password psql -q -h 127.0.0.1 -p "$port" -U $role -d postgres \
    -c "CREATE DATABASE $db OWNER $role" >&2
fi
echo "postgres://$role:$password@127.0.0.1:$port/$db"
