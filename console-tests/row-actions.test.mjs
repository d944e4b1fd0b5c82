// The row menu of a session: keyboard use, Download Config (warning first, the file), Disable
// and Enable, Edit (stored key kept, concurrent change reported), Delete with confirmation;
// each checked through the API.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as h from './helpers.mjs';

let fx;
let paths;
const NAME = 'row-session';
const PSK = 'row-actions-psk-Zz9';
const SESSION = () => `${paths.service}/sessions/${NAME}`;

before(async () => {
  fx = await h.startAll();
  paths = await h.seedServiceAndEndpoint(fx.server, { address: '198.51.100.71' });
  await h.createSession(fx.server, paths.service, paths.endpoint, NAME, {
    peer_address: '203.0.113.71', peer_id: '203.0.113.71', psk: PSK, description: 'before the edit',
    tunnel_interfaces: [{ ip_subnets: [{ ip_addresses: ['169.254.80.1'], prefix_length: 30 }] }],
  });
  await h.login(fx.page, fx.server);
  await h.openTab(fx.page, 'IPSec Sessions');
  await h.expectVisible(h.rowOf(h.table(fx.page, 'IPSec Sessions'), NAME));
});
after(async () => { await fx?.stop(); });
// each test starts from a freshly loaded page (a failed test leaves no dialog behind)
beforeEach(async () => {
  await h.resetPage(fx.page, fx.server);
  await h.openTab(fx.page, 'IPSec Sessions');
});

const actions = () => fx.page.getByRole('button', { name: `Actions for ${NAME}`, exact: true });

test('the row menu by keyboard: Enter and Space open it, Escape closes it', async () => {
  const { page } = fx;
  const button = actions();
  await button.focus();
  await page.keyboard.press('Enter');
  const menu = h.openMenu(page);
  await h.expectVisible(menu);
  const items = (await h.menuItems(page)).map((i) => i.name);
  assert.deepEqual(items.slice().sort(), ['Delete', 'Disable', 'Download Config', 'Edit']);
  // focus is in the menu, arrows move it
  await h.expectFocused(menu.getByRole('menuitem').first());
  await page.keyboard.press('ArrowDown');
  await h.expectFocused(menu.getByRole('menuitem').nth(1));
  await h.screenshot(page, '40-row-menu');
  await page.keyboard.press('Escape');
  await h.expectHidden(menu);
  await h.expectFocused(button);
  await page.keyboard.press(' ');
  await h.expectVisible(menu);
  await page.keyboard.press('Escape');
  await h.expectHidden(menu);
  await h.expectFocused(button);
  h.assertNoPageErrors(fx.browser);
});

test('Download Config warns first, then saves <name>.txt with the PSK and the NSX header', async () => {
  const { page } = fx;
  await h.rowAction(page, NAME, 'Download Config');
  let dialog = page.getByRole('dialog').or(page.getByRole('alertdialog')).filter({ hasText: /pre-shared key/i }).first();
  await h.expectVisible(dialog);
  await h.screenshot(page, '41-download-warning');
  // Cancel: nothing is downloaded
  let downloaded = false;
  const onDownload = () => { downloaded = true; };
  page.on('download', onDownload);
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(dialog);
  page.off('download', onDownload);
  assert.equal(downloaded, false);
  await h.expectFocused(actions()); // focus returns to what opened it

  await h.rowAction(page, NAME, 'Download Config');
  dialog = page.getByRole('dialog').or(page.getByRole('alertdialog')).filter({ hasText: /pre-shared key/i }).first();
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: h.STEP_TIMEOUT }),
    dialog.getByRole('button', { name: 'Download', exact: true }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `${NAME}.txt`);
  const path = await download.path();
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes('# Suggestive peer configuration'), 'the NSX header');
  assert.ok(text.includes(PSK), 'the admin gets the PSK');
  const api = await h.api(fx.server, 'GET', `/policy/api/v1${SESSION()}/peer-config`);
  assert.equal(text.replace(/^# Generated Time.*$/m, ''), api.text.replace(/^# Generated Time.*$/m, ''),
    'the file is the API\'s peer-config');
  await h.expectHidden(dialog);
});

test('Disable and Enable from the row menu', async () => {
  const { page, server } = fx;
  await h.rowAction(page, NAME, 'Disable');
  await h.eventually(async () => {
    assert.equal((await h.getObject(server, SESSION())).enabled, false);
  });
  const row = h.rowOf(h.table(page, 'IPSec Sessions'), NAME);
  await h.expectText(row, 'Disabled');
  // the status follows: Down - Session not enabled (as detailed-status says)
  await h.eventually(async () => {
    const want = h.statusText(await h.policy(server, 'GET', `${SESSION()}/detailed-status`));
    assert.equal(want, 'Down - Session not enabled');
    assert.ok((await row.innerText()).includes(want), `row shows ${want}`);
  });
  await actions().click();
  const items = (await h.menuItems(page)).map((i) => i.name);
  assert.ok(items.includes('Enable') && !items.includes('Disable'), `menu: ${items}`);
  await h.openMenu(page).getByRole('menuitem', { name: 'Enable', exact: true }).click();
  await h.eventually(async () => {
    assert.equal((await h.getObject(server, SESSION())).enabled, true);
  });
  await h.expectNoText(row, 'Disabled');
  // keep it disabled for the rest (nothing to negotiate)
  await h.rowAction(page, NAME, 'Disable');
  await h.eventually(async () => {
    assert.equal((await h.getObject(server, SESSION())).enabled, false);
  });
});

test('Edit: the form is filled, the PSK empty keeps the stored key, the change is stored', async () => {
  const { page, server } = fx;
  const before = await h.getObject(server, SESSION());
  await h.rowAction(page, NAME, 'Edit');
  const form = h.panel(page, h.EDIT_SESSION_FORM);
  await h.expectVisible(form);
  await h.expectValue(form.getByLabel('Name', { exact: true }), NAME);
  await h.expectValue(form.getByLabel('Remote IP', { exact: true }), '203.0.113.71');
  await h.expectValue(form.getByLabel('Tunnel Interface', { exact: true }), '169.254.80.1/30');
  await h.expectValue(form.getByLabel('Description', { exact: true }), 'before the edit');
  await h.expectValue(form.getByLabel('Pre-shared Key', { exact: true }), '');
  assert.equal(await form.getByRole('switch', { name: 'Admin Status', exact: true }).isChecked(), false);
  await form.getByLabel('Description', { exact: true }).fill('after the edit');
  await form.getByLabel('Remote ID', { exact: true }).fill('edited.example.net');
  await h.screenshot(page, '42-edit-form');
  await h.assertNotCovered(form.getByRole('button', { name: 'Save', exact: true }), 'Save');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  const s = await h.getObject(server, SESSION());
  assert.equal(s.description, 'after the edit');
  assert.equal(s.peer_id, 'edited.example.net');
  assert.equal(s.peer_address, '203.0.113.71');
  assert.equal(s.enabled, false);
  assert.equal(s._revision, before._revision + 1);
  const secret = await h.policy(server, 'GET', `${SESSION()}?action=show_sensitive_data`);
  assert.equal(secret.psk, PSK, 'the stored key was kept');
});

test('Edit: a concurrent change is reported, not overwritten', async () => {
  const { page, server } = fx;
  await h.rowAction(page, NAME, 'Edit');
  const form = h.panel(page, h.EDIT_SESSION_FORM);
  await h.expectValue(form.getByLabel('Description', { exact: true }), 'after the edit');
  // someone else changes the session meanwhile
  await h.policy(server, 'PATCH', SESSION(), { description: 'changed elsewhere' });
  await form.getByLabel('Description', { exact: true }).fill('my edit');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectVisible(form.getByRole('alert').first());
  await h.expectText(form.getByRole('alert').first(), /changed|modified|revision|reload|someone/i);
  await h.expectValue(form.getByLabel('Description', { exact: true }), 'my edit');
  assert.equal((await h.getObject(server, SESSION())).description, 'changed elsewhere');
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(form);
});

test('Delete asks first; Cancel keeps, Delete removes', async () => {
  const { page, server } = fx;
  await h.rowAction(page, NAME, 'Delete');
  let dialog = page.getByRole('dialog').or(page.getByRole('alertdialog')).filter({ hasText: NAME }).first();
  await h.expectVisible(dialog);
  await h.screenshot(page, '43-delete-confirmation');
  // the dialog traps focus
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press(i % 2 ? 'Shift+Tab' : 'Tab');
    await page.keyboard.press('Tab');
    assert.ok(await dialog.evaluate((d) => d.contains(document.activeElement)), 'focus stays in the dialog');
  }
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(dialog);
  assert.ok(await h.getObject(server, SESSION()), 'Cancel keeps the session');
  // Escape also cancels
  await h.rowAction(page, NAME, 'Delete');
  dialog = page.getByRole('dialog').or(page.getByRole('alertdialog')).filter({ hasText: NAME }).first();
  await h.expectVisible(dialog);
  await page.keyboard.press('Escape');
  await h.expectHidden(dialog);
  assert.ok(await h.getObject(server, SESSION()), 'Escape keeps the session');

  await h.rowAction(page, NAME, 'Delete');
  dialog = page.getByRole('dialog').or(page.getByRole('alertdialog')).filter({ hasText: NAME }).first();
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await h.expectHidden(dialog);
  await h.eventually(async () => {
    assert.equal(await h.getObject(server, SESSION()), undefined, 'the session is gone');
  });
  await h.expectCount(h.rowOf(h.table(page, 'IPSec Sessions'), NAME), 0);
  await h.expectText(page.getByRole('tabpanel').first(), /No IPSec sessions yet/i);
  h.assertNoPageErrors(fx.browser);
  h.assertRequestsSafe(fx.browser, fx.server);
});
