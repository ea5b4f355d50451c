// A real instance for the end-to-end tests, with demo data in a database file of its own, so
// it can be stopped (a real outage: the browser's requests are refused) or killed, and started
// again with everything it had committed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ADDR = process.env.OFFGRID_E2E_ADDR ?? '127.0.0.1:18370';
export const BASE = `http://${ADDR}`;
// The core with the test hooks (`make e2e` builds it there); the shipped pkg/ has none.
const PKG = process.env.OFFGRID_E2E_PKG ?? 'pkg-test';
const SERVER = process.env.OFFGRID_SERVER ?? 'target/debug/offgrid-server';

export const basic = (user) => 'Basic ' + Buffer.from(`${user}:${user}`).toString('base64');

export class Instance {
  /**
   * `pkg`: the built core it serves at /pkg/ (default: the one with the test hooks); `records`:
   * demo records; `faults`: start it with `--fault-injection` (see server/README.md); `args`:
   * its other options; `startupMs`: how long it may take to answer (seeding a large demo takes
   * a while).
   */
  constructor({ pkg = PKG, records = 200, faults = false, args = [], startupMs = 30_000 } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'offgrid-e2e-'));
    this.pkg = pkg;
    this.args = ['--demo', '--records', String(records), ...(faults ? ['--fault-injection'] : []), ...args];
    this.startupMs = startupMs;
    this.child = null;
  }

  /** Starts the instance, unless it is running. */
  async start() {
    if (this.child) return;
    const child = spawn(SERVER, ['--listen', ADDR, '--db', join(this.dir, 'offgrid.db'), '--pkg', this.pkg,
      ...this.args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    child.on('error', () => {});
    this.child = child;
    for (const deadline = Date.now() + this.startupMs; Date.now() < deadline;) {
      // Another program on the port would answer in its place: only our own instance counts.
      if (child.exitCode !== null || child.signalCode !== null) {
        this.child = null;
        throw new Error(`the instance (${SERVER}) exited (${child.exitCode ?? child.signalCode}) before answering on ${BASE}`);
      }
      try {
        const r = await fetch(`${BASE}/api/now/table/sys_user?sysparm_limit=1`, { headers: { authorization: basic('admin') } });
        if (r.ok) return;
      } catch { /* not listening yet */ }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the instance did not answer on ${BASE}`);
  }

  /** Stops the instance: `SIGTERM`, or `SIGKILL` (no chance to finish anything it was doing). */
  async stop(signal = 'SIGTERM') {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await child.exited;
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A request to the instance itself, as the admin (not through any browser). */
  async admin(path, init = {}) {
    return this.as('admin', path, init);
  }

  /** A request to the instance itself as `user` (Basic auth, password = user name). */
  async as(user, path, init = {}) {
    const response = await fetch(BASE + path, {
      ...init,
      headers: { authorization: basic(user), 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
    return { status: response.status, body: await response.json() };
  }

  /** The records of `table` matching the encoded `query`, as the admin reads them. */
  async rows(table, query) {
    return (await this.admin(`/api/now/table/${table}?sysparm_query=${encodeURIComponent(query)}`)).body.result;
  }

  /** One record, as the admin reads it. */
  async record(table, sysId) {
    return (await this.admin(`/api/now/table/${table}/${sysId}`)).body.result;
  }

  /** The `n`-th (by number) of `user`'s tasks in `state`; each test takes tasks of its own. */
  async task(user, state, n = 0) {
    const all = await this.rows('wm_task', `assigned_to=${user}^state=${state}^ORDERBYnumber`);
    if (all.length <= n) throw new Error(`the demo data has no ${n + 1}th ${state} task for ${user}`);
    return all[n];
  }

  /** `user` (the dispatcher) sets a task's state through the Table API. */
  async setState(user, sysId, state) {
    const answer = await this.as(user, `/api/now/table/wm_task/${sysId}`, { method: 'PATCH', body: JSON.stringify({ state }) });
    if (answer.status !== 200) throw new Error(`${user} could not set ${sysId} to ${state}: ${JSON.stringify(answer.body)}`);
  }
}
