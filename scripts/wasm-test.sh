#!/usr/bin/env bash
# Runs the wasm test suites in one browser engine, against a real instance of its own.
#   scripts/wasm-test.sh chromium|firefox|webkit [WASM-PACK TEST OPTIONS...]
# Chromium and Firefox run headless; WebKitGTK's MiniBrowser has no headless mode, so it gets
# a virtual display (Xvfb) for the run, stopped after it (without a display the WebDriver's
# POST /session hangs instead of failing). Says which engine failed, and how long each took.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${1:?usage: scripts/wasm-test.sh chromium|firefox|webkit [wasm-pack test options]}
shift
case "$engine" in
  chromium) driver=(--chrome --chromedriver "${CHROMEDRIVER:-/usr/bin/chromedriver}") ;;
  # The one `cargo install` put there: npm's `geckodriver` wrapper, earlier on the Makefile's
  # PATH, downloads a driver at run time instead.
  firefox) driver=(--firefox --geckodriver "${GECKODRIVER:-${CARGO_HOME:-$HOME/.cargo}/bin/geckodriver}") ;;
  webkit) driver=(--safari --safaridriver "${WEBKITDRIVER:-/usr/bin/WebKitWebDriver}") ;;
  *) echo "wasm-test: unknown engine '$engine' (chromium, firefox or webkit)" >&2; exit 2 ;;
esac

# The test runner runs the whole worker suite from one `message` event it does not extend, so
# Firefox stops the worker once it has been idle for its default 30 s and the run hangs until
# the runner's timeout whenever the suite takes longer (a loaded machine). An app's worker is
# started again for each event; this runner's is not, so the run gets a longer idle timeout.
[ "$engine" != firefox ] || export WASM_BINDGEN_TEST_WEBDRIVER_JSON=${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-scripts/firefox-webdriver.json}

xvfb=""
stop_xvfb() { [ -z "$xvfb" ] || { kill "$xvfb" 2>/dev/null || true; wait "$xvfb" 2>/dev/null || true; }; }
trap stop_xvfb EXIT
if [ "$engine" = webkit ]; then
  # -displayfd: Xvfb picks a free display and writes its number once it accepts clients.
  exec 3< <(Xvfb -displayfd 1 -screen 0 1280x1024x24 -nolisten tcp 2>/dev/null)
  xvfb=$!
  read -r -t 30 display <&3 || { echo "wasm-test: Xvfb did not start, WebKitGTK needs a display" >&2; exit 1; }
  export DISPLAY=":$display"
fi

echo "wasm-test: $engine"
start=$SECONDS
if scripts/with-instance.sh wasm-pack test --headless "${driver[@]}" "$@"; then
  echo "wasm-test: $engine passed in $((SECONDS - start)) s"
else
  echo "wasm-test: the wasm tests FAILED in $engine (after $((SECONDS - start)) s)" >&2
  exit 1
fi
