// The floor of a service worker's round trip: every request in its scope is answered `{}` at
// once, with nothing read or written.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  event.respondWith(new Response('{}', { headers: { 'content-type': 'application/json' } }));
});
