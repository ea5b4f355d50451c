// The technician's steps in the app, written once for both harnesses: field.test.mjs drives
// Chromium through Playwright, app.test.mjs every engine through WebDriver. Each step takes a
// driver adapter (`playwright(page)` or `webdriver(browser)`), which clicks, types, selects,
// chooses a file and waits on a condition in the page; the steps only use those, so a
// scenario reads the same in both files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const WAIT = 30_000;

/** The adapter for a Playwright page. */
export function playwright(page) {
  return {
    click: (selector) => page.click(selector),
    fill: (selector, text) => page.fill(selector, text),
    select: (selector, value) => page.selectOption(selector, value),
    // Through the button, as a person would: Playwright answers the native file chooser.
    async chooseFile(button, _input, file) {
      const chooser = page.waitForEvent('filechooser');
      await page.click(button);
      await (await chooser).setFiles(file);
    },
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    async waitFor(fn, arg, what) {
      try {
        await page.waitForFunction(fn, arg, { timeout: WAIT });
      } catch (e) {
        throw new Error(`${what}: ${e.message}`);
      }
    },
  };
}

let uploadDir = null;
function uploads() {
  if (!uploadDir) {
    uploadDir = mkdtempSync(join(tmpdir(), 'offgrid-upload-'));
    process.on('exit', () => rmSync(uploadDir, { recursive: true, force: true }));
  }
  return uploadDir;
}

/** The adapter for a WebdriverIO browser (classic WebDriver, any engine). */
export function webdriver(browser) {
  const element = async (selector) => {
    const found = browser.$(selector);
    await found.waitForDisplayed({ timeout: WAIT, timeoutMsg: `${selector} is not shown` });
    return found;
  };
  return {
    click: async (selector) => (await element(selector)).click(),
    fill: async (selector, text) => (await element(selector)).setValue(text),
    select: async (selector, value) => (await element(selector)).selectByAttribute('value', value),
    // WebDriver cannot drive a native file dialog: it sets the (hidden) input to a file on
    // disk, which is what its Element Send Keys does for a file input. The browser reads the
    // file when the form is submitted, so it stays until this process ends.
    async chooseFile(_button, input, file) {
      const path = join(uploads(), file.name);
      writeFileSync(path, file.buffer);
      await browser.$(input).addValue(path);
    },
    evaluate: (fn, arg) => browser.execute(fn, arg),
    waitFor: (fn, arg, what) => browser.waitUntil(() => browser.execute(fn, arg).catch(() => false), { timeout: WAIT, timeoutMsg: what }),
  };
}

// ---- conditions in the page --------------------------------------------------------------------

const shown = (selector) => [...document.querySelectorAll(selector)].some((e) => e.getClientRects().length > 0 && !e.closest('[hidden]'));

/** Waits until an element matching `selector` is shown. */
export const waitShown = (d, selector) => d.waitFor(shown, selector, `${selector} is not shown`);

/** Waits until no element matching `selector` is shown. */
export const waitGone = (d, selector) =>
  d.waitFor((s) => ![...document.querySelectorAll(s)].some((e) => e.getClientRects().length > 0 && !e.closest('[hidden]')), selector, `${selector} is still shown`);

/** Waits until an element matching `selector` contains `text`. */
export const waitText = (d, selector, text) =>
  d.waitFor(([s, t]) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(t)), [selector, text], `no ${selector} says "${text}"`);

// ---- the steps ---------------------------------------------------------------------------------

export async function tab(d, name) {
  await d.click(`#tabs a[data-tab="${name}"]`);
}

/** Opens one of the Applications' lists. */
export async function openList(d, table) {
  await tab(d, '');
  await d.click(`.app-card[href="#/list/${table}"]`);
}

/** Finds a record by typing its number into the list's search, and opens it. */
export async function openRecord(d, table, number) {
  await openList(d, table);
  await d.fill('#search', number);
  await d.waitFor((n) => {
    const found = [...document.querySelectorAll('.row .number')].map((e) => e.textContent);
    return found.length === 1 && found[0] === n;
  }, number, `the search for ${number} did not find it alone`);
  await d.click('.row');
  await waitText(d, '.record-head', number);
  await waitShown(d, '.actions .action');
}

/** Taps an action's button on the open record; its form opens when it has inputs. */
export async function tapAction(d, name) {
  await d.click(`[data-action="${name}"]`);
}

/** Accepts the open task through its form: the state shows at once, the record is patterned. */
export async function accept(d, note) {
  await tapAction(d, 'accept_task');
  if (note !== undefined) await d.fill('#input-note', note);
  await d.click('#submit');
  await waitText(d, '.record-head', 'Accepted');
  await waitShown(d, '.record.unsynced');
}

/** Adds a work note to the open task: it is in the journal at once. */
export async function addWorkNote(d, text) {
  await tapAction(d, 'add_work_note');
  await d.fill('#input-note', text);
  await d.click('#submit');
  await waitText(d, '.journal .note', text);
}

/**
 * Attaches a photo (`{ name, mimeType, buffer }`) to the open task from the camera button:
 * the form previews it, and the record's thumbnail is drawn from the device.
 */
export async function attachPhoto(d, photo, { beforeSubmit } = {}) {
  await tapAction(d, 'attach_photo');
  await d.chooseFile('[data-capture="camera"]', 'input[data-chooser="camera"]', photo);
  await waitShown(d, '.file-preview img');
  await beforeSubmit?.();
  await d.click('#submit');
  await d.waitFor((name) => {
    const img = document.querySelector(`.thumbs img[alt="${name}"]`);
    return img !== null && img.complete && img.naturalWidth > 0;
  }, photo.name, 'the photo\'s thumbnail is not drawn');
}

/** Closes a task through its form; it leaves My Tasks at once. */
export async function closeTask(d, number, notes, { beforeSubmit } = {}) {
  await openRecord(d, 'wm_task', number);
  await tapAction(d, 'close_complete');
  await d.fill('#input-close_notes', notes);
  await beforeSubmit?.();
  await d.click('#submit');
  await waitText(d, '.record-head', 'Closed complete');
  await openList(d, 'wm_task');
  await d.fill('#search', number);
  await waitShown(d, '.rows .empty');
}

/**
 * Makes a new incident with no record selected: My Incidents → New incident, its form
 * (short description, priority). The incident opens at once and My Incidents lists it.
 */
export async function newIncident(d, description, priority) {
  await openList(d, 'incident');
  await d.click('[data-create="create_incident"]');
  await d.fill('#input-short_description', description);
  await d.select('#input-priority', priority);
  await d.click('#submit');
  await waitText(d, '.record-title', description);
  await openList(d, 'incident');
  await d.fill('#search', description);
  await waitText(d, '.row', description);
}

/** The Outbox's entries, in its order: `{ state, action, text }`. */
export async function outbox(d) {
  await tab(d, 'outbox');
  // The summary is written first, the entries once their records are read: wait for both.
  await d.waitFor(() => {
    const summary = document.querySelector('#view .screen p[role=status]')?.textContent ?? '';
    const waiting = /^(\d+) change/.exec(summary);
    return waiting ? document.querySelectorAll('.entry').length === Number(waiting[1]) : summary === 'Everything is synced.';
  }, null, 'the Outbox did not show its entries');
  return d.evaluate(() => [...document.querySelectorAll('.entry')].map((e) => ({
    state: e.dataset.state,
    action: e.querySelector('.entry-action').textContent,
    text: e.textContent,
  })));
}

/** Outbox → Sync All. */
export async function syncAll(d) {
  await tab(d, 'outbox');
  await d.click('#sync-all');
}

/** Waits for the end of a sync that sent everything: the outbox is empty and the user online. */
export async function synced(d, count) {
  await waitText(d, '#view', 'Everything is synced.');
  if (count !== undefined) await waitText(d, '.toast', `Sync complete: ${count} synced`);
  await waitGone(d, '#offline-banner');
}

/** Waits for a failed entry; resolves to its message and first compared row (instance, device). */
export async function failedEntry(d) {
  await waitShown(d, '.entry[data-state="failed"]');
  return d.evaluate(() => {
    const failed = document.querySelector('.entry[data-state="failed"]');
    const row = failed.querySelector('.compare tbody tr');
    return { message: failed.querySelector('.notice').textContent, compare: row ? [...row.querySelectorAll('td')].map((c) => c.textContent) : [] };
  });
}

/** Deletes the failed entry, confirming in the dialog; the outbox is then empty. */
export async function deleteFailed(d) {
  await d.click('.entry[data-state="failed"] button.danger');
  await d.click('dialog .dialog-actions button[data-value="yes"]');
  await waitText(d, '#view', 'Everything is synced.');
}

/**
 * Resolve on the failed entry: its form opens with the entry's note (returned), the note is
 * replaced with `note` and the change is queued again.
 */
export async function resolveFailed(d, note) {
  await d.click('.entry[data-state="failed"] a.button');
  await waitShown(d, '#input-note');
  await d.waitFor(() => document.querySelector('#input-note').value !== '', null, 'the form did not fill in the entry\'s inputs');
  const before = await d.evaluate(() => document.querySelector('#input-note').value);
  await d.fill('#input-note', note);
  await d.click('#submit');
  await waitShown(d, '.entry[data-state="pending"]');
  return before;
}
