#!/usr/bin/env bash
# Runs a command with a real offgrid instance listening on loopback, then stops the instance.
#   scripts/with-instance.sh COMMAND [ARGS...]
# The instance serves demo data from an in-memory SQLite database and allows the wasm test
# runner's origin (CORS with credentials), so tests in headless Chromium talk to it over HTTP;
# its fault switch is on (--fault-injection), for the tests of answers lost after a commit.
# OFFGRID_TEST_INSTANCE (the instance's URL) and WASM_BINDGEN_TEST_ADDRESS (where the test
# runner serves the tests) are exported for the command.
set -euo pipefail
cd "$(dirname "$0")/.."

INSTANCE_ADDR=${OFFGRID_TEST_INSTANCE_ADDR:-127.0.0.1:18080}
RUNNER_ADDR=${WASM_BINDGEN_TEST_ADDRESS:-127.0.0.1:18181}
RECORDS=${OFFGRID_TEST_RECORDS:-1000}
LOG=${OFFGRID_TEST_LOG:-target/test-instance.log}

cargo build -q -p offgrid-server
mkdir -p "$(dirname "$LOG")"
"${CARGO_TARGET_DIR:-target}/debug/offgrid-server" --listen "$INSTANCE_ADDR" --db :memory: --demo --records "$RECORDS" \
  --cors-origin "http://$RUNNER_ADDR" --fault-injection >"$LOG" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null -u admin:admin "http://$INSTANCE_ADDR/api/now/table/sys_user?sysparm_limit=1"; then
    break
  fi
  if ! kill -0 $pid 2>/dev/null; then
    echo "with-instance: the instance exited; its log:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  sleep 0.2
done

export OFFGRID_TEST_INSTANCE="http://$INSTANCE_ADDR"
export WASM_BINDGEN_TEST_ADDRESS="$RUNNER_ADDR"
"$@"
