// A record: its fields, work notes and comments (those written offline too), attachments
// (served by the worker, from the device offline) and the buttons of the actions that apply
// to it, as the worker answers them for the local record; an action not available offline
// is greyed while offline, with the reason.
import { h, human, utc, when, toast, busy } from '../dom.js';
import { app, isMarked } from '../app.js';
import { runAction } from './form.js';

// Shown in the header or their own sections rather than among the fields.
const SHOWN_APART = new Set(['number', 'short_description', 'state', 'work_notes', 'comments']);

export function recordScreen(table, sysId) {
  const header = h('div', { class: 'record-head' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' });
  const fields = h('dl', { class: 'fields' });
  const notes = h('ol', { class: 'journal', 'aria-label': 'Work notes and comments' });
  const files = h('ul', { class: 'thumbs', 'aria-label': 'Attachments' });
  const el = h('section', { class: 'screen record' }, header, actions,
    h('h2', { class: 'section-title' }, 'Details'), fields,
    h('h2', { class: 'section-title' }, 'Attachments'), files,
    h('h2', { class: 'section-title' }, 'Work notes and comments'), notes);
  const urls = [];

  async function refresh() {
    const { record } = await app.og.get(table, sysId);
    if (!record) {
      header.replaceChildren(h('p', { class: 'empty', role: 'alert' }, 'This record is not available here.'));
      return;
    }
    const marked = isMarked(table, sysId);
    el.classList.toggle('unsynced', marked);
    header.replaceChildren(...[
      h('p', { class: 'row-top' }, h('span', { class: 'number' }, record.number), h('span', { class: `chip state-${record.state}` }, human(record.state))),
      h('p', { class: 'record-title' }, record.short_description),
      marked ? h('p', { class: 'unsynced-note' }, 'Unsynced changes: they will be sent when you sync.') : null].filter(Boolean));
    fields.replaceChildren(...Object.entries(record)
      .filter(([k, v]) => !k.startsWith('sys_') && !SHOWN_APART.has(k) && v !== '' && v !== null)
      .flatMap(([k, v]) => [h('dt', {}, human(k)), h('dd', {}, display(v))]));
    const [available, journal, attachments] = await Promise.all([
      app.og.actionsFor(table, sysId).catch((e) => { toast(e.message, 'error'); return []; }),
      app.og.journal(table, sysId).catch(() => []),
      app.og.attachments(table, sysId).catch(() => []),
    ]);
    actions.replaceChildren(...available.filter((a) => a.applies !== false).map((a) => actionButton(a, table, sysId)));
    notes.replaceChildren(...(journal.length ? journal.map((n) => h('li', { class: `note ${n.element}` },
      h('p', { class: 'note-meta' }, h('strong', {}, n.element === 'comments' ? 'Comment' : 'Work note'), ` · ${n.sys_created_by ?? ''} · ${when(utc(n.sys_created_on))}`),
      h('p', {}, n.value))) : [h('li', { class: 'empty' }, 'No work notes yet.')]));
    for (const url of urls.splice(0)) URL.revokeObjectURL(url);
    files.replaceChildren(...(attachments.length ? attachments.map((a) => thumbnail(a)) : [h('li', { class: 'empty' }, 'No attachments.')]));
  }

  function thumbnail(a) {
    const image = String(a.content_type).startsWith('image/');
    return h('li', {},
      h('a', { class: 'thumb', href: app.og.attachmentUrl(a), target: '_blank', rel: 'noopener' },
        image ? h('img', { src: app.og.attachmentUrl(a), alt: a.file_name, loading: 'lazy' }) : h('span', { class: 'file-icon', 'aria-hidden': 'true' }, 'FILE'),
        h('span', { class: 'thumb-name' }, a.file_name)));
  }

  return { el, title: 'Record', back: `#/list/${table}`, tab: '', refresh };
}

function display(value) {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function actionButton(action, table, sysId) {
  const reasonId = `reason-${action.name}`;
  const unavailable = action.available === false;
  const button = h('button', {
    type: 'button',
    class: `action${unavailable ? ' unavailable' : ''}`,
    'aria-disabled': unavailable ? 'true' : null,
    'aria-describedby': unavailable ? reasonId : null,
    dataset: { action: action.name },
    onclick: () => {
      if (unavailable) {
        toast(action.reason, 'warning');
        return;
      }
      if (action.inputs?.length) {
        app.go(`#/form/${action.name}?table=${encodeURIComponent(table)}&sys_id=${encodeURIComponent(sysId)}`);
        return;
      }
      busy(button, () => runAction(action, { table, sys_id: sysId, inputs: {} }));
    },
  }, action.label);
  return h('div', { class: 'action-item' }, button, unavailable ? h('p', { id: reasonId, class: 'reason' }, action.reason) : null);
}
