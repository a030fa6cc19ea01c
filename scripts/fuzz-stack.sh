#!/usr/bin/env bash
# `make chaos`, second half: a throw-away database and API (rate limits off, so the fuzzer reaches the
# handlers), schemathesis against the API's own OpenAPI schema, then everything removed again.
set -euo pipefail
PY=${PY:-.venv/bin/python}
PORT=${FUZZ_PORT:-8765}
DB="bgremover_fuzz_$$"
export DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$DB"
export QUEUE_NAME="bgremover:fuzz:$$"
export STORAGE_DIR="${TMPDIR:-/tmp}/bgremover-fuzz-$$"
export RATE_LIMIT_PER_S=0
export BGREMOVER_ENV=development

cleanup() {
  [ -n "${API_PID:-}" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null || true
  rm -rf "$STORAGE_DIR"
}
trap cleanup EXIT

"$PY" -m db.cli migrate >/dev/null
"$PY" -m api.server --host 127.0.0.1 --port "$PORT" --log-level warning &
API_PID=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$PORT/api/background-remover/health/live" >/dev/null 2>&1 && break
  sleep 0.5
done
"$PY" scripts/fuzz.py --base-url "http://127.0.0.1:$PORT" --max-examples "${FUZZ_EXAMPLES:-30}" --max-time "${FUZZ_SECONDS:-180}"
