# Shared by scripts/run and scripts/cluster: the build, the private PostgreSQL and homeserver.yaml under ./data.
# Expects $root (the repository) and scripts/lib/services.sh sourced.

# HOMESERVER_DATA moves everything (build, database, config, logs) elsewhere, as Bench does for its runs;
# HOMESERVER_EXTRA_CONFIG names a YAML file read after homeserver.yaml (its keys win), such as Bench's rate limits.
data="${HOMESERVER_DATA:-$root/data}"
pg_dir="$data/postgres"
config="$data/homeserver.yaml"
extra_config=()
if [ -n "${HOMESERVER_EXTRA_CONFIG:-}" ]; then extra_config=(--config-path "$HOMESERVER_EXTRA_CONFIG"); fi

# Builds the homeserver into data/bin, starts PostgreSQL (a Unix socket inside data/, so it never
# collides with another server's port), creates the database and generates homeserver.yaml if absent.
prepare_homeserver() {
  mkdir -p "$data"
  ensure_icu_installed || return 1
  log "Building the homeserver ..."
  dotnet build "$root/Homeserver/Homeserver.csproj" -c Release -nologo -v quiet -o "$data/bin" >/dev/null ||
    { log "The build failed; run: dotnet build Homeserver/Homeserver.csproj"; return 1; }
  pg_start "$pg_dir" 5432 "listen_addresses=''" || return 1
  if ! as_postgres "$PG_BIN/psql" -h "$pg_dir" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'homeserver'" | grep -q 1; then
    as_postgres "$PG_BIN/createdb" -h "$pg_dir" -U postgres -E UTF8 --locale=C -T template0 homeserver || return 1
  fi
  if [ ! -f "$config" ]; then
    dotnet "$data/bin/Homeserver.dll" generate-config --config-path "$config" --server-name localhost \
      --data-directory "$data" --database-host "$pg_dir" --database-port 5432 --database-user postgres --database-name homeserver ||
      return 1
    log "Generated $config (edit it and restart to change settings)."
  fi
}
