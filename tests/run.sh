#!/usr/bin/env bash
# Run every test project against a throwaway PostgreSQL server (SPEC §3).
#
# usage: tests/run.sh [extra `dotnet test` arguments...]
#   e.g. tests/run.sh --filter "FullyQualifiedName~Jobs"
#        tests/run.sh --filter "Category!=Slow"
#   -h | --help   print this text
#
# What it does:
#   1. checks prerequisites: the .NET SDK (says what to install if missing), PostgreSQL
#      server binaries, the docker-compose package, Debian's chromium (for the console's
#      browser tests) and promtool (Debian's prometheus package), installed through apt when
#      run as root, otherwise it says exactly what to install;
#   2. builds OrleansCompute.sln once in Release, and lints the Api's live OpenAPI document with
#      Spectral and Redocly (tests/OpenApi/lint.sh; Node.js and npm come from apt as root);
#   3. starts a throwaway PostgreSQL (deploy/local/pg.sh) and exports
#        OC_TEST_POSTGRES, ConnectionStrings__Postgres  (same connection string)
#        OC_REPO_ROOT            absolute repo root
#        OC_BUILD_CONFIGURATION  Release
#   4. runs `dotnet test <project> -c Release --no-build` for tests/*/*.csproj except
#      tests/Bench, Unit first; full output of each is also in .tmp/test-logs/<name>.log;
#      tests/Faults is the fault matrix (#15): as root it makes network namespaces, and it
#      installs iproute2 and libfaketime through apt (tests/Faults/prereqs.sh);
#   5. stops PostgreSQL (also on failure / Ctrl-C / SIGTERM) and prints, as its last line,
#        <N> passed, <N> failed
#      Exit status is non-zero if a project failed, a test failed, or no test ran.
#
# Environment knobs: OC_TEST_HANG_TIMEOUT (default 15m; a test hanging that long is
# killed by `dotnet test --blame-hang-timeout`; "0" disables it).
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
fi

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

log() { printf '[run.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# shellcheck source=SCRIPTDIR/../deploy/local/pg.sh
source "$REPO_ROOT/deploy/local/pg.sh"

# ---------------------------------------------------------------- cleanup
# Pids of background children (dotnet test and its output follower). On exit we stop
# them together with everything they spawned (test hosts, silos started by tests).
CHILD_PIDS=()

# All descendants of a pid, read from /proc in one pass (no procps needed).
descendants() {
    local root=$1 stat line pid ppid cur
    local -A kids=()
    for stat in /proc/[0-9]*/stat; do
        { read -r line <"$stat"; } 2>/dev/null || continue   # process may be gone
        pid=${line%% *}
        line=${line##*) }       # drop "pid (comm) "; comm may contain spaces
        read -r _ ppid _ <<<"$line"
        kids[$ppid]+="$pid "
    done
    local queue=("$root")
    while ((${#queue[@]})); do
        cur=${queue[0]}; queue=("${queue[@]:1}")
        for pid in ${kids[$cur]:-}; do echo "$pid"; queue+=("$pid"); done
    done
}

kill_tree() {
    local root=$1 pids p
    mapfile -t pids < <(descendants "$root"; echo "$root")
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    # Give them a few seconds to exit cleanly, then make sure.
    for _ in $(seq 50); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

CLEANED=""
cleanup() {
    [[ -z "$CLEANED" ]] || return 0
    CLEANED=1
    local p
    for p in "${CHILD_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then kill_tree "$p"; fi
    done
    pg_stop || true
    # Namespaces of a fault run killed with its test host (the harness removes its own otherwise).
    if [[ $EUID -eq 0 ]]; then bash "$REPO_ROOT/tests/Faults/netns.sh" down-stale || true; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- prerequisites
if ! command -v dotnet >/dev/null 2>&1; then
    die "dotnet not found. Install the .NET 10 SDK: https://dotnet.microsoft.com/download/dotnet/10.0
  (Debian 12: add packages.microsoft.com and 'apt-get install -y dotnet-sdk-10.0', or
   'curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 10.0' and put ~/.dotnet on PATH)"
fi
if ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
    die "no .NET 10 SDK found (dotnet --list-sdks: $(dotnet --list-sdks 2>/dev/null | tr '\n' ' ')). Install the .NET 10 SDK (dotnet-sdk-10.0)."
fi

# Packages we may need from apt: PostgreSQL server binaries (pg.sh looks under
# /usr/lib/postgresql/*/bin) and docker-compose (a test runs `docker-compose config`).
missing=()
pg_bin_dir >/dev/null || missing+=(postgresql)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Debian's chromium: the web console's browser tests drive it through Playwright (tests/Integration/Console).
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
# promtool (Debian's prometheus package): the observability tests check /metrics and the alert rules with it.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if ((${#missing[@]})); then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing missing packages: apt-get update && apt-get install -y ${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        for pkg in "${missing[@]}"; do
            case "$pkg" in
                postgresql) log "missing PostgreSQL server binaries: install the package 'postgresql' (sudo apt-get install -y postgresql)" ;;
                docker-compose) log "missing docker-compose: install the package 'docker-compose' (sudo apt-get install -y docker-compose)" ;;
                npm) log "missing npm: install the packages 'nodejs npm' (sudo apt-get install -y nodejs npm); the OpenAPI lint fails without them" ;;
                chromium) log "missing chromium: install the package 'chromium' (sudo apt-get install -y chromium); the console's browser tests fail without it" ;;
                prometheus) log "missing promtool: install the package 'prometheus' (sudo apt-get install -y prometheus); the observability tests fail without it" ;;
            esac
        done
        # PostgreSQL is required; without docker-compose only the compose-file test fails.
        [[ " ${missing[*]} " != *" postgresql "* ]] || die "PostgreSQL server binaries are required"
        log "continuing without ${missing[*]}"
    fi
fi

# The fault harness (tests/Faults) needs iproute2 and libfaketime; it runs only as root (it
# makes network namespaces), so only root installs them.
# shellcheck source=SCRIPTDIR/Faults/prereqs.sh
source "$REPO_ROOT/tests/Faults/prereqs.sh"
if [[ $EUID -eq 0 ]]; then
    faults_prereqs || log "WARNING: the fault harness's packages could not be installed; tests/Faults will fail"
else
    log "not root: tests/Faults (network namespaces) will fail; run as root to include the fault matrix"
fi

# ---------------------------------------------------------------- build
log "building OrleansCompute.sln (Release)"
# --disable-build-servers: leave no compiler/MSBuild server processes behind on CI.
dotnet build OrleansCompute.sln -c Release -nologo -v minimal --disable-build-servers \
    || die "build failed"

# ---------------------------------------------------------------- test projects
# tests/*/*.csproj except the benchmark harness, Unit first, the rest alphabetical.
projects=()
for p in tests/*/*.csproj; do
    [[ -e "$p" ]] || continue
    [[ "$p" == tests/Bench/* ]] && continue
    projects+=("$p")
done
if ((${#projects[@]} == 0)); then
    echo "no test projects found under tests/*/*.csproj" >&2
    echo "0 passed, 0 failed"
    exit 1
fi
mapfile -t projects < <(printf '%s\n' "${projects[@]}" | awk '{ print ($0 ~ /^tests\/Unit\//) ? "0 " $0 : "1 " $0 }' | sort | cut -d' ' -f2-)

# `dotnet test --no-build` needs every test project built. They belong in the solution;
# build any that is not (yet) there so a forgotten `dotnet sln add` does not break CI.
# (\134 is a backslash: the listing may use Windows separators)
in_sln=$(dotnet sln OrleansCompute.sln list 2>/dev/null | tr '\134' '/' || true)
for proj in "${projects[@]}"; do
    if ! grep -qxF "$proj" <<<"$in_sln"; then
        log "WARNING: $proj is not in OrleansCompute.sln; building it separately (add it: dotnet sln add $proj)"
        dotnet build "$proj" -c Release -nologo -v minimal --disable-build-servers || die "build of $proj failed"
    fi
done

# ---------------------------------------------------------------- OpenAPI lint
LOG_DIR=$REPO_ROOT/.tmp/test-logs
mkdir -p "$LOG_DIR"
log "linting the OpenAPI document (tests/OpenApi/lint.sh)"
lint_status=ok lint_passed=1 lint_failed=0
if ! tests/OpenApi/lint.sh >"$LOG_DIR/OpenApiLint.log" 2>&1; then
    lint_status="FAILED (see ${LOG_DIR#"$REPO_ROOT"/}/OpenApiLint.log)" lint_passed=0 lint_failed=1
fi
grep -v '[║╔╚]' "$LOG_DIR/OpenApiLint.log" | tail -n 30 >&2 || true

# ---------------------------------------------------------------- PostgreSQL
# Test classes run in parallel, each with its own silos, and every silo has several connection
# pools (ours, and one per Orleans ADO.NET provider): 300 connections ran out on a loaded machine.
export OC_PG_MAX_CONNECTIONS=${OC_PG_MAX_CONNECTIONS:-1000}
pg_start
export OC_TEST_POSTGRES=$ConnectionStrings__Postgres
export OC_REPO_ROOT=$REPO_ROOT
export OC_BUILD_CONFIGURATION=Release

# ---------------------------------------------------------------- run
hang_args=()
hang=${OC_TEST_HANG_TIMEOUT:-15m}
if [[ "$hang" != 0 ]]; then
    hang_args=(--blame-hang-timeout "$hang" --blame-hang-dump-type none)
fi

total_passed=$lint_passed total_failed=$lint_failed total_skipped=0
failed_projects=()
summary_lines=("$(printf '  %-20s passed %4d  failed %4d  skipped %4d  %s' "OpenApiLint" "$lint_passed" "$lint_failed" 0 "$lint_status")")
((lint_failed == 0)) || failed_projects+=(OpenApiLint)

for proj in "${projects[@]}"; do
    name=$(basename "$proj" .csproj)
    plog=$LOG_DIR/$name.log
    log "dotnet test $proj"
    # Run in the background and `wait` so that SIGTERM/SIGINT reach our trap at once
    # (bash defers traps while a foreground child runs). Output goes to the log file and
    # is streamed to the console by tail, which exits when dotnet test does.
    : >"$plog"
    dotnet test "$proj" -c Release --no-build --logger "console;verbosity=normal" \
        "${hang_args[@]}" "$@" </dev/null >"$plog" 2>&1 &
    test_pid=$!
    tail -n +1 -f --pid="$test_pid" "$plog" &
    tail_pid=$!
    CHILD_PIDS=("$test_pid" "$tail_pid")
    rc=0
    wait "$test_pid" || rc=$?
    wait "$tail_pid" || true
    CHILD_PIDS=()

    # Counts, from either console-logger format (summed over test assemblies):
    #  verbosity=normal (what we ask for) ends each assembly's run with a block
    #      Total tests: 12
    #           Passed: 11
    #           Failed: 1        (lines with a zero count are left out)
    #          Skipped: 0
    #  verbosity=minimal/quiet prints one line per assembly instead
    #      Failed!  - Failed:     1, Passed:    11, Skipped:     0, Total:    12, ...
    #  The one-line form wins when present, so nothing is counted twice.
    #  An aborted run (test host crashed, or killed by the hang timeout) says
    #  "Total tests: Unknown" and does not count the culprit: count it as one failure.
    read -r p f s n < <(sed 's/\x1b\[[0-9;]*m//g' "$plog" | awk '
        match($0, /[A-Za-z]+! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/) {
            line = substr($0, RSTART, RLENGTH); gsub(/[^0-9]+/, " ", line)
            split(line, v, " "); f1 += v[1]; p1 += v[2]; s1 += v[3]; n1++
            next
        }
        /^Test Run Aborted/ { aborted++ }
        /^ *Total tests: *([0-9]+|Unknown) *$/ { inblock = 1; n2++; next }
        inblock && /^ *Passed: *[0-9]+ *$/  { p2 += $2; next }
        inblock && /^ *Failed: *[0-9]+ *$/  { f2 += $2; next }
        inblock && /^ *Skipped: *[0-9]+ *$/ { s2 += $2; next }
        inblock { inblock = 0 }
        END {
            if (n1 > 0) printf "%d %d %d %d\n", p1, f1 + aborted, s1, n1
            else        printf "%d %d %d %d\n", p2, f2 + aborted, s2, n2
        }')
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    total_skipped=$((total_skipped + s))

    status=ok
    if ((rc != 0)); then
        status="FAILED (dotnet test exit code $rc)"
        failed_projects+=("$name")
        if ((n == 0)); then
            status+=", no test results reported; see $plog"
        fi
    elif ((f > 0)); then
        status="FAILED"
        failed_projects+=("$name")
    fi
    summary_lines+=("$(printf '  %-20s passed %4d  failed %4d  skipped %4d  %s' "$name" "$p" "$f" "$s" "$status")")
    # Name the failed tests in the summary: CI keeps only the end of the output.
    # Each with the first lines of its error message, which is all a failed CI run leaves to go on.
    while IFS= read -r failed_line; do
        summary_lines+=("    $failed_line")
    done < <(sed 's/\x1b\[[0-9;]*m//g' "$plog" | awk '
        match($0, /^ *Failed OrleansCompute\..* \[[^]]*\]$/) {
            name = $0; sub(/^ *Failed /, "", name); sub(/ \[[^]]*\]$/, "", name)
            if (seen[name]++) { capture = 0; next }
            print "failed: " name; capture = 1; lines = 0; next
        }
        capture && /^ *Error Message:/ { next }
        capture && (/^ *Stack Trace:/ || /^ *(Passed|Failed|Skipped) / || lines >= 6) { capture = 0; next }
        capture && NF { sub(/^ +/, ""); print "  " substr($0, 1, 300); lines++ }')
done

cleanup   # stop PostgreSQL now so its messages come before the summary

echo
echo "Test summary (logs in ${LOG_DIR#"$REPO_ROOT"/}/):"
printf '%s\n' "${summary_lines[@]}"
if ((total_skipped > 0)); then echo "  ($total_skipped skipped)"; fi
exit_code=0
if ((${#failed_projects[@]})); then
    echo "  failed projects: ${failed_projects[*]}"
    exit_code=1
fi
if ((total_passed + total_failed == 0)); then
    echo "  no tests ran"
    exit_code=1
fi
echo "$total_passed passed, $total_failed failed"
exit "$exit_code"
