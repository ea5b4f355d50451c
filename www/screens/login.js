// Sign in: the instance checks the password; the worker remembers who signed in.
import { h, busy } from '../dom.js';
import { app } from '../app.js';

export function loginScreen(onSignedIn) {
  const error = h('p', { id: 'login-error', class: 'field-error', role: 'alert' });
  const form = h('form', { id: 'login-form', class: 'card login', novalidate: true },
    h('label', { for: 'user_name' }, 'User name'),
    h('input', { id: 'user_name', name: 'user_name', autocomplete: 'username', autocapitalize: 'none', required: true, 'aria-describedby': 'login-error' }),
    h('label', { for: 'password' }, 'Password'),
    h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'login-error' }),
    error,
    h('button', { class: 'primary block', type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (!data.get('user_name') || !data.get('password')) {
      error.textContent = 'Enter your user name and password.';
      return;
    }
    busy(form.querySelector('button'), async () => {
      try {
        await app.og.login(data.get('user_name'), data.get('password'));
      } catch (e) {
        error.textContent = e.status === 401 ? 'That user name and password do not match.' : e.message;
        return;
      }
      await onSignedIn();
    });
  });
  const el = h('section', { class: 'screen login-screen' },
    h('div', { class: 'brand' },
      h('img', { src: '/icon.svg', alt: '', width: 72, height: 72 }),
      h('p', { class: 'brand-name' }, 'Offgrid Field Service'),
      h('p', { class: 'muted' }, 'Your work orders and incidents, with or without a signal.')),
    form);
  return { el, title: 'Sign in' };
}
