// Settings: Offline Mode (downloading the cache first when there is none), the cache's age,
// expiry and refresh, scheduled offline caching, storage used, and signing out.
import { h, relative, utc, when, toast, busy, confirmAction } from '../dom.js';
import { app } from '../app.js';
import { syncAll } from './sync.js';

const DAYS = [['mon', 'Mon'], ['tue', 'Tue'], ['wed', 'Wed'], ['thu', 'Thu'], ['fri', 'Fri'], ['sat', 'Sat'], ['sun', 'Sun']];

/** A progress bar that follows the worker's download-progress events until `work` settles. */
async function withDownloadProgress(bar, text, work) {
  bar.hidden = false;
  bar.removeAttribute('value');
  const onProgress = ({ detail }) => {
    bar.max = detail.total || 1;
    bar.value = detail.done;
    text.textContent = `${detail.done} of ${detail.total} records`;
  };
  document.addEventListener('offgrid-download', onProgress);
  try {
    return await work();
  } finally {
    document.removeEventListener('offgrid-download', onProgress);
  }
}

/** The "Download and Go Offline" dialog; resolves once offline mode is on or the user gave up. */
function downloadAndGoOffline() {
  const bar = h('progress', { id: 'download-progress', max: 1, hidden: true, 'aria-label': 'Download progress' });
  const text = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'field-error', role: 'alert' });
  const go = h('button', { type: 'button', class: 'primary', id: 'download-go' }, 'Download and Go Offline');
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel');
  const dialog = h('dialog', { class: 'sheet', 'aria-labelledby': 'download-title', id: 'download-dialog' },
    h('h2', { id: 'download-title' }, 'Download offline data?'),
    h('p', {}, 'Offline Mode needs your records on this device. Download them now, while you have a connection; your changes wait in the Outbox until you sync.'),
    bar, text, error,
    h('div', { class: 'dialog-actions' }, cancel, go));
  go.addEventListener('click', () => busy(go, async () => {
    error.textContent = '';
    cancel.disabled = true;
    try {
      const done = await withDownloadProgress(bar, text, () => app.og.download());
      bar.max = 1;
      bar.value = 1;
      text.textContent = `${done.received} records downloaded.`;
      await app.og.setOfflineMode(true);
      toast('Offline Mode is on', 'success');
      dialog.close();
    } catch (e) {
      bar.hidden = true;
      text.textContent = '';
      error.textContent = `The download failed, so you are still online: ${e.message}`;
      go.textContent = 'Try again';
    } finally {
      cancel.disabled = false;
      app.refresh();
    }
  }));
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => { dialog.remove(); resolve(); }, { once: true }));
}

export function settingsScreen() {
  const modeSwitch = h('button', { type: 'button', role: 'switch', id: 'offline-mode', class: 'switch-button', 'aria-labelledby': 'offline-mode-label' });
  const modeText = h('p', { class: 'muted' });
  const syncProgress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Sync progress' });
  const outboxLink = h('a', { href: '#/outbox', class: 'row-link' });
  const cacheFacts = h('dl', { class: 'facts' });
  const refreshBar = h('progress', { id: 'refresh-progress', max: 1, hidden: true, 'aria-label': 'Download progress' });
  const refreshText = h('p', { class: 'muted', role: 'status' });
  const refreshButton = h('button', { type: 'button', class: 'secondary', id: 'refresh-cache' }, 'Download now');
  const schedule = h('form', { class: 'schedule', id: 'schedule', novalidate: true });
  const storage = h('p', { id: 'storage' });
  const account = h('p', {});
  const signOut = h('button', { type: 'button', class: 'danger block', id: 'sign-out' }, 'Sign out');
  let scheduleShown = false;

  modeSwitch.addEventListener('click', () => busy(modeSwitch, async () => {
    const on = modeSwitch.getAttribute('aria-checked') === 'true';
    if (on) {
      await syncAll(syncProgress);
    } else if (!app.status.cache.present) {
      await downloadAndGoOffline();
    } else {
      await app.og.setOfflineMode(true);
      toast('Offline Mode is on', 'success');
      app.refresh();
    }
  }));

  refreshButton.addEventListener('click', () => busy(refreshButton, async () => {
    try {
      const done = await withDownloadProgress(refreshBar, refreshText, () => app.og.download());
      refreshText.textContent = `Up to date: ${done.received} changes downloaded.`;
      toast('Offline data refreshed', 'success');
    } catch (e) {
      refreshText.textContent = `The download failed: ${e.message}`;
      toast(e.message, 'error');
    } finally {
      refreshBar.hidden = true;
      app.refresh();
    }
  }));

  signOut.addEventListener('click', () => busy(signOut, async () => {
    try {
      await app.og.logout({ discardUnsynced: false });
    } catch (e) {
      if (e.code !== 'unsynced') throw e;
      const n = app.outbox.entries.length;
      const ok = await confirmAction('Unsynced changes', `${n} change${n === 1 ? '' : 's'} in your Outbox ${n === 1 ? 'has' : 'have'} not reached the instance. Signing out deletes ${n === 1 ? 'it' : 'them'} from this device for good. Sync first to keep ${n === 1 ? 'it' : 'them'}.`, 'Discard and sign out');
      if (!ok) return;
      await app.og.logout({ discardUnsynced: true });
    }
    toast('Signed out', 'success');
    app.refresh();
  }));

  function renderSchedule(s) {
    const current = s ?? { enabled: false, days: ['mon', 'tue', 'wed', 'thu', 'fri'], time: '07:00', wifi_only: true };
    schedule.replaceChildren(
      h('div', { class: 'field inline' },
        h('input', { type: 'checkbox', class: 'switch', id: 'schedule-enabled', name: 'enabled', checked: Boolean(current.enabled) }),
        h('label', { for: 'schedule-enabled' }, 'Download on a schedule')),
      h('fieldset', { class: 'days' }, h('legend', {}, 'Days'),
        DAYS.map(([value, label]) => h('label', { class: 'day' },
          h('input', { type: 'checkbox', name: 'days', value, checked: current.days.includes(value) }), h('span', {}, label)))),
      h('div', { class: 'field' }, h('label', { for: 'schedule-time' }, 'Time'),
        h('input', { type: 'time', id: 'schedule-time', name: 'time', value: current.time, required: true })),
      h('div', { class: 'field inline' },
        h('input', { type: 'checkbox', class: 'switch', id: 'schedule-wifi', name: 'wifi_only', checked: Boolean(current.wifi_only) }),
        h('label', { for: 'schedule-wifi' }, 'Wi-Fi only')),
      h('p', { class: 'field-error', id: 'schedule-error', role: 'alert' }),
      h('button', { type: 'submit', class: 'secondary', id: 'schedule-save' }, 'Save schedule'));
  }

  schedule.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(schedule);
    const next = {
      enabled: data.has('enabled'),
      days: data.getAll('days'),
      time: data.get('time'),
      wifi_only: data.has('wifi_only'),
      utc_offset_minutes: -new Date().getTimezoneOffset(),
    };
    const error = schedule.querySelector('#schedule-error');
    if (next.enabled && (next.days.length === 0 || !next.time)) {
      error.textContent = 'Pick at least one day and a time.';
      return;
    }
    error.textContent = '';
    busy(schedule.querySelector('#schedule-save'), async () => {
      await app.og.saveSchedule(next);
      toast('Schedule saved', 'success');
      app.refresh();
    });
  });

  async function refresh() {
    const s = app.status;
    modeSwitch.setAttribute('aria-checked', String(Boolean(s.offline_mode)));
    modeText.textContent = s.offline_mode
      ? 'Your changes wait in the Outbox. Turn off to sync them and go back online.'
      : s.mode === 'offline' ? 'No network: working from the offline cache.' : 'Online: changes go straight to the instance.';
    const waiting = app.outbox.entries.length;
    outboxLink.textContent = `Outbox · ${waiting ? `${waiting} unsynced` : 'all synced'}`;
    const c = s.cache;
    const facts = c.present ? [
      ['Records', String(c.records)],
      ['Downloaded', relative(utc(c.downloaded_at))],
      ['Expires', `${relative(utc(c.expires_at))} (${when(utc(c.expires_at))})`],
    ] : [['Offline data', 'Not downloaded']];
    if (s.next_download) facts.push(['Next scheduled download', when(utc(s.next_download))]);
    cacheFacts.replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    cacheFacts.querySelector('dd:nth-of-type(3)')?.setAttribute('id', 'expiry');
    refreshButton.textContent = c.present ? 'Refresh offline data' : 'Download now';
    refreshButton.disabled = s.mode === 'offline' && !s.network;
    if (!scheduleShown) {
      renderSchedule(s.schedule);
      scheduleShown = true;
    }
    const estimate = await navigator.storage?.estimate?.().catch(() => null);
    storage.textContent = estimate ? `${megabytes(estimate.usage)} used of ${megabytes(estimate.quota)} available` : 'Not reported by this browser';
    account.textContent = `Signed in as ${s.user.user_name}`;
  }

  const el = h('section', { class: 'screen settings' },
    h('div', { class: 'card' },
      h('div', { class: 'switch-row' }, h('span', { id: 'offline-mode-label', class: 'switch-label' }, 'Offline Mode'), modeSwitch),
      modeText, syncProgress, outboxLink),
    h('h2', { class: 'section-title' }, 'Offline data'),
    h('div', { class: 'card' }, cacheFacts, refreshBar, refreshText, refreshButton),
    h('h2', { class: 'section-title' }, 'Scheduled offline caching'),
    h('div', { class: 'card' }, schedule),
    h('h2', { class: 'section-title' }, 'Storage'),
    h('div', { class: 'card' }, storage),
    h('h2', { class: 'section-title' }, 'Account'),
    h('div', { class: 'card' }, account, signOut));
  // The cache's age and expiry count down while the screen is open.
  const ticking = setInterval(() => app.refresh(), 30_000);
  return { el, title: 'Settings', tab: 'settings', refresh, destroy: () => clearInterval(ticking) };
}

function megabytes(bytes) {
  return `${(bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0)} MB`;
}
