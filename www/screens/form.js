// An action's input form, generated from the action's inputs: one control per input type,
// a message per field, Save progress (a draft kept on the device by the worker, restored
// when the form opens again), and Resolve of a failed outbox entry (the entry's inputs,
// edited, sent with the resolve). With no record, a create action makes a new one.
import { h, toast, busy, when, human } from '../dom.js';
import { Offgrid } from '../og.js';
import { app, actionDef } from '../app.js';

/** Runs an action and says what happened; resolves to the worker's answer. */
export async function runAction(action, invocation) {
  const answer = await app.og.run(action.name, invocation);
  toast(answer.queued ? `${action.label}: saved to Outbox` : `${action.label}: done`, 'success');
  app.refresh();
  return answer;
}

/** `YYYY-MM-DD HH:MM:SS` (the contract's datetime) from a datetime-local value, and back. */
const toStamp = (local) => (local ? `${local.replace('T', ' ')}${local.length === 16 ? ':00' : ''}` : '');
const fromStamp = (stamp) => (stamp ? String(stamp).replace(' ', 'T').slice(0, 19) : '');

function control(input, id, describedBy, onFile) {
  const common = { id, name: input.name, 'aria-describedby': describedBy, required: input.required || null, 'aria-required': input.required ? 'true' : null };
  switch (input.type) {
    case 'text':
      return h('textarea', { ...common, rows: 4 });
    case 'number':
      return h('input', { ...common, type: 'number', inputmode: 'decimal', step: 'any' });
    case 'boolean':
      return h('input', { ...common, type: 'checkbox', class: 'switch', required: null });
    case 'choice':
      return h('select', common, h('option', { value: '' }, 'Choose…'),
        (input.options ?? []).map((o) => (typeof o === 'object' ? h('option', { value: o.value }, o.label ?? o.value) : h('option', { value: o }, o))));
    case 'datetime':
      return h('input', { ...common, type: 'datetime-local', step: 1 });
    case 'file': {
      const preview = h('div', { class: 'file-preview', 'aria-live': 'polite' });
      // The choosers stay in the form (hidden), so a test driver can hand them a file the
      // way WebDriver does: by setting the input, where no native file dialog can be driven.
      const chooser = (capture) => {
        const box = h('input', { type: 'file', accept: capture ? 'image/*' : null, capture: capture ? 'environment' : null, class: 'visually-hidden', tabindex: -1, 'aria-hidden': 'true', dataset: { chooser: capture ? 'camera' : 'file' } });
        box.addEventListener('change', () => {
          const file = box.files[0];
          if (!file) return;
          onFile(input.name, file);
          const url = URL.createObjectURL(file);
          preview.replaceChildren(file.type.startsWith('image/') ? h('img', { src: url, alt: `Selected: ${file.name}` }) : '', h('span', {}, file.name));
        });
        return box;
      };
      const camera = chooser(true);
      const picker = chooser(false);
      return h('div', { ...common, role: 'group', class: 'file-control', required: null },
        h('div', { class: 'action-row' },
          h('button', { type: 'button', class: 'secondary', dataset: { capture: 'camera' }, onclick: () => camera.click() }, 'Take photo'),
          h('button', { type: 'button', class: 'secondary', dataset: { capture: 'file' }, onclick: () => picker.click() }, 'Choose file')),
        camera, picker, preview);
    }
    default:
      return h('input', { ...common, type: 'text' });
  }
}

export function formScreen(name, params) {
  const table = params.get('table');
  const sysId = params.get('sys_id');
  const entryId = params.get('entry');
  const key = entryId ? `resolve:${entryId}` : `${name}:${table}:${sysId ?? 'new'}`;
  const files = new Map();
  const form = h('form', { class: 'card form', novalidate: true });
  const note = h('p', { class: 'muted', role: 'status' });
  const el = h('section', { class: 'screen' }, note, form);
  let action = null;
  let entry = null;

  function field(input) {
    return form.querySelector(`[name="${CSS.escape(input.name)}"]`);
  }

  function values() {
    const out = {};
    for (const input of action.inputs) {
      const c = field(input);
      if (input.type === 'file') continue;
      if (input.type === 'boolean') out[input.name] = c.checked;
      else if (input.type === 'datetime') out[input.name] = toStamp(c.value);
      else out[input.name] = c.value;
    }
    return out;
  }

  function fill(saved) {
    for (const input of action.inputs) {
      const c = field(input);
      const v = saved?.[input.name];
      if (v === undefined || v === null || input.type === 'file') continue;
      if (input.type === 'boolean') c.checked = v === true || v === 'true';
      else if (input.type === 'datetime') c.value = fromStamp(v);
      else c.value = String(v);
    }
  }

  function showErrors(errors) {
    let first = null;
    for (const input of action.inputs) {
      const message = errors[input.name];
      const c = field(input);
      form.querySelector(`#error-${CSS.escape(input.name)}`).textContent = message ?? '';
      if (message) {
        c.setAttribute('aria-invalid', 'true');
        first ??= c.matches('[role=group]') ? c.querySelector('button') : c;
      } else {
        c.removeAttribute('aria-invalid');
      }
    }
    first?.focus();
    return first === null;
  }

  // Only what the definition says: required inputs, and numbers and dates that parse. The
  // worker checks the rest and names each fault by its input (422 invalid_inputs).
  function check(inputs) {
    const errors = {};
    for (const input of action.inputs) {
      const v = input.type === 'file' ? files.get(input.name) : inputs[input.name];
      const empty = v === undefined || v === '';
      // A boolean is always answered: unchecked is false.
      if (input.required && empty && input.type !== 'boolean') errors[input.name] = `${input.label ?? human(input.name)} is required.`;
      else if (input.type === 'number' && v !== '' && Number.isNaN(Number(v))) errors[input.name] = 'Enter a number.';
    }
    return errors;
  }

  // True once the worker took the action: the form is done, and a second tap, or a submit
  // while the first is on its way, must not queue it twice.
  async function submit() {
    const inputs = values();
    if (!showErrors(check(inputs))) return false;
    for (const [input, file] of files) inputs[input] = await Offgrid.fileInput(file);
    for (const input of action.inputs) if (input.type === 'number' && inputs[input.name] === '') delete inputs[input.name];
    try {
      if (entry) {
        await app.og.resolve(entry.id, inputs);
        toast(`${action.label}: resolved, it syncs with the next Sync All`, 'success');
      } else {
        const answer = await runAction(action, { table, sys_id: sysId ?? undefined, inputs });
        // A record the action created is what the user wants to see next: a record-less
        // action's answer is the record it made, another's lists what it created.
        const created = sysId ? answer.created?.[0] : { table, record: answer.result };
        await app.og.drafts.delete(key).catch(() => {});
        if (created?.record?.sys_id) {
          app.go(`#/record/${created.table}/${created.record.sys_id}`);
          return true;
        }
      }
      await app.og.drafts.delete(key).catch(() => {});
      app.refresh();
      app.go(entry ? '#/outbox' : `#/record/${table}/${sysId}`);
      return true;
    } catch (e) {
      if (e.code === 'invalid_inputs' && e.detail?.inputs) showErrors(e.detail.inputs);
      else throw e;
      return false;
    }
  }

  async function refresh() {
    if (action) return;
    if (entryId) entry = (await app.og.outbox()).entries.find((e) => e.id === entryId) ?? null;
    const offered = await app.og.actionsFor(table, sysId ?? undefined).catch(() => []);
    action = offered.find((a) => a.name === name) ?? actionDef(name);
    if (!action) {
      form.replaceChildren(h('p', { class: 'empty', role: 'alert' }, 'This action is not available.'));
      return;
    }
    document.getElementById('title').textContent = entry ? `Resolve: ${action.label}` : action.label;
    form.replaceChildren(
      ...action.inputs.map((input) => {
        const id = `input-${input.name}`;
        const c = control(input, id, `error-${input.name}`, (n, file) => files.set(n, file));
        const label = h('label', { for: id, class: input.required ? 'required' : '' }, input.label ?? human(input.name));
        const error = h('p', { id: `error-${input.name}`, class: 'field-error' });
        return input.type === 'boolean'
          ? h('div', { class: 'field inline' }, c, label, error)
          : h('div', { class: 'field' }, input.type === 'file' ? h('span', { class: `label${input.required ? ' required' : ''}`, id: `label-${input.name}` }, input.label ?? human(input.name)) : label, c, error);
      }),
      action.inputs.length === 0 ? h('p', { class: 'muted' }, 'This action needs nothing more from you.') : '',
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'secondary', id: 'save-progress', onclick: (e) => busy(e.currentTarget, saveProgress) }, 'Save progress'),
        h('button', { type: 'submit', class: 'primary', id: 'submit' }, entry ? 'Resolve and retry' : 'Submit')));
    for (const input of action.inputs.filter((i) => i.type === 'file')) {
      field(input).setAttribute('aria-labelledby', `label-${input.name}`);
    }
    // The button is disabled while the form is sent, but a submit can still come from the
    // keyboard, or from a tap that lands as the first answer re-enables it.
    let taken = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (taken) return;
      taken = true;
      const button = form.querySelector('#submit');
      taken = (await busy(button, submit)) === true;
      if (taken && button) button.disabled = true;
    });
    const draft = await app.og.drafts.get(key).catch(() => null);
    if (draft?.values) {
      fill(draft.values);
      note.textContent = `Draft restored (saved ${when(new Date(draft.saved_at))}).`;
    } else if (entry) {
      fill(entry.inputs);
      note.textContent = `Edit the change and send it again. ${entry.error?.message ?? ''}`;
    } else if (!sysId) {
      note.textContent = 'Creates a new record.';
    }
  }

  async function saveProgress() {
    await app.og.drafts.put(key, { values: values(), saved_at: new Date().toISOString() });
    const withFiles = files.size ? ' Photos and files are not kept in drafts: add them again before you submit.' : '';
    note.textContent = `Progress saved on this device.${withFiles}`;
    toast('Progress saved', 'success');
  }

  return { el, title: human(name), back: sysId ? `#/record/${table}/${sysId}` : `#/list/${table}`, tab: '', refresh };
}
