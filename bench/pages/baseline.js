// The baselines that run in a page no offgrid worker controls (see run.mjs): the cache feed
// downloaded and stored by a plain JS loop and by Dexie's bulkPut, lists filtered and sorted
// in memory and after an IndexedDB getAll, and the two service workers of the baselines (the
// floor that answers `{}` at once, and Workbox's background-sync Queue).
import Dexie from 'dexie';

const TABLES = ['wm_task', 'incident'];

// The feed as the worker gets it (NDJSON), parsed line by line; the records by table.
async function feed() {
  const response = await fetch('/api/offgrid/cache');
  if (!response.ok) throw new Error(`the cache feed answered ${response.status}: ${await response.text()}`);
  const text = await response.text();
  const byTable = new Map(TABLES.map((t) => [t, []]));
  let end = null;
  let count = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const item = JSON.parse(line);
    if (item.type === 'record') {
      count += 1;
      let rows = byTable.get(item.table);
      if (!rows) byTable.set(item.table, rows = []);
      rows.push(item.record);
    } else if (item.type === 'end') {
      end = item;
    }
  }
  if (!end || end.count !== count) throw new Error(`the cache feed was cut: ${count} records, end line ${JSON.stringify(end)}`);
  return { byTable, count };
}

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openRaw() {
  const open = indexedDB.open('bench-raw', 1);
  open.onupgradeneeded = () => {
    for (const t of TABLES) open.result.createObjectStore(t, { keyPath: 'sys_id' });
  };
  return request(open);
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

// Kept between calls: the warm list baseline filters what the last raw download parsed (let
// go when the next download starts, so no download's heap carries another's records).
let inMemory = null;

/** fetch + JSON.parse + one transaction of put() per record. */
async function rawDownload() {
  inMemory = null;
  const t0 = performance.now();
  const { byTable, count } = await feed();
  const db = await openRaw();
  const tx = db.transaction(TABLES, 'readwrite');
  for (const t of TABLES) {
    const store = tx.objectStore(t);
    store.clear();
    for (const record of byTable.get(t)) store.put(record);
  }
  await done(tx);
  db.close();
  inMemory = byTable;
  return { ms: performance.now() - t0, count };
}

const dexie = new Dexie('bench-dexie');
dexie.version(1).stores(Object.fromEntries(TABLES.map((t) => [t, 'sys_id'])));

/** fetch + JSON.parse + Dexie's bulkPut, one transaction. */
async function dexieDownload() {
  inMemory = null;
  const t0 = performance.now();
  const { byTable, count } = await feed();
  await dexie.transaction('rw', TABLES, async () => {
    for (const t of TABLES) {
      await dexie.table(t).clear();
      await dexie.table(t).bulkPut(byTable.get(t));
    }
  });
  return { ms: performance.now() - t0, count };
}

// The same comparison as the core's evaluator for the queries the bench uses: `=` and LIKE
// on text, ORDERBY on a field whose values are text.
function matcher(query) {
  const conditions = [];
  const order = [];
  for (const part of query.split('^')) {
    let m;
    if ((m = /^ORDERBYDESC(.+)$/.exec(part))) order.push([m[1], -1]);
    else if ((m = /^ORDERBY(.+)$/.exec(part))) order.push([m[1], 1]);
    else if ((m = /^([A-Za-z_.]+)LIKE(.*)$/.exec(part))) {
      const [field, needle] = [m[1], m[2].toLowerCase()];
      conditions.push((r) => String(r[field] ?? '').toLowerCase().includes(needle));
    } else if ((m = /^([A-Za-z_.]+)=(.*)$/.exec(part))) {
      const [field, value] = [m[1], m[2]];
      conditions.push((r) => String(r[field] ?? '') === value);
    } else throw new Error(`the JS baseline does not evaluate "${part}"`);
  }
  const compare = (a, b) => {
    for (const [field, dir] of order) {
      const x = String(a[field] ?? '');
      const y = String(b[field] ?? '');
      if (x !== y) return x < y ? -dir : dir;
    }
    return 0;
  };
  return { match: (r) => conditions.every((c) => c(r)), compare };
}

function page(records, query, limit) {
  const { match, compare } = matcher(query);
  const rows = records.filter(match).sort(compare);
  return { total: rows.length, ids: rows.slice(0, limit).map((r) => r.sys_id) };
}

/** Filter + sort over the records already in memory; `runs` timings and the last page. */
function listWarm(table, query, limit, runs) {
  if (!inMemory) throw new Error('no records in memory: run the raw download first');
  const times = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = page(inMemory.get(table), query, limit);
    times.push(performance.now() - t0);
  }
  return { times, ...last };
}

/** Open the database, getAll, filter + sort, close: what a just-started reader must do. */
async function listCold(table, query, limit, runs) {
  const times = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const db = await openRaw();
    const records = await request(db.transaction(table).objectStore(table).getAll());
    last = page(records, query, limit);
    db.close();
    times.push(performance.now() - t0);
  }
  return { times, ...last };
}

async function worker(script, scope) {
  const registration = await navigator.serviceWorker.register(script, { scope });
  const sw = registration.installing ?? registration.waiting ?? registration.active;
  if (sw.state !== 'activated') {
    await new Promise((resolve) => sw.addEventListener('statechange', () => sw.state === 'activated' && resolve()));
  }
  return sw;
}

function ask(sw, message) {
  const channel = new MessageChannel();
  const answer = new Promise((resolve) => { channel.port1.onmessage = ({ data }) => resolve(data); });
  sw.postMessage(message, [channel.port2]);
  return answer.then((data) => {
    if (data.error) throw new Error(data.error);
    return data;
  });
}

/** Workbox's Queue replaying `requests` ({url, body}) one by one, as its SW does. */
async function workboxReplay(requests) {
  const sw = await worker('/bench/wb/sw.js', '/bench/wb/');
  await ask(sw, { type: 'push', requests });
  return ask(sw, { type: 'replay' });
}

window.bench = { rawDownload, dexieDownload, listWarm, listCold, workboxReplay, worker };
