# offgrid — the two commands are `make demo` and `make test`; everything else is a helper.
# Every target installs what it needs first (scripts/setup.sh skips what is present).

SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CHROMEDRIVER ?= /usr/bin/chromedriver
export CARGO_TERM_COLOR ?= never
# The worker suite runs well past the test runner's 20 s default on two loaded cores.
export WASM_BINDGEN_TEST_TIMEOUT ?= 300

WASM_TESTS := --test web_worker --test web_page
WASM_ENGINES ?= chromium firefox webkit
# The worker tests fix the clock and force the network through hooks the shipped build
# (`make build`, `make demo`) does not have; wasm-pack passes these options on to cargo.
TEST_HOOKS := --features test-hooks

.PHONY: demo test setup build lint native-test wasm-test e2e clean

## demo: install what is missing, build the core, start the instance with demo data
demo: setup build
	cargo run --release -p offgrid-server -- --demo

## test: install what is missing, then run every check and test
test: setup lint native-test wasm-test e2e
	@echo "make test: all checks passed"

setup:
	@scripts/setup.sh

## build: the npm package in pkg/: the core as an ES module, the page client and the worker
## entry (js/), and the app shell's files and version (pkg/shell.js, from www/)
build: setup
	wasm-pack build --release --target web --out-dir pkg
	node scripts/package.mjs pkg --shell www

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p offgrid --target wasm32-unknown-unknown --all-targets -- -D warnings
	cargo clippy -p offgrid --target wasm32-unknown-unknown --all-targets $(TEST_HOOKS) -- -D warnings

native-test:
	cargo test --workspace

## wasm-test: the core's wasm tests (in a service worker and in a page) in headless Chromium,
## Firefox and WebKitGTK, one engine after the other (each against its own instance, on the
## same ports); `make wasm-test WASM_ENGINES=firefox` runs one
wasm-test: setup
	@for engine in $(WASM_ENGINES); do scripts/wasm-test.sh $$engine . $(TEST_HOOKS) $(WASM_TESTS) || exit 1; done

## e2e: the app and its service worker in Chromium, Firefox and WebKitGTK against a real
## instance. It needs the test hooks (the runtime's network is forced, since WebDriver cannot
## cut a browser's), so it builds its own core into pkg-test/; pkg/ stays as shipped. One file
## at a time: each starts its own instance on the one e2e address.
e2e: setup
	wasm-pack build --release --target web --out-dir pkg-test . $(TEST_HOOKS)
	node scripts/package.mjs pkg-test --shell www
	cargo build -q -p offgrid-server
	node --test --test-concurrency=1 --test-reporter=spec e2e/

clean:
	cargo clean
	rm -rf pkg pkg-test
