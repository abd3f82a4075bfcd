#!/bin/sh
# Run once by the compose PostgreSQL when it creates its database (docker-entrypoint-initdb.d):
# a read-only role for Grafana's fleet Audit dashboard (grafana/fleet/, docs/fleet.md). The
# tables and their day partitions are created later by the sidecars (as POSTGRES_USER), so
# the default privileges of that user make each readable by Grafana as it appears.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana LOGIN PASSWORD :'password';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO grafana;
SQL
