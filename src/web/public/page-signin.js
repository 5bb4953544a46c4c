// Sign in: the API key is sent once to POST /ui/session, which answers with a session cookie; the
// key itself is not kept in the browser.
import { api } from './api.js';
import { fill, h } from './dom.js';

export async function render(ctx) {
  ctx.setTitle('Sign in');
  ctx.setCrumbs([]);
  const next = ctx.query.get('next');
  const ended = ctx.query.get('ended');
  const input = h('input', { id: 'api-key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', required: true, 'aria-describedby': 'api-key-help' });
  const reveal = h('button', { type: 'button', class: 'button ghost small', 'aria-pressed': 'false', 'aria-controls': 'api-key' }, 'Show');
  reveal.addEventListener('click', () => {
    const shown = input.type === 'text';
    input.type = shown ? 'password' : 'text';
    reveal.textContent = shown ? 'Show' : 'Hide';
    reveal.setAttribute('aria-pressed', String(!shown));
    input.focus();
  });
  const message = h('div', { id: 'signin-message', 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'button primary wide' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin-form', novalidate: true },
    h('label', { for: 'api-key' }, 'API key'),
    h('div', { class: 'input-row' }, input, reveal),
    h('p', { id: 'api-key-help', class: 'help' }, 'A Kindred API key (kdr_…). It is exchanged for a session cookie and not stored in this browser. What you can do depends on the key’s role.'),
    message,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) {
      fill(message, h('p', { class: 'alert error', role: 'alert' }, 'Enter an API key.'));
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const session = await api('/ui/session', { method: 'POST', body: { key }, quiet401: true });
      input.value = '';
      ctx.signedIn(session);
      ctx.go(next && next.startsWith('#/') && !next.startsWith('#/signin') ? next : '#/');
    } catch (err) {
      fill(message, h('p', { class: 'alert error', role: 'alert' }, err.status === 401 ? 'That API key is not valid (unknown, revoked or expired).' : err.message));
      submit.disabled = false;
      submit.textContent = 'Sign in';
      input.select();
    }
  });
  fill(
    ctx.main,
    h(
      'section',
      { class: 'signin panel' },
      h('h1', null, 'Sign in to Kindred'),
      ended ? h('p', { class: 'alert info', role: 'status' }, 'Your session ended. Sign in again to continue.') : null,
      form,
    ),
  );
  input.focus();
}
