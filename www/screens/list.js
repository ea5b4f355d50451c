// A list: the table's records in the configuration's scope (the instance's encoded query,
// answered by the worker from the network or the cache), searchable and paged. Rows with
// changes in the outbox are patterned. Above it, one button per record-less action of the
// table (such as New incident): its form makes a record with none selected.
import { h, human } from '../dom.js';
import { app, listName, isMarked } from '../app.js';

const PAGE = 20;

/** A search term as an encoded-query condition on the number or short description. */
function searchCondition(term) {
  // `^` separates conditions in an encoded query: it cannot be part of a searched value.
  const clean = term.replace(/\^/g, ' ').trim();
  return clean ? `^short_descriptionLIKE${clean}^ORnumberLIKE${clean}` : '';
}

export function listScreen(table) {
  let offset = 0;
  let term = '';
  let timer = null;
  const search = h('input', { type: 'search', id: 'search', placeholder: 'Search number or description', 'aria-label': `Search ${listName(table)}`, autocomplete: 'off' });
  const rows = h('ul', { class: 'rows', 'aria-label': listName(table), 'aria-live': 'polite' });
  const info = h('p', { class: 'muted page-info' });
  const prev = h('button', { type: 'button', class: 'secondary', onclick: () => { offset = Math.max(0, offset - PAGE); refresh(); } }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', onclick: () => { offset += PAGE; refresh(); } }, 'Next');
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { term = search.value; offset = 0; refresh(); }, 250);
  });
  const creates = h('div', { class: 'action-row creates' });
  const el = h('section', { class: 'screen' },
    creates, h('div', { class: 'search' }, search), rows, h('div', { class: 'pager' }, prev, info, next));

  // The table's record-less actions, as the worker offers them to this user now; none when
  // it cannot say (the list itself then says what is wrong).
  app.og.actionsFor(table).then((actions) => creates.replaceChildren(...actions.filter((a) => a.applies !== false).map((a) =>
    h('a', { class: 'button primary small', href: `#/form/${encodeURIComponent(a.name)}?table=${encodeURIComponent(table)}`, dataset: { create: a.name } }, a.label))))
    .catch(() => {});

  let latest = 0;
  async function refresh() {
    const scope = app.config?.tables?.[table];
    if (scope === undefined) {
      rows.replaceChildren(h('li', { class: 'empty' }, 'This list is not available: the configuration could not be read.'));
      return;
    }
    const ticket = ++latest;
    const query = `${scope}${searchCondition(term)}^ORDERBYnumber`;
    let page;
    try {
      page = await app.og.list(table, { query, limit: PAGE, offset, fields: 'sys_id,number,short_description,state,priority' });
    } catch (e) {
      rows.replaceChildren(h('li', { class: 'empty', role: 'alert' }, e.message));
      return;
    }
    // A slower, older answer must not replace a newer one.
    if (ticket !== latest) return;
    rows.replaceChildren(...(page.records.length ? page.records.map((r) => row(table, r))
      : [h('li', { class: 'empty' }, term ? `Nothing matches “${term}”.` : 'Nothing here: you are all caught up.')]));
    info.textContent = page.total ? `${offset + 1}–${offset + page.records.length} of ${page.total}` : '';
    prev.disabled = offset === 0;
    next.disabled = offset + page.records.length >= page.total;
  }
  return { el, title: listName(table), back: '#/', tab: '', refresh, destroy: () => clearTimeout(timer) };
}

function row(table, r) {
  const marked = isMarked(table, r.sys_id);
  return h('li', {},
    h('a', { class: `row${marked ? ' unsynced' : ''}`, href: `#/record/${table}/${r.sys_id}`, dataset: { sysId: r.sys_id } },
      h('span', { class: 'row-top' },
        h('span', { class: 'number' }, r.number),
        r.priority ? h('span', { class: `priority p${r.priority}` }, `P${r.priority}`) : null,
        h('span', { class: `chip state-${r.state}` }, human(r.state))),
      h('span', { class: 'row-title' }, r.short_description),
      marked ? h('span', { class: 'unsynced-note' }, 'Unsynced changes') : null));
}
