// offgrid's service worker: a small shim around the wasm runtime.
//
// Handlers are registered synchronously on the script's first run (the browser requires it);
// the wasm initialises asynchronously, so every handler waits on `ready`. The wasm is
// precached on install and initialised from Cache Storage, because the worker's own fetch()
// never passes through its own fetch handler: offline, a plain init() would fail.
import init, { start, handle_fetch, on_sync, on_periodic_sync, on_message } from '/pkg/offgrid.js';
// The test hooks, present only in a core built with `--features test-hooks` (`make e2e`).
import * as core from '/pkg/offgrid.js';

const SHELL_CACHE = 'offgrid-shell-v1';
const WASM = '/pkg/offgrid_bg.wasm';
const SHELL = ['/', '/index.html', '/app.js', '/app.css', '/dom.js', '/og.js', '/manifest.webmanifest', '/icon.svg',
  '/icons/icon-192.png', '/icons/icon-512.png', '/icons/icon-maskable-512.png',
  '/screens/login.js', '/screens/home.js', '/screens/list.js', '/screens/record.js', '/screens/form.js',
  '/screens/outbox.js', '/screens/sync.js', '/screens/settings.js',
  '/pkg/client.js', '/pkg/offgrid.js', WASM];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== SHELL_CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function boot() {
  const cached = await caches.match(WASM);
  try {
    await init({ module_or_path: cached ?? WASM });
  } catch (e) {
    // A damaged cached copy: the network's, if there is one.
    await init({ module_or_path: WASM });
  }
  await start({ instance: '', db_prefix: 'offgrid' });
}

const ready = boot();
// Set once the runtime failed to start; requests then do without it (see the fetch handler).
let failure = null;
ready.catch((e) => {
  failure = e;
  console.error('offgrid: the runtime did not start', e);
});

// Without a runtime, the app's API calls go to the network as if offgrid were not there, and
// the local API answers in the project's error envelope, so the app can say what is wrong.
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
  // The app shell: cache first, so the app opens offline.
  event.respondWith(caches.match(event.request).then((hit) => hit ?? fetch(event.request)));
});

self.addEventListener('sync', (event) => {
  event.waitUntil(ready.then(() => on_sync(event.tag)));
});

self.addEventListener('periodicsync', (event) => {
  event.waitUntil(ready.then(() => on_periodic_sync(event.tag)));
});

// WebDriver cannot cut Firefox's or WebKit's network, nor fix a browser's clock: the e2e tests
// force the runtime's through these messages. The shipped core has no hooks: the messages
// are refused there.
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
  const test = HOOKS[event.data?.type];
  const done = ready.then(() => (test ? test(event.data) : on_message(event.data)));
  event.waitUntil(done);
  // A sender that passed a port learns when the message has been handled (or why not).
  const [port] = event.ports;
  if (port) done.then(() => port.postMessage({ ok: true }), (e) => port.postMessage({ ok: false, error: String(e) }));
});
