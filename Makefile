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

# The shipped core's build: Cargo's `wasm-release` profile (smallest code) and wasm-opt, in
# Cargo.toml; the instance keeps the `release` profile.
WASM_BUILD := wasm-pack build --profile wasm-release --target web
# What a browser downloads of the core (wasm + JS glue, gzipped): the target is 150 KB, not
# met yet (docs/decisions.md says where the bytes are); `make test` fails above the budget,
# the size reached, so it can only shrink.
SIZE_TARGET := 153600
SIZE_BUDGET := 362496

.PHONY: demo test setup build size bench lint native-test wasm-test e2e soak clean

## demo: install what is missing, build the core, start the instance with demo data
demo: setup build
	cargo run --release -p offgrid-server -- --demo

## test: install what is missing, then run every check and test
test: setup lint native-test size wasm-test e2e
	@echo "make test: all checks passed"

setup:
	@scripts/setup.sh

## build: the npm package in pkg/: the core as an ES module, the page client and the worker
## entry (js/), and the app shell's files and version (pkg/shell.js, from www/)
build: setup
	$(WASM_BUILD) --out-dir pkg
	node scripts/package.mjs pkg --shell www

## size: builds the core and prints its gzipped size against the target and the budget; fails
## above the budget
size: build
	@scripts/size.sh pkg $(SIZE_BUDGET) $(SIZE_TARGET)

## bench: offgrid's hot paths in headless Chromium against a release instance, each figure
## beside a baseline from the same run (docs/bench.md); prints a table and writes
## target/bench/bench.json. A few minutes with the defaults; sizes by variables, e.g. the full
## run: make bench RECORDS=10000,100000 OUTBOX=0,1000 SYNC=1000 RUNS=200. ONLY=download,action
## runs some figures; PROFILE=1 records the worker's CPU profile of each (target/bench/*.cpuprofile)
## on a core built as shipped but keeping its function names (target/bench/pkg-profile).
BENCH_PKG := $(if $(PROFILE),target/bench/pkg-profile,pkg)
bench: build
	cargo build --release -p offgrid-server
ifdef PROFILE
	$(WASM_BUILD) --no-opt --out-dir $(BENCH_PKG)
	wasm-opt -O -g --enable-bulk-memory --enable-nontrapping-float-to-int $(BENCH_PKG)/offgrid_bg.wasm -o $(BENCH_PKG)/offgrid_bg.wasm
	node scripts/package.mjs $(BENCH_PKG) --shell www
endif
	BENCH_RECORDS="$(RECORDS)" BENCH_OUTBOX="$(OUTBOX)" BENCH_SYNC="$(SYNC)" BENCH_RUNS="$(RUNS)" BENCH_LIST_RUNS="$(LIST_RUNS)" \
	  BENCH_COLD="$(COLD)" BENCH_DOWNLOADS="$(DOWNLOADS)" BENCH_OUT="$(OUT)" BENCH_ADDR="$(BENCH_ADDR)" \
	  BENCH_INSTANCE_RECORDS="$(INSTANCE_RECORDS)" \
	  BENCH_ONLY="$(ONLY)" BENCH_PROFILE="$(PROFILE)" BENCH_PKG="$(BENCH_PKG)" \
	  node bench/run.mjs

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
	$(WASM_BUILD) --out-dir pkg-test . $(TEST_HOOKS)
	node scripts/package.mjs pkg-test --shell www
	cargo build -q -p offgrid-server
	node --test --test-concurrency=1 --test-reporter=spec e2e/

## soak: the exactly-once soak (e2e/soak.mjs) in headless Chromium against an instance with its
## fault switch on, then the figures; `make soak SEED=7 ROUNDS=100` is about 10,000 actions
## (ACTIONS per round; MINUTES=30 starts no round after half an hour). `make e2e` runs one
## quick round of it (e2e/soak.test.mjs).
SEED ?= 1
ROUNDS ?= 100
ACTIONS ?= 100
MINUTES ?= Infinity
soak: setup
	$(WASM_BUILD) --out-dir pkg-test . $(TEST_HOOKS)
	node scripts/package.mjs pkg-test --shell www
	cargo build -q -p offgrid-server
	SEED=$(SEED) ROUNDS=$(ROUNDS) ACTIONS=$(ACTIONS) MINUTES=$(MINUTES) node e2e/soak.mjs

clean:
	cargo clean
	rm -rf pkg pkg-test
