// An auditor sees everything read-only: no Add buttons, no Edit/Delete/Enable/Disable, no
// form to reach, and the PSK nowhere: not in the page, not in any response the page got,
// not in a downloaded configuration (masked by the API).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as h from './helpers.mjs';

let fx;
let paths;
let auditor;
const NAME = 'audited-session';
const PSK = 'AUDITOR-MUST-NOT-SEE-7f3kq9';
const responses = []; // bodies of every response the page received

before(async () => {
  fx = await h.startAll();
  paths = await h.seedServiceAndEndpoint(fx.server, { address: '198.51.100.81' });
  await h.createSession(fx.server, paths.service, paths.endpoint, NAME, {
    peer_address: '203.0.113.81', peer_id: '203.0.113.81', psk: PSK,
    tunnel_interfaces: [{ ip_subnets: [{ ip_addresses: ['169.254.90.1'], prefix_length: 30 }] }],
  });
  await h.policy(fx.server, 'PUT', '/infra/ipsec-vpn-ike-profiles/ike-audited', {
    resource_type: 'IPSecVpnIkeProfile', display_name: 'ike-audited',
  });
  auditor = await h.createAuditor(fx.server);
  fx.page.on('response', async (r) => {
    try { responses.push({ url: r.url(), body: await r.text() }); } catch { /* redirects, aborted */ }
  });
});
after(async () => { await fx?.stop(); });

async function assertNoPskInPage(page) {
  const content = await page.content();
  assert.ok(!content.includes(PSK), 'the PSK is not in the page');
  const values = await page.evaluate(() => [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\n'));
  assert.ok(!values.includes(PSK), 'the PSK is in no field');
  const storage = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
  assert.ok(!storage.includes(PSK), 'the PSK is not in the browser storage');
}

/** No way to change anything on the current screen. */
async function assertReadOnlyScreen(page, what) {
  const adds = await page.getByRole('button', { name: /^Add\b/ }).count();
  assert.equal(adds, 0, `${what}: no Add buttons`);
  const editable = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => !e.disabled && e.offsetParent !== null && e.type !== 'hidden' && e.type !== 'search')
    .map((e) => e.outerHTML.slice(0, 120)));
  assert.deepEqual(editable, [], `${what}: no editable field`);
}

test('the auditor sees the data read-only: no Add, no Edit/Delete/Disable, no forms', async () => {
  const { page, server } = fx;
  await h.login(page, server, auditor.username, auditor.password);
  await h.expectText(page.getByRole('banner'), 'aud');
  await h.expectText(page.getByRole('banner'), 'auditor');

  // every tab and profile tab: no Add button, no editable field, no enabled change in a row menu
  const screens = [
    ['VPN Services', null, 'svc'],
    ['Local Endpoints', null, 'le1'],
    ['Profiles', 'IKE Profiles', 'ike-audited'],
    ['Profiles', 'IPSec Profiles', 'nsx-default-l3vpn-tunnel-profile'],
    ['Profiles', 'DPD Profiles', 'nsx-default-l3vpn-dpd-profile'],
  ];
  for (const [tab, sub, name] of screens) {
    await h.openTab(page, tab);
    if (sub) await h.openTab(page, sub);
    const t = h.table(page, sub ?? tab);
    await h.expectVisible(h.rowOf(t, name));
    await assertReadOnlyScreen(page, sub ?? tab);
    const menus = t.getByRole('button', { name: /^Actions for / });
    for (let i = 0; i < await menus.count(); i++) {
      await menus.nth(i).click();
      const items = await h.menuItems(page);
      const changes = items.filter((it) => ['Edit', 'Delete', 'Enable', 'Disable'].includes(it.name) && !it.disabled);
      assert.deepEqual(changes, [], `${sub ?? tab}: row menu ${i} offers changes`);
      await page.keyboard.press('Escape');
      await h.expectHidden(h.openMenu(page));
    }
  }

  await h.openTab(page, 'IPSec Sessions');
  const row = h.rowOf(h.table(page, 'IPSec Sessions'), NAME);
  await h.expectVisible(row);
  await assertReadOnlyScreen(page, 'IPSec Sessions');
  await page.getByRole('button', { name: `Actions for ${NAME}`, exact: true }).click();
  const items = (await h.menuItems(page)).map((i) => i.name);
  assert.deepEqual(items, ['Download Config'], 'auditors get only Download Config');
  await page.keyboard.press('Escape');
  await h.expectHidden(h.openMenu(page));

  await page.getByRole('button', { name: `Expand ${NAME}`, exact: true }).click();
  await h.expectText(h.table(page, 'IPSec Sessions'), '169.254.90.1/30');
  await h.screenshot(page, '50-auditor-view');
  await h.assertNoHorizontalScroll(page, 'auditor view');

  // forms are not reachable by URL either
  for (const hash of ['#/vpn/sessions/new', '#/vpn/sessions/add', `#/vpn/sessions/${NAME}/edit`, '#/vpn/services/new']) {
    await page.goto(`${server.url}/${hash}`);
    await h.expectVisible(page.getByRole('heading', { name: 'VPN', exact: true }));
    await h.expectCount(page.getByRole('dialog'), 0);
    await assertReadOnlyScreen(page, hash);
  }
  await assertNoPskInPage(page);
  h.assertNoPageErrors(fx.browser);
});

test('the auditor\'s downloaded configuration has the PSK masked', async () => {
  const { page, server } = fx;
  await h.openTab(page, 'IPSec Sessions');
  await h.rowAction(page, NAME, 'Download Config');
  const dialog = page.getByRole('dialog').or(page.getByRole('alertdialog'))
    .filter({ has: page.getByRole('button', { name: 'Download', exact: true }) }).first();
  // the warning dialog is optional for an auditor (the key is masked)
  const downloadP = page.waitForEvent('download', { timeout: h.STEP_TIMEOUT });
  const first = await Promise.race([
    downloadP.then(() => 'download'),
    dialog.waitFor().then(() => 'dialog', () => 'none'),
  ]);
  if (first === 'dialog') await dialog.getByRole('button', { name: 'Download', exact: true }).click();
  const download = await downloadP;
  assert.equal(download.suggestedFilename(), `${NAME}.txt`);
  const text = readFileSync(await download.path(), 'utf8');
  assert.ok(text.includes('# Suggestive peer configuration'), 'the NSX header');
  assert.ok(!text.includes(PSK), 'no PSK in the download');
  assert.match(text, /<hidden>/, 'the PSK is masked');
  await assertNoPskInPage(page);
  // nothing the page received holds the PSK
  const leaked = responses.filter((r) => r.body.includes(PSK)).map((r) => r.url);
  assert.deepEqual(leaked, [], 'responses holding the PSK');
  // and the auditor really cannot do more through the API the console uses
  const r = await h.api(server, 'GET', `/policy/api/v1${paths.service}/sessions/${NAME}?action=show_sensitive_data`,
    undefined, { user: auditor.username, password: auditor.password });
  assert.equal(r.status, 403);
});
