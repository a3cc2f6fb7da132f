#!/usr/bin/env bash
# Fault soak (#15, SPEC §8): PostgreSQL, three silos and the Api in network namespaces of their
# own, every workload running, and faults from a seeded schedule until the time is up; then the
# checkers judge each fault's history and a markdown report is written.
#
# usage: tests/Faults/run.sh [--minutes M] [--seed N] [--quick] [--only FAULTS] [--out DIR] [--no-build]
#   --minutes M   how long to inject faults (default 30)
#   --seed N      the schedule's seed (default: random, printed); the same seed replays the run
#   --quick       one short round of every fault (what CI runs)
#   --only FAULTS keep only these faults of the schedule, e.g. kill-restart (names as in the report)
#   --out DIR     where the report, history and node logs go (default .tmp/faults/seed-N-<time>)
#   --judge DIR   no run: the checkers judge DIR's saved history again and rewrite its report
# Needs root (network namespaces); installs PostgreSQL, iproute2 and libfaketime through apt-get
# when missing. Exit status 1 when a checker found a violation. The report is printed at the end.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"
build=1
args=()
while (($#)); do
    case "$1" in
        --no-build) build=0 ;;
        --minutes|--seed|--out|--judge|--only) args+=("$1" "$2"); shift ;;
        --quick) args+=("$1") ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

[[ $EUID -eq 0 ]] || { echo "tests/Faults/run.sh needs root: it creates network namespaces" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/prereqs.sh
source "$REPO_ROOT/tests/Faults/prereqs.sh"
# shellcheck source=SCRIPTDIR/../../deploy/local/pg.sh
source "$REPO_ROOT/deploy/local/pg.sh"
faults_prereqs
pg_ensure_binaries

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 OC_REPO_ROOT=$REPO_ROOT OC_BUILD_CONFIGURATION=Release
if ((build)); then
    for p in Silo/Silo.csproj Api/Api.csproj tests/Faults/FaultHarness.csproj; do
        dotnet build "$p" -c Release -nologo -v minimal --disable-build-servers >&2
    done
fi

# The harness removes its namespaces itself (also a crashed run's, at its next start); this
# trap covers a kill of the harness, which then cannot.
cleanup() { bash "$REPO_ROOT/tests/Faults/netns.sh" down-stale || true; }
trap cleanup EXIT
dotnet "tests/Faults/bin/Release/net10.0/OrleansCompute.Tests.Faults.dll" "${args[@]}"
