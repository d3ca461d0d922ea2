# Private PostgreSQL and Redis servers on loopback, as plain processes (no Docker).
# Sourced by scripts/run, scripts/test and scripts/cluster.

PG_BIN=/usr/lib/postgresql/15/bin

log() { printf '%s\n' "$*" >&2; }

as_postgres() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then log "Please install Debian's $* (sudo apt-get install -y $*)."; return 1; fi
  log "Installing Debian's $* ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

ensure_postgres_installed() {
  [ -x "$PG_BIN/initdb" ] || apt_install postgresql || return 1
  [ -x "$PG_BIN/initdb" ] || { log "PostgreSQL 15 was not found in $PG_BIN after installing."; return 1; }
}

# .NET's globalization needs ICU: passwords are NFKC-normalised, as Synapse does, and invariant
# mode would skip that silently.
ensure_icu_installed() {
  ldconfig -p 2>/dev/null | grep -q 'libicuuc\.so' || apt_install libicu72 || return 1
}

ensure_redis_installed() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server || return 1
  # Debian starts its own redis service on install; ours runs on private ports, so leave it be.
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# pg_start DATA_DIR PORT [extra postgres -c options...]
pg_start() {
  local dir=$1 port=$2; shift 2
  ensure_postgres_installed || return 1
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; chmod 700 "$dir"; fi
  if ! as_postgres test -w "$dir"; then
    log "PostgreSQL's data folder $dir is not reachable by the postgres user; clone the project somewhere every user can enter (for example under /work or /srv)."
    return 1
  fi
  # Already running on this folder (a second `scripts/cluster start`, say): use it.
  if [ -f "$dir/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return 0; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null || return 1
  fi
  local opts="-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=300"
  for o in "$@"; do opts="$opts -c $o"; done
  as_postgres "$PG_BIN/pg_ctl" -D "$dir" -o "$opts" -l "$dir/postgres.log" -w -t 60 start >/dev/null ||
    { log "PostgreSQL did not start; see $dir/postgres.log"; tail -n 20 "$dir/postgres.log" >&2; return 1; }
}

pg_stop() {
  local dir=$1
  [ -f "$dir/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1
  return 0
}

# redis_start DIR PORT
redis_start() {
  local dir=$1 port=$2
  ensure_redis_installed || return 1
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null || return 1
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "Redis did not start; see $dir/redis.log"; return 1
}

redis_stop() {
  local dir=$1
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null
  return 0
}
