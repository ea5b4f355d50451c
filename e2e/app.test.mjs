// End-to-end: the real app shell and service worker (www/sw.js + the release wasm in pkg/) in
// headless Chromium against a real instance. Proves what wasm-bindgen-test cannot: the shim
// registers, precaches the shell and the wasm, the app opens with no network, a worker killed
// while offline starts again from Cache Storage, and the outbox syncs exactly once.
//
// The second test drives the page itself: the offline-mode switch, the task list's Accept
// button, the marked (patterned) task and the outbox list.
//
// Run with `make e2e` (it builds pkg/ and the instance first).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const ADDR = process.env.OFFGRID_E2E_ADDR ?? '127.0.0.1:18370';
const BASE = `http://${ADDR}`;
const SERVER = process.env.OFFGRID_SERVER ?? 'target/debug/offgrid-server';
const USER = 'beth.anglin';

let server;
let serverExit = null;
let browser;
let context;
let page;
let profile;

const basic = (user) => 'Basic ' + Buffer.from(`${user}:${user}`).toString('base64');

async function instance(path, init = {}) {
  const response = await fetch(BASE + path, {
    ...init,
    headers: { authorization: basic('admin'), 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  return { status: response.status, body: await response.json() };
}

async function waitForInstance() {
  for (let i = 0; i < 150; i++) {
    // Another program on the port would answer in its place: only our own instance counts.
    if (serverExit !== null) throw new Error(`the instance exited (${serverExit}) before answering`);
    try {
      const r = await fetch(`${BASE}/api/now/table/sys_user?sysparm_limit=1`, { headers: { authorization: basic('admin') } });
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the instance did not answer on ${BASE}`);
}

// fetch() from inside the page, so it goes through the service worker.
function local(method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const init = { method, headers: { 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    const text = await response.text();
    return { status: response.status, source: response.headers.get('x-offgrid-source'), body: text ? JSON.parse(text) : null };
  }, { method, path, body });
}

before(async () => {
  server = spawn(SERVER, ['--listen', ADDR, '--db', ':memory:', '--demo', '--records', '200'], { stdio: 'inherit' });
  server.on('exit', (code, signal) => { serverExit = signal ?? code; });
  await waitForInstance();
  profile = mkdtempSync(join(tmpdir(), 'offgrid-e2e-'));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext();
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
});

after(async () => {
  await browser?.close();
  server?.kill();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('the app signs in through the worker, works offline and syncs exactly once', async () => {
  await page.goto(BASE + '/');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });

  await page.fill('input[name=user_name]', USER);
  await page.fill('input[name=password]', USER);
  await page.click('#login-form button');
  await page.waitForSelector('#app:not([hidden])', { timeout: 30000 });

  // Download the cache, then cut the network.
  const download = await local('POST', '/offgrid/cache/download');
  assert.equal(download.status, 200, JSON.stringify(download.body));
  const status = await local('GET', '/offgrid/status');
  assert.equal(status.body.cache.present, true);
  assert.ok(status.body.cache.records > 0, 'the cache holds records');

  const query = '/api/now/table/wm_task?sysparm_query=' +
    encodeURIComponent(`assigned_to=${USER}^state=assigned^ORDERBYnumber`);
  const online = await instance(query);
  assert.ok(online.body.result.length > 0, 'the demo data has assigned tasks for the user');

  await context.setOffline(true);

  // The shell comes from Cache Storage: the app opens with no network.
  await page.reload();
  await page.waitForSelector('#app:not([hidden])', { timeout: 30000 });
  const offline = await local('GET', query);
  assert.equal(offline.status, 200);
  assert.equal(offline.source, 'cache');
  assert.deepEqual(offline.body.result.map((r) => r.sys_id), online.body.result.map((r) => r.sys_id),
    'the cache answers the query as the instance did');

  // Queue an action offline.
  const task = online.body.result[0];
  const queued = await local('POST', '/api/offgrid/actions/accept_task',
    { table: 'wm_task', sys_id: task.sys_id, inputs: { note: 'accepted in the basement' } });
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  assert.ok(queued.body.outbox_id);
  assert.equal(queued.body.result.state, 'accepted');

  // Kill the worker while offline: the next request starts it again from Cache Storage,
  // and the outbox is still there.
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  const outbox = await local('GET', '/offgrid/outbox');
  assert.equal(outbox.status, 200);
  assert.deepEqual(outbox.body.entries.map((e) => [e.id, e.state]), [[queued.body.outbox_id, 'pending']]);

  // Back online: Sync All applies the entry once.
  await context.setOffline(false);
  const synced = await local('POST', '/offgrid/sync');
  assert.equal(synced.status, 200, JSON.stringify(synced.body));
  assert.equal(synced.body.applied, 1);
  assert.equal(synced.body.remaining, 0);

  const after = await instance(`/api/now/table/wm_task/${task.sys_id}`);
  assert.equal(after.body.result.state, 'accepted');
  assert.equal(Number(after.body.result.sys_mod_count), Number(task.sys_mod_count) + 1,
    'the change applied exactly once');

  // A second Sync All has nothing left to send.
  const again = await local('POST', '/offgrid/sync');
  assert.equal(again.body.applied, 0);
  const still = await instance(`/api/now/table/wm_task/${task.sys_id}`);
  assert.equal(still.body.result.sys_mod_count, after.body.result.sys_mod_count);
});

test('the page works offline through its own controls and syncs when offline mode is turned off', async () => {
  const ui = await browser.newContext();
  const p = await ui.newPage();
  const statusLine = () => p.textContent('#status-line');
  try {
    await p.goto(BASE + '/');
    await p.waitForSelector('#login:not([hidden])', { timeout: 30000 });
    await p.fill('input[name=user_name]', USER);
    await p.fill('input[name=password]', USER);
    await p.click('#login-form button');
    await p.waitForSelector('#tasks li', { timeout: 30000 });
    assert.match(await statusLine(), /no offline cache/);

    // Turning offline mode on downloads the cache first.
    await p.check('#offline-switch');
    await p.waitForFunction(() => /cache: \d+ records/.test(document.querySelector('#status-line').textContent), null, { timeout: 30000 });

    // No network, worker stopped: the reload is answered from Cache Storage and IndexedDB.
    await ui.setOffline(true);
    const cdp = await ui.newCDPSession(p);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    await p.reload();
    await p.waitForSelector('#tasks li', { timeout: 30000 });
    assert.match(await statusLine(), /cache: \d+ records/);

    // Accept a task offline: it waits in the outbox and the task is marked.
    await p.locator('#tasks li button', { hasText: 'Accept' }).first().click();
    await p.waitForSelector('#outbox li', { timeout: 10000 });
    assert.match(await p.textContent('#outbox'), /accept_task · pending/);
    await p.waitForSelector('#tasks li.marked', { timeout: 10000 });
    assert.equal(await p.locator('#tasks li.marked').count(), 1);

    // Online again, offline mode off: the outbox syncs and the cache is cleared (policy default).
    await ui.setOffline(false);
    await p.uncheck('#offline-switch');
    await p.waitForFunction(() => document.querySelectorAll('#outbox li').length === 0, null, { timeout: 30000 });
    await p.waitForFunction(() => /no offline cache/.test(document.querySelector('#status-line').textContent), null, { timeout: 30000 });
  } finally {
    await ui.close();
  }
});
