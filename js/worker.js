// offgrid's service worker entry: everything a PWA's worker needs, in one call.
//
//   import { installOffgrid } from '/pkg/worker.js';
//   installOffgrid({ shell: { version: 'abc123', files: ['/', '/index.html', '/app.js'] } });
//
// Handlers are registered synchronously on the script's first run (the browser requires it);
// the wasm initialises asynchronously, so every handler waits on `ready`. The wasm is
// precached on install and initialised from Cache Storage, because the worker's own fetch()
// never passes through its own fetch handler: offline, a plain init() would fail.
import init, { start, handle_fetch, on_sync, on_periodic_sync, on_message } from './offgrid.js';
// The test hooks, present only in a core built with `--features test-hooks` (`make e2e`).
import * as core from './offgrid.js';

/** Shell caches are named with this prefix and the build's version; older ones go on activate. */
export const SHELL_CACHE_PREFIX = 'offgrid-shell-';
/** The message a page sends (`Offgrid#applyUpdate`) to activate a waiting version. */
const SKIP_WAITING = 'skip-waiting';

/** The package's own files the page and the worker need offline. */
function packageFiles() {
  return ['offgrid.js', 'offgrid_bg.wasm', 'worker.js', 'client.js'].map((f) => new URL(f, import.meta.url).pathname);
}

/**
 * Installs offgrid in this service worker: precaches the app shell (cache-first for it), runs
 * the wasm runtime for `/api/` and `/offgrid/` requests, Background Sync, Periodic Background
 * Sync and the pages' messages.
 *
 * - `instance`: the instance's origin ('' for the worker's own).
 * - `dbPrefix`: the IndexedDB databases' prefix (one database per user).
 * - `shell.version`: the build's version; each version has its own shell cache, so a new
 *   build installs beside the old one and waits until the page applies it.
 * - `shell.files`: the app's files to precache (the package's own are added).
 */
export function installOffgrid({ instance = '', dbPrefix = 'offgrid', shell } = {}) {
  if (!shell?.version) throw new Error('installOffgrid needs shell.version: a value that changes with every build');
  const shellCache = SHELL_CACHE_PREFIX + shell.version;
  const wasm = new URL('offgrid_bg.wasm', import.meta.url).pathname;
  const files = [...new Set([...(shell.files ?? []), ...packageFiles()])];

  self.addEventListener('install', (event) => {
    event.waitUntil(
      caches.open(shellCache).then((cache) => cache.addAll(files))
        // The first version takes over at once; a later one waits for the page's go-ahead.
        .then(() => (self.registration.active ? undefined : self.skipWaiting())),
    );
  });

  self.addEventListener('activate', (event) => {
    event.waitUntil(
      caches.keys()
        .then((names) => Promise.all(names
          .filter((n) => n.startsWith(SHELL_CACHE_PREFIX) && n !== shellCache)
          .map((n) => caches.delete(n))))
        .then(() => self.clients.claim()),
    );
  });

  async function boot() {
    const cached = await caches.match(wasm);
    try {
      await init({ module_or_path: cached ?? wasm });
    } catch (e) {
      // A damaged cached copy: the network's, if there is one.
      await init({ module_or_path: wasm });
    }
    await start({ instance, db_prefix: dbPrefix });
  }

  const ready = boot();
  // Set once the runtime failed to start; requests then do without it (see the fetch handler).
  let failure = null;
  ready.catch((e) => {
    failure = e;
    console.error('offgrid: the runtime did not start', e);
  });

  // Without a runtime, the app's API calls go to the network as if offgrid were not there,
  // and the local API answers in the project's error envelope, so the app can say what is
  // wrong.
  function withoutRuntime(request, url) {
    if (url.pathname.startsWith('/api/')) return fetch(request);
    const body = {
      error: {
        code: 'runtime_unavailable',
        message: `offline mode is unavailable: the offgrid runtime did not start (${failure}); reload the app, and if it persists, clear the site's data`,
        detail: null,
      },
      status: 'failure',
    };
    return new Response(JSON.stringify(body), {
      status: 503,
      headers: { 'Content-Type': 'application/json' },
    });
  }

  self.addEventListener('fetch', (event) => {
    const url = new URL(event.request.url);
    if (url.origin !== self.location.origin) return;
    if (url.pathname.startsWith('/offgrid/') || url.pathname.startsWith('/api/')) {
      event.respondWith(
        ready.then(
          () => handle_fetch(event.request),
          () => withoutRuntime(event.request, url),
        ),
      );
      return;
    }
    // The app shell: cache first (this version's), so the app opens offline.
    event.respondWith(
      caches.open(shellCache)
        .then((cache) => cache.match(event.request))
        .then((hit) => hit ?? fetch(event.request)),
    );
  });

  self.addEventListener('sync', (event) => {
    event.waitUntil(ready.then(() => on_sync(event.tag)));
  });

  self.addEventListener('periodicsync', (event) => {
    event.waitUntil(ready.then(() => on_periodic_sync(event.tag)));
  });

  // WebDriver cannot cut Firefox's or WebKit's network, nor fix a browser's clock: the e2e
  // tests force the runtime's through these messages. The shipped core has no hooks: the
  // messages are refused there.
  function hook(name) {
    if (typeof core[name] !== 'function') {
      throw new Error(`this core has no test hooks (${name}): build it with --features test-hooks`);
    }
    return core[name];
  }
  const HOOKS = {
    'network-override': (data) => hook('set_network_override')(data.up ?? undefined),
    'clock-override': (data) => hook('set_clock_override')(data.unix_seconds ?? undefined),
  };

  self.addEventListener('message', (event) => {
    if (event.data?.type === SKIP_WAITING) {
      event.waitUntil(self.skipWaiting());
      return;
    }
    const test = HOOKS[event.data?.type];
    const done = ready.then(() => (test ? test(event.data) : on_message(event.data)));
    event.waitUntil(done);
    // A sender that passed a port learns when the message has been handled (or why not).
    const [port] = event.ports;
    if (port) done.then(() => port.postMessage({ ok: true }), (e) => port.postMessage({ ok: false, error: String(e) }));
  });
}
