// Sync All, shared by the Outbox and Settings: sends the outbox with progress and says how
// it went. With Offline Mode on it turns it off, which syncs: after it the user is back
// online and the worker deletes the offline cache (the policy's default), as the seed says.
import { toast } from '../dom.js';
import { app } from '../app.js';

/** Sends every waiting change; `progress` (a `<progress>`) shows how far it got. */
export async function syncAll(progress) {
  const total = app.outbox.entries.length || 1;
  progress.hidden = false;
  progress.max = total;
  progress.value = 0;
  const onProgress = ({ detail }) => { progress.value = (detail.applied ?? 0) + (detail.failed ?? 0) + (detail.blocked ?? 0); };
  document.addEventListener('offgrid-sync', onProgress);
  try {
    const wasOffline = Boolean(app.status?.offline_mode);
    const report = wasOffline ? (await app.og.setOfflineMode(false)).sync : await app.og.sync();
    // Changes that failed stay on the device's records: Offline Mode stays on, so those
    // records keep showing this device's version beside the instance's until resolved.
    if (wasOffline && (report?.error || report?.failed || report?.blocked)) await app.og.setOfflineMode(true);
    if (report?.error) {
      toast(report.message, 'error');
    } else if (report) {
      progress.value = total;
      const parts = [`${report.applied} synced`];
      if (report.failed) parts.push(`${report.failed} failed`);
      if (report.blocked) parts.push(`${report.blocked} blocked`);
      toast(`Sync complete: ${parts.join(', ')}`, report.failed || report.blocked ? 'warning' : 'success');
    }
  } finally {
    document.removeEventListener('offgrid-sync', onProgress);
    setTimeout(() => { progress.hidden = true; }, 800);
    app.refresh();
  }
}
