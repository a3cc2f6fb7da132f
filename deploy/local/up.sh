#!/usr/bin/env bash
# Start a local OrleansCompute cluster: N silos + the Api, wait until all are ready,
# print the URLs, stop everything on Ctrl-C (SPEC §3).
#
# usage: deploy/local/up.sh [--silos N] [--postgres] [--port P] [--no-build] [--new-admin-key]
#   --silos N    number of silos (default 2)
#   --postgres   PostgreSQL mode: use $ConnectionStrings__Postgres if set, otherwise start
#                a throwaway local server (deploy/local/pg.sh) that is deleted on exit
#   --port P     Api port (default 5000)
#   --no-build   skip `dotnet build OrleansCompute.sln -c Release`
#   --new-admin-key  embedded mode: mint a new admin key and print it (the way back in when
#                the key generated on the first start is lost; that one stays valid until
#                you revoke it with the new one)
#   -h, --help   this text
#
# Default is embedded mode (no PostgreSQL): the silos share the store folder <repo>/data
# (so data survives restarts); silo 0 starts first and the others join through it.
# Silo i (0-based) listens on silo port 11111+i, gateway 30000+i, health/dashboard 8081+i.
# Logs: <repo>/.tmp/logs/silo<i>.log and api.log.
#
# Environment:
#   OC_UP_EXIT_WHEN_READY=1  print the URLs, then stop everything and exit 0 (smoke tests)
#   OC_UP_TIMEOUT            seconds to wait for readiness (default 120)
#   Auth__AdminKey, Orleans__ClusterId, Orleans__ServiceId, ... are passed through.
#   With --postgres and no Auth__AdminKey, a random admin key is made up and printed
#   (the Api refuses PostgreSQL mode without one).
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOG_DIR=$REPO_ROOT/.tmp/logs
SILO_DIR=$REPO_ROOT/Silo/bin/Release/net10.0
API_DIR=$REPO_ROOT/Api/bin/Release/net10.0
SILO_DLL=OrleansCompute.Silo.dll
API_DLL=OrleansCompute.Api.dll

SILOS=2 USE_PG="" API_PORT=5000 BUILD=1 NEW_ADMIN_KEY="" FIRST_START=""
TIMEOUT=${OC_UP_TIMEOUT:-120}
BASE_SILO_PORT=11111 BASE_GATEWAY_PORT=30000 BASE_HEALTH_PORT=8081

log() { printf '[up.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_port_number() { [[ "$1" =~ ^[0-9]+$ ]] && (("$1" >= 1 && "$1" <= 65535)); }

while (($#)); do
    case "$1" in
        --silos) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--silos needs a number >= 1"; SILOS=$2; shift 2 ;;
        --silos=*) SILOS=${1#*=}; [[ "$SILOS" =~ ^[1-9][0-9]*$ ]] || die "--silos needs a number >= 1"; shift ;;
        --postgres) USE_PG=1; shift ;;
        --port) { [[ $# -ge 2 ]] && is_port_number "$2"; } || die "--port needs a port number"; API_PORT=$2; shift 2 ;;
        --port=*) API_PORT=${1#*=}; is_port_number "$API_PORT" || die "--port needs a port number"; shift ;;
        --no-build) BUILD=""; shift ;;
        --new-admin-key) NEW_ADMIN_KEY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (https://dotnet.microsoft.com/download/dotnet/10.0)"
command -v curl >/dev/null 2>&1 || die "curl not found: install the package 'curl'"
command -v setsid >/dev/null 2>&1 || die "setsid not found: install the package 'util-linux'"

# shellcheck source=SCRIPTDIR/pg.sh
source "$REPO_ROOT/deploy/local/pg.sh"

# ---------------------------------------------------------------- process bookkeeping
NAMES=()   # silo0 silo1 ... api, in start order
PIDS=()    # matching pids
PORTS=()   # matching health ports (where /health/ready is served)
PG_STARTED=""
ADMIN_KEY_GENERATED=""

# Alive and not a zombie (bash reaps its children, but be safe).
alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${st##*) }           # drop "pid (comm) "; what follows starts with the state
    [[ "${st%% *}" != Z ]]
}

# SIGTERM the given pids, wait up to $1 seconds for them to exit. Returns 1 if some live on.
# A second Ctrl-C during shutdown sets FORCE and ends the waiting.
FORCE=""
term_and_wait() {
    local secs=$1 p deadline any; shift
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    deadline=$((SECONDS + secs))
    while :; do
        any=""
        for p in "$@"; do alive "$p" && any=1; done
        [[ -n "$any" ]] || return 0
        [[ -z "$FORCE" ]] && ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

STOPPED=""
stop_all() {
    [[ -z "$STOPPED" ]] || return 0
    STOPPED=1
    # From here on a signal must not abort the cleanup half-way: it only hurries it.
    trap 'FORCE=1; log "killing now"' INT TERM
    local i api=() primary=() others=() leftovers=()
    for i in "${!NAMES[@]}"; do
        alive "${PIDS[$i]}" || continue
        case "${NAMES[$i]}" in
            api) api+=("${PIDS[$i]}") ;;
            silo0) primary+=("${PIDS[$i]}") ;;
            *) others+=("${PIDS[$i]}") ;;
        esac
    done
    if ((${#api[@]} + ${#primary[@]} + ${#others[@]})); then
        log "stopping (graceful, up to ~30 s; Ctrl-C again to kill now)..."
        # Order matters: the Api first (it is a client), then the silos. In embedded mode
        # the membership lives in silo 0, so the joiners leave before it; in PostgreSQL
        # mode all silos can leave at once.
        ((${#api[@]} == 0)) || term_and_wait 8 "${api[@]}" || true
        if [[ -n "$USE_PG" ]]; then
            term_and_wait 22 "${others[@]}" "${primary[@]}" || true
        else
            ((${#others[@]} == 0)) || term_and_wait 12 "${others[@]}" || true
            ((${#primary[@]} == 0)) || term_and_wait 10 "${primary[@]}" || true
        fi
        for i in "${!NAMES[@]}"; do
            if alive "${PIDS[$i]}"; then leftovers+=("${NAMES[$i]}"); kill -KILL "${PIDS[$i]}" 2>/dev/null || true; fi
        done
        if ((${#leftovers[@]})); then log "killed (did not stop in time): ${leftovers[*]}"; else log "all processes stopped"; fi
    fi
    if [[ -n "$PG_STARTED" ]]; then pg_stop || true; fi
}
trap stop_all EXIT
trap 'echo >&2; log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'exit 129' HUP

# Show the end of a process's log and fail.
fail_with_log() {
    local name=$1 msg=$2
    log "ERROR: $name $msg; last lines of $LOG_DIR/$name.log:"
    tail -n 40 "$LOG_DIR/$name.log" >&2 || true
    exit 1
}

# start <name> <dir> <dll> [VAR=value ...]: run `dotnet <dll>` in <dir> (the content root,
# where appsettings.json is) in the background with extra environment, output to the log.
start_proc() {
    local name=$1 dir=$2 dll=$3; shift 3
    : >"$LOG_DIR/$name.log"
    # setsid: its own session/process group, so a Ctrl-C in the terminal reaches only this
    # script, which then stops the processes in order (Api, joiners, primary). Otherwise
    # every silo would start leaving at the same moment. (setsid execs without forking
    # here, so $! is the dotnet process.) stdin from /dev/null: nothing to read.
    (cd "$dir" && exec setsid env "$@" dotnet "$dll") </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
    NAMES+=("$name"); PIDS+=("$!")
    log "started $name (pid $!), log: ${LOG_DIR#"$REPO_ROOT"/}/$name.log"
}

# HTTP status of GET /health/ready on a port ("000" when nothing answers).
ready_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/health/ready" 2>/dev/null || true
}

# Wait until the processes with the given indexes answer 200 on /health/ready.
WAIT_DEADLINE=0
wait_ready() {
    local pending=("$@") still i code next_report=$((SECONDS + 10)) start=$SECONDS
    while ((${#pending[@]})); do
        still=()
        for i in "${pending[@]}"; do
            if ! alive "${PIDS[$i]}"; then
                local rc=0; wait "${PIDS[$i]}" 2>/dev/null || rc=$?
                fail_with_log "${NAMES[$i]}" "exited (code $rc) before becoming ready"
            fi
            code=$(ready_code "${PORTS[$i]}")
            if [[ "$code" == 200 ]]; then
                log "${NAMES[$i]} ready ($((SECONDS - start)) s)"
            else
                still+=("$i")
            fi
        done
        pending=("${still[@]}")
        ((${#pending[@]})) || break
        if ((SECONDS >= WAIT_DEADLINE)); then
            for i in "${pending[@]}"; do log "${NAMES[$i]} not ready (last /health/ready: $(ready_code "${PORTS[$i]}"))"; done
            fail_with_log "${NAMES[${pending[0]}]}" "did not become ready within $TIMEOUT s"
        fi
        if ((SECONDS >= next_report)); then
            local waiting=()
            for i in "${pending[@]}"; do waiting+=("${NAMES[$i]}"); done
            log "waiting for ${waiting[*]} ($((SECONDS - start)) s)"
            next_report=$((SECONDS + 10))
        fi
        sleep 0.5
    done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- preflight
ports=("$API_PORT")
for ((i = 0; i < SILOS; i++)); do
    ports+=($((BASE_SILO_PORT + i)) $((BASE_GATEWAY_PORT + i)) $((BASE_HEALTH_PORT + i)))
done
busy=()
for p in "${ports[@]}"; do port_busy "$p" && busy+=("$p"); done
for ((i = 0; i < SILOS; i++)); do
    for p in $((BASE_SILO_PORT + i)) $((BASE_GATEWAY_PORT + i)) $((BASE_HEALTH_PORT + i)); do
        ((p != API_PORT)) || die "--port $API_PORT collides with a silo port; pick another"
    done
done
((${#busy[@]} == 0)) || die "port(s) already in use on 127.0.0.1: ${busy[*]} (is another cluster running? --port changes the Api port)"

mkdir -p "$LOG_DIR"

if [[ -n "$BUILD" ]]; then
    log "building OrleansCompute.sln (Release); output in ${LOG_DIR#"$REPO_ROOT"/}/build.log"
    # --disable-build-servers: no compiler/MSBuild servers left running after we exit.
    if ! (cd "$REPO_ROOT" && dotnet build OrleansCompute.sln -c Release -nologo -v minimal --disable-build-servers) \
            >"$LOG_DIR/build.log" 2>&1; then
        grep -E ': error |error [A-Z]+[0-9]+' "$LOG_DIR/build.log" | sort -u | head -n 30 >&2 || tail -n 30 "$LOG_DIR/build.log" >&2
        die "build failed (full output: $LOG_DIR/build.log)"
    fi
fi
[[ -f "$SILO_DIR/$SILO_DLL" ]] || die "$SILO_DIR/$SILO_DLL not found (build first, or drop --no-build)"
[[ -f "$API_DIR/$API_DLL" ]] || die "$API_DIR/$API_DLL not found (build first, or drop --no-build)"

# ---------------------------------------------------------------- mode
# Settings shared by every process. ASPNETCORE_URLS is cleared for the silos: they serve
# HTTP on Silo__HealthPort and a URL inherited from the user's shell must not move them.
if [[ -n "$USE_PG" ]]; then
    if [[ -n "${ConnectionStrings__Postgres:-}" ]]; then
        MODE="postgres (ConnectionStrings__Postgres from the environment)"
    else
        pg_start
        PG_STARTED=1
        MODE="postgres (throwaway server on 127.0.0.1:$OC_PG_PORT, deleted on exit)"
    fi
    export ConnectionStrings__Postgres
    # The Api refuses to start in PostgreSQL mode without a bootstrap admin key (SPEC §7);
    # make one up for this run rather than fail. 256 random bits, hex.
    if [[ -z "${Auth__AdminKey:-}" ]]; then
        Auth__AdminKey=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
        export Auth__AdminKey
        ADMIN_KEY_GENERATED=1
    fi
else
    # Embedded mode even if the user's shell has a connection string exported.
    if [[ -n "${ConnectionStrings__Postgres:-}" ]]; then
        log "ignoring ConnectionStrings__Postgres from the environment (embedded mode; use --postgres to use it)"
    fi
    unset ConnectionStrings__Postgres
    # An empty store is a first start: the Api generates the admin key and prints it then only.
    [[ -n "$(ls -A "$REPO_ROOT/data" 2>/dev/null)" ]] || FIRST_START=1
    mkdir -p "$REPO_ROOT/data"
    MODE="embedded (store: $REPO_ROOT/data)"
fi
log "mode: $MODE, $SILOS silo(s)"

silo_env() {
    local i=$1
    local env=(
        -u ASPNETCORE_URLS
        "Orleans__SiloPort=$((BASE_SILO_PORT + i))"
        "Orleans__GatewayPort=$((BASE_GATEWAY_PORT + i))"
        "Silo__HealthPort=$((BASE_HEALTH_PORT + i))"
    )
    if [[ -z "$USE_PG" ]]; then
        env+=("Orleans__PrimarySiloPort=$BASE_SILO_PORT" "Storage__Path=$REPO_ROOT/data")
    fi
    printf '%s\n' "${env[@]}"
}

start_silo() {
    local i=$1 envs
    mapfile -t envs < <(silo_env "$i")
    PORTS+=($((BASE_HEALTH_PORT + i)))
    start_proc "silo$i" "$SILO_DIR" "$SILO_DLL" "${envs[@]}"
}

# A silo the cluster declared dead (cut off or paused too long) exits with this code so that its
# supervisor starts it again as a new silo (docs/reliability.md); the watch loop below does that.
DECLARED_DEAD_EXIT=75

# restart_silo <k> <i>: start silo k again in place (same ports, same log) as process number i.
restart_silo() {
    local k=$1 i=$2 envs
    mapfile -t envs < <(silo_env "$k")
    (cd "$SILO_DIR" && exec setsid env "${envs[@]}" dotnet "$SILO_DLL") </dev/null >>"$LOG_DIR/silo$k.log" 2>&1 &
    PIDS[i]=$!
    log "restarted silo$k (pid $!)"
}

# ---------------------------------------------------------------- start
WAIT_DEADLINE=$((SECONDS + TIMEOUT))
if [[ -z "$USE_PG" ]]; then
    # The others join through silo 0 (the primary), so it must be up first.
    start_silo 0
    wait_ready 0
    others=()
    for ((i = 1; i < SILOS; i++)); do start_silo "$i"; others+=("$i"); done
    ((${#others[@]} == 0)) || wait_ready "${others[@]}"
else
    all=()
    for ((i = 0; i < SILOS; i++)); do start_silo "$i"; all+=("$i"); done
    wait_ready "${all[@]}"
fi

# The Api last, once every gateway accepts clients (otherwise its log fills with
# connection-refused retries against silos still starting).
api_env=("ASPNETCORE_URLS=http://127.0.0.1:$API_PORT")
if [[ -z "$USE_PG" ]]; then
    gateways=()
    for ((i = 0; i < SILOS; i++)); do gateways+=("127.0.0.1:$((BASE_GATEWAY_PORT + i))"); done
    api_env+=("Orleans__Gateways=$(IFS=,; echo "${gateways[*]}")")
    [[ -z "$NEW_ADMIN_KEY" ]] || api_env+=("Auth__NewAdminKey=true")
fi
PORTS+=("$API_PORT")
start_proc api "$API_DIR" "$API_DLL" "${api_env[@]}"
wait_ready "$((${#NAMES[@]} - 1))"

# ---------------------------------------------------------------- ready
cat <<EOF

OrleansCompute is running ($SILOS silo(s), mode: $MODE)
  Api:        http://127.0.0.1:$API_PORT
  Swagger:    http://127.0.0.1:$API_PORT/swagger
  Console:    http://127.0.0.1:$API_PORT/console   (sign in with an API key)
  Dashboard:  http://127.0.0.1:$BASE_HEALTH_PORT/dashboard
  Logs:       $LOG_DIR/
EOF
if [[ -n "$ADMIN_KEY_GENERATED" ]]; then
    echo "  Admin key:  $Auth__AdminKey  (made up for this run; set Auth__AdminKey to choose one)"
elif [[ -z "${Auth__AdminKey:-}" ]]; then
    # The Api prints a generated key once, just after it connects: on the first start of an empty
    # store, and with --new-admin-key. Any other start prints none, and says so.
    generated=""
    if [[ -n "$FIRST_START$NEW_ADMIN_KEY" ]]; then
        for _ in $(seq 100); do
            generated=$(sed -n 's/^Generated admin API key (shown once, only its hash is stored): //p' "$LOG_DIR/api.log" | tail -n 1)
            [[ -z "$generated" ]] || break
            sleep 0.1
        done
    fi
    if [[ -n "$generated" ]]; then
        echo "  Admin key:  $generated  (generated now and shown once: keep it, e.g. export OC_KEY=...)"
    else
        echo "  Admin key:  generated on the first start of this store and shown only then;"
        echo "              lost it? run: deploy/local/up.sh --new-admin-key"
    fi
fi

if [[ "${OC_UP_EXIT_WHEN_READY:-}" == 1 ]]; then
    echo "OC_UP_EXIT_WHEN_READY=1: stopping"
    stop_all
    exit 0
fi

echo "Press Ctrl-C to stop."
# Watch the processes; if one dies on its own, stop the rest and report it.
while :; do
    for i in "${!NAMES[@]}"; do
        if ! alive "${PIDS[$i]}"; then
            rc=0; wait "${PIDS[$i]}" 2>/dev/null || rc=$?
            if [[ "${NAMES[$i]}" == silo* && $rc == "$DECLARED_DEAD_EXIT" ]]; then
                log "${NAMES[$i]} was declared dead by the cluster and exited (code $rc); starting it again"
                restart_silo "${NAMES[$i]#silo}" "$i"
                continue
            fi
            fail_with_log "${NAMES[$i]}" "exited unexpectedly (code $rc)"
        fi
    done
    # Sleep in the background and `wait` so Ctrl-C / SIGTERM run the trap at once.
    sleep 2 & wait $! || true
done
