// The page client (js/client.js, shipped in pkg/) against the real worker and instance in
// Chromium: each call of the client in a page the worker controls, with the browser itself
// offline (`context.setOffline`) where the test says so.
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

/** A fresh page with the client loaded as `window.og` (registered, signed in as USER). */
async function clientPage(context) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
  await page.goto(BASE + '/');
  await page.evaluate(async (user) => {
    const { Offgrid, OffgridError } = await import('/pkg/client.js');
    window.og = new Offgrid();
    window.OffgridError = OffgridError;
    await window.og.register('/sw.js');
    window.events = [];
    window.og.on('*', (event) => window.events.push(event));
    await window.og.login(user, user);
  }, USER);
  return page;
}

/** Runs `body(og, arg)` in the page; an OffgridError comes back as `{error: {...}}`. */
function call(page, body, arg) {
  return page.evaluate(async ({ body, arg }) => {
    try {
      return { value: await (0, eval)(`(${body})`)(window.og, arg) };
    } catch (e) {
      return { error: { name: e.name, isOffgridError: e instanceof window.OffgridError, status: e.status, code: e.code, detail: e.detail, message: e.message } };
    }
  }, { body: body.toString(), arg });
}

async function value(page, body, arg) {
  const answer = await call(page, body, arg);
  assert.ok(!answer.error, JSON.stringify(answer.error));
  return answer.value;
}

/** Back online, Sync All until the outbox is empty. */
async function syncAll(page) {
  // The page forwards its `online` event and Background Sync may fire: a sync of the
  // worker's own may be running (409 sync_running), or may have met the network still
  // coming up and backed the entry off (5 s). Sync All is asked again until nothing remains.
  let synced;
  for (let i = 0; i < 150; i++) {
    synced = await call(page, (og) => og.sync());
    if (!synced.error && synced.value.remaining === 0) break;
    if (synced.error) assert.equal(synced.error.code, 'sync_running', JSON.stringify(synced.error));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(!synced.error, JSON.stringify(synced.error));
  assert.equal(synced.value.remaining, 0, JSON.stringify({ synced, outbox: await value(page, (og) => og.outbox()) }));
  assert.deepEqual((await value(page, (og) => og.outbox())).entries, []);
}

const OPEN_ASSIGNED = `assigned_to=${USER}^state=assigned^ORDERBYnumber`;

test('chromium client: status, lists online and from the cache, a queued run, the outbox and Sync All', { skip, timeout: 180_000 }, async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await clientPage(context);
    const status = await value(page, (og) => og.status());
    assert.equal(status.user.user_name, USER);
    assert.equal(status.mode, 'online');
    assert.equal(status.cache.present, false);

    const online = await value(page, (og, query) => og.list('wm_task', { query, limit: 2, fields: ['sys_id', 'number', 'state'] }), OPEN_ASSIGNED);
    assert.equal(online.fromCache, false);
    assert.equal(online.records.length, 2);
    assert.ok(online.total >= 2, `total counts every match, not the page: ${online.total}`);
    assert.deepEqual(Object.keys(online.records[0]).sort(), ['number', 'state', 'sys_id']);

    const download = await value(page, (og) => og.download());
    assert.ok(download.received > 0, JSON.stringify(download));
    assert.ok((await page.evaluate(() => window.events.some((e) => e.type === 'download-progress'))), 'download-progress events reach og.on');

    await context.setOffline(true);
    const offline = await value(page, (og, query) => og.list('wm_task', { query, limit: 2, fields: ['sys_id', 'number', 'state'] }), OPEN_ASSIGNED);
    assert.equal(offline.fromCache, true);
    assert.deepEqual(offline.records, online.records);
    assert.equal(offline.total, online.total);
    const one = await value(page, (og, id) => og.get('wm_task', id), online.records[0].sys_id);
    assert.equal(one.fromCache, true);
    assert.equal(one.record.number, online.records[0].number);

    const task = online.records[0];
    const run = await value(page, (og, id) => og.run('accept_task', { table: 'wm_task', sys_id: id, inputs: { note: 'on my way' } }), task.sys_id);
    assert.equal(run.queued, true);
    assert.equal(run.state, 'pending');
    assert.equal(run.result.state, 'accepted');
    const outbox = await value(page, (og) => og.outbox());
    assert.deepEqual(outbox.entries.map((e) => [e.id, e.action, e.sys_id, e.state]), [[run.outbox_id, 'accept_task', task.sys_id, 'pending']]);
    assert.deepEqual(outbox.counts, { pending: 1, failed: 0, blocked: 0 });
    const unchanged = await suite.instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
    assert.equal(unchanged.body.result.state, 'assigned', 'the instance is unchanged while offline');

    await context.setOffline(false);
    await syncAll(page);
    const after = await suite.instance.admin(`/api/now/table/wm_task/${task.sys_id}`);
    assert.equal(after.body.result.state, 'accepted');
    assert.equal(Number(after.body.result.sys_mod_count), Number(task.sys_mod_count ?? unchanged.body.result.sys_mod_count) + 1, 'applied once');
  } finally {
    await context.close();
  }
});

test('chromium client: an error envelope becomes an OffgridError with status, code and detail', { skip, timeout: 120_000 }, async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await clientPage(context);
    const bad = await call(page, (og) => og.list('wm_task', { query: 'stateFOO' }));
    assert.equal(bad.error?.isOffgridError, true, JSON.stringify(bad));
    assert.equal(bad.error.name, 'OffgridError');
    assert.equal(bad.error.status, 400);
    assert.equal(bad.error.code, 'invalid_query');
    assert.equal(typeof bad.error.detail.position, 'number');
    assert.ok(bad.error.message.length > 0);

    const missing = await call(page, (og) => og.resolve('00000000-0000-4000-8000-000000000000'));
    assert.equal(missing.error?.code, 'not_found', JSON.stringify(missing));
    assert.equal(missing.error.status, 404);

    const inputs = await call(page, async (og) => {
      const { records } = await og.list('wm_task', { query: 'state=work_in_progress', limit: 1 });
      return og.run('close_complete', { table: 'wm_task', sys_id: records[0].sys_id, inputs: {} });
    });
    assert.equal(inputs.error?.code, 'invalid_inputs', JSON.stringify(inputs));
    assert.ok(inputs.error.detail.inputs.close_notes, 'the fault is named by its input');

    // No draft is null, not an error; a saved one comes back.
    assert.equal(await value(page, (og) => og.drafts.get('close:x')), null);
    await value(page, (og) => og.drafts.put('close:x', { close_notes: 'half' }));
    assert.deepEqual(await value(page, (og) => og.drafts.get('close:x')), { close_notes: 'half' });
  } finally {
    await context.close();
  }
});

test('chromium client: offline, the configuration, a record\'s actions (greyed with the reason), and a note and photo added offline come from the device', { skip, timeout: 180_000 }, async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await clientPage(context);
    const online = await value(page, (og) => og.config());
    assert.equal(online.user.user_name, USER);
    assert.ok(online.actions.some((a) => a.name === 'accept_task'));
    await value(page, (og) => og.download());
    const { records: [task] } = await value(page, (og, query) => og.list('wm_task', { query, limit: 1, offset: 1 }), OPEN_ASSIGNED);

    await context.setOffline(true);
    assert.deepEqual(await value(page, (og) => og.config()), online, 'the same configuration offline');
    const actions = await value(page, (og, id) => og.actionsFor('wm_task', id), task.sys_id);
    const byName = Object.fromEntries(actions.map((a) => [a.name, a]));
    assert.equal(byName.accept_task.available, true);
    assert.equal(byName.escalate_task.applies, true);
    assert.equal(byName.escalate_task.available, false, 'online only: greyed offline');
    assert.match(byName.escalate_task.reason, /not available offline/);

    const note = await value(page, (og, id) => og.run('add_work_note', { table: 'wm_task', sys_id: id, inputs: { note: 'pump primed' } }), task.sys_id);
    assert.equal(note.queued, true);
    const journal = await value(page, (og, id) => og.journal('wm_task', id), task.sys_id);
    assert.deepEqual(journal.map((j) => [j.element, j.value]), [['work_notes', 'pump primed']]);

    // A photo from a Blob, as a file input: its bytes come back from the device.
    const photo = await value(page, async (og, id) => {
      const { Offgrid } = await import('/pkg/client.js');
      const bytes = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3, 4]);
      const file = await Offgrid.fileInput(new Blob([bytes], { type: 'image/png' }), 'meter.png');
      await og.run('attach_photo', { table: 'wm_task', sys_id: id, inputs: { photo: file } });
      const [att] = await og.attachments('wm_task', id);
      const response = await fetch(og.attachmentUrl(att));
      return { att, status: response.status, bytes: [...new Uint8Array(await response.arrayBuffer())], sent: [...bytes] };
    }, task.sys_id);
    assert.equal(photo.att.file_name, 'meter.png');
    assert.equal(photo.status, 200);
    assert.deepEqual(photo.bytes, photo.sent);
  } finally {
    await context.close();
  }
});

test('chromium client: a new incident from a form with no record, offline: listed from the device at once, synced as one record under its id', { skip, timeout: 180_000 }, async () => {
  const context = await suite.browser.newContext();
  try {
    const page = await clientPage(context);
    await value(page, (og) => og.download());
    await context.setOffline(true);
    const actions = await value(page, (og) => og.actionsFor('incident'));
    assert.deepEqual(actions.map((a) => [a.name, a.applies, a.available]), [['create_incident', true, true]]);
    assert.deepEqual(actions[0].inputs.map((i) => [i.name, i.type, i.required]),
      [['short_description', 'string', true], ['priority', 'choice', true], ['description', 'text', false]]);

    const title = `Leak-${Date.now()}`;
    const inputs = { short_description: title, priority: '2', description: 'Water under the pump' };
    const run = await value(page, (og, inputs) => og.run('create_incident', { table: 'incident', inputs }), inputs);
    assert.equal(run.queued, true);
    assert.equal(run.result.short_description, title);
    const created = run.result.sys_id;
    const listed = await value(page, (og, query) => og.list('incident', { query }), `short_description=${title}`);
    assert.equal(listed.fromCache, true);
    assert.deepEqual(listed.records.map((r) => r.sys_id), [created]);
    const outbox = await value(page, (og) => og.outbox());
    assert.deepEqual(outbox.entries.map((e) => [e.id, e.action, e.table, e.sys_id]), [[run.outbox_id, 'create_incident', 'incident', created]]);
    assert.equal((await suite.instance.admin(`/api/now/table/incident/${created}`)).status, 404, 'the instance is unchanged while offline');

    await context.setOffline(false);
    await syncAll(page);
    const found = await suite.instance.admin(`/api/now/table/incident?sysparm_query=short_description=${title}`);
    assert.deepEqual(found.body.result.map((r) => r.sys_id), [created], 'one incident, under the device\'s id');
  } finally {
    await context.close();
  }
});
