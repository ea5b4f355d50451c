// The exactly-once soak: a technician works offline in real headless Chromium (the app's
// service worker and its wasm runtime, driven through the worker's HTTP API from a page) while
// a dispatcher changes, closes and deletes the same tasks on the real instance, and faults are
// injected at random: the worker stopped mid-sync and mid-download, the page reloaded
// mid-sync, the instance answering 500, hanging past the worker's timeout or dropping the
// connection after it committed, the instance killed (SIGKILL) and restarted on its SQLite
// file mid-sync, the network cut mid-sync and mid-download (the browser's, and the runtime's
// forced one), two tabs syncing at once, storage refused during a download. Conflicts are
// resolved or deleted at random.
//
// After every round the faults stop, the outbox is drained until it holds only conflicts, and
// the invariant is checked against the instance: every action that did not conflict applied
// exactly once (journal entries counted by their unique note, `sys_mod_count` moved once per
// changing action), every conflict is in the outbox with its reason, nothing applied for a
// deleted entry, the device's cache equals the instance's records for the user's scope.
//
// Each round runs on a fresh instance and a fresh browser profile, from a seed derived from
// SEED and the round's number, printed with the round: `REPLAY=<round seed> ROUNDS=1` replays
// it (the choices replay; the timing of a fault against the worker's work may differ).
//
//   node e2e/soak.mjs      (SEED, ROUNDS, ACTIONS per round, MINUTES at most, REPLAY, from the
//                           environment)
//   REPLAY=<round seed> ROUNDS=1 TRACE=<sys_id> node e2e/soak.mjs
//                          (every step and fault of the round, and after each that task on the
//                           device, on the instance and in the outbox: how a mismatch came about;
//                           the extra reads move the timing a little)
//   make soak SEED=7 ROUNDS=20
import { launchPlaywrightChromium } from './engines.mjs';
import { BASE, Instance, basic } from './instance.mjs';

const TECH = 'beth.anglin';
const DISPATCHER = 'fred.luddy';
const TRACE = process.env.TRACE;
const trace = (...words) => { if (TRACE) console.log(...words); };
const traced = (sysId) => (sysId === TRACE ? '(traced)' : '');
// The offline scopes of the demo data (server/README.md), for the user.
const SCOPES = {
  wm_task: `assigned_to=${TECH}^state!=closed_complete^state!=closed_incomplete^state!=cancelled`,
  incident: `assigned_to=${TECH}^state!=closed`,
};
// The worker gives up on a request after 20 s (src/web/transport.rs): a hang must outlast it.
const HANG_MS = 21_000;
// The sync lease a stopped worker leaves behind holds 5 minutes, and a backing-off entry waits
// up to 15 (src/web/runtime/syncing.rs, src/outbox.rs): the runtime's clock is moved on
// instead of waiting (the runtime's clock hook, only ever forward).
const CLOCK_STEP_S = 1000;
const changing = new Set(['accept_task', 'start_work', 'close_complete']);
const NEXT = { assigned: 'accept_task', accepted: 'start_work', work_in_progress: 'close_complete' };
const AFTER = { accept_task: 'accepted', start_work: 'work_in_progress', close_complete: 'closed_complete' };

/** mulberry32: a small, fast, seeded generator; the same seed gives the same sequence. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

/** The seed of round `n` of a run seeded `seed`. */
export const roundSeed = (seed, n) => (Math.imul(seed >>> 0, 0x9e3779b1) + n * 0x85ebca6b) >>> 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The figures of a run, summed over its rounds. */
export function emptyStats() {
  return {
    rounds: 0, actions: 0, queued: 0, live: 0, refused: 0, syncs: 0, downloads: 0,
    dispatcher: 0, faults: {}, applied: 0, conflicts: 0, resolved: 0, deleted: 0,
    duplicates: 0, lost: 0, cache_mismatches: 0, reasons_missing: 0, problems: [],
  };
}

// A page of the browser context, its worker reached through fetch() and postMessage().
class Tab {
  constructor(page) {
    this.page = page;
  }

  static async open(context) {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page:', e.message));
    const tab = new Tab(page);
    await tab.load();
    return tab;
  }

  async load() {
    await this.page.goto(BASE + '/');
    await this.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
  }

  /** A request from the page, through the worker: `{status, body}`, status 0 when it failed. */
  async local(method, path, body) {
    try {
      return await this.page.evaluate(async ({ method, path, body }) => {
        const init = { method, headers: { 'content-type': 'application/json' } };
        if (body !== undefined) init.body = JSON.stringify(body);
        try {
          const response = await fetch(path, init);
          const text = await response.text();
          let json = null;
          try { json = text ? JSON.parse(text) : null; } catch { json = { text }; }
          return { status: response.status, body: json };
        } catch (e) {
          return { status: 0, body: { error: { code: 'fetch', message: String(e) } } };
        }
      }, { method, path, body });
    } catch (e) {
      // The page navigated (a reload) while the request ran.
      return { status: 0, body: { error: { code: 'page', message: e.message } } };
    }
  }

  /** Posts a test hook's message to the worker and waits until it was handled. */
  async tell(message) {
    const answer = await this.page.evaluate(async (message) => {
      const registration = await navigator.serviceWorker.ready;
      const worker = navigator.serviceWorker.controller ?? registration.active;
      const channel = new MessageChannel();
      const answered = new Promise((resolve) => { channel.port1.onmessage = ({ data }) => resolve(data); });
      worker.postMessage(message, [channel.port2]);
      return answered;
    }, message);
    if (!answer.ok) throw new Error(`the worker refused ${JSON.stringify(message)}: ${answer.error}`);
  }
}

// One round: a fresh instance and browser profile, `actions` technician actions among
// dispatcher changes, syncs, downloads and faults, then the invariant.
async function round(browser, seed, actions, stats, log) {
  const rnd = prng(seed);
  const fault = (kind) => {
    stats.faults[kind] = (stats.faults[kind] ?? 0) + 1;
    trace('  fault', kind);
  };
  const instance = new Instance({ faults: true, records: 60 });
  await instance.start();
  const context = await browser.newContext();
  // Every entry the device queued: id -> {action, sys_id, note}.
  const entries = new Map();
  // Live actions whose answer never came: their note applied at most once.
  const unknown = [];
  // Live actions answered 200: their note applied exactly once.
  const liveApplied = [];
  const deletedEntries = new Set();
  const dispatcherChanges = new Map();
  const deletedRecords = new Set();
  let clock = Math.floor(Date.now() / 1000);
  let serial = 0;
  try {
    const cdp = await context.newCDPSession(await context.newPage());
    await cdp.send('ServiceWorker.enable');
    let tab = await Tab.open(context);
    const login = await tab.local('POST', '/api/offgrid/login', { user_name: TECH, password: TECH });
    if (login.status !== 200) throw new Error(`sign-in: ${JSON.stringify(login)}`);
    await downloadUntilDone(tab, instance);
    const mode = await tab.local('POST', '/offgrid/mode', { offline: true });
    if (mode.status !== 200) throw new Error(`offline mode: ${JSON.stringify(mode)}`);

    // The records as they were before anything happened, for sys_mod_count.
    const initial = new Map((await instanceList(instance, 'wm_task', `assigned_to=${TECH}`)).map((r) => [r.sys_id, Number(r.sys_mod_count)]));
    let model = await deviceTasks(tab);

    const moveClock = async (by = 0) => {
      clock += by;
      await tab.tell({ type: 'clock-override', unix_seconds: clock });
    };
    const arm = (route, kind, count = 1) => instance.admin('/api/offgrid/faults', {
      method: 'POST', body: JSON.stringify({ route, fault: kind, count, ms: HANG_MS }),
    });

    // A sync with a fault during it; the answer does not matter, only what the instance
    // and the outbox hold afterwards.
    const faultySync = async () => {
      stats.syncs += 1;
      await moveClock();
      const kind = rnd.pick(['instance_500', 'instance_drop', 'instance_timeout', 'worker_stopped', 'reload',
        'sigkill', 'browser_offline', 'runtime_offline', 'two_tabs', 'none']);
      // A timeout costs the worker's 20 s: rarer than the others.
      if (kind === 'instance_timeout' && !rnd.chance(0.25)) return faultySync();
      const delay = rnd.int(400);
      if (kind !== 'none') fault(`${kind}:sync`);
      switch (kind) {
        case 'instance_500': case 'instance_drop': case 'instance_timeout': {
          await arm('sync', { instance_500: 'error', instance_drop: 'drop', instance_timeout: 'hang' }[kind], 1 + rnd.int(2));
          await tab.local('POST', '/offgrid/sync');
          await arm('sync', 'error', 0);
          break;
        }
        case 'worker_stopped': {
          const running = tab.local('POST', '/offgrid/sync');
          await sleep(delay);
          await cdp.send('ServiceWorker.stopAllWorkers');
          await running;
          break;
        }
        case 'reload': {
          const running = tab.local('POST', '/offgrid/sync');
          await sleep(delay);
          await tab.page.reload().catch(() => {});
          await running;
          await tab.load();
          break;
        }
        case 'sigkill': {
          const running = tab.local('POST', '/offgrid/sync');
          await sleep(delay);
          await instance.stop('SIGKILL');
          await running;
          await instance.start();
          break;
        }
        case 'browser_offline': {
          const running = tab.local('POST', '/offgrid/sync');
          await sleep(delay);
          await context.setOffline(true);
          await running;
          await context.setOffline(false);
          break;
        }
        case 'runtime_offline': {
          const running = tab.local('POST', '/offgrid/sync');
          await sleep(delay);
          await tab.tell({ type: 'network-override', up: false });
          await running;
          await tab.tell({ type: 'network-override' });
          break;
        }
        case 'two_tabs': {
          const other = await Tab.open(context);
          await Promise.all([tab.local('POST', '/offgrid/sync'), other.local('POST', '/offgrid/sync')]);
          await other.page.close();
          break;
        }
        default:
          await tab.local('POST', '/offgrid/sync');
      }
    };

    // A download with a fault during it; a failed one leaves the cache as it was.
    const faultyDownload = async () => {
      stats.downloads += 1;
      await moveClock();
      const kind = rnd.pick(['worker_stopped', 'browser_offline', 'runtime_offline', 'storage_refused', 'instance_500', 'none']);
      const delay = rnd.int(300);
      if (kind !== 'none') fault(`${kind}:download`);
      const full = rnd.chance(0.3) ? '?full=true' : '';
      switch (kind) {
        case 'worker_stopped': {
          const running = tab.local('POST', '/offgrid/cache/download' + full);
          await sleep(delay);
          await cdp.send('ServiceWorker.stopAllWorkers');
          await running;
          break;
        }
        case 'browser_offline': case 'runtime_offline': {
          const running = tab.local('POST', '/offgrid/cache/download' + full);
          await sleep(delay);
          const cut = kind === 'browser_offline'
            ? () => context.setOffline(true) : () => tab.tell({ type: 'network-override', up: false });
          const restore = kind === 'browser_offline'
            ? () => context.setOffline(false) : () => tab.tell({ type: 'network-override' });
          await cut();
          await running;
          await restore();
          break;
        }
        case 'storage_refused': {
          await tab.tell({ type: 'storage-override', free_bytes: 0 });
          const refused = await tab.local('POST', '/offgrid/cache/download' + full);
          await tab.tell({ type: 'storage-override' });
          if (refused.status === 200) problem(stats, seed, `a download with no storage left succeeded: ${JSON.stringify(refused.body)}`);
          break;
        }
        case 'instance_500':
          await arm('cache', 'error', 1);
          await tab.local('POST', '/offgrid/cache/download' + full);
          await arm('cache', 'error', 0);
          break;
        default:
          await tab.local('POST', '/offgrid/cache/download' + full);
      }
      model = await deviceTasks(tab);
    };

    // An action on the device, queued in the outbox (offline mode is on).
    const technician = async () => {
      const open = [...model.values()].filter((t) => NEXT[t.state]);
      const task = open.length && rnd.chance(0.5) ? rnd.pick(open) : rnd.pick([...model.values()]);
      if (!task) return;
      const note = `soak ${seed} #${serial++}`;
      const action = rnd.chance(0.5) && NEXT[task.state] ? NEXT[task.state] : 'add_work_note';
      const inputs = action === 'add_work_note' ? { note } : action === 'close_complete' ? { close_notes: note } : {};
      const queued = await tab.local('POST', `/api/offgrid/actions/${action}`, { table: 'wm_task', sys_id: task.sys_id, inputs });
      trace(' ', action, traced(task.sys_id), queued.status, queued.body?.outbox_id ?? '');
      if (queued.status === 202) {
        stats.actions += 1;
        stats.queued += 1;
        entries.set(queued.body.outbox_id, { action, sys_id: task.sys_id, note: action === 'add_work_note' ? note : null });
        if (AFTER[action]) task.state = AFTER[action];
        if (task.state === 'closed_complete') model.delete(task.sys_id);
      } else if (queued.status === 0) {
        // The worker was stopped under the request: whether it queued is in the outbox.
        model = await deviceTasks(tab);
      } else {
        // The device's record changed under the model (a download brought the dispatcher's).
        stats.refused += 1;
        model = await deviceTasks(tab);
      }
    };

    // A live action (offline mode off for it), with an instance fault on it at random.
    const live = async () => {
      const task = rnd.pick([...model.values()]);
      if (!task) return;
      await tab.local('POST', '/offgrid/mode', { offline: false });
      const kind = rnd.pick(['instance_500', 'instance_drop', 'none', 'none']);
      if (kind !== 'none') {
        fault(`${kind}:action`);
        await arm('action', kind === 'instance_500' ? 'error' : 'drop', 1);
      }
      const note = `soak ${seed} live #${serial++}`;
      const answer = await tab.local('POST', '/api/offgrid/actions/add_work_note', { table: 'wm_task', sys_id: task.sys_id, inputs: { note } });
      trace('  add_work_note live', traced(task.sys_id), answer.status);
      await arm('action', 'error', 0);
      stats.actions += 1;
      stats.live += 1;
      if (answer.status === 200) liveApplied.push(note);
      else if (answer.status === 202) entries.set(answer.body.outbox_id, { action: 'add_work_note', sys_id: task.sys_id, note });
      else unknown.push(note);
      await tab.local('POST', '/offgrid/mode', { offline: true });
    };

    // The dispatcher, on the instance: a field the technician's actions do not write (merges),
    // the state they check and write (conflicts that cannot be resolved), the other fields
    // they write (conflicts that can), a close (the record leaves the scope) or a delete.
    const dispatcher = async () => {
      const tasks = await instanceList(instance, 'wm_task', SCOPES.wm_task);
      const task = rnd.pick(tasks);
      if (!task) return;
      const what = rnd.pick(['priority', 'state', 'written', 'written', 'close', 'delete']);
      let response;
      if (what === 'delete') {
        response = await fetchAs(DISPATCHER, `/api/now/table/wm_task/${task.sys_id}`, { method: 'DELETE' });
        if (response.status === 204 || response.status === 200) deletedRecords.add(task.sys_id);
      } else {
        const fields = what === 'priority' ? { priority: String(1 + rnd.int(4)) }
          : what === 'state' ? { state: rnd.pick(['assigned', 'accepted', 'work_in_progress']) }
          : what === 'written' ? { work_start: `2026-01-${10 + rnd.int(20)} 08:00:00`, close_notes: `dispatcher ${serial++}` }
          : { state: 'closed_complete', close_notes: 'closed by the dispatcher' };
        response = await instance.as(DISPATCHER, `/api/now/table/wm_task/${task.sys_id}`, { method: 'PATCH', body: JSON.stringify(fields) });
        if (response.status === 200) dispatcherChanges.set(task.sys_id, (dispatcherChanges.get(task.sys_id) ?? 0) + 1);
      }
      trace(' ', what, traced(task.sys_id), response.status);
      if (response.status >= 300) problem(stats, seed, `the dispatcher's ${what} answered ${response.status}`);
      stats.dispatcher += 1;
    };

    // A conflict resolved (rebased on the instance's record) or deleted.
    const settle = async () => {
      const outbox = await tab.local('GET', '/offgrid/outbox');
      const failed = (outbox.body?.entries ?? []).filter((e) => e.state === 'failed');
      const entry = failed.length ? rnd.pick(failed) : null;
      if (!entry) return;
      if (rnd.chance(0.5)) {
        const resolved = await tab.local('POST', `/offgrid/outbox/${entry.id}/resolve`, {});
        if (resolved.status === 200) {
          stats.resolved += 1;
          return;
        }
      }
      const deleted = await tab.local('DELETE', `/offgrid/outbox/${entry.id}`);
      if (deleted.status === 200) {
        deletedEntries.add(entry.id);
        stats.deleted += 1;
      }
    };

    // The traced task where it is: the device's cache, the instance (for the technician), the
    // outbox.
    const traceTask = async () => {
      if (!TRACE) return;
      const path = `/api/now/table/wm_task/${TRACE}`;
      const device = await tab.local('GET', path);
      const truth = await instance.as(TECH, path);
      const outbox = await tab.local('GET', '/offgrid/outbox');
      const version = ({ status, body }) => `${status} ${body?.result?.state ?? ''} ${body?.result?.sys_mod_count ?? ''}`;
      const mine = (outbox.body?.entries ?? []).filter((e) => e.sys_id === TRACE).map((e) => `${e.action} ${e.state} ${e.error?.code ?? ''}`);
      console.log(`    device ${version(device)} | instance ${version(truth)} | outbox ${JSON.stringify(mine)}`);
    };

    // Each step's share of the round, in order.
    const steps = [[0.55, technician], [0.62, live], [0.72, dispatcher], [0.86, faultySync], [0.93, faultyDownload], [1, settle]];
    while (stats.actions < actions.total) {
      const step = rnd.next();
      const [, run] = steps.find(([upTo]) => step < upTo);
      trace(run.name);
      await run();
      await traceTask();
      if (stats.actions >= actions.roundEnd) break;
      if (model.size === 0) model = await deviceTasks(tab);
      if (model.size === 0) break;
    }

    // The faults stop: everything restored, the outbox drained until only conflicts (and the
    // entries waiting behind them) are left, then a download brings the cache up to date.
    await context.setOffline(false);
    await tab.tell({ type: 'network-override' });
    await tab.tell({ type: 'storage-override' });
    let outbox;
    for (let i = 0; ; i++) {
      await moveClock(CLOCK_STEP_S);
      const synced = await tab.local('POST', '/offgrid/sync');
      trace('drain', JSON.stringify(synced.body));
      await traceTask();
      outbox = (await tab.local('GET', '/offgrid/outbox')).body;
      if (outbox?.entries?.every((e) => e.state === 'failed' || e.state === 'blocked')) break;
      if (i === 20) {
        problem(stats, seed, `the outbox did not drain: ${JSON.stringify(outbox?.counts ?? outbox)}`);
        break;
      }
    }
    await moveClock(CLOCK_STEP_S);
    await downloadUntilDone(tab, instance);
    trace('download');
    await traceTask();
    await check({ instance, tab, seed, stats, entries, liveApplied, unknown, deletedEntries, outbox, initial, dispatcherChanges, deletedRecords });
    stats.rounds += 1;
    log?.(`round ${stats.rounds} seed ${seed}: ${JSON.stringify(brief(stats))}`);
  } finally {
    await context.close().catch(() => {});
    await instance.close();
  }
}

async function fetchAs(user, path, init) {
  return fetch(BASE + path, { ...init, headers: { authorization: basic(user) } });
}

function problem(stats, seed, message) {
  stats.problems.push(`seed ${seed}: ${message}`);
  console.error(`PROBLEM seed ${seed}: ${message}`);
}

function brief(stats) {
  const { problems, ...figures } = stats;
  return { ...figures, problems: problems.length };
}

async function instanceList(instance, table, query) {
  const answer = await instance.as(TECH, `/api/now/table/${table}?sysparm_limit=10000&sysparm_query=${encodeURIComponent(query + '^ORDERBYsys_id')}`);
  if (answer.status !== 200) throw new Error(`the instance's ${table}: ${JSON.stringify(answer)}`);
  return answer.body.result;
}

async function deviceList(tab, table, query) {
  for (let i = 0; i < 5; i++) {
    const answer = await tab.local('GET', `/api/now/table/${table}?sysparm_limit=10000&sysparm_query=${encodeURIComponent(query + '^ORDERBYsys_id')}`);
    if (answer.status === 200) return answer.body.result;
    await sleep(200);
  }
  throw new Error(`the device's ${table} could not be read`);
}

async function deviceTasks(tab) {
  return new Map((await deviceList(tab, 'wm_task', SCOPES.wm_task)).map((r) => [r.sys_id, { sys_id: r.sys_id, state: r.state }]));
}

// A download, retried until it succeeds (the sign-in's first one, and the one after the faults).
async function downloadUntilDone(tab, instance) {
  for (let i = 0; i < 10; i++) {
    const answer = await tab.local('POST', '/offgrid/cache/download');
    if (answer.status === 200) return;
    if (!instance.child) await instance.start();
    await sleep(500);
  }
  throw new Error('the download did not succeed once the faults stopped');
}

// The journal entries of the technician's notes, counted by their note.
async function noteCounts(instance, seed) {
  const answer = await instance.admin(`/api/now/table/sys_journal_field?sysparm_limit=100000&sysparm_query=${encodeURIComponent(`valueSTARTSWITHsoak ${seed} `)}`);
  const counts = new Map();
  for (const row of answer.body.result ?? []) counts.set(row.value, (counts.get(row.value) ?? 0) + 1);
  return counts;
}

async function check({ instance, tab, seed, stats, entries, liveApplied, unknown, deletedEntries, outbox, initial, dispatcherChanges, deletedRecords }) {
  const left = new Map(outbox.entries.map((e) => [e.id, e]));
  // Every conflict in the outbox with its reason; an entry waits only behind one of its record.
  for (const e of outbox.entries) {
    if (e.state === 'failed') {
      stats.conflicts += 1;
      if (!e.error?.code || !e.error?.message) {
        stats.reasons_missing += 1;
        problem(stats, seed, `a failed entry without its reason: ${JSON.stringify(e)}`);
      }
    } else if (!outbox.entries.some((f) => f.state === 'failed' && f.sys_id === e.sys_id && f.seq < e.seq)) {
      problem(stats, seed, `a blocked entry behind no conflict: ${JSON.stringify(e)}`);
    }
  }
  const counts = await noteCounts(instance, seed);
  const applied = new Map();
  for (const [id, entry] of entries) {
    const gone = !left.has(id);
    const isApplied = gone && !deletedEntries.has(id);
    if (isApplied) {
      stats.applied += 1;
      if (changing.has(entry.action)) applied.set(entry.sys_id, (applied.get(entry.sys_id) ?? 0) + 1);
    }
    if (!entry.note) continue;
    const n = counts.get(entry.note) ?? 0;
    if (deletedRecords.has(entry.sys_id)) continue;
    const expected = isApplied ? 1 : 0;
    if (n > expected) {
      stats.duplicates += n - expected;
      problem(stats, seed, `${entry.action} ${id} (${isApplied ? 'applied' : 'not applied'}) has ${n} journal entries`);
    } else if (n < expected) {
      stats.lost += expected - n;
      problem(stats, seed, `${entry.action} ${id} left the outbox without being applied`);
    }
  }
  for (const note of liveApplied) {
    const n = counts.get(note) ?? 0;
    stats.applied += 1;
    if (n > 1) { stats.duplicates += n - 1; problem(stats, seed, `live "${note}" applied ${n} times`); }
    if (n < 1) { stats.lost += 1; problem(stats, seed, `live "${note}" answered 200 but is not on the instance`); }
  }
  for (const note of unknown) {
    const n = counts.get(note) ?? 0;
    if (n === 1) stats.applied += 1;
    if (n > 1) { stats.duplicates += n - 1; problem(stats, seed, `live "${note}" (no answer) applied ${n} times`); }
  }
  // sys_mod_count: once per dispatcher change and per applied changing action.
  for (const [sysId, before] of initial) {
    if (deletedRecords.has(sysId)) continue;
    const now = await instance.as(TECH, `/api/now/table/wm_task/${sysId}`);
    if (now.status !== 200) continue;
    const expected = before + (dispatcherChanges.get(sysId) ?? 0) + (applied.get(sysId) ?? 0);
    const got = Number(now.body.result.sys_mod_count);
    if (got > expected) { stats.duplicates += got - expected; problem(stats, seed, `${sysId}: sys_mod_count ${got}, expected ${expected}`); }
    if (got < expected) { stats.lost += expected - got; problem(stats, seed, `${sysId}: sys_mod_count ${got}, expected ${expected}`); }
  }
  // The device's cache against the instance, for the user's scope; records with entries still
  // in the outbox show the device's own changes, so they are left out.
  const marked = new Set(outbox.entries.map((e) => e.sys_id));
  for (const [table, query] of Object.entries(SCOPES)) {
    const device = new Map((await deviceList(tab, table, query)).map((r) => [r.sys_id, r]));
    const truth = new Map((await instanceList(instance, table, query)).map((r) => [r.sys_id, r]));
    for (const id of new Set([...device.keys(), ...truth.keys()])) {
      if (marked.has(id)) continue;
      const a = JSON.stringify(device.get(id) ?? null);
      const b = JSON.stringify(truth.get(id) ?? null);
      if (a !== b) {
        stats.cache_mismatches += 1;
        problem(stats, seed, `cache ${table} ${id}: device ${a.slice(0, 300)} instance ${b.slice(0, 300)}`);
      }
    }
  }
}

/**
 * Runs `rounds` rounds from `seed`, about `actions` technician actions each, starting no new
 * round after `minutes` (`replay`: every round with that round seed); `log` hears a line per
 * round. The figures, summed.
 */
export async function soak({ seed = 1, rounds = 1, actions = 40, minutes = Infinity, replay, log } = {}) {
  const stats = emptyStats();
  const browser = await launchPlaywrightChromium();
  const until = Date.now() + minutes * 60_000;
  try {
    for (let n = 0; n < rounds && Date.now() < until; n++) {
      const total = stats.actions + actions;
      await round(browser, replay ?? roundSeed(seed, n), { total, roundEnd: total }, stats, log);
    }
  } finally {
    await browser.close();
  }
  return stats;
}

/** The figures as the issue asks for them. */
export function report(stats, seconds) {
  const kinds = Object.entries(stats.faults).sort(([a], [b]) => a.localeCompare(b));
  const lines = [
    `rounds            ${stats.rounds}`,
    `actions           ${stats.actions} (${stats.queued} queued offline, ${stats.live} live; ${stats.refused} refused by the device)`,
    `syncs, downloads  ${stats.syncs}, ${stats.downloads}; dispatcher changes ${stats.dispatcher}`,
    `faults            ${kinds.reduce((n, [, c]) => n + c, 0)}`,
    ...kinds.map(([kind, count]) => `  ${kind.padEnd(26)}${count}`),
    `applied           ${stats.applied}`,
    `conflicts         ${stats.conflicts} left in the outbox (${stats.resolved} resolved, ${stats.deleted} deleted during the rounds)`,
    `duplicates        ${stats.duplicates}`,
    `lost              ${stats.lost}`,
    `cache mismatches  ${stats.cache_mismatches}`,
  ];
  if (seconds !== undefined) lines.push(`duration          ${Math.round(seconds)} s`);
  for (const p of stats.problems) lines.push(`PROBLEM ${p}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  const started = Date.now();
  const stats = await soak({
    seed: Number(env.SEED ?? 1),
    rounds: Number(env.ROUNDS ?? 1),
    actions: Number(env.ACTIONS ?? 100),
    minutes: Number(env.MINUTES ?? Infinity),
    replay: env.REPLAY === undefined ? undefined : Number(env.REPLAY),
    log: (line) => console.log(line),
  });
  console.log(report(stats, (Date.now() - started) / 1000));
  process.exit(stats.problems.length ? 1 : 0);
}
