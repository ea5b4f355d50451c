// The outbox: every change made offline, in the order it was made, with its action, record,
// time, attempts and state. A failed change shows the instance's message and, side by side,
// the instance's values and this device's; Resolve opens its form, Delete asks first. A
// blocked change names the one it waits for. Sync All sends them all, with progress.
import { h, human, when, toast, busy, confirmAction } from '../dom.js';
import { app, actionDef } from '../app.js';
import { syncAll } from './sync.js';

export function outboxScreen() {
  const summary = h('p', { class: 'muted', role: 'status' });
  const progress = h('progress', { id: 'sync-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Sync progress' });
  const syncButton = h('button', { type: 'button', class: 'primary block', id: 'sync-all', onclick: () => busy(syncButton, () => syncAll(progress)) }, 'Sync All');
  const list = h('ol', { class: 'entries', 'aria-label': 'Changes waiting to sync' });
  const el = h('section', { class: 'screen' }, summary, syncButton, progress, list);

  async function refresh() {
    const { entries, counts } = app.outbox;
    summary.textContent = entries.length
      ? `${entries.length} change${entries.length === 1 ? '' : 's'} waiting · ${counts.failed} failed · ${counts.blocked} blocked`
      : 'Everything is synced.';
    syncButton.hidden = entries.length === 0;
    const records = await Promise.all(entries.map((e) => app.og.get(e.table, e.sys_id).then((r) => r.record).catch(() => null)));
    list.replaceChildren(...entries.map((e, i) => entryItem(e, records[i], entries)));
  }
  return { el, title: 'Outbox', tab: 'outbox', refresh };
}

function entryItem(entry, mine, entries) {
  // The record as this device has it; else as the instance last answered for the entry.
  const record = mine ?? entry.error?.record ?? null;
  const def = actionDef(entry.action);
  const label = def?.label ?? human(entry.action);
  const item = h('li', { class: `entry ${entry.state}`, dataset: { id: entry.id, state: entry.state } },
    h('div', { class: 'entry-head' },
      h('span', { class: 'seq', 'aria-label': `Change ${entry.seq}` }, `#${entry.seq}`),
      h('span', { class: 'entry-action' }, label),
      h('span', { class: `chip ${entry.state}` }, human(entry.state))),
    h('p', { class: 'entry-record' },
      h('a', { href: `#/record/${entry.table}/${entry.sys_id}` }, record?.number ?? entry.table),
      record?.short_description ? ` · ${record.short_description}` : ''),
    h('p', { class: 'muted' }, `${when(new Date(entry.queued_at))} · ${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'}`));
  if (entry.state === 'blocked') {
    const waitsFor = entries.find((o) => o.seq < entry.seq && o.table === entry.table && o.sys_id === entry.sys_id && o.state === 'failed');
    item.append(h('p', { class: 'notice warning' }, waitsFor
      ? `Waits for #${waitsFor.seq} (${actionDef(waitsFor.action)?.label ?? waitsFor.action}) on the same record: resolve or delete it first.`
      : entry.error?.message ?? 'Waits for an earlier change of the same record.'));
  } else if (entry.error && entry.state !== 'pending') {
    item.append(h('p', { class: 'notice danger', role: 'note' }, entry.error.message));
  } else if (entry.error) {
    item.append(h('p', { class: 'muted' }, entry.error.message));
  }
  if (entry.state === 'failed' && entry.error?.record) item.append(compare(entry, mine));
  const buttons = [];
  if (entry.state === 'failed') {
    buttons.push(h('a', { class: 'button primary small', href: `#/form/${entry.action}?table=${encodeURIComponent(entry.table)}&sys_id=${encodeURIComponent(entry.sys_id)}&entry=${encodeURIComponent(entry.id)}` }, 'Resolve'));
  }
  if (entry.state !== 'syncing') {
    const remove = h('button', {
      type: 'button',
      class: 'danger small',
      onclick: async () => {
        const ok = await confirmAction('Delete this change?', `“${label}” on ${record?.number ?? 'this record'} will not be sent, and the record goes back to the instance's version.`, 'Delete change');
        if (!ok) return;
        await busy(remove, async () => {
          await app.og.deleteEntry(entry.id);
          toast('Change deleted', 'success');
          app.refresh();
        });
      },
    }, 'Delete');
    buttons.push(remove);
  }
  item.append(h('div', { class: 'action-row' }, buttons));
  return item;
}

/** The fields the change writes: the instance's current value beside this device's. */
function compare(entry, mine) {
  const theirs = entry.error.record;
  const names = [...new Set([...Object.keys(entry.base?.fields ?? {}), ...(entry.error.field ? [entry.error.field] : [])])];
  if (names.length === 0) names.push('state');
  return h('table', { class: 'compare' },
    h('caption', {}, 'What differs'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Instance'), h('th', { scope: 'col' }, 'Yours'))),
    h('tbody', {}, names.map((n) => h('tr', {},
      h('th', { scope: 'row' }, human(n)),
      h('td', {}, human(theirs?.[n] ?? '')),
      h('td', {}, mine ? human(mine[n] ?? '') : '—')))));
}
