#!/usr/bin/env bash
# Lint the Api's live OpenAPI document with Spectral (spectral:oas) and Redocly (recommended-strict).
#
# usage: tests/OpenApi/lint.sh
#   Starts the built Api (Api/bin/Release) on a free port with no cluster behind it (the document
#   needs none), saves /swagger/v1/swagger.json as tests/OpenApi/openapi.json, installs the linters
#   from the committed package-lock.json (npm ci) and runs both. Exit status: 0 only with no error
#   and no warning from either.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
log() { printf '[lint.sh] %s\n' "$*" >&2; }

command -v npm >/dev/null 2>&1 || { log "npm not found: install Node.js 20+ and npm (sudo apt-get install -y nodejs npm)"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 5987)
(cd "$REPO_ROOT/Api/bin/Release/net10.0" && exec env ASPNETCORE_URLS="http://127.0.0.1:$port" Auth__AdminKey=lint-only \
    Orleans__Gateways=127.0.0.1:1 Logging__LogLevel__Default=None dotnet OrleansCompute.Api.dll) >/dev/null 2>&1 &
api=$!
trap 'kill "$api" 2>/dev/null || true; wait "$api" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
    curl -sf -o "$HERE/openapi.json" "http://127.0.0.1:$port/swagger/v1/swagger.json" && break
    kill -0 "$api" 2>/dev/null || { log "the Api exited before serving its document"; exit 1; }
    sleep 0.1
done
[[ -s "$HERE/openapi.json" ]] || { log "no document from the Api within 30 s"; exit 1; }

cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error >&2
npx spectral lint --fail-severity warn --ruleset .spectral.yaml openapi.json
npx redocly lint --config redocly.yaml openapi.json
