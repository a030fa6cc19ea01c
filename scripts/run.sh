#!/usr/bin/env bash
# `make run`: start the API and one worker in the foreground; Ctrl-C stops both.
set -euo pipefail
PY=${PY:-.venv/bin/python}
HOST=${API_HOST:-127.0.0.1}
PORT=${API_PORT:-8000}
LOG_DIR=${LOG_DIR:-var/log}
# A developer's machine: the public development secrets are allowed here, with a warning.
export BGREMOVER_ENV=${BGREMOVER_ENV:-development}
mkdir -p "$LOG_DIR"

# Stop our two children only, once: `kill 0` also signalled make and this shell (the trap ran again and
# make died with a segmentation fault). The trap is cleared first so the EXIT after it does not re-enter.
pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping API and worker"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop INT TERM EXIT

"$PY" -m api.server --host "$HOST" --port "$PORT" >"$LOG_DIR/api.log" 2>&1 &
pids+=($!)
WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-9101} "$PY" -m worker >"$LOG_DIR/worker.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 60); do
  if curl -fsS "http://$HOST:$PORT/api/background-remover/health/live" >/dev/null 2>&1; then break; fi
  sleep 0.5
done

cat <<MSG

bgremover is running
  API        http://$HOST:$PORT/api/background-remover   (log: $LOG_DIR/api.log)
  OpenAPI    http://$HOST:$PORT/schema/openapi.json
  readiness  http://$HOST:$PORT/api/background-remover/health/ready
  worker     log: $LOG_DIR/worker.log
  metrics    http://$HOST:$PORT/metrics   http://127.0.0.1:${WORKER_METRICS_PORT:-9101}/metrics
  token      make token USER=alice
Press Ctrl-C to stop.
MSG
wait
