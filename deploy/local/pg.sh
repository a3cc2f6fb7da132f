#!/usr/bin/env bash
# Throwaway local PostgreSQL server for tests and for `up.sh --postgres`.
#
# Sourced (what tests/run.sh and deploy/local/up.sh do):
#     source deploy/local/pg.sh
#     pg_start      # exports OC_PG_PORT, OC_PG_DATA, OC_PG_DIR, ConnectionStrings__Postgres
#     ...
#     pg_stop       # stops the server and deletes its temp dir; safe to call twice
#   pg_start must run in the current shell (not inside $(...)), otherwise the
#   exports are lost and nobody can stop the server.
#
# Run directly:
#     eval "$(deploy/local/pg.sh start)"   # prints `export ...` lines on stdout
#     deploy/local/pg.sh url               # the connection string
#     deploy/local/pg.sh stop              # uses $OC_PG_DIR, or the only running oc-pg.* dir
#   `stop` and `url` also accept the temp dir as a second argument.
#
# The server: its own temp dir ${TMPDIR:-/tmp}/oc-pg.XXXXXX (data/, sock/, server.log),
# 127.0.0.1 only, first free port from 54329 upward, trust auth (it is a throwaway
# cluster reachable only from this machine), fsync on (durability is a product promise,
# so the tests must exercise it with fsync on), max_connections=$OC_PG_MAX_CONNECTIONS
# (default 300), database `orleans`
# owned by user `postgres`. As root, the server runs as the `postgres` OS user because
# initdb/postgres refuse to run as root.
#
# Progress messages go to stderr; stdout is reserved for `start`'s export lines and `url`.

# Deliberately no `set -euo pipefail` at top level: this file is sourced into other
# scripts and must not change their shell options. Functions check errors explicitly.

OC_PG_FIRST_PORT=${OC_PG_FIRST_PORT:-54329}
OC_PG_START_TIMEOUT=${OC_PG_START_TIMEOUT:-60}   # seconds until pg_isready must say ready
OC_PG_MAX_CONNECTIONS=${OC_PG_MAX_CONNECTIONS:-300}

_pg_log() { printf 'pg: %s\n' "$*" >&2; }

# Highest-version PostgreSQL bin dir that has a server (initdb), or fail.
# Looks at /usr/lib/postgresql/*/bin (Debian layout; those are not on PATH) and then PATH.
pg_bin_dir() {
    local d best=""
    # `sort -V` so that 9.6 < 15 < 16.
    while IFS= read -r d; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && best=$d
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
    if [[ -z "$best" ]] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        best=$(dirname "$(command -v initdb)")
    fi
    [[ -n "$best" ]] || return 1
    printf '%s\n' "$best"
}

# Make sure server binaries exist: install the `postgresql` package as root, otherwise
# say exactly what to install. Sets OC_PG_BIN.
pg_ensure_binaries() {
    if ! OC_PG_BIN=$(pg_bin_dir); then
        if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            _pg_log "PostgreSQL server binaries not found; installing them: apt-get update && apt-get install -y postgresql"
            if ! { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2; }; then
                _pg_log "apt-get install postgresql failed"
                return 1
            fi
            OC_PG_BIN=$(pg_bin_dir) || { _pg_log "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"; return 1; }
        else
            _pg_log "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found."
            _pg_log "Install the Debian/Ubuntu package 'postgresql':  sudo apt-get install -y postgresql"
            _pg_log "(or run this script as root and it installs it)."
            return 1
        fi
    fi
    if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
        # The package creates this user; a hand-installed server may not have it.
        _pg_log "creating system user 'postgres' to run the server (initdb refuses root)"
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres || return 1
    fi
    export OC_PG_BIN
}

# Run a server-side command as the server's OS user (postgres when we are root).
_pg_as_owner() {
    if [[ $EUID -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

# True if something accepts TCP connections on 127.0.0.1:$1.
_pg_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_pg_free_port() {
    local p=$1
    while _pg_port_busy "$p"; do
        p=$((p + 1))
        if ((p > 65000)); then return 1; fi
    done
    printf '%s\n' "$p"
}

pg_connection_string() {
    printf 'Host=127.0.0.1;Port=%s;Username=postgres;Database=orleans;Pooling=true;Maximum Pool Size=100\n' "$1"
}

# Start the server; see the header for what it exports.
pg_start() {
    if [[ -n "${OC_PG_DIR:-}" && -d "${OC_PG_DIR:-}" ]]; then
        _pg_log "already running in $OC_PG_DIR (port ${OC_PG_PORT:-?})"
        return 0
    fi
    pg_ensure_binaries || return 1

    local base=${TMPDIR:-/tmp} dir
    # As root the postgres user must be able to reach the dir; a private TMPDIR
    # (e.g. under /root) would not work, so fall back to /tmp then.
    if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -w "$base" 2>/dev/null; then
        base=/tmp
    fi
    dir=$(mktemp -d "$base/oc-pg.XXXXXX") || return 1
    mkdir -p "$dir/data" "$dir/sock"
    chmod 700 "$dir/data"
    if [[ $EUID -eq 0 ]]; then
        chown -R postgres: "$dir"
    fi
    # Exported right away so that pg_stop can clean up whatever happens next.
    export OC_PG_DIR=$dir OC_PG_DATA=$dir/data

    _pg_log "initdb in $dir/data (PostgreSQL $(basename "$(dirname "$OC_PG_BIN")"))"
    if ! _pg_as_owner "$OC_PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
            >"$dir/initdb.log" 2>&1; then
        _pg_log "initdb failed:"; tail -n 20 "$dir/initdb.log" >&2
        pg_stop; return 1
    fi
    # Settings go into the config file (not -o) so the server log shows them and a
    # restart with plain pg_ctl keeps them. The port is appended per attempt below.
    cat >>"$dir/data/postgresql.conf" <<EOF

# --- OrleansCompute throwaway server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = $OC_PG_MAX_CONNECTIONS
fsync = on
synchronous_commit = on
full_page_writes = on
EOF

    # Probe for a free port; another run may grab it between the probe and the bind,
    # so retry a few times with the next port.
    local port=$OC_PG_FIRST_PORT attempt started=""
    for attempt in 1 2 3 4 5; do
        port=$(_pg_free_port "$port") || { _pg_log "no free TCP port"; pg_stop; return 1; }
        if _pg_as_owner "$OC_PG_BIN/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w \
                -t "$OC_PG_START_TIMEOUT" -o "-p $port" >/dev/null 2>&1; then
            started=1; break
        fi
        _pg_log "start on port $port failed (attempt $attempt), trying the next port"
        port=$((port + 1))
    done
    if [[ -z "$started" ]]; then
        _pg_log "could not start PostgreSQL; server log:"; tail -n 30 "$dir/server.log" >&2
        pg_stop; return 1
    fi
    echo "$port" >"$dir/port"
    export OC_PG_PORT=$port

    # pg_ctl -w already waited, but confirm over TCP (what the apps use) with a deadline.
    local deadline=$((SECONDS + OC_PG_START_TIMEOUT))
    until "$OC_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
        if ((SECONDS >= deadline)); then
            _pg_log "server not ready after ${OC_PG_START_TIMEOUT}s; server log:"; tail -n 30 "$dir/server.log" >&2
            pg_stop; return 1
        fi
        sleep 0.2
    done

    if ! "$OC_PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
            -c 'CREATE DATABASE orleans OWNER postgres' >/dev/null 2>"$dir/createdb.err"; then
        _pg_log "CREATE DATABASE orleans failed:"; cat "$dir/createdb.err" >&2
        pg_stop; return 1
    fi

    ConnectionStrings__Postgres=$(pg_connection_string "$port")
    export ConnectionStrings__Postgres
    _pg_log "PostgreSQL ready on 127.0.0.1:$port (data $dir/data, fsync on)"
}

# Stop the server started by pg_start and delete its temp dir. Idempotent.
# Optional argument: the temp dir (default $OC_PG_DIR).
pg_stop() {
    local dir=${1:-${OC_PG_DIR:-}}
    if [[ -z "$dir" ]]; then return 0; fi
    # Refuse to rm -rf anything that is not one of our temp dirs.
    case "$(basename "$dir")" in
        oc-pg.*) ;;
        *) _pg_log "refusing to delete $dir (not an oc-pg.* dir)"; return 1 ;;
    esac
    if [[ ! -d "$dir" ]]; then
        # Already stopped (second call).
        if [[ "$dir" == "${OC_PG_DIR:-}" ]]; then unset OC_PG_DIR OC_PG_DATA OC_PG_PORT; fi
        return 0
    fi
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        local bin=${OC_PG_BIN:-}
        [[ -n "$bin" ]] || bin=$(pg_bin_dir) || bin=""
        if [[ -z "$bin" ]] || ! _pg_as_owner "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 30 >/dev/null 2>&1; then
            # pg_ctl could not stop it (or is gone): kill the postmaster we started.
            local pid
            pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
            if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                _pg_log "pg_ctl stop failed; killing postmaster $pid"
                kill -QUIT "$pid" 2>/dev/null || true   # immediate shutdown

                for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    rm -rf "$dir"
    if [[ "$dir" == "${OC_PG_DIR:-}" ]]; then
        _pg_log "PostgreSQL on port ${OC_PG_PORT:-?} stopped, $dir removed"
        unset OC_PG_DIR OC_PG_DATA OC_PG_PORT
    else
        _pg_log "PostgreSQL in $dir stopped and removed"
    fi
    return 0
}

# For the runnable form: the dir to act on, from $2, $OC_PG_DIR, or the only live one.
_pg_pick_dir() {
    if [[ -n "${1:-}" ]]; then printf '%s\n' "$1"; return 0; fi
    if [[ -n "${OC_PG_DIR:-}" ]]; then printf '%s\n' "$OC_PG_DIR"; return 0; fi
    local d found=()
    for d in "${TMPDIR:-/tmp}"/oc-pg.* /tmp/oc-pg.*; do
        [[ -f "$d/data/postmaster.pid" && -f "$d/port" ]] && found+=("$d")
    done
    # /tmp may have been listed twice when TMPDIR=/tmp.
    mapfile -t found < <(printf '%s\n' "${found[@]}" | sort -u | sed '/^$/d')
    if ((${#found[@]} == 1)); then printf '%s\n' "${found[0]}"; return 0; fi
    if ((${#found[@]} == 0)); then _pg_log "no running oc-pg server found"; return 1; fi
    _pg_log "several oc-pg servers; pass one: ${found[*]}"
    return 2
}

_pg_main() {
    set -euo pipefail
    local cmd=${1:-} dir
    case "$cmd" in
        start)
            pg_start
            printf 'export OC_PG_DIR=%q OC_PG_DATA=%q OC_PG_PORT=%q ConnectionStrings__Postgres=%q\n' \
                "$OC_PG_DIR" "$OC_PG_DATA" "$OC_PG_PORT" "$ConnectionStrings__Postgres"
            ;;
        stop)
            # Nothing running is fine (stop is idempotent); an ambiguous choice is not.
            local rc=0
            dir=$(_pg_pick_dir "${2:-}") || rc=$?
            if ((rc == 1)); then return 0; elif ((rc != 0)); then return "$rc"; fi
            pg_stop "$dir"
            ;;
        url)
            if [[ -z "${2:-}" && -n "${OC_PG_PORT:-}" ]]; then
                pg_connection_string "$OC_PG_PORT"
            else
                dir=$(_pg_pick_dir "${2:-}")
                pg_connection_string "$(cat "$dir/port")"
            fi
            ;;
        *)
            echo "usage: $0 start|stop [dir]|url [dir]" >&2
            return 2
            ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    _pg_main "$@"
fi
