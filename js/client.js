// offgrid's client for the page: one small ES module, no dependencies, no build step. It speaks
// the contract of docs/contract.md to the service worker (which answers from the instance or
// from the offline cache) and turns every error envelope into an OffgridError. Types:
// client.d.ts.

/** The BroadcastChannel the worker posts its events on. */
export const CHANNEL = 'offgrid';
/** How often the page asks the worker to run its periodic check (Chromium's workers have no timer they can trust while idle). */
const HEARTBEAT_MS = 60_000;
/** The worker's header on answers given from the offline cache. */
const SOURCE_HEADER = 'X-Offgrid-Source';

/** An error answer of the worker or the instance, in the project's envelope. */
export class OffgridError extends Error {
  constructor(status, code, message, detail = null) {
    super(message);
    this.name = 'OffgridError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }

  /** The error of a non-2xx answer: its envelope, or what can be said without one. */
  static async from(response) {
    const body = await response.json().catch(() => null);
    const error = body?.error;
    if (error?.code) return new OffgridError(response.status, error.code, error.message ?? error.code, error.detail ?? null);
    return new OffgridError(response.status, 'http', `the server answered ${response.status} ${response.statusText}`.trim());
  }
}

const encode = encodeURIComponent;

export class Offgrid {
  /** `base`: where the app's origin serves the API (default: the page's own origin). */
  constructor({ base = '' } = {}) {
    this.base = base;
    this.registration = null;
    this.channel = null;
    this.handlers = new Map();
    this.updateHandlers = new Set();
    /** Drafts of forms, kept on the device per user (`/offgrid/drafts/{key}`). */
    this.drafts = {
      get: (key) => this.request('GET', `/offgrid/drafts/${encode(key)}`).then((a) => a.draft)
        .catch((e) => { if (e.code === 'not_found') return null; throw e; }),
      put: (key, draft) => this.request('PUT', `/offgrid/drafts/${encode(key)}`, draft),
      delete: (key) => this.request('DELETE', `/offgrid/drafts/${encode(key)}`),
    };
  }

  // ---- the worker --------------------------------------------------------------------------

  /**
   * Registers the service worker and waits until it controls the page; then forwards the
   * page's `online` event and a heartbeat to it, asks for persistent storage and Periodic
   * Background Sync where the browser offers them, and watches for a new version.
   */
  async register(url = '/sw.js', { scope, heartbeatMs = HEARTBEAT_MS } = {}) {
    if (!('serviceWorker' in navigator)) {
      throw new OffgridError(0, 'unsupported', 'this browser has no service workers: offline mode is not available');
    }
    const sw = navigator.serviceWorker;
    // The worker's imports (pkg/worker.js, pkg/shell.js) change with every build: the browser
    // must not answer its update checks from its HTTP cache, or a new build goes unnoticed.
    const registration = await sw.register(url, { type: 'module', updateViaCache: 'none', ...(scope ? { scope } : {}) });
    this.registration = registration;
    await sw.ready;
    if (!sw.controller) {
      // First visit: the worker claims the page once it activates.
      await new Promise((resolve) => sw.addEventListener('controllerchange', resolve, { once: true }));
    }
    this.#watchUpdates(registration);
    // Chromium gives workers no online event, and an idle worker no reliable timer.
    window.addEventListener('online', () => this.#tell({ type: 'online' }));
    if (heartbeatMs > 0) setInterval(() => this.#tell({ type: 'heartbeat' }), heartbeatMs);
    // Workers cannot ask for persistent storage; the page can.
    navigator.storage?.persist?.().catch(() => {});
    // Scheduled downloads also run on Periodic Background Sync where the browser grants it
    // (Chromium, installed app); elsewhere the heartbeat and the worker's timer cover them.
    registration.periodicSync?.register('offgrid-schedule', { minInterval: 60 * 60 * 1000 }).catch(() => {});
    return registration;
  }

  /** Calls `handler(registration)` when a new version of the app is installed and waits; returns an unsubscribe function. */
  onUpdateReady(handler) {
    this.updateHandlers.add(handler);
    if (this.registration?.waiting && navigator.serviceWorker.controller) handler(this.registration);
    return () => this.updateHandlers.delete(handler);
  }

  /** Activates the waiting version and reloads the page once it controls it. */
  async applyUpdate() {
    const waiting = this.registration?.waiting;
    if (!waiting) return false;
    navigator.serviceWorker.addEventListener('controllerchange', () => window.location.reload(), { once: true });
    waiting.postMessage({ type: 'skip-waiting' });
    return true;
  }

  #watchUpdates(registration) {
    const announce = () => {
      if (registration.waiting && navigator.serviceWorker.controller) {
        for (const handler of this.updateHandlers) handler(registration);
      }
    };
    registration.addEventListener('updatefound', () => {
      const installing = registration.installing;
      installing?.addEventListener('statechange', () => { if (installing.state === 'installed') announce(); });
    });
    announce();
  }

  #tell(message) {
    navigator.serviceWorker?.controller?.postMessage(message);
  }

  /**
   * Listens to the worker's events (`status`, `download-progress`, `outbox-changed`,
   * `sync-progress`, `expiry-warning`, `record-changed`; `*` for all). Returns an unsubscribe
   * function.
   */
  on(type, handler) {
    if (!this.channel) {
      this.channel = new BroadcastChannel(CHANNEL);
      this.channel.onmessage = ({ data }) => {
        for (const key of [data?.type, '*']) {
          for (const h of this.handlers.get(key) ?? []) h(data);
        }
      };
    }
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type)?.delete(handler);
  }

  // ---- requests ----------------------------------------------------------------------------

  /** Sends a request; the answer's body (`null` when empty), or an OffgridError. */
  async request(method, path, body) {
    return (await this.#send(method, path, body)).body;
  }

  async #send(method, path, body) {
    // `X-Offgrid-Request` satisfies the instance's CSRF rule for bodiless writes.
    const init = { method, headers: { 'X-Offgrid-Request': '1' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch (e) {
      throw new OffgridError(0, 'network', `the request could not be sent (${e.message}); check the connection and try again`);
    }
    if (!response.ok) throw await OffgridError.from(response);
    const text = await response.text();
    return { response, body: text ? JSON.parse(text) : null };
  }

  // ---- session -----------------------------------------------------------------------------

  /** Signs in on the instance; the worker remembers who. Resolves to the user. */
  async login(userName, password) {
    return (await this.request('POST', '/api/offgrid/login', { user_name: userName, password })).result;
  }

  /** Signs out and deletes the user's data on the device; refused with `unsynced` while changes wait, unless `discardUnsynced`. */
  logout({ discardUnsynced = false } = {}) {
    return this.request('POST', '/offgrid/logout', { discard_unsynced: discardUnsynced });
  }

  // ---- the worker's own answers --------------------------------------------------------------

  status() { return this.request('GET', '/offgrid/status'); }

  setOfflineMode(offline) { return this.request('POST', '/offgrid/mode', { offline: Boolean(offline) }); }

  download({ full = false } = {}) { return this.request('POST', `/offgrid/cache/download${full ? '?full=true' : ''}`); }

  outbox() { return this.request('GET', '/offgrid/outbox'); }

  sync() { return this.request('POST', '/offgrid/sync'); }

  /** Rebases a failed entry on the instance's version and queues it again, with new inputs if given. */
  async resolve(id, inputs) {
    return (await this.request('POST', `/offgrid/outbox/${encode(id)}/resolve`, inputs ? { inputs } : {})).entry;
  }

  deleteEntry(id) { return this.request('DELETE', `/offgrid/outbox/${encode(id)}`); }

  saveSchedule(schedule) { return this.request('PUT', '/offgrid/settings', { schedule }); }

  // ---- configuration and actions ----------------------------------------------------------------

  /** The instance's configuration (tables and scopes, actions, policy, user); from the cache offline. */
  config() { return this.request('GET', '/api/offgrid/config'); }

  /**
   * The table's actions for a record, each with whether it applies to the record and can run now, and why not.
   * Without `sysId`: the table's record-less actions (those that create a record, for a "New" form).
   */
  async actionsFor(table, sysId) {
    const query = new URLSearchParams(sysId ? { table, sys_id: sysId } : { table });
    return (await this.request('GET', `/offgrid/actions?${query}`)).actions;
  }

  /**
   * Runs an action: live online, queued offline (`queued: true`, `outbox_id`, `state`). A record-less
   * action takes no `sys_id`; its answer's `result` is the record it created.
   */
  async run(name, { table, sys_id: sysId, inputs = {} } = {}) {
    const body = { table, sys_id: sysId, inputs };
    const { response, body: answer } = await this.#send('POST', `/api/offgrid/actions/${encode(name)}`, body);
    return { ...answer, queued: response.status === 202 };
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** A page of a table: `records`, `total` (before paging) and whether the cache answered. */
  async list(table, { query, limit, offset, fields } = {}) {
    const params = new URLSearchParams();
    if (query) params.set('sysparm_query', query);
    if (limit !== undefined) params.set('sysparm_limit', String(limit));
    if (offset !== undefined) params.set('sysparm_offset', String(offset));
    if (fields) params.set('sysparm_fields', Array.isArray(fields) ? fields.join(',') : fields);
    const search = params.size ? `?${params}` : '';
    const { response, body } = await this.#send('GET', `/api/now/table/${encode(table)}${search}`);
    const total = Number(response.headers.get('X-Total-Count') ?? body.result.length);
    return { records: body.result, total, fromCache: fromCache(response) };
  }

  /** One record (`null` when there is none), and whether the cache answered. */
  async get(table, sysId) {
    try {
      const { response, body } = await this.#send('GET', `/api/now/table/${encode(table)}/${encode(sysId)}`);
      return { record: body.result, fromCache: fromCache(response) };
    } catch (e) {
      if (e.code === 'not_found') return { record: null, fromCache: false };
      throw e;
    }
  }

  /** A record's work notes and comments, newest first. */
  async journal(table, sysId) {
    const query = `name=${table}^element_id=${sysId}^ORDERBYDESCsys_created_on`;
    return (await this.list('sys_journal_field', { query })).records;
  }

  /** A record's attachments (metadata), oldest first. */
  async attachments(table, sysId) {
    const query = `table_name=${table}^table_sys_id=${sysId}^ORDERBYsys_created_on`;
    return (await this.list('sys_attachment', { query })).records;
  }

  /** Where an attachment's bytes are served (by the worker from the device when they are there). */
  attachmentUrl(attachment) {
    return `${this.base}/api/now/attachment/${encode(attachment.sys_id)}/file`;
  }

  /** A `File` or `Blob` as the value of a `file` input: its metadata, sha-256 and bytes in base64. */
  static async fileInput(file, fileName = file.name ?? 'file') {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return {
      file_name: fileName,
      content_type: file.type || 'application/octet-stream',
      size_bytes: bytes.length,
      hash: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
      data: btoa(binary),
    };
  }
}

function fromCache(response) {
  return response.headers.get(SOURCE_HEADER) === 'cache';
}
