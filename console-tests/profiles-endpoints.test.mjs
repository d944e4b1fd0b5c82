// The Local Endpoints and Profiles tabs: add (with the same validation feedback as the session
// form), edit and delete through the row menu, system-owned profiles read-only; each checked
// through the API.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

let fx;
let paths;
before(async () => {
  fx = await h.startAll();
  paths = await h.seedServiceAndEndpoint(fx.server, { address: '198.51.100.91' });
  await h.login(fx.page, fx.server);
});
after(async () => { await fx?.stop(); });
beforeEach(async () => { await h.resetPage(fx.page, fx.server); });

const field = (form, label) => form.getByLabel(label, { exact: true });

test('Local Endpoints: add with a bad IP address (message at the field), fix, save; delete', async () => {
  const { page, server } = fx;
  h.assertNotLocal('198.51.100.92');
  await h.openTab(page, 'Local Endpoints');
  await page.getByRole('button', { name: 'Add Local Endpoint', exact: true }).first().click();
  const form = h.panel(page, 'Add Local Endpoint');
  await h.expectVisible(form);
  await field(form, 'Name').fill('le-second');
  await h.chooseOption(field(form, 'VPN Service'), 'svc');
  await field(form, 'IP Address').fill('198.51.100.999');
  await field(form, 'Local ID').fill('gw2.example.net');
  await field(form, 'Description').fill('second endpoint');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectAttr(field(form, 'IP Address'), 'aria-invalid', 'true');
  assert.match(await h.describedBy(field(form, 'IP Address')), /198\.51\.100\.999|address/i);
  await h.expectValue(field(form, 'Local ID'), 'gw2.example.net');
  await h.expectValue(field(form, 'Description'), 'second endpoint');
  await h.screenshot(page, '60-local-endpoint-form-error');
  await field(form, 'IP Address').fill('198.51.100.92');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  const row = h.rowOf(h.table(page, 'Local Endpoints'), 'le-second');
  await h.expectVisible(row);
  await h.expectText(row, '198.51.100.92');
  await h.expectText(row, 'gw2.example.net');
  const le = await h.getObject(server, `${paths.service}/local-endpoints/le-second`);
  assert.equal(le.local_address, '198.51.100.92');
  assert.equal(le.local_id, 'gw2.example.net');
  assert.equal(le.description, 'second endpoint');

  await h.rowAction(page, 'le-second', 'Delete');
  const dialog = page.getByRole('dialog').filter({ hasText: 'le-second' }).first();
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await h.expectHidden(dialog);
  await h.eventually(async () => {
    assert.equal(await h.getObject(server, `${paths.service}/local-endpoints/le-second`), undefined);
  });
  await h.expectCount(h.rowOf(h.table(page, 'Local Endpoints'), 'le-second'), 0);
  h.assertNoPageErrors(fx.browser);
});

test('IPSec Profiles: add with checkbox groups, PFS and DF bit; stored exactly; edit; delete', async () => {
  const { page, server } = fx;
  await h.openTab(page, 'Profiles');
  await h.openTab(page, 'IPSec Profiles');
  await page.getByRole('button', { name: 'Add IPSec Profile', exact: true }).first().click();
  const form = h.panel(page, 'Add IPSec Profile');
  await h.expectVisible(form);
  await field(form, 'Name').fill('tun-aes256');
  const enc = form.getByRole('group', { name: 'Encryption Algorithms', exact: true });
  await enc.getByRole('checkbox', { name: 'AES_GCM_128', exact: true }).uncheck();
  await enc.getByRole('checkbox', { name: 'AES_256', exact: true }).check();
  await form.getByRole('group', { name: 'Digest Algorithms', exact: true })
    .getByRole('checkbox', { name: 'SHA2_384', exact: true }).check();
  const dh = form.getByRole('group', { name: 'Diffie-Hellman Groups', exact: true });
  await dh.getByRole('checkbox', { name: 'GROUP20', exact: true }).check();
  await dh.getByRole('checkbox', { name: 'GROUP14', exact: true }).uncheck();
  await field(form, 'SA Lifetime (seconds)').fill('7200');
  await h.chooseOption(field(form, 'DF Bit'), 'Clear');
  await h.screenshot(page, '61-ipsec-profile-form');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  await h.expectVisible(h.rowOf(h.table(page, 'IPSec Profiles'), 'tun-aes256'));
  const p = await h.getObject(server, '/infra/ipsec-vpn-tunnel-profiles/tun-aes256');
  assert.deepEqual(p.encryption_algorithms, ['AES_256']);
  assert.deepEqual(p.digest_algorithms, ['SHA2_384']);
  assert.deepEqual(p.dh_groups, ['GROUP20']);
  assert.equal(p.enable_perfect_forward_secrecy, true);
  assert.equal(p.sa_life_time, 7200);
  assert.equal(p.df_policy, 'CLEAR');

  // Edit: PFS off
  await h.rowAction(page, 'tun-aes256', 'Edit');
  const edit = page.getByRole('dialog').filter({ has: page.getByRole('switch', { name: 'PFS Group', exact: true }) }).first();
  await h.expectValue(field(edit, 'Name'), 'tun-aes256');
  await edit.getByRole('switch', { name: 'PFS Group', exact: true }).click();
  await edit.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(edit);
  await h.eventually(async () => {
    const q = await h.getObject(server, '/infra/ipsec-vpn-tunnel-profiles/tun-aes256');
    assert.equal(q.enable_perfect_forward_secrecy, false);
    assert.equal(q._revision, p._revision + 1);
  });

  // Delete
  await h.rowAction(page, 'tun-aes256', 'Delete');
  const dialog = page.getByRole('dialog').filter({ hasText: 'tun-aes256' }).first();
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await h.expectHidden(dialog);
  await h.eventually(async () => {
    assert.equal(await h.getObject(server, '/infra/ipsec-vpn-tunnel-profiles/tun-aes256'), undefined);
  });
  h.assertNoPageErrors(fx.browser);
});

test('DPD Profiles: an out-of-range interval is reported at its field; fixed, stored', async () => {
  const { page, server } = fx;
  await h.openTab(page, 'Profiles');
  await h.openTab(page, 'DPD Profiles');
  await page.getByRole('button', { name: 'Add DPD Profile', exact: true }).first().click();
  const form = h.panel(page, 'Add DPD Profile');
  await h.expectVisible(form);
  await field(form, 'Name').fill('dpd-fast');
  await h.chooseOption(field(form, 'DPD Probe Mode'), 'On Demand');
  await field(form, 'DPD Probe Interval (seconds)').fill('50');
  await field(form, 'Retry Count').fill('3');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectAttr(field(form, 'DPD Probe Interval (seconds)'), 'aria-invalid', 'true');
  assert.match(await h.describedBy(field(form, 'DPD Probe Interval (seconds)')), /10/);
  await h.expectValue(field(form, 'Retry Count'), '3');
  await h.screenshot(page, '62-dpd-profile-form-error');
  await field(form, 'DPD Probe Interval (seconds)').fill('5');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  await h.expectVisible(h.rowOf(h.table(page, 'DPD Profiles'), 'dpd-fast'));
  const d = await h.getObject(server, '/infra/ipsec-vpn-dpd-profiles/dpd-fast');
  assert.equal(d.dpd_probe_mode, 'ON_DEMAND');
  assert.equal(d.dpd_probe_interval, 5);
  assert.equal(d.retry_count, 3);
  assert.equal(d.enabled, true);
  h.assertNoPageErrors(fx.browser);
});

test('system-owned profiles are read-only: Edit and Delete disabled, saying why', async () => {
  const { page } = fx;
  await h.openTab(page, 'Profiles');
  await h.openTab(page, 'IKE Profiles');
  const row = h.rowOf(h.table(page, 'IKE Profiles'), 'nsx-default-l3vpn-ike-profile');
  await h.expectText(row, 'System');
  await page.getByRole('button', { name: 'Actions for nsx-default-l3vpn-ike-profile', exact: true }).click();
  for (const name of ['Edit', 'Delete']) {
    const item = h.openMenu(page).getByRole('menuitem', { name, exact: true });
    await h.expectAttr(item, 'aria-disabled', 'true');
    assert.match(await h.describedBy(item), /system|read-only/i);
  }
  await h.openMenu(page).getByRole('menuitem', { name: 'Delete', exact: true }).click({ force: true });
  await h.expectCount(page.getByRole('dialog'), 0);
});
