#!/usr/bin/env bash
# Run the benchmark end to end on this machine (SPEC §6): a throwaway PostgreSQL (fsync on),
# 2 silos and the Api in PostgreSQL mode, then the harness with every workload, job and baseline.
#
# usage: tests/Bench/run.sh [--job-suite | --elastic] [bench args...]
#   e.g. tests/Bench/run.sh
#        tests/Bench/run.sh --duration 30 --half-peak
#        tests/Bench/run.sh --workloads kv-put-random --baselines pgbench --concurrency 16
#        tests/Bench/run.sh --job-suite                 # issue #6: jobs on 2 silos, then primes on 1
#        tests/Bench/run.sh --elastic --duration 10     # issue #11: join, SIGTERM, SIGKILL under load
#   -h | --help   print this text and the harness's options
#   --job-suite   (first argument) the job benchmarks only: on 2 silos the no-op job against
#                 Hangfire and the primes job against the single-threaded loop; then the
#                 cluster is restarted with 1 silo and the primes job and loop run again.
#                 Results: .tmp/bench/results-jobs-{2-silos,1-silo}.json and jobs-*.txt.
#   --elastic     (first argument) the elastic workload only (--workloads elastic --baselines none
#                 --jobs none): PUT and GET at half of peak on OC_BENCH_SILOS (default 2) silos while
#                 a silo joins (started by .tmp/bench/start-silo.sh, which this script writes), the
#                 first silo leaves on SIGTERM and the second is SIGKILLed (--silo-pids), and the
#                 table reshards 16 -> 32 if the Api accepts PATCH /v1/tables/{t}.
#                 Results: .tmp/bench/results-elastic.json and elastic.txt.
#
# What it does:
#   1. builds OrleansCompute.sln and tests/Bench in Release (skip with OC_BENCH_NO_BUILD=1);
#   2. starts PostgreSQL through deploy/local/pg.sh (pg_start; exports ConnectionStrings__Postgres);
#   3. starts OC_BENCH_SILOS silos (default 2) and the Api from their Release builds, each with
#        ConnectionStrings__Postgres, Orleans__ClusterId=bench-<silo count>,
#        Orleans__SiloPort=11111+i, Orleans__GatewayPort=30000+i, Silo__HealthPort=8081+i; the Api on ASPNETCORE_URLS=http://127.0.0.1:5000 with
#        Auth__AdminKey=bench-admin-key and no practical rate limit;
#   4. waits (deadline OC_BENCH_READY_TIMEOUT, default 180 s) for /health/ready on all of them;
#   5. runs OrleansCompute.Bench.dll --api ... --pg "$ConnectionStrings__Postgres"
#        --api-key bench-admin-key [--json .tmp/bench/results.json] "$@";
#   6. on exit, also on failure or Ctrl-C: stops the Api and silos (SIGTERM, then SIGKILL
#      after 15 s) and PostgreSQL.
# Logs: .tmp/bench/{silo-N,api,build}.log; results: .tmp/bench/results.json unless --json is given.
#
# Ports (change them when another cluster uses the defaults): OC_BENCH_API_PORT (5000),
# OC_BENCH_SILO_PORT (11111), OC_BENCH_GATEWAY_PORT (30000), OC_BENCH_HEALTH_PORT (8081).
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    echo
    echo "Harness options (passed through):"
    REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    dll=$REPO_ROOT/tests/Bench/bin/Release/net10.0/OrleansCompute.Bench.dll
    if [[ -f "$dll" ]]; then dotnet "$dll" --help; else echo "  (build first: dotnet build tests/Bench -c Release)"; fi
    exit 0
fi

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"

JOB_SUITE=""
ELASTIC=""
if [[ "${1:-}" == "--job-suite" ]]; then
    JOB_SUITE=1
    shift
elif [[ "${1:-}" == "--elastic" ]]; then
    ELASTIC=1
    shift
fi

SILOS=${OC_BENCH_SILOS:-2}
API_PORT=${OC_BENCH_API_PORT:-5000}
SILO_PORT=${OC_BENCH_SILO_PORT:-11111}
GATEWAY_PORT=${OC_BENCH_GATEWAY_PORT:-30000}
HEALTH_PORT=${OC_BENCH_HEALTH_PORT:-8081}
READY_TIMEOUT=${OC_BENCH_READY_TIMEOUT:-180}
API_KEY=bench-admin-key
API_URL=http://127.0.0.1:$API_PORT
LOG_DIR=$REPO_ROOT/.tmp/bench
SILO_DLL=Silo/bin/Release/net10.0/OrleansCompute.Silo.dll
API_DLL=Api/bin/Release/net10.0/OrleansCompute.Api.dll
BENCH_DLL=tests/Bench/bin/Release/net10.0/OrleansCompute.Bench.dll

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
mkdir -p "$LOG_DIR"

# shellcheck source=SCRIPTDIR/../../deploy/local/pg.sh
source "$REPO_ROOT/deploy/local/pg.sh"

# ---------------------------------------------------------------- cleanup
NODE_PIDS=()
NODE_NAMES=()
# Silos started by start-silo.sh (the elastic workload's joiner) append "pid name" here: they are
# not our children, but they are ours to stop.
EXTRA_PIDS_FILE=$LOG_DIR/extra-silos.pids
rm -f "$EXTRA_PIDS_FILE"

stop_nodes() {
    local i pid name alive
    if [[ -f "$EXTRA_PIDS_FILE" ]]; then
        while read -r pid name; do
            [[ -n "$pid" ]] || continue
            NODE_PIDS=("$pid" "${NODE_PIDS[@]}")
            NODE_NAMES=("$name" "${NODE_NAMES[@]}")
        done <"$EXTRA_PIDS_FILE"
        rm -f "$EXTRA_PIDS_FILE"
    fi
    ((${#NODE_PIDS[@]})) || return 0
    # The Api first (it is the last one started), so it stops sending to silos that are leaving.
    for ((i = ${#NODE_PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${NODE_PIDS[$i]}" 2>/dev/null || true
    done
    for _ in $(seq 150); do
        alive=0
        for pid in "${NODE_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for i in "${!NODE_PIDS[@]}"; do
        if kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
            log "${NODE_NAMES[$i]} did not stop within 15 s of SIGTERM; SIGKILL"
            kill -KILL "${NODE_PIDS[$i]}" 2>/dev/null || true
        fi
    done
    for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    NODE_PIDS=()
    NODE_NAMES=()
}

CLEANED=""
cleanup() {
    [[ -z "$CLEANED" ]] || return 0
    CLEANED=1
    stop_nodes
    pg_stop || true
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- helpers
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() {
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}

# start_node NAME VAR=value... -- command...
# `setsid` keeps the node out of our process group, so a Ctrl-C reaches the harness (which
# then drops its table and reports) while the cluster is still up; cleanup stops the nodes.
start_node() {
    local name=$1; shift
    local vars=()
    while [[ $1 != -- ]]; do vars+=("$1"); shift; done
    shift
    setsid env "${vars[@]}" "$@" </dev/null >"$LOG_DIR/$name.log" 2>&1 &
    NODE_PIDS+=($!)
    NODE_NAMES+=("$name")
    log "started $name (pid $!, log ${LOG_DIR#"$REPO_ROOT"/}/$name.log)"
}

# ---------------------------------------------------------------- build
command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK (dotnet-sdk-10.0)"
command -v curl >/dev/null 2>&1 || die "curl not found: apt-get install -y curl"
# The etcd baseline (KV, locks, keepalives) needs Debian's etcd-server; as root we install it,
# otherwise the harness reports that baseline as skipped and says what to install.
if ! command -v etcd >/dev/null 2>&1 && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing etcd-server for the etcd baseline (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server; } >"$LOG_DIR/apt.log" 2>&1 ||
        log "could not install etcd-server (see ${LOG_DIR#"$REPO_ROOT"/}/apt.log): the etcd baseline will be skipped"
fi
if [[ "${OC_BENCH_NO_BUILD:-}" != 1 ]]; then
    log "building OrleansCompute.sln and tests/Bench (Release; log ${LOG_DIR#"$REPO_ROOT"/}/build.log)"
    {
        dotnet build OrleansCompute.sln -c Release -nologo -v minimal --disable-build-servers &&
        # The harness may not be in the solution yet; building it again is a no-op when it is.
        dotnet build tests/Bench/Bench.csproj -c Release -nologo -v minimal --disable-build-servers
    } >"$LOG_DIR/build.log" 2>&1 || { tail -n 30 "$LOG_DIR/build.log" >&2; die "build failed"; }
fi
for f in "$SILO_DLL" "$API_DLL" "$BENCH_DLL"; do
    [[ -f "$f" ]] || die "$f is missing: build in Release first (or unset OC_BENCH_NO_BUILD)"
done

# ---------------------------------------------------------------- ports
ports=("$API_PORT")
max_silos=$SILOS
[[ -z "$JOB_SUITE" ]] || max_silos=2
[[ -z "$ELASTIC" ]] || max_silos=$((SILOS + 1))
if [[ -n "$ELASTIC" ]] && ((SILOS < 2)); then
    die "--elastic needs OC_BENCH_SILOS >= 2 (one leaves, one is killed)"
fi
for ((i = 0; i < max_silos; i++)); do
    ports+=($((SILO_PORT + i)) $((GATEWAY_PORT + i)) $((HEALTH_PORT + i)))
done
for p in "${ports[@]}"; do
    if port_busy "$p"; then
        die "port $p is in use (another cluster running?); choose others with OC_BENCH_API_PORT / OC_BENCH_SILO_PORT / OC_BENCH_GATEWAY_PORT / OC_BENCH_HEALTH_PORT"
    fi
done

# ---------------------------------------------------------------- PostgreSQL
pg_start || die "could not start PostgreSQL (see the messages above)"
log "PostgreSQL: $ConnectionStrings__Postgres"

# ---------------------------------------------------------------- cluster
# start_cluster N: N silos and the Api, then wait for /health/ready on all of them. Each
# silo count gets its own cluster id, so a restarted cluster never sees the last one's members.
# silo_env I CLUSTER_ID: the environment of silo I, one VAR=value per line.
silo_env() {
    local i=$1 cluster_id=$2
    printf '%s\n' \
        "ConnectionStrings__Postgres=$ConnectionStrings__Postgres" \
        "Orleans__ClusterId=$cluster_id" \
        "Orleans__SiloPort=$((SILO_PORT + i))" \
        "Orleans__GatewayPort=$((GATEWAY_PORT + i))" \
        "Orleans__PrimarySiloPort=$SILO_PORT" \
        "Silo__HealthPort=$((HEALTH_PORT + i))" \
        "Silo__Name=bench-silo-$i"
}

# wait_until DEADLINE WHAT COMMAND...: runs COMMAND every 0.5 s until it succeeds; dies with
# the log of any node that exited meanwhile, or with WHAT once SECONDS passes DEADLINE.
wait_until() {
    local deadline=$1 what=$2 i
    shift 2
    until "$@"; do
        for i in "${!NODE_PIDS[@]}"; do
            if ! kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
                tail -n 30 "$LOG_DIR/${NODE_NAMES[$i]}.log" >&2
                die "${NODE_NAMES[$i]} exited during start (log above: ${LOG_DIR#"$REPO_ROOT"/}/${NODE_NAMES[$i]}.log)"
            fi
        done
        if ((SECONDS >= deadline)); then
            die "$what after ${READY_TIMEOUT}s (logs in ${LOG_DIR#"$REPO_ROOT"/}/)"
        fi
        sleep 0.5
    done
}

# api_knows_gateways N: whether the Api's cluster client is connected to N gateways (/v1/cluster).
api_knows_gateways() {
    local gateways
    gateways=$(curl -fsS --max-time 2 -H "Authorization: Bearer $API_KEY" "$API_URL/v1/cluster" 2>/dev/null |
        sed -n 's/.*"gateways":\([0-9]*\).*/\1/p')
    [[ "${gateways:-0}" -ge "$1" ]]
}

CLUSTER_ID=""
start_cluster() {
    local n=$1 i url deadline
    local cluster_id=bench-$n
    local vars
    CLUSTER_ID=$cluster_id
    for ((i = 0; i < n; i++)); do
        mapfile -t vars < <(silo_env "$i" "$cluster_id")
        start_node "silo-$i" "${vars[@]}" -- dotnet "$SILO_DLL"
    done
    start_node api \
        "ConnectionStrings__Postgres=$ConnectionStrings__Postgres" \
        "Orleans__ClusterId=$cluster_id" \
        "ASPNETCORE_URLS=$API_URL" \
        "Auth__AdminKey=$API_KEY" \
        "RateLimit__RequestsPerSecond=100000000" \
        -- dotnet "$API_DLL"

    local ready_urls=()
    for ((i = 0; i < n; i++)); do ready_urls+=("http://127.0.0.1:$((HEALTH_PORT + i))/health/ready"); done
    ready_urls+=("$API_URL/health/ready")

    log "waiting for /health/ready on ${#ready_urls[@]} endpoints (deadline ${READY_TIMEOUT}s)"
    deadline=$((SECONDS + READY_TIMEOUT))
    for url in "${ready_urls[@]}"; do
        wait_until "$deadline" "$url not ready" http_ok "$url"
    done
    # The Api's Orleans client binds each grain to a gateway the first time it calls it, round
    # robin over the gateways it knows then, and keeps it there. A client that knew one gateway
    # when the harness started would send every call through one silo for the whole run, which
    # no long-running deployment does: wait until it knows all N.
    wait_until "$deadline" "the Api does not know all $n gateways" api_knows_gateways "$n"
    log "cluster ready: $n silo(s), Api at $API_URL, connected to all $n gateways"
}

# run_harness JSON_FILE ARGS...: the harness against the running cluster; --json FILE unless given.
run_harness() {
    local json=$1; shift
    local bench_args=(--api "$API_URL" --pg "$ConnectionStrings__Postgres" --api-key "$API_KEY")
    local a json_given=""
    for a in "$@"; do [[ "$a" == --json || "$a" == --json=* ]] && json_given=1; done
    [[ -n "$json_given" ]] || bench_args+=(--json "$LOG_DIR/$json")
    bench_args+=(--cpu "$(cpu_processes)")
    dotnet "$BENCH_DLL" "${bench_args[@]}" "$@"
}

# cpu_processes: NAME=PID,... of the nodes running and of PostgreSQL's postmaster (the harness
# counts its backends with it), for the harness's CPU-per-operation table.
cpu_processes() {
    local i list=()
    for i in "${!NODE_PIDS[@]}"; do list+=("${NODE_NAMES[$i]}=${NODE_PIDS[$i]}"); done
    [[ -r "${OC_PG_DATA:-}/postmaster.pid" ]] && list+=("postgres=$(head -n 1 "$OC_PG_DATA/postmaster.pid")")
    local IFS=,
    echo "${list[*]}"
}

# write_start_silo_script FILE FIRST_INDEX: a script that starts one more silo of the running
# cluster (index FIRST_INDEX, then +1 per call) the way start_cluster does, records it in
# EXTRA_PIDS_FILE for cleanup and prints "name pid". The elastic workload runs it for the join.
write_start_silo_script() {
    local file=$1 first=$2 i var
    {
        echo '#!/usr/bin/env bash'
        echo '# Written by tests/Bench/run.sh --elastic: starts one more silo of the running bench cluster.'
        echo 'set -euo pipefail'
        printf 'cd %q\n' "$REPO_ROOT"
        printf 'pids=%q\n' "$EXTRA_PIDS_FILE"
        printf 'i=$((%d + $( [[ -f "$pids" ]] && wc -l <"$pids" || echo 0 )))\n' "$first"
        echo 'name=silo-$i'
        printf 'log=%q/$name.log\n' "$LOG_DIR"
        # The per-index values are recomputed from the index; the rest is baked in.
        printf 'setsid env'
        printf ' %q' "ConnectionStrings__Postgres=$ConnectionStrings__Postgres" "Orleans__ClusterId=$CLUSTER_ID" \
            "Orleans__PrimarySiloPort=$SILO_PORT"
        printf ' "Orleans__SiloPort=$((%d + i))" "Orleans__GatewayPort=$((%d + i))" "Silo__HealthPort=$((%d + i))"' \
            "$SILO_PORT" "$GATEWAY_PORT" "$HEALTH_PORT"
        printf ' "Silo__Name=bench-$name" dotnet %q </dev/null >"$log" 2>&1 &\n' "$SILO_DLL"
        echo 'echo "$! $name" >>"$pids"'
        echo 'echo "bench-$name pid $! log $log"'
    } >"$file"
    chmod +x "$file"
}

# ---------------------------------------------------------------- benchmark
rc=0
if [[ -n "$ELASTIC" ]]; then
    # Issue #11: the elastic workload. The harness starts the joiner with start-silo.sh and
    # signals silo-0 (SIGTERM, graceful leave) and silo-1 (SIGKILL) by PID.
    start_cluster "$SILOS"
    write_start_silo_script "$LOG_DIR/start-silo.sh" "$SILOS"
    silo_pids=$(IFS=,; echo "${NODE_PIDS[*]:0:SILOS}")
    run_harness results-elastic.json --workloads elastic --baselines none --jobs none \
        --silo-pids "$silo_pids" --start-silo-cmd "$LOG_DIR/start-silo.sh" "$@" \
        | tee "$LOG_DIR/elastic.txt" || rc=$?
elif [[ -n "$JOB_SUITE" ]]; then
    # Issue #6: the job workloads on 2 silos (no-op tasks vs Hangfire, primes vs the loop), then
    # the primes job again on a restarted 1-silo cluster, each against its own single-threaded
    # loop measured in the same harness run. Both clusters share this machine's cores.
    start_cluster 2
    run_harness results-jobs-2-silos.json --workloads none --jobs noop,primes --baselines hangfire,primes-loop "$@" \
        | tee "$LOG_DIR/jobs-2-silos.txt" || rc=$?
    log "restarting the cluster with 1 silo for the primes job"
    stop_nodes
    start_cluster 1
    run_harness results-jobs-1-silo.json --workloads none --jobs primes --baselines primes-loop "$@" \
        | tee "$LOG_DIR/jobs-1-silo.txt" || rc=$?
    echo
    echo "Job suite summary (from ${LOG_DIR#"$REPO_ROOT"/}/jobs-2-silos.txt and jobs-1-silo.txt):"
    grep -h -E '^  (No-op|primes-[0-9e]+ job)' "$LOG_DIR/jobs-2-silos.txt" || true
    grep -h -E '^  primes-[0-9e]+ job' "$LOG_DIR/jobs-1-silo.txt" || true
else
    start_cluster "$SILOS"
    run_harness results.json "$@" || rc=$?
fi
log "harness exited with code $rc; stopping the cluster and PostgreSQL"
cleanup
exit "$rc"
