#!/usr/bin/env bash
# Starts the machine's PostgreSQL 15 (if it is stopped) and makes the test role and database.
# Prints the connection string. Needs root (as CI and developer machines here are).
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL 15 is not installed: apt-get install -y postgresql-15" >&2
  exit 1
fi
pg_lsclusters | grep -qE '^15 +main .*online' || pg_ctlcluster 15 main start >&2
cd /tmp
for _ in $(seq 1 50); do
  su postgres -c "psql -tAc 'SELECT 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='orleans_search'\"" | grep -q 1 \
  || su postgres -c "psql -v ON_ERROR_STOP=1 -qc \"CREATE ROLE orleans_search LOGIN CREATEDB PASSWORD 'orleans_search'\"" >&2
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='orleans_search'\"" | grep -q 1 \
  || su postgres -c "psql -v ON_ERROR_STOP=1 -qc 'CREATE DATABASE orleans_search OWNER orleans_search'" >&2
echo "Host=127.0.0.1;Port=5432;Database=orleans_search;Username=orleans_search;Password=orleans_search"
