// Applications: one card per list the instance's configuration defines (its offline scope),
// with how many records it holds and how many changes to them wait in the outbox; and the
// warnings the worker raises.
import { h, relative, utc } from '../dom.js';
import { app, listName } from '../app.js';

export function homeScreen() {
  const warnings = h('div', { class: 'warnings' });
  const lists = h('ul', { class: 'cards', 'aria-label': 'Lists' });
  const el = h('section', { class: 'screen' }, warnings, h('h2', { class: 'section-title' }, 'Applications'), lists);

  async function refresh() {
    const status = app.status;
    warnings.replaceChildren(...status.warnings.map((w) => h('div', { class: `notice ${w.code === 'expired' ? 'danger' : 'warning'}`, role: 'alert' },
      h('strong', {}, w.code === 'expiry' ? `Offline cache expires ${relative(utc(w.expires_at))}` : human(w.code)), h('p', {}, w.message))));
    const tables = Object.entries(app.config?.tables ?? {});
    if (tables.length === 0) {
      lists.replaceChildren(h('li', { class: 'empty' }, 'The lists are not available: the configuration could not be read. Connect and pull to refresh.'));
      return;
    }
    const cards = await Promise.all(tables.map(async ([table, scope]) => {
      let count = '…';
      try {
        count = String((await app.og.list(table, { query: scope, limit: 1, fields: 'sys_id' })).total);
      } catch (e) {
        count = '—';
      }
      const pending = app.outbox.entries.filter((e) => e.table === table).length;
      return h('li', {},
        h('a', { class: `card app-card${pending ? ' unsynced' : ''}`, href: `#/list/${encodeURIComponent(table)}` },
          h('span', { class: 'app-icon', 'aria-hidden': 'true' }, listName(table).replace(/^My /, '').charAt(0)),
          h('span', { class: 'app-text' },
            h('span', { class: 'app-name' }, listName(table)),
            h('span', { class: 'muted' }, pending ? `${pending} unsynced change${pending === 1 ? '' : 's'}` : 'All changes synced')),
          h('span', { class: 'count', 'aria-label': `${count} records` }, count)));
    }));
    lists.replaceChildren(...cards);
  }
  return { el, title: 'Field Service', tab: '', refresh };
}

function human(code) {
  return code === 'expired' ? 'Offline cache expired' : code === 'connection_unknown' ? 'Scheduled downloads paused' : code;
}
