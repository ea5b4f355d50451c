// The sync baseline: Workbox's background-sync Queue, holding requests in IndexedDB and
// replaying them one by one. Asked by message, so the replay is timed alone (no Background
// Sync event starts it: forceSyncFallback).
import { Queue } from 'workbox-background-sync';

const queue = new Queue('bench', { forceSyncFallback: true, maxRetentionTime: 24 * 60 });

async function handle(data) {
  if (data.type === 'push') {
    for (const { url, body } of data.requests) {
      await queue.pushRequest({
        request: new Request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          credentials: 'same-origin',
        }),
      });
    }
    return { queued: (await queue.getAll()).length };
  }
  if (data.type === 'replay') {
    const t0 = performance.now();
    await queue.replayRequests();
    const ms = performance.now() - t0;
    return { ms, left: (await queue.getAll()).length };
  }
  throw new Error(`unknown message ${data.type}`);
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('message', (event) => {
  const [port] = event.ports;
  event.waitUntil(handle(event.data).then(
    (answer) => port.postMessage(answer),
    (e) => port.postMessage({ error: String(e) }),
  ));
});
