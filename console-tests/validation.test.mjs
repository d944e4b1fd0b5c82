// Validation feedback in the session form: every message next to its field at once
// (aria-invalid, aria-describedby), nothing typed lost, a banner for errors on no field;
// fixing the fields saves.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

let fx;
let paths;
before(async () => {
  fx = await h.startAll();
  paths = await h.seedServiceAndEndpoint(fx.server, { address: '198.51.100.61' });
  await h.login(fx.page, fx.server);
});
after(async () => { await fx?.stop(); });
// each test starts from a freshly loaded page (a failed test leaves no dialog behind)
beforeEach(async () => {
  await h.resetPage(fx.page, fx.server);
});

/** Assert the field is marked invalid with a visible message (matching `re`) next to it. */
async function assertFieldError(form, label, re) {
  const field = form.getByLabel(label, { exact: true });
  await h.expectAttr(field, 'aria-invalid', 'true');
  const message = await h.describedBy(field);
  assert.match(message, re, `${label}: message linked by aria-describedby`);
  // visible, and next to the field (within 120 px below or beside it)
  const ids = (await field.getAttribute('aria-describedby')).split(/\s+/);
  const fb = await field.boundingBox();
  let near = false;
  for (const id of ids) {
    const el = form.page().locator(`[id="${id}"]`);
    if (!re.test((await el.textContent()) ?? '')) continue;
    assert.ok(await el.isVisible(), `${label}: message visible`);
    const mb = await el.boundingBox();
    near = near || (mb.y >= fb.y - 5 && mb.y - (fb.y + fb.height) < 120);
  }
  assert.ok(near, `${label}: message next to the field`);
}

async function assertFieldOk(form, label) {
  const field = form.getByLabel(label, { exact: true });
  await h.eventually(async () => {
    const v = await field.getAttribute('aria-invalid', { timeout: 1000 });
    assert.ok(v === null || v === 'false', `${label}: aria-invalid=${v} after the fix`);
  });
}

test('three errors at once, each next to its field; nothing typed is lost; fix and save', async () => {
  const { page, server } = fx;
  const form = await h.openAddSessionForm(page);
  const typed = {
    'Name': 'val-session',
    'Remote IP': '203.0.113.300',
    'Description': 'typed before the errors',
    'Tunnel Interface': '169.254.70.1/33',
    'Remote ID': 'val.example.net',
    'Tags': 'site:val',
  };
  await form.getByLabel('Name', { exact: true }).fill(typed.Name);
  await h.chooseOption(form.getByLabel('VPN Service', { exact: true }), 'svc');
  await h.chooseOption(form.getByLabel('Local Endpoint', { exact: true }), 'le1');
  await form.getByLabel('Remote IP', { exact: true }).fill(typed['Remote IP']);
  await form.getByLabel('Description', { exact: true }).fill(typed.Description);
  await form.getByLabel('Tunnel Interface', { exact: true }).fill(typed['Tunnel Interface']);
  // Pre-shared Key left empty
  await form.getByLabel('Remote ID', { exact: true }).fill(typed['Remote ID']);
  await form.getByLabel('Tags', { exact: true }).fill(typed.Tags);
  await form.getByRole('button', { name: 'Advanced Properties', exact: true }).click();
  await h.chooseOption(form.getByLabel('Connection Initiation Mode', { exact: true }), 'Respond Only');
  await form.getByRole('button', { name: 'Save', exact: true }).click();

  await assertFieldError(form, 'Remote IP', /203\.0\.113\.300|IP/);
  await assertFieldError(form, 'Tunnel Interface', /33|prefix|CIDR/i);
  await assertFieldError(form, 'Pre-shared Key', /required|key/i);
  await h.expectVisible(form); // still open
  for (const [label, value] of Object.entries(typed)) {
    await h.expectValue(form.getByLabel(label, { exact: true }), value);
  }
  await h.expectSelected(form.getByLabel('Connection Initiation Mode', { exact: true }), 'Respond Only');
  await h.assertNoHorizontalScroll(page, 'form with validation errors');
  await h.screenshot(page, '30-session-form-validation-errors');
  assert.equal(await h.getObject(server, `${paths.service}/sessions/val-session`), undefined);

  // fix one: the others stay reported
  await form.getByLabel('Remote IP', { exact: true }).fill('203.0.113.61');
  await form.getByLabel('Tunnel Interface', { exact: true }).fill('169.254.70.1/30');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await assertFieldError(form, 'Pre-shared Key', /required|key/i);
  await assertFieldOk(form, 'Remote IP');
  await assertFieldOk(form, 'Tunnel Interface');

  // fix the last: saved
  await form.getByLabel('Pre-shared Key', { exact: true }).fill('validation-psk-1');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  await h.expectVisible(h.rowOf(h.table(page, 'IPSec Sessions'), 'val-session'));
  const s = await h.getObject(server, `${paths.service}/sessions/val-session`);
  assert.equal(s.peer_address, '203.0.113.61');
  assert.equal(s.description, typed.Description);
  assert.deepEqual(s.tunnel_interfaces[0].ip_subnets[0], { ip_addresses: ['169.254.70.1'], prefix_length: 30 });
  assert.equal(s.connection_initiation_mode, 'RESPOND_ONLY');
  const secret = await h.policy(server, 'GET', `${s.path}?action=show_sensitive_data`);
  assert.equal(secret.psk, 'validation-psk-1');
});

test('an error on no field goes into a banner at the top of the form', async () => {
  const { page, server } = fx;
  // the same (local, peer) pair as val-session: refused, on no single field of the form...
  // or an id that exists: refused too. Either way: a message, the form stays, nothing lost.
  const form = await h.openAddSessionForm(page);
  await form.getByLabel('Name', { exact: true }).fill('val-session');
  await h.chooseOption(form.getByLabel('VPN Service', { exact: true }), 'svc');
  await h.chooseOption(form.getByLabel('Local Endpoint', { exact: true }), 'le1');
  await form.getByLabel('Remote IP', { exact: true }).fill('203.0.113.62');
  await form.getByLabel('Tunnel Interface', { exact: true }).fill('169.254.71.1/30');
  await form.getByLabel('Pre-shared Key', { exact: true }).fill('another-psk-2');
  await form.getByLabel('Remote ID', { exact: true }).fill('203.0.113.62');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  const banner = form.getByRole('alert').filter({ hasText: /exist|already/i }).first();
  await h.expectVisible(banner);
  const bb = await banner.boundingBox();
  const nb = await form.getByLabel('Name', { exact: true }).boundingBox();
  assert.ok(bb.y < nb.y + nb.height + 60, 'the banner is at the top of the form (or at the Name field)');
  await h.expectValue(form.getByLabel('Remote IP', { exact: true }), '203.0.113.62');
  await h.expectValue(form.getByLabel('Pre-shared Key', { exact: true }), 'another-psk-2');
  const s = await h.getObject(server, `${paths.service}/sessions/val-session`);
  assert.equal(s.peer_address, '203.0.113.61', 'the existing session was not overwritten');
  await h.screenshot(page, '31-session-form-banner');
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(form);
});

test('the description counter counts live', async () => {
  const { page } = fx;
  const form = await h.openAddSessionForm(page);
  const desc = form.getByLabel('Description', { exact: true });
  await h.expectText(form, '0/1024');
  await desc.pressSequentially('hello');
  await h.expectText(form, '5/1024');
  await desc.fill('x'.repeat(1024));
  await h.expectText(form, '1024/1024');
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(form);
});
