// A new build of the app: its worker installs beside the running one and waits; the client's
// onUpdateReady fires, applyUpdate() activates it and reloads, and the old shell cache goes.
// The new build is the same package with another shell version (pkg/shell.js), as the build
// writes it when www/ or pkg/ change. Chromium (Playwright) drives it.
//
// Run with `make e2e`; OFFGRID_E2E_ENGINES without `chromium` skips this file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engines, launchPlaywrightChromium } from './engines.mjs';
import { BASE, Instance } from './instance.mjs';

const skip = !engines().includes('chromium') && 'chromium is not in OFFGRID_E2E_ENGINES';
const PKG = process.env.OFFGRID_E2E_PKG ?? 'pkg-test';

let dir;
let instance;
let browser;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'offgrid-update-pkg-'));
  for (const file of readdirSync(PKG)) copyFileSync(join(PKG, file), join(dir, file));
  instance = new Instance({ pkg: dir });
  await instance.start();
  browser = await launchPlaywrightChromium();
});

after(async () => {
  await browser?.close();
  await instance?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('chromium: a new build waits, the client offers it, and applying it reloads onto the new shell cache', { skip, timeout: 180_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(BASE + '/');
    const first = await page.evaluate(async () => {
      const { Offgrid } = await import('/pkg/client.js');
      window.og = new Offgrid();
      await window.og.register('/sw.js');
      window.updates = 0;
      window.og.onUpdateReady(() => { window.updates += 1; });
      return (await caches.keys()).filter((n) => n.startsWith('offgrid-shell-'));
    });
    const shell = readFileSync(join(dir, 'shell.js'), 'utf8');
    const version = shell.match(/"version": "([0-9a-f]+)"/)[1];
    assert.deepEqual(first, [`offgrid-shell-${version}`]);

    // The next build.
    writeFileSync(join(dir, 'shell.js'), shell.replace(version, 'nextbuild'));
    await page.evaluate(() => window.og.registration.update());
    await page.waitForFunction(() => window.updates > 0, null, { timeout: 30000 });
    const waiting = await page.evaluate(async () => ({
      waiting: Boolean(window.og.registration.waiting),
      caches: (await caches.keys()).filter((n) => n.startsWith('offgrid-shell-')).sort(),
    }));
    assert.equal(waiting.waiting, true, 'the new version waits for the page');
    assert.deepEqual(waiting.caches, [`offgrid-shell-${version}`, 'offgrid-shell-nextbuild'], 'both shells while it waits');

    await Promise.all([
      page.waitForEvent('load', { timeout: 30000 }),
      page.evaluate(() => window.og.applyUpdate()),
    ]);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
    const applied = await page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith('offgrid-shell-')));
    assert.deepEqual(applied, ['offgrid-shell-nextbuild'], 'the old shell cache is deleted on activate');
  } finally {
    await context.close();
  }
});
