// The field-service app: a shell (top bar, Offline Mode banner, tabs, toasts) and one screen
// at a time, routed by the URL's hash. Everything it knows about tables, lists, actions and
// their inputs comes from the instance's configuration and the worker's answers, through the
// offgrid client; nothing here repeats a scope, a state list or a rule.
import { Offgrid } from './og.js';
import { h, toast, busy } from './dom.js';
import { loginScreen } from './screens/login.js';
import { homeScreen } from './screens/home.js';
import { listScreen } from './screens/list.js';
import { recordScreen } from './screens/record.js';
import { formScreen } from './screens/form.js';
import { outboxScreen } from './screens/outbox.js';
import { settingsScreen } from './screens/settings.js';

const $ = (id) => document.getElementById(id);

/** What every screen shares: the client, the last status, configuration and outbox. */
export const app = {
  og: new Offgrid(),
  status: null,
  config: null,
  outbox: { entries: [], counts: { pending: 0, failed: 0, blocked: 0 } },
  /** `table:sys_id` of every record with changes in the outbox (drawn patterned). */
  marked: new Set(),
  go(hash) { window.location.hash = hash; },
  refresh: () => refresh(),
};

/** Whether a record has changes waiting in the outbox. */
export function isMarked(table, sysId) {
  return app.marked.has(`${table}:${sysId}`);
}

// What the lists are called on screen; a table without a name here shows its own name. The
// records in each list are the table's offline scope from the configuration.
const LIST_NAMES = { wm_task: 'My Tasks', incident: 'My Incidents' };

/** A list's name on screen. */
export function listName(table) {
  return LIST_NAMES[table] ?? `My ${table}`;
}

/** The action definition named `name` in the configuration (for its label). */
export function actionDef(name) {
  return app.config?.actions?.find((a) => a.name === name) ?? null;
}

const ROUTES = [
  [/^#\/list\/([^/?]+)$/, (m) => listScreen(decodeURIComponent(m[1]))],
  [/^#\/record\/([^/]+)\/([^/?]+)$/, (m) => recordScreen(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/form\/([^/?]+)(?:\?(.*))?$/, (m) => formScreen(decodeURIComponent(m[1]), new URLSearchParams(m[2] ?? ''))],
  [/^#\/outbox$/, () => outboxScreen()],
  [/^#\/settings$/, () => settingsScreen()],
  [/^/, () => homeScreen()],
];

let screen = null;

async function mount() {
  if (!app.status?.user) {
    show(loginScreen(onSignedIn));
    return;
  }
  const hash = window.location.hash || '#/';
  const [pattern, make] = ROUTES.find(([re]) => re.test(hash));
  show(make(hash.match(pattern)));
}

function show(next) {
  screen?.destroy?.();
  screen = next;
  $('title').textContent = next.title;
  $('back').hidden = !next.back;
  $('tabs').hidden = !app.status?.user;
  for (const tab of document.querySelectorAll('#tabs a')) {
    const current = tab.dataset.tab === (next.tab ?? '');
    if (current) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  $('view').replaceChildren(next.el);
  $('view').scrollTop = 0;
  next.refresh?.();
  // Focus moves to the new screen's heading, so a screen reader announces it.
  $('title').focus({ preventScroll: true });
}

async function onSignedIn() {
  await loadShared();
  await mount();
}

// ---- refreshing: debounced, never two at once --------------------------------------------

let timer = null;
let running = null;
let again = false;

/** Asks for a refresh of the shell and the screen; calls close together make one. */
function refresh() {
  clearTimeout(timer);
  timer = setTimeout(run, 120);
}

async function run() {
  if (running) {
    again = true;
    return;
  }
  running = (async () => {
    try {
      const wasSignedIn = Boolean(app.status?.user);
      await loadShared();
      if (wasSignedIn !== Boolean(app.status?.user)) await mount();
      else await screen?.refresh?.();
    } catch (e) {
      toast(e.message, 'error');
    }
  })();
  await running;
  running = null;
  if (again) {
    again = false;
    run();
  }
}

/** Status, outbox and (once per sign-in) the configuration, then the shell. */
async function loadShared() {
  app.status = await app.og.status();
  if (app.status.user) {
    const [outbox, config] = await Promise.all([app.og.outbox(), app.config ? app.config : app.og.config().catch(() => null)]);
    app.outbox = outbox;
    app.config = config;
    app.marked = new Set(outbox.entries.map((e) => `${e.table}:${e.sys_id}`));
  } else {
    app.config = null;
    app.outbox = { entries: [], counts: { pending: 0, failed: 0, blocked: 0 } };
    app.marked = new Set();
  }
  renderShell();
}

function renderShell() {
  const s = app.status;
  const offline = s?.mode === 'offline';
  $('offline-banner').hidden = !offline;
  $('offline-detail').textContent = offline && !s.offline_mode ? ' · no network' : '';
  document.body.classList.toggle('is-offline', offline);
  const waiting = app.outbox.entries.length;
  $('outbox-badge').hidden = waiting === 0;
  $('outbox-badge').textContent = String(waiting);
  $('outbox-badge').setAttribute('aria-label', `${waiting} unsynced`);
}

// ---- events from the worker ------------------------------------------------------------------

function listen() {
  const { og } = app;
  for (const type of ['status', 'outbox-changed', 'record-changed']) og.on(type, () => refresh());
  og.on('expiry-warning', ({ warning }) => toast(warning.message, 'warning'));
  og.on('download-progress', (e) => document.dispatchEvent(new CustomEvent('offgrid-download', { detail: e })));
  og.on('sync-progress', (e) => document.dispatchEvent(new CustomEvent('offgrid-sync', { detail: e.report })));
  window.addEventListener('offline', () => refresh());
  window.addEventListener('online', () => refresh());
  window.addEventListener('hashchange', () => mount());
  og.onUpdateReady(() => {
    $('update').hidden = false;
  });
  $('update-reload').addEventListener('click', (event) => busy(event.currentTarget, () => og.applyUpdate()));
  $('back').addEventListener('click', () => {
    if (window.history.length > 1) window.history.back();
    else app.go(screen?.back ?? '#/');
  });
}

async function main() {
  try {
    await app.og.register('/sw.js');
  } catch (e) {
    $('view').replaceChildren(h('p', { class: 'empty', role: 'alert' }, e.message));
    return;
  }
  listen();
  try {
    await loadShared();
  } catch (e) {
    toast(e.message, 'error');
  }
  await mount();
  document.body.dataset.ready = 'true';
}

main();
