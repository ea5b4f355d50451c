// The browsers the end-to-end tests run in, each the stock Debian build driven over classic
// W3C WebDriver by WebdriverIO: Chromium (chromedriver), Firefox ESR (geckodriver) and
// WebKitGTK's MiniBrowser (WebKitWebDriver, on a virtual display started here). Playwright can
// drive only Chromium among these; one WebDriver client lets one test body run in all three.
//
// OFFGRID_E2E_ENGINES picks some (comma-separated; default all three). Each driver's output,
// the browser's with it, goes to target/e2e-<engine>.log.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { remote } from 'webdriverio';

const env = process.env;

const ENGINES = {
  chromium: {
    driver: env.CHROMEDRIVER ?? '/usr/bin/chromedriver',
    args: (port) => [`--port=${port}`],
    capabilities: {
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: env.CHROMIUM ?? '/usr/bin/chromium',
        args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      },
    },
  },
  firefox: {
    // The one `cargo install geckodriver` put there, not the npm package of the same name that
    // webdriverio brings into node_modules/.bin (it downloads a driver on first use).
    driver: env.GECKODRIVER ?? join(env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin', 'geckodriver'),
    // A BiDi port of its own (none is used, classic WebDriver): the default 9222 may be taken.
    args: (port) => ['--port', String(port), '--websocket-port', '0'],
    capabilities: {
      browserName: 'firefox',
      'moz:firefoxOptions': { binary: env.FIREFOX ?? '/usr/bin/firefox-esr', args: ['-headless'] },
    },
  },
  webkit: {
    driver: env.WEBKIT_WEBDRIVER ?? '/usr/bin/WebKitWebDriver',
    args: (port) => [`--port=${port}`],
    // MiniBrowser has no headless mode: it needs a display.
    display: true,
    capabilities: {
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': {
        binary: env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
        args: ['--automation'],
      },
    },
  },
};

/** The engines to test, by name. */
export function engines() {
  const names = (env.OFFGRID_E2E_ENGINES ?? Object.keys(ENGINES).join(',')).split(',').map((n) => n.trim()).filter(Boolean);
  for (const name of names) {
    if (!ENGINES[name]) throw new Error(`unknown engine "${name}" in OFFGRID_E2E_ENGINES (known: ${Object.keys(ENGINES).join(', ')})`);
  }
  return names;
}

// A child process that must be running: its early exit is reported instead of a timeout.
function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], ...options });
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  child.failed = new Promise((_, reject) => child.on('error', (e) => reject(new Error(`cannot start ${command}: ${e.message}`))));
  child.failed.catch(() => {});
  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill();
  await child.exited;
}

// Xvfb picks a free display itself (-displayfd) and says which: no clash with another run.
async function startDisplay() {
  const xvfb = start('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  let text = '';
  const display = await Promise.race([
    (async () => {
      for await (const chunk of xvfb.stdio[3]) {
        text += chunk;
        if (text.includes('\n')) return `:${text.trim()}`;
      }
      throw new Error('Xvfb closed without naming its display');
    })(),
    xvfb.failed,
    xvfb.exited.then((code) => { throw new Error(`Xvfb exited (${code}) before naming its display`); }),
  ]);
  return { xvfb, display };
}

async function waitForDriver(name, child, port) {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name}'s driver exited (${child.exitCode ?? child.signalCode})`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/status`);
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name}'s driver did not answer on port ${port}`);
}

/**
 * Starts an engine's driver (and display), returning `{ session(), end(browser), close() }`:
 * `session()` opens a fresh browser (a new profile, so no worker or storage carries over) as a
 * WebdriverIO browser object.
 */
export async function launch(name, port) {
  const engine = ENGINES[name];
  let display = null;
  if (engine.display) display = await startDisplay();
  const driverEnv = display ? { ...env, DISPLAY: display.display } : env;
  mkdirSync('target', { recursive: true });
  const log = `target/e2e-${name}.log`;
  const out = openSync(log, 'w');
  const driver = start(engine.driver, engine.args(port), { env: driverEnv, stdio: ['ignore', out, out] });
  closeSync(out);
  const sessions = new Set();
  try {
    await Promise.race([waitForDriver(name, driver, port), driver.failed]);
  } catch (e) {
    await stop(driver);
    await stop(display?.xvfb);
    throw new Error(`${e.message} (its output: ${log})`);
  }
  return {
    async session() {
      const browser = await remote({
        hostname: '127.0.0.1',
        port,
        path: '/',
        // WebdriverIO's own retries (a stale element while the page re-renders) are not failures.
        logLevel: 'error',
        connectionRetryTimeout: 120_000,
        connectionRetryCount: 0,
        // Classic WebDriver: WebKitWebDriver speaks no BiDi, and one protocol keeps one body.
        capabilities: { ...engine.capabilities, 'wdio:enforceWebDriverClassic': true },
      });
      sessions.add(browser);
      return browser;
    },
    /** Closes a browser `session()` opened. */
    async end(browser) {
      if (sessions.delete(browser)) await browser.deleteSession();
    },
    async close() {
      for (const browser of sessions) await browser.deleteSession().catch(() => {});
      sessions.clear();
      await stop(driver);
      await stop(display?.xvfb);
    },
  };
}

const PLAYWRIGHT_CHROMIUM = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

/** Chromium through Playwright, for the checks only its DevTools protocol can make. */
export async function launchPlaywrightChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch(PLAYWRIGHT_CHROMIUM);
}

/**
 * Chromium through Playwright with a profile in `dir`, as one browser context (`options`:
 * Playwright's context options). Its contexts are not incognito, which Chromium requires
 * before it calls an app installable.
 */
export async function launchPlaywrightChromiumProfile(dir, options = {}) {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(dir, { ...PLAYWRIGHT_CHROMIUM, ...options });
}
