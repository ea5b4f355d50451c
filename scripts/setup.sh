#!/usr/bin/env bash
# Installs what the build and the tests need, skipping whatever is already present.
# Safe to run again; CI runs it on a bare machine through `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p; s/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$WASM_BINDGEN_VERSION" ] || { echo "setup: cannot read the pinned wasm-bindgen version from Cargo.toml" >&2; exit 1; }

say() { echo "setup: $*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! command -v wasm-pack >/dev/null 2>&1; then
  say "installing wasm-pack (a few minutes)"
  cargo install wasm-pack --locked
fi

if ! command -v wasm-bindgen >/dev/null 2>&1 \
  || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ] \
  || ! command -v wasm-bindgen-test-runner >/dev/null 2>&1; then
  # --locked fails for this crate (a locked dependency is missing from the registry).
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# The browsers the wasm and end-to-end suites run in, from Debian: Chromium and ChromeDriver,
# Firefox ESR, WebKitGTK's WebDriver (with its MiniBrowser) and Xvfb (MiniBrowser has no
# headless mode), in one apt-get run for whatever is missing.
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
command -v curl >/dev/null 2>&1 || packages+=(curl)
[ -x /usr/bin/firefox-esr ] || packages+=(firefox-esr)
[ -x /usr/bin/WebKitWebDriver ] || packages+=(webkit2gtk-driver)
[ -x /usr/bin/Xvfb ] || packages+=(xvfb)
if [ ${#packages[@]} -gt 0 ]; then
  say "installing ${packages[*]} from Debian"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${packages[@]}"
fi

# Firefox's WebDriver is not packaged by Debian; crates.io has it (about 2 minutes). Checked by
# its path: npm's `geckodriver` wrapper in node_modules/.bin only downloads one at run time.
if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/geckodriver" ]; then
  say "installing geckodriver (a few minutes)"
  cargo install geckodriver --locked
fi

if [ -f package.json ]; then
  if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] \
    || [ ! -d node_modules/webdriverio ] \
    || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    # --ignore-scripts: webdriverio brings npm's geckodriver and edgedriver packages, whose
    # install scripts download drivers from GitHub (unreachable here, and not used: the drivers
    # come from Debian and crates.io). binaryen and playwright-core have no install scripts.
    say "installing npm packages (package.json: wasm-opt, the browser drivers, axe-core, the bench baselines)"
    npm ci --ignore-scripts --no-audit --no-fund
  fi
fi
say "toolchain ready"
