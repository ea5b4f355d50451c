// End-to-end, in every engine: the real app shell and service worker (www/sw.js + the core in
// pkg-test/) in Chromium, Firefox and WebKitGTK against a real instance, one test body driven
// over WebDriver (see engines.mjs). Proves what wasm-bindgen-test cannot: the shim registers,
// precaches the shell and the wasm, the app opens with no instance to reach, the page's own
// controls work offline, and the fallbacks for the triggers only Chromium has (Background Sync,
// Periodic Background Sync): the page's online message and a worker's start sync the outbox
// exactly once, and the page's heartbeat runs the scheduled download. The app's scenarios 2–4
// (field.test.mjs) run here too, through the same steps (steps.mjs).
//
// No network is cut here: WebDriver cannot do it in Firefox or WebKit. The runtime's network is
// forced down (a test hook of the pkg-test/ build, reached by a message to the worker) and the
// instance is stopped, so nothing can come from the network. Chromium-only checks (a real
// offline browser, a worker stopped and restarted) are in chromium.test.mjs.
//
// Run with `make e2e` (it builds pkg-test/ and the instance first); OFFGRID_E2E_ENGINES picks
// engines, OFFGRID_E2E_DRIVER_PORT the drivers' port.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { engines, launch } from './engines.mjs';
import { BASE, ADDR, Instance } from './instance.mjs';
import * as steps from './steps.mjs';

const USER = 'beth.anglin';
const DISPATCHER = 'fred.luddy';
// A small valid PNG, as a camera would hand one over.
const PHOTO = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
const DRIVER_PORT = Number(process.env.OFFGRID_E2E_DRIVER_PORT ?? Number(ADDR.split(':').pop()) + 1);
const ASSIGNED = '/api/now/table/wm_task?sysparm_query=' +
  encodeURIComponent(`assigned_to=${USER}^state=assigned^ORDERBYnumber`);

// A hung browser or driver (MiniBrowser without a display hangs instead of failing) fails its
// test instead of stopping the run.
const LIMIT = { timeout: 180_000 };

// Each engine's tests take about six of the user's assigned tasks: 400 demo records hold 29.
const instance = new Instance({ records: 400 });

before(() => instance.start());
after(() => instance.close());

// fetch() from inside the page, so it goes through the service worker.
function local(browser, method, path, body) {
  return browser.execute(async (method, path, body) => {
    const init = { method, headers: { 'content-type': 'application/json' } };
    if (body !== null) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    const text = await response.text();
    return { status: response.status, source: response.headers.get('x-offgrid-source'), body: text ? JSON.parse(text) : null };
  }, method, path, body ?? null);
}

// Posts a message to the page's worker and waits until the worker has handled it (see the
// message handler in www/sw.js).
async function tell(browser, message) {
  const answer = await browser.execute(async (message) => {
    const channel = new MessageChannel();
    const answered = new Promise((resolve) => { channel.port1.onmessage = ({ data }) => resolve(data); });
    navigator.serviceWorker.controller.postMessage(message, [channel.port2]);
    return answered;
  }, message);
  assert.ok(answer.ok, `the worker refused ${JSON.stringify(message)}: ${answer.error}`);
}

// No network for the runtime, and no instance to reach for anything else.
async function goOffline(browser) {
  await tell(browser, { type: 'network-override', up: false });
  await instance.stop();
}

// The instance is back and the runtime asks the browser again (`navigator.onLine`).
async function goOnline(browser) {
  await instance.start();
  await tell(browser, { type: 'network-override', up: null });
}

async function signIn(browser) {
  await browser.url(BASE + '/');
  await browser.waitUntil(() => browser.execute(() => navigator.serviceWorker.controller !== null),
    { timeout: 30000, timeoutMsg: 'the service worker never controlled the page' });
  await browser.$('#login-form').waitForExist({ timeout: 30000 });
  await browser.$('input[name=user_name]').setValue(USER);
  await browser.$('input[name=password]').setValue(USER);
  await browser.$('#login-form button').click();
  await browser.$('#tabs:not([hidden])').waitForExist({ timeout: 30000, timeoutMsg: 'the app did not open after signing in' });
}

// Reloads the page as its user would. Not WebDriver's Refresh: geckodriver's bypasses the
// service worker, so Firefox would show its network error page where a user's reload opens
// the app from Cache Storage.
async function reload(browser) {
  await browser.execute(() => {
    window.offgridBeforeReload = true;
    setTimeout(() => location.reload(), 0);
  });
  await browser.waitUntil(() => browser.execute(() => !window.offgridBeforeReload && document.readyState === 'complete').catch(() => false),
    { timeout: 30000, timeoutMsg: 'the page did not reload' });
}

const settingsFacts = (browser) => browser.$('.facts').getText();

// The Settings screen's facts about the offline cache say `pattern`.
async function waitForCache(browser, pattern, what) {
  await browser.$('#tabs a[data-tab=settings]').click();
  await browser.waitUntil(async () => pattern.test(await settingsFacts(browser).catch(() => '')),
    { timeout: 30000, timeoutMsg: `${what}: Settings still says "${await settingsFacts(browser).catch(() => '?')}"` });
}

const rows = (table, query) => instance.rows(table, query);
const record = (table, sysId) => instance.record(table, sysId);
// Each test changes the tasks it takes, so the next engine's test takes others.
const task = (state, n = 0) => instance.task(USER, state, n);
const dispatcherSets = (sysId, state) => instance.setState(DISPATCHER, sysId, state);

// Settings → Offline Mode on, through the "Download and Go Offline" dialog (no cache yet).
async function offlineModeOn(b) {
  await b.$('#tabs a[data-tab=settings]').click();
  await b.$('#offline-mode').click();
  await b.$('#download-go').click();
  await b.$('#offline-mode[aria-checked="true"]').waitForExist({ timeout: 30000, timeoutMsg: 'offline mode did not turn on' });
}

// Opens My Tasks and waits for its rows.
async function openTasks(browser, timeoutMsg) {
  await browser.$('#tabs a[data-tab=""]').click();
  await browser.$('.app-card[href="#/list/wm_task"]').waitForExist({ timeout: 30000, timeoutMsg: `${timeoutMsg}: no My Tasks card` });
  await browser.$('.app-card[href="#/list/wm_task"]').click();
  await browser.$('.row').waitForExist({ timeout: 30000, timeoutMsg });
}

for (const name of engines()) {
  describe(name, () => {
    let engine;
    let browser;

    before(async () => { engine = await launch(name, DRIVER_PORT); }, LIMIT);
    after(() => engine?.close());

    // A fresh browser (profile, worker, storage) for each test.
    async function open() {
      browser = await engine.session();
      return browser;
    }
    async function close() {
      if (browser) await engine.end(browser);
      browser = null;
    }

    test(`${name}: the app signs in through the worker, opens with no network and syncs exactly once on the page's online message`, LIMIT, async () => {
      const b = await open();
      try {
        await signIn(b);
        const download = await local(b, 'POST', '/offgrid/cache/download');
        assert.equal(download.status, 200, JSON.stringify(download.body));
        const status = await local(b, 'GET', '/offgrid/status');
        assert.equal(status.body.cache.present, true);
        assert.ok(status.body.cache.records > 0, 'the cache holds records');

        const online = await instance.admin(ASSIGNED);
        assert.ok(online.body.result.length > 0, 'the demo data has assigned tasks for the user');

        await goOffline(b);

        // The shell comes from Cache Storage: the app opens with no instance to reach.
        await reload(b);
        await b.$('#tabs:not([hidden])').waitForExist({ timeout: 30000, timeoutMsg: 'the app did not open offline' });
        const offline = await local(b, 'GET', ASSIGNED);
        assert.equal(offline.status, 200, JSON.stringify(offline.body));
        assert.equal(offline.source, 'cache');
        assert.deepEqual(offline.body.result.map((r) => r.sys_id), online.body.result.map((r) => r.sys_id),
          'the cache answers the query as the instance did');

        // Queue an action offline.
        const task = online.body.result[0];
        const queued = await local(b, 'POST', '/api/offgrid/actions/accept_task',
          { table: 'wm_task', sys_id: task.sys_id, inputs: { note: 'accepted in the basement' } });
        assert.equal(queued.status, 202, JSON.stringify(queued.body));
        assert.ok(queued.body.outbox_id);
        assert.equal(queued.body.result.state, 'accepted');
        const outbox = await local(b, 'GET', '/offgrid/outbox');
        assert.deepEqual(outbox.body.entries.map((e) => [e.id, e.state]), [[queued.body.outbox_id, 'pending']]);

        // Network back, and no Background Sync: the page's `online` message syncs the outbox.
        await goOnline(b);
        await tell(b, { type: 'online' });
        const after = await local(b, 'GET', '/offgrid/outbox');
        assert.deepEqual(after.body.entries, [], 'the outbox is empty after the online message');
        const applied = await instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
        assert.equal(applied.body.result.state, 'accepted');
        assert.equal(Number(applied.body.result.sys_mod_count), Number(task.sys_mod_count) + 1,
          'the change applied exactly once');

        // Sync All then has nothing left to send.
        const again = await local(b, 'POST', '/offgrid/sync');
        assert.equal(again.status, 200, JSON.stringify(again.body));
        assert.equal(again.body.applied, 0);
        const still = await instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
        assert.equal(still.body.result.sys_mod_count, applied.body.result.sys_mod_count);
      } finally {
        await close();
        await instance.start();
      }
    });

    test(`${name}: the page works offline through its own controls and syncs when offline mode is turned off`, LIMIT, async () => {
      const b = await open();
      try {
        await signIn(b);
        const task = (await instance.admin(ASSIGNED)).body.result[0];
        await waitForCache(b, /Not downloaded/, 'before offline mode');

        // Turning offline mode on with no cache asks to download it first.
        await offlineModeOn(b);
        await waitForCache(b, /Records\s*\d+/, 'offline mode on');

        await goOffline(b);
        await reload(b);
        await b.$('#offline-banner:not([hidden])').waitForExist({ timeout: 30000, timeoutMsg: 'no Offline Mode banner after the reload' });
        await openTasks(b, 'no tasks offline');

        // Accept a task offline through its record's button and form: it waits in the
        // outbox and its row is patterned.
        await b.$('#search').setValue(task.number);
        await b.waitUntil(async () => (await b.$$('.row')).length === 1, { timeout: 10000, timeoutMsg: 'the search did not find the task' });
        await b.$('.row').click();
        await b.$('[data-action="accept_task"]').click();
        await b.$('#submit').click();
        await b.$('.record.unsynced').waitForExist({ timeout: 10000, timeoutMsg: 'the record is not marked' });
        await b.$('#tabs a[data-tab=outbox]').click();
        await b.$('.entry[data-state="pending"]').waitForExist({ timeout: 10000 });
        assert.equal((await b.$$('.entry')).length, 1);
        assert.match(await b.$('.entry').getText(), /Accept/);
        await openTasks(b, 'no tasks after the change');
        // Searched for: after the other tests' changes, it may be past the list's first page.
        await b.$('#search').setValue(task.number);
        await b.$('.row.unsynced').waitForExist({ timeout: 10000 });
        assert.equal((await b.$$('.row.unsynced')).length, 1);

        // Online again, offline mode off: the outbox syncs and the cache is cleared (policy default).
        await goOnline(b);
        await b.$('#tabs a[data-tab=settings]').click();
        await b.$('#offline-mode').click();
        await b.$('#offline-mode[aria-checked="false"]').waitForExist({ timeout: 30000, timeoutMsg: 'offline mode did not turn off' });
        await b.$('#tabs a[data-tab=outbox]').click();
        await b.waitUntil(async () => (await b.$$('.entry')).length === 0,
          { timeout: 30000, timeoutMsg: 'the outbox did not empty when offline mode was turned off' });
        await waitForCache(b, /Not downloaded/, 'offline mode off');
        const applied = await instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
        assert.equal(applied.body.result.state, 'accepted');
        assert.equal(Number(applied.body.result.sys_mod_count), Number(task.sys_mod_count) + 1, 'the change applied exactly once');
      } finally {
        await close();
        await instance.start();
      }
    });

    test(`${name}: offline, accept, a work note, a photo, closing another task and a new incident from its form with no record selected each show at once and wait in the outbox in order, the instance unchanged; Sync All applies each once and leaves the user online with no cache`, LIMIT, async () => {
      const b = await open();
      try {
        const accept = await task('assigned');
        const close = await task('work_in_progress');
        const description = `Found on site: ${accept.short_description}`;
        const reported = (await rows('incident', `short_description=${description}`)).length;
        const d = steps.webdriver(b);
        await signIn(b);
        await offlineModeOn(b);
        await goOffline(b);

        await steps.openRecord(d, 'wm_task', accept.number);
        await steps.accept(d, 'On my way');
        await steps.addWorkNote(d, 'Replaced the pressure valve');
        await steps.attachPhoto(d, { name: 'valve.png', mimeType: 'image/png', buffer: PHOTO });
        await steps.closeTask(d, close.number, 'Fixed the leak, tested for an hour');
        await steps.newIncident(d, description, '2');

        const entries = await steps.outbox(d);
        assert.deepEqual(entries.map((e) => e.action), ['Accept', 'Add work note', 'Attach photo', 'Close complete', 'New incident']);
        assert.ok(entries.every((e) => e.state === 'pending'), JSON.stringify(entries));

        // The instance is back, the runtime still sees no network: nothing has reached it.
        await instance.start();
        assert.equal((await record('wm_task', accept.sys_id)).sys_mod_count, accept.sys_mod_count);
        assert.equal((await record('wm_task', close.sys_id)).state, 'work_in_progress');
        assert.equal((await rows('incident', `short_description=${description}`)).length, reported);

        // Network back: Sync All.
        await goOnline(b);
        await steps.syncAll(d);
        await steps.synced(d, 5);
        const accepted = await record('wm_task', accept.sys_id);
        assert.equal(accepted.state, 'accepted');
        assert.equal(Number(accepted.sys_mod_count), Number(accept.sys_mod_count) + 1, 'the accept applied once');
        const notes = await rows('sys_journal_field', `element_id=${accept.sys_id}^value=Replaced the pressure valve`);
        assert.equal(notes.length, 1, 'the work note applied once');
        const files = (await instance.admin(`/api/now/attachment?sysparm_query=${encodeURIComponent(`table_sys_id=${accept.sys_id}`)}`)).body.result;
        assert.deepEqual(files.map((f) => f.file_name), ['valve.png'], 'the photo applied once');
        assert.equal((await record('wm_task', close.sys_id)).state, 'closed_complete');
        assert.equal((await rows('incident', `short_description=${description}`)).length, reported + 1, 'the incident was created once');

        // Online, no cache, no patterns.
        await waitForCache(b, /Not downloaded/, 'after Sync All');
        await b.$('#offline-mode[aria-checked="false"]').waitForExist({ timeout: 30000, timeoutMsg: 'Offline Mode is still on' });
        await openTasks(b, 'no tasks after Sync All');
        assert.equal((await b.$$('.row.unsynced')).length, 0, 'no patterned rows after the sync');
      } finally {
        await close();
        await instance.start();
      }
    });

    test(`${name}: a task the dispatcher closed while it was accepted offline fails to sync with the message and both versions and Delete rolls it back; Resolve after the dispatcher reopens another syncs the edited change`, LIMIT, async () => {
      const b = await open();
      try {
        const [first, second] = [await task('assigned', 0), await task('assigned', 1)];
        const d = steps.webdriver(b);
        await signIn(b);
        await offlineModeOn(b);

        await steps.openRecord(d, 'wm_task', first.number);
        await steps.accept(d);
        await dispatcherSets(first.sys_id, 'closed_complete');
        await steps.syncAll(d);
        const failed = await steps.failedEntry(d);
        assert.match(failed.message, /\S/, 'the instance\'s message');
        assert.deepEqual(failed.compare, ['Closed complete', 'Accepted'], 'the instance\'s value beside this device\'s');
        await steps.deleteFailed(d);
        await b.execute((id) => { window.location.hash = `#/record/wm_task/${id}`; }, first.sys_id);
        await steps.waitText(d, '.record-head', 'Closed complete');
        assert.equal((await b.$$('.record.unsynced')).length, 0, 'the rolled-back record is not marked');
        const rolled = await record('wm_task', first.sys_id);
        assert.equal(Number(rolled.sys_mod_count), Number(first.sys_mod_count) + 1, 'only the dispatcher\'s change applied');

        await steps.openRecord(d, 'wm_task', second.number);
        await steps.accept(d, 'first try');
        await dispatcherSets(second.sys_id, 'closed_complete');
        await steps.syncAll(d);
        await steps.failedEntry(d);
        await dispatcherSets(second.sys_id, 'assigned');
        assert.equal(await steps.resolveFailed(d, 'second try, after the reopen'), 'first try', 'the form opens with the entry\'s inputs');
        await steps.syncAll(d);
        await steps.synced(d);
        const resolved = await record('wm_task', second.sys_id);
        assert.equal(resolved.state, 'accepted');
        assert.equal(Number(resolved.sys_mod_count), Number(second.sys_mod_count) + 3, 'the dispatcher\'s two changes and the accept, once');
      } finally {
        await close();
        await instance.start();
      }
    });

    test(`${name}: offline, an online-only action is greyed with its reason, a required input is enforced and Save progress survives a reload`, LIMIT, async () => {
      const b = await open();
      try {
        await signIn(b);
        const task = (await instance.admin(ASSIGNED)).body.result[1];
        await offlineModeOn(b);
        await openTasks(b, 'no tasks');
        await b.$('#search').setValue(task.number);
        await b.waitUntil(async () => (await b.$$('.row')).length === 1, { timeout: 10000, timeoutMsg: 'the search did not find the task' });
        await b.$('.row').click();

        const greyed = b.$('.action.unavailable');
        await greyed.waitForExist({ timeout: 10000, timeoutMsg: 'no greyed action offline' });
        assert.equal(await greyed.getAttribute('aria-disabled'), 'true');
        assert.match(await b.$('.reason').getText(), /offline/i, 'the reason is shown');

        // The note is required: the form says so and queues nothing.
        await b.$('[data-action="add_work_note"]').click();
        await b.$('#submit').click();
        await b.$('#error-note').waitForExist({ timeout: 10000 });
        await b.waitUntil(async () => /required/.test(await b.$('#error-note').getText()), { timeout: 10000, timeoutMsg: 'no message under the required input' });
        const outbox = await local(b, 'GET', '/offgrid/outbox');
        assert.deepEqual(outbox.body.entries, [], 'nothing was queued');

        // Save progress, reload: the draft is back in the form.
        await b.$('#input-note').setValue('Half way through the inspection');
        await b.$('#save-progress').click();
        await b.waitUntil(async () => /Progress saved/.test(await b.$('#view').getText()), { timeout: 10000, timeoutMsg: 'the draft was not saved' });
        await reload(b);
        await b.$('#input-note').waitForExist({ timeout: 30000 });
        await b.waitUntil(async () => (await b.$('#input-note').getValue()) === 'Half way through the inspection',
          { timeout: 10000, timeoutMsg: 'the draft was not restored after the reload' });
      } finally {
        await close();
        await instance.start();
      }
    });

    test(`${name}: a worker starting anew syncs the outbox the last one kept, exactly once`, LIMIT, async () => {
      const b = await open();
      try {
        await signIn(b);
        const download = await local(b, 'POST', '/offgrid/cache/download');
        assert.equal(download.status, 200, JSON.stringify(download.body));
        const task = (await instance.admin(ASSIGNED)).body.result[0];
        await goOffline(b);
        const queued = await local(b, 'POST', '/api/offgrid/actions/accept_task',
          { table: 'wm_task', sys_id: task.sys_id, inputs: { note: 'accepted before the worker went' } });
        assert.equal(queued.status, 202, JSON.stringify(queued.body));

        // The instance is back, but this worker still sees no network. A new worker (the old
        // one unregistered, the app registering it again on reload) starts with the browser's
        // view of the network, and its start is what syncs: no online event, no Background Sync.
        await instance.start();
        await b.execute(async () => (await navigator.serviceWorker.getRegistration()).unregister());
        await reload(b);
        await b.waitUntil(() => b.execute(() => navigator.serviceWorker.controller !== null),
          { timeout: 30000, timeoutMsg: 'no new worker controlled the page' });
        await b.waitUntil(async () => (await instance.admin(`/api/now/table/wm_task/${task.sys_id}`)).body.result.state === 'accepted',
          { timeout: 30000, timeoutMsg: 'the new worker did not sync the outbox at its start' });
        const applied = await instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
        assert.equal(Number(applied.body.result.sys_mod_count), Number(task.sys_mod_count) + 1, 'the change applied exactly once');
        await b.waitUntil(async () => (await local(b, 'GET', '/offgrid/outbox')).body.entries.length === 0,
          { timeout: 10000, timeoutMsg: 'the outbox kept the synced entry' });
        const again = await local(b, 'POST', '/offgrid/sync');
        assert.equal(again.body.applied, 0);
        const still = await instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
        assert.equal(still.body.result.sys_mod_count, applied.body.result.sys_mod_count);
      } finally {
        await close();
        await instance.start();
      }
    });

    test(`${name}: with no Periodic Background Sync, the page's heartbeat runs a scheduled download that is due`, LIMIT, async () => {
      const b = await open();
      try {
        await signIn(b);
        const download = await local(b, 'POST', '/offgrid/cache/download');
        assert.equal(download.status, 200, JSON.stringify(download.body));

        // A change on the instance after the download: only a new download brings it.
        const task = (await instance.admin(ASSIGNED)).body.result[0];
        const description = `changed on the instance for ${name}`;
        const changed = await instance.admin(`/api/now/table/wm_task/${task.sys_id}`,
          { method: 'PATCH', body: JSON.stringify({ short_description: description }) });
        assert.equal(changed.status, 200, JSON.stringify(changed.body));

        // A daily slot two minutes from now, and a clock five minutes on: the slot has passed.
        const now = Date.now();
        const slot = new Date(now + 2 * 60_000);
        const time = `${String(slot.getUTCHours()).padStart(2, '0')}:${String(slot.getUTCMinutes()).padStart(2, '0')}`;
        const schedule = { enabled: true, days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], time, wifi_only: false, utc_offset_minutes: 0 };
        const set = await local(b, 'PUT', '/offgrid/settings', { schedule });
        assert.equal(set.status, 200, JSON.stringify(set.body));
        await tell(b, { type: 'clock-override', unix_seconds: Math.floor((now + 5 * 60_000) / 1000) });

        await tell(b, { type: 'heartbeat' });

        await goOffline(b);
        const cached = await local(b, 'GET', `/api/now/table/wm_task/${task.sys_id}`);
        assert.equal(cached.status, 200, JSON.stringify(cached.body));
        assert.equal(cached.source, 'cache');
        assert.equal(cached.body.result.short_description, description, 'the heartbeat downloaded the change');
      } finally {
        await close();
        await instance.start();
      }
    });
  });
}
