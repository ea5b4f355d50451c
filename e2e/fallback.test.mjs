// When the wasm runtime cannot start (here: the core's .wasm is damaged), the service worker
// must not take the app down with it: `/api/*` requests go to the network as they are, and
// the worker's own `/offgrid/*` paths answer 503 `runtime_unavailable` in the error envelope.
// The shim's logic is plain JS and the same in every engine; Chromium (Playwright) drives it.
//
// Run with `make e2e`; OFFGRID_E2E_ENGINES without `chromium` skips this file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engines, launchPlaywrightChromium } from './engines.mjs';
import { BASE, Instance } from './instance.mjs';

const skip = !engines().includes('chromium') && 'chromium is not in OFFGRID_E2E_ENGINES';
const PKG = process.env.OFFGRID_E2E_PKG ?? 'pkg-test';

let broken;
let instance;
let browser;

before(async () => {
  if (skip) return;
  // The real package (glue, worker entry, shell) with a .wasm that is not one: init() fails
  // in the worker, as it would with a corrupt download.
  broken = mkdtempSync(join(tmpdir(), 'offgrid-broken-pkg-'));
  for (const file of readdirSync(PKG).filter((f) => f.endsWith('.js'))) copyFileSync(join(PKG, file), join(broken, file));
  writeFileSync(join(broken, 'offgrid_bg.wasm'), 'this is not WebAssembly');
  instance = new Instance({ pkg: broken });
  await instance.start();
  browser = await launchPlaywrightChromium();
});

after(async () => {
  await browser?.close();
  await instance?.close();
  if (broken) rmSync(broken, { recursive: true, force: true });
});

test('chromium: a worker whose runtime cannot start passes /api/* to the network and answers /offgrid/* 503', { skip, timeout: 180_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(BASE + '/');
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
    const call = (path) => page.evaluate(async (path) => {
      const response = await fetch(path, { headers: { authorization: 'Basic ' + btoa('beth.anglin:beth.anglin') } });
      return { status: response.status, source: response.headers.get('x-offgrid-source'), body: await response.json() };
    }, path);

    // The instance answers through the worker, as if there were none.
    const list = await call('/api/now/table/wm_task?sysparm_limit=2');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(list.body.result.length, 2);
    assert.equal(list.source, null, 'not from a cache');
    const bad = await call('/api/now/table/wm_task?sysparm_query=stateFOO');
    assert.equal(bad.body.error.code, 'invalid_query', 'the instance itself answered');

    // The worker's own paths say why they cannot answer.
    const status = await call('/offgrid/status');
    assert.equal(status.status, 503, JSON.stringify(status.body));
    assert.equal(status.body.status, 'failure');
    assert.equal(status.body.error.code, 'runtime_unavailable');
    assert.ok(status.body.error.message.length > 0);
  } finally {
    await context.close();
  }
});
