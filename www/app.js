// The reference app: talks to the instance's REST API as if it were always online; the
// service worker answers from the network or the offline cache.

const $ = (id) => document.getElementById(id);
const SCOPE = 'assigned_to=javascript:gs.getUserName()^state!=closed_complete^state!=closed_incomplete^state!=cancelled';
const ACTIONS = {
  assigned: [['accept_task', 'Accept']],
  accepted: [['start_work', 'Start work']],
  work_in_progress: [['close_complete', 'Close', { close_notes: 'Close notes' }], ['add_work_note', 'Work note', { note: 'Work note' }]],
};

async function api(method, path, body) {
  const init = { method, headers: { 'X-Offgrid-Request': '1' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const message = json?.error?.message ?? `HTTP ${response.status}`;
    throw Object.assign(new Error(message), { status: response.status, body: json });
  }
  return json;
}

function say(text, error = false) {
  $('message').textContent = text;
  $('message').className = error ? 'error' : '';
}

async function guarded(work) {
  try {
    await work();
  } catch (e) {
    say(e.message, true);
  }
}

async function renderStatus() {
  const status = await api('GET', '/offgrid/status');
  const signedIn = Boolean(status.user);
  $('login').hidden = signedIn;
  $('app').hidden = !signedIn;
  $('offline-switch').disabled = !signedIn;
  $('offline-switch').checked = status.offline_mode;
  $('mode').textContent = status.mode === 'offline' ? (status.network ? 'offline mode' : 'no network') : 'online';
  $('mode').className = `badge ${status.mode}`;
  const cache = status.cache.present
    ? `cache: ${status.cache.records} records, expires ${status.cache.expires_at} UTC`
    : 'no offline cache';
  const box = status.outbox;
  $('status-line').textContent = `${status.user?.user_name ?? ''} · ${cache} · outbox: ${box.pending} pending, ${box.failed} failed, ${box.blocked} blocked`;
  $('warnings').replaceChildren(...status.warnings.map((w) => {
    const li = document.createElement('li');
    li.textContent = w.message;
    return li;
  }));
  return status;
}

async function renderTasks(marked) {
  const query = encodeURIComponent(`${SCOPE}^ORDERBYnumber`);
  let tasks;
  try {
    tasks = (await api('GET', `/api/now/table/wm_task?sysparm_query=${query}&sysparm_limit=50`)).result;
  } catch (e) {
    $('tasks').replaceChildren(Object.assign(document.createElement('li'), { textContent: e.message }));
    return;
  }
  $('tasks').replaceChildren(...tasks.map((task) => {
    const li = document.createElement('li');
    if (marked.has(task.sys_id)) li.classList.add('marked');
    li.append(`${task.number} · ${task.state} · ${task.short_description} `);
    for (const [name, label, inputs] of ACTIONS[task.state] ?? []) {
      const button = document.createElement('button');
      button.textContent = label;
      button.onclick = () => guarded(async () => {
        const values = {};
        for (const [input, prompt] of Object.entries(inputs ?? {})) {
          const value = window.prompt(prompt);
          if (value === null) return;
          values[input] = value;
        }
        const answer = await api('POST', `/api/offgrid/actions/${name}`, { table: 'wm_task', sys_id: task.sys_id, inputs: values });
        say(answer.outbox_id ? `${label}: queued in the outbox` : `${label}: done`);
        await refresh();
      });
      li.append(button);
    }
    return li;
  }));
}

async function renderOutbox() {
  const { entries } = await api('GET', '/offgrid/outbox');
  $('outbox').replaceChildren(...entries.map((entry) => {
    const li = document.createElement('li');
    li.classList.add(entry.state);
    li.append(`#${entry.seq} ${entry.action} · ${entry.state}${entry.error ? ` · ${entry.error.message}` : ''} `);
    if (entry.state === 'failed') {
      const resolve = document.createElement('button');
      resolve.textContent = 'Resolve';
      resolve.onclick = () => guarded(async () => {
        await api('POST', `/offgrid/outbox/${entry.id}/resolve`, {});
        await refresh();
      });
      li.append(resolve);
    }
    if (entry.state !== 'syncing') {
      const remove = document.createElement('button');
      remove.textContent = 'Delete';
      remove.onclick = () => guarded(async () => {
        await api('DELETE', `/offgrid/outbox/${entry.id}`);
        await refresh();
      });
      li.append(remove);
    }
    return li;
  }));
  return new Set(entries.map((e) => e.sys_id));
}

async function refresh() {
  const status = await renderStatus();
  if (!status.user) return;
  const marked = await renderOutbox();
  await renderTasks(marked);
}

function listen() {
  const channel = new BroadcastChannel('offgrid');
  channel.onmessage = ({ data }) => {
    if (data.type === 'download-progress') {
      $('progress').hidden = data.done >= data.total;
      $('progress-bar').max = data.total || 1;
      $('progress-bar').value = data.done;
      $('progress-text').textContent = `${data.done} / ${data.total}`;
    } else if (data.type === 'expiry-warning') {
      say(data.warning.message, true);
    } else if (['status', 'outbox-changed', 'record-changed', 'sync-progress'].includes(data.type)) {
      guarded(refresh);
    }
  };
  // Workers get no online/offline events in Chromium: the page tells the worker.
  const tell = (message) => navigator.serviceWorker.controller?.postMessage(message);
  window.addEventListener('online', () => tell({ type: 'online' }));
  window.addEventListener('offline', () => guarded(refresh));
  setInterval(() => tell({ type: 'heartbeat' }), 60_000);
}

function wire() {
  $('login-form').onsubmit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    guarded(async () => {
      await api('POST', '/api/offgrid/login', { user_name: form.get('user_name'), password: form.get('password') });
      say('Signed in');
      await refresh();
    });
  };
  $('offline-switch').onchange = (event) => guarded(async () => {
    const answer = await api('POST', '/offgrid/mode', { offline: event.target.checked });
    if (answer.download?.error || answer.sync?.error) say((answer.download ?? answer.sync).message, true);
    await refresh();
  });
  $('download').onclick = () => guarded(async () => {
    const done = await api('POST', '/offgrid/cache/download');
    say(`Downloaded ${done.received} changes`);
    await refresh();
  });
  $('sync').onclick = () => guarded(async () => {
    const r = await api('POST', '/offgrid/sync');
    say(`Sync: ${r.applied} applied, ${r.failed} failed, ${r.blocked} blocked, ${r.remaining} remaining`);
    await refresh();
  });
  $('logout').onclick = () => guarded(async () => {
    try {
      await api('POST', '/offgrid/logout', { discard_unsynced: false });
    } catch (e) {
      if (e.status !== 409 || !window.confirm(`${e.message}\n\nDiscard them and log out?`)) throw e;
      await api('POST', '/offgrid/logout', { discard_unsynced: true });
    }
    await refresh();
  });
}

async function main() {
  if (!('serviceWorker' in navigator)) {
    say('This browser has no service workers: offline mode is not available.', true);
    return;
  }
  await navigator.serviceWorker.register('/sw.js', { type: 'module' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    // First visit: the worker claims the page once it activates.
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  // Workers cannot ask for persistent storage; the page can.
  navigator.storage?.persist?.().catch(() => {});
  // Scheduled downloads also run on Periodic Background Sync where the browser grants it
  // (Chromium, installed app); elsewhere the heartbeat and the worker's timer cover them.
  navigator.serviceWorker.ready
    .then((registration) => registration.periodicSync?.register('offgrid-schedule', { minInterval: 60 * 60 * 1000 }))
    .catch(() => {});
  wire();
  listen();
  await guarded(refresh);
}

main();
