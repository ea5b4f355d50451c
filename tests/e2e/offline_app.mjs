// End to end: the app in www/ with its real service worker, in headless Chromium, against an
// instance serving www/ and pkg/ (built with `wasm-pack build --target web --out-dir pkg`).
//
//   OFFGRID_APP=http://127.0.0.1:18090 node tests/e2e/offline_app.mjs
//
// Signs in, turns offline mode on (the cache downloads first), cuts the network and stops
// the worker, reloads (the restarted worker answers from Cache Storage and IndexedDB),
// accepts a task offline (the outbox fills, the task is marked), then goes back online and
// turns offline mode off (the outbox syncs and the cache is cleared).
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.OFFGRID_APP ?? 'http://127.0.0.1:18090';
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (process.env.DEBUG_E2E) context.on('request', (r) => console.log(new Date().toISOString(), r.method(), r.url(), r.serviceWorker() ? '(sw)' : ''));
  await page.goto(`${base}/`);
  await page.waitForSelector('#login:not([hidden])', { timeout: 20000 });
  await page.fill('input[name=user_name]', 'beth.anglin');
  await page.fill('input[name=password]', 'beth.anglin');
  await page.click('#login-form button');
  await page.waitForSelector('#tasks li', { timeout: 20000 });
  assert.match(await page.textContent('#status-line'), /no offline cache/);

  await page.check('#offline-switch');
  await page.waitForFunction(() => /cache: \d+ records/.test(document.querySelector('#status-line').textContent), null, { timeout: 30000 });

  await context.setOffline(true);
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await page.reload();
  await page.waitForSelector('#tasks li', { timeout: 20000 });
  assert.match(await page.textContent('#status-line'), /cache: \d+ records/);

  await page.locator('#tasks li button', { hasText: 'Accept' }).first().click();
  await page.waitForSelector('#outbox li', { timeout: 10000 });
  assert.match(await page.textContent('#outbox'), /accept_task · pending/);
  await page.waitForSelector('#tasks li.marked', { timeout: 10000 });
  assert.equal(await page.locator('#tasks li.marked').count(), 1);

  await context.setOffline(false);
  await page.uncheck('#offline-switch');
  await page.waitForFunction(() => document.querySelectorAll('#outbox li').length === 0, null, { timeout: 20000 });
  // Events refresh the page as the sync ends: wait for the last one.
  await page.waitForFunction(() => /no offline cache/.test(document.querySelector('#status-line').textContent), null, { timeout: 10000 });
  console.log('offline_app: ok');
} finally {
  await browser.close();
}
