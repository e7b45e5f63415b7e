#!/bin/sh
# Runs once, when the postgres container initializes its data folder.
# Creates Stride's runtime role with a login before the first migration, so
# that the migration (which creates it only when missing) grants it what it
# needs. No ownership, no BYPASSRLS: row-level security binds it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_password="$STRIDE_APP_PASSWORD" <<'SQL'
CREATE ROLE stride_app LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
SQL
