// End-to-end checks only Chromium's own protocol (CDP, through Playwright) can make: the
// browser itself offline (`context.setOffline` cuts the worker's fetches too and makes
// `navigator.onLine` false), and a worker stopped while offline (`ServiceWorker.stopAllWorkers`)
// starting again from the wasm in Cache Storage. The checks every engine can make are in
// app.test.mjs.
//
// Run with `make e2e`; OFFGRID_E2E_ENGINES without `chromium` skips this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from './engines.mjs';
import { chromiumSuite } from './suite.mjs';
import { BASE } from './instance.mjs';

const USER = 'beth.anglin';
const skip = !engines().includes('chromium') && 'chromium is not in OFFGRID_E2E_ENGINES';

const suite = chromiumSuite(skip);

test('chromium: a worker stopped while the browser is offline starts again from Cache Storage, and Sync All applies the outbox once', { skip, timeout: 180_000 }, async () => {
  const context = await suite.browser.newContext();
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
  // fetch() from inside the page, so it goes through the service worker.
  const local = (method, path, body) => page.evaluate(async ({ method, path, body }) => {
    const init = { method, headers: { 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    const text = await response.text();
    return { status: response.status, source: response.headers.get('x-offgrid-source'), body: text ? JSON.parse(text) : null };
  }, { method, path, body });
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  try {
    await page.goto(BASE + '/');
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
    await page.fill('input[name=user_name]', USER);
    await page.fill('input[name=password]', USER);
    await page.click('#login-form button');
    await page.waitForSelector('#tabs:not([hidden])', { timeout: 30000 });
    const download = await local('POST', '/offgrid/cache/download');
    assert.equal(download.status, 200, JSON.stringify(download.body));

    const query = '/api/now/table/wm_task?sysparm_query=' +
      encodeURIComponent(`assigned_to=${USER}^state=assigned^ORDERBYnumber`);
    const online = await suite.instance.admin(query);
    assert.ok(online.body.result.length > 0, 'the demo data has assigned tasks for the user');

    // The browser offline and its worker stopped: the reload starts a worker, which must
    // initialise the wasm from Cache Storage.
    await context.setOffline(true);
    await cdp.send('ServiceWorker.stopAllWorkers');
    await page.reload();
    await page.click('.app-card[href="#/list/wm_task"]', { timeout: 30000 });
    await page.waitForSelector('.row', { timeout: 30000 });
    const offline = await local('GET', query);
    assert.equal(offline.status, 200);
    assert.equal(offline.source, 'cache');
    assert.deepEqual(offline.body.result.map((r) => r.sys_id), online.body.result.map((r) => r.sys_id));

    const task = online.body.result[0];
    const queued = await local('POST', '/api/offgrid/actions/accept_task',
      { table: 'wm_task', sys_id: task.sys_id, inputs: { note: 'accepted in the basement' } });
    assert.equal(queued.status, 202, JSON.stringify(queued.body));

    // Stopped again while offline: the outbox is still there for the next worker.
    await cdp.send('ServiceWorker.stopAllWorkers');
    const outbox = await local('GET', '/offgrid/outbox');
    assert.deepEqual(outbox.body.entries.map((e) => [e.id, e.state]), [[queued.body.outbox_id, 'pending']]);

    // Back online. Chromium's Background Sync may send the outbox before Sync All does: Sync
    // All then finds that run going (409 sync_running, asked again) or done (applied 0). A
    // worker Chromium starts while the context is offline may see navigator.onLine true for a
    // moment (the emulation reaches a new worker late): its start-up sync then met no network
    // and backed the entry off for 5 s, so Sync All is asked again until nothing remains.
    // Either way the change applies exactly once, and a second run has nothing to send.
    await context.setOffline(false);
    let synced;
    let applied = 0;
    for (let i = 0; i < 150; i++) {
      synced = await local('POST', '/offgrid/sync');
      if (synced.status === 200) {
        applied += synced.body.applied;
        if (synced.body.remaining === 0) break;
      } else {
        assert.equal(synced.body.error.code, 'sync_running', JSON.stringify(synced.body));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    assert.ok([0, 1].includes(applied), JSON.stringify(synced.body));
    assert.equal(synced.body.remaining, 0, JSON.stringify(synced.body));
    const emptied = await local('GET', '/offgrid/outbox');
    assert.deepEqual(emptied.body.entries, [], 'the entry left the outbox: it applied');
    const after = await suite.instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
    assert.equal(after.body.result.state, 'accepted');
    assert.equal(Number(after.body.result.sys_mod_count), Number(task.sys_mod_count) + 1, 'the change applied exactly once');
    const again = await local('POST', '/offgrid/sync');
    assert.equal(again.body.applied, 0);
    const still = await suite.instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
    assert.equal(still.body.result.sys_mod_count, after.body.result.sys_mod_count);
  } finally {
    await context.close();
  }
});
