// Small DOM helpers for the app's screens: elements from tags, toasts and accessible dialogs.

/**
 * An element: `h('button', { class: 'primary', onclick }, 'Save')`. Props starting with `on`
 * are listeners, `dataset`/`style` objects are merged, `false`/`null` props and children are
 * skipped, strings become text (never HTML).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset' || key === 'style') Object.assign(el[key], value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  el.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** A field name or state value as people write it: `work_in_progress` → `Work in progress`. */
export function human(name) {
  const text = String(name ?? '').replace(/_/g, ' ').trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** How long ago (or until) a moment was, in words: "3 min ago", "in 1 d 4 h". */
export function relative(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const parts = abs < 60 ? ['less than a minute']
    : abs < 3600 ? [`${Math.floor(abs / 60)} min`]
      : abs < 86400 ? [`${Math.floor(abs / 3600)} h`, `${Math.floor((abs % 3600) / 60)} min`]
        : [`${Math.floor(abs / 86400)} d`, `${Math.floor((abs % 86400) / 3600)} h`];
  const text = parts.filter((p) => !p.startsWith('0 ')).join(' ');
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}

/** A `YYYY-MM-DD HH:MM:SS` UTC timestamp of the instance as a Date. */
export function utc(stamp) {
  return stamp ? new Date(`${stamp.replace(' ', 'T')}Z`) : null;
}

/** A moment as the user's local date and time, short. */
export function when(date) {
  return date ? date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

/** Shows a short message at the bottom of the screen, read out by screen readers. */
export function toast(text, kind = 'info') {
  const region = document.getElementById('toasts');
  const item = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  region.append(item);
  // Two at most: a burst of results must not cover the screen.
  while (region.children.length > 2) region.firstElementChild.remove();
  setTimeout(() => item.classList.add('leaving'), 4500);
  setTimeout(() => item.remove(), 5000);
}

/**
 * A modal dialog (native `<dialog>`: focus is trapped and Escape cancels). `body` is the
 * content, `buttons` `[{ label, value, kind }]`; resolves to the chosen value (`null` when
 * cancelled). `onOpen(dialog)` may drive the dialog while it is open.
 */
export function ask({ title, body, buttons, onOpen }) {
  const dialog = h('dialog', { class: 'sheet', 'aria-labelledby': 'dialog-title' },
    h('h2', { id: 'dialog-title' }, title),
    h('div', { class: 'dialog-body' }, body),
    h('div', { class: 'dialog-actions' }, buttons.map((b) =>
      h('button', { type: 'button', class: b.kind ?? '', dataset: { value: b.value }, onclick: () => dialog.close(b.value) }, b.label))));
  document.body.append(dialog);
  dialog.showModal();
  const done = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue && dialog.returnValue !== 'cancel' ? dialog.returnValue : null);
      dialog.remove();
    }, { once: true });
  });
  onOpen?.(dialog);
  return done;
}

/** Asks a yes/no question; resolves to true when the user confirms. */
export async function confirmAction(title, text, confirmLabel, kind = 'danger') {
  const answer = await ask({
    title,
    body: h('p', {}, text),
    buttons: [{ label: 'Cancel', value: 'cancel', kind: 'secondary' }, { label: confirmLabel, value: 'yes', kind }],
  });
  return answer === 'yes';
}

/**
 * Runs `work` for a button: the button shows it is busy at once (a tap answers at once) and
 * is enabled again after; an error becomes a toast. Resolves to the work's value (undefined
 * on error).
 */
export async function busy(button, work) {
  button?.setAttribute('aria-busy', 'true');
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (e) {
    toast(e.message, 'error');
    return undefined;
  } finally {
    button?.removeAttribute('aria-busy');
    if (button) button.disabled = false;
  }
}
