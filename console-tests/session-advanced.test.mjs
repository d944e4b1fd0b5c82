// A route-based session with Advanced Properties (profiles, one made inline from the form,
// Respond Only, TCP MSS clamping), checked through the API; the expanded row and its status
// against detailed-status; the compliance-suite locks.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

let fx;
let paths;
before(async () => {
  fx = await h.startAll();
  paths = await h.seedServiceAndEndpoint(fx.server, { address: '198.51.100.51' });
  // profiles made beforehand, to be chosen in the form
  await h.policy(fx.server, 'PUT', '/infra/ipsec-vpn-tunnel-profiles/tun-branch', {
    resource_type: 'IPSecVpnTunnelProfile', display_name: 'tun-branch',
    encryption_algorithms: ['AES_GCM_256'], dh_groups: ['GROUP19'], sa_life_time: 7200,
  });
  await h.policy(fx.server, 'PUT', '/infra/ipsec-vpn-dpd-profiles/dpd-branch', {
    resource_type: 'IPSecVpnDpdProfile', display_name: 'dpd-branch', dpd_probe_interval: 30, retry_count: 5,
  });
  await h.login(fx.page, fx.server);
});
after(async () => { await fx?.stop(); });
// each test starts from a freshly loaded page (a failed test leaves no dialog behind)
beforeEach(async () => {
  await h.resetPage(fx.page, fx.server);
});

const NAME = 'adv-session';
const SESSION = () => `${paths.service}/sessions/${NAME}`;

test('Advanced Properties: profiles (one made inline), Respond Only, TCP MSS; stored exactly', async () => {
  const { page, server } = fx;
  const form = await h.openAddSessionForm(page);
  await form.getByLabel('Name', { exact: true }).fill(NAME);
  await h.chooseOption(form.getByLabel('VPN Service', { exact: true }), 'svc');
  await h.chooseOption(form.getByLabel('Local Endpoint', { exact: true }), 'le1');
  await form.getByLabel('Remote IP', { exact: true }).fill('203.0.113.51');
  await form.getByLabel('Tunnel Interface', { exact: true }).fill('169.254.60.1/30');
  await form.getByLabel('Pre-shared Key', { exact: true }).fill('advanced-psk-123');
  await form.getByLabel('Remote ID', { exact: true }).fill('branch51.example.net');

  const adv = form.getByRole('button', { name: 'Advanced Properties', exact: true });
  await h.expectAttr(adv, 'aria-expanded', 'false');
  await adv.click();
  await h.expectAttr(adv, 'aria-expanded', 'true');
  const ike = form.getByLabel('IKE Profiles', { exact: true });
  const ipsec = form.getByLabel('IPSec Profiles', { exact: true });
  const dpd = form.getByLabel('DPD Profiles', { exact: true });
  await h.expectSelected(ike, /nsx-default-l3vpn-ike-profile/);
  await h.expectSelected(ipsec, /nsx-default-l3vpn-tunnel-profile/);
  await h.expectSelected(dpd, /nsx-default-l3vpn-dpd-profile/);

  // a new IKE profile, inline; it gets selected
  await form.getByRole('button', { name: 'More actions for IKE Profiles', exact: true }).click();
  await h.openMenu(page).getByRole('menuitem', { name: 'Add IKE Profile', exact: true }).click();
  const ikeForm = h.panel(page, 'Add IKE Profile');
  await h.expectVisible(ikeForm);
  await ikeForm.getByLabel('Name', { exact: true }).fill('ike-branch');
  await ikeForm.getByLabel('SA Lifetime (seconds)', { exact: true }).fill('28800');
  await h.screenshot(page, '20-inline-ike-profile');
  await ikeForm.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(ikeForm);
  await h.expectSelected(ike, /ike-branch/);
  const made = await h.getObject(server, '/infra/ipsec-vpn-ike-profiles/ike-branch');
  assert.equal(made?.sa_life_time, 28800);

  await h.chooseOption(ipsec, 'tun-branch');
  await h.chooseOption(dpd, 'dpd-branch');

  // Connection Initiation Mode: Initiator by default, On Demand disabled with the seed's reason
  const mode = form.getByLabel('Connection Initiation Mode', { exact: true });
  await h.expectSelected(mode, 'Initiator');
  const modes = await h.optionsOf(mode);
  assert.deepEqual(modes.map((o) => o.text), ['Initiator', 'On Demand', 'Respond Only']);
  assert.equal(modes[1].disabled, true, 'On Demand is disabled');
  await h.expectText(form, 'Do not use with the route-based VPN');
  await h.chooseOption(mode, 'Respond Only');

  // TCP MSS Clamping
  const mss = form.getByRole('switch', { name: 'TCP MSS Clamping', exact: true });
  assert.equal(await mss.isChecked(), false);
  await mss.click();
  assert.equal(await mss.isChecked(), true);
  const direction = form.getByLabel('TCP MSS Direction', { exact: true });
  assert.deepEqual((await h.optionsOf(direction)).map((o) => o.text),
    ['None', 'Inbound Connection', 'Outbound Connection', 'Both']);
  await h.chooseOption(direction, 'Both');
  await form.getByLabel('TCP MSS Value', { exact: true }).fill('1360');
  await h.screenshot(page, '21-session-form-advanced');
  await h.assertNoHorizontalScroll(page, 'session form with Advanced Properties');

  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);

  const s = await h.getObject(server, SESSION());
  assert.ok(s, 'the session was stored');
  assert.equal(s.ike_profile_path, '/infra/ipsec-vpn-ike-profiles/ike-branch');
  assert.equal(s.tunnel_profile_path, '/infra/ipsec-vpn-tunnel-profiles/tun-branch');
  assert.equal(s.dpd_profile_path, '/infra/ipsec-vpn-dpd-profiles/dpd-branch');
  assert.equal(s.connection_initiation_mode, 'RESPOND_ONLY');
  assert.deepEqual(s.tcp_mss_clamping, { direction: 'BOTH', max_segment_size: 1360 });
  assert.equal(s.peer_id, 'branch51.example.net');
  assert.equal(s.compliance_suite, 'NONE');
  assert.equal(s.authentication_mode, 'PSK');
  h.assertNoPageErrors(fx.browser);
});

test('the row: its fields when expanded, and the same status as detailed-status', async () => {
  const { page, server } = fx;
  await h.openTab(page, 'IPSec Sessions');
  const t = h.table(page, 'IPSec Sessions');
  const row = h.rowOf(t, NAME);
  await h.expectVisible(row);

  // Status column = runtime status and fail reason of detailed-status (refreshed every 5 s)
  const statusCol = await t.getByRole('columnheader').evaluateAll(
    (els) => els.findIndex((e) => e.textContent.trim() === 'Status'));
  assert.ok(statusCol >= 0, 'a Status column');
  const cell = row.getByRole('cell').nth(statusCol);
  let api;
  await h.eventually(async () => {
    api = await h.policy(server, 'GET', `${SESSION()}/detailed-status`);
    const want = h.statusText(api);
    const shown = (await cell.innerText()).trim();
    assert.ok(shown.replace(/\s+/g, ' ').startsWith(want), `row shows "${shown}", detailed-status says "${want}"`);
  }, 15_000);
  assert.equal(api.results[0].runtime_status, 'DOWN', 'no peer: Down');

  // expand: every field, advanced ones included, and the status details
  const expand = page.getByRole('button', { name: `Expand ${NAME}`, exact: true });
  await h.expectAttr(expand, 'aria-expanded', 'false');
  await expand.click();
  await h.expectAttr(expand, 'aria-expanded', 'true');
  const controls = await expand.getAttribute('aria-controls');
  const details = controls ? page.locator(`[id="${controls}"]`) : t;
  for (const text of ['203.0.113.51', 'branch51.example.net', '169.254.60.1/30', 'le1', 'svc',
    'ike-branch', 'tun-branch', 'dpd-branch', 'Respond Only', '1360', 'PSK']) {
    await h.expectText(details, text);
  }
  await h.expectText(details, /Both/);
  const alarm = api.results[0].alarm?.message;
  if (alarm) await h.expectText(details, alarm.slice(0, 40));
  await h.assertNoHorizontalScroll(page, 'expanded row');
  await h.screenshot(page, '22-session-row-expanded');
  await expand.click();
  await h.expectAttr(expand, 'aria-expanded', 'false');
  h.assertNoPageErrors(fx.browser);
});

test('Add IPSec Session > Policy Based is disabled, saying why', async () => {
  const { page } = fx;
  await h.openTab(page, 'IPSec Sessions');
  const add = page.getByRole('button', { name: 'Add IPSec Session', exact: true }).first();
  await add.click();
  const policyBased = h.openMenu(page).getByRole('menuitem', { name: 'Policy Based', exact: true });
  await h.expectVisible(policyBased);
  const items = await h.menuItems(page);
  assert.deepEqual(items.map((i) => [i.name, i.disabled]), [['Route Based', false], ['Policy Based', true]]);
  assert.match(await h.describedBy(policyBased), /Policy-based sessions are not supported by strait/);
  await policyBased.click({ force: true });
  await h.expectCount(page.getByRole('dialog'), 0);
  await page.keyboard.press('Escape');
  await h.expectHidden(h.openMenu(page));
});

test('a compliance suite locks Authentication Mode, PSK and the IKE/IPSec profiles; None unlocks', async () => {
  const { page } = fx;
  const form = await h.openAddSessionForm(page);
  await form.getByLabel('Name', { exact: true }).fill('suite-session');
  await form.getByRole('button', { name: 'Advanced Properties', exact: true }).click();
  const auth = form.getByLabel('Authentication Mode', { exact: true });
  const ike = form.getByLabel('IKE Profiles', { exact: true });
  const ipsec = form.getByLabel('IPSec Profiles', { exact: true });
  const dpd = form.getByLabel('DPD Profiles', { exact: true });
  const pskField = form.getByLabel('Pre-shared Key', { exact: true });
  await h.expectVisible(pskField);

  await h.chooseOption(form.getByLabel('Compliance Suite', { exact: true }), /^cnsa$/i);
  await h.expectSelected(auth, /certificate/i);
  await h.expectDisabled(auth);
  await h.expectHidden(pskField);
  await h.expectSelected(ike, /cnsa-ipsec-ike-profile/);
  await h.expectDisabled(ike);
  await h.expectSelected(ipsec, /cnsa-ipsec-tunnel-profile/);
  await h.expectDisabled(ipsec);
  await h.expectEnabled(dpd);
  // saying why, next to each locked field
  for (const field of [auth, ike, ipsec]) {
    assert.match(await h.describedBy(field), /set by the compliance suite/i, `${field}: why it is locked`);
  }
  // the Remote ID hint follows the mode: CN or DN for certificates
  assert.match(await h.describedBy(form.getByLabel('Remote ID', { exact: true })), /\bCN\b|\bDN\b/);
  await h.assertNoHorizontalScroll(page, 'compliance-suite locks');
  await h.screenshot(page, '23-compliance-suite-locks');
  await ipsec.scrollIntoViewIfNeeded();
  await h.screenshot(page, '24-compliance-suite-locked-profiles');

  // another suite: its own profiles
  await h.chooseOption(form.getByLabel('Compliance Suite', { exact: true }), /suite[-_ ]b[-_ ]gcm[-_ ]256/i);
  await h.expectSelected(ike, /suite-b-gcm-256-ipsec-ike-profile/);
  await h.expectSelected(ipsec, /suite-b-gcm-256-ipsec-tunnel-profile/);

  // back to None
  await h.chooseOption(form.getByLabel('Compliance Suite', { exact: true }), /^none$/i);
  await h.expectEnabled(auth);
  await h.expectSelected(auth, /psk/i);
  await h.expectVisible(pskField);
  assert.match(await h.describedBy(form.getByLabel('Remote ID', { exact: true })), /FQDN/);
  await h.expectEnabled(ike);
  await h.expectEnabled(ipsec);
  await h.expectSelected(ike, /nsx-default-l3vpn-ike-profile/);
  await h.expectSelected(ipsec, /nsx-default-l3vpn-tunnel-profile/);
  await h.expectHidden(form.getByText('set by the compliance suite').first());

  // Cancel closes without saving
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(form);
  assert.equal(await h.getObject(fx.server, `${paths.service}/sessions/suite-session`), undefined);
  h.assertNoPageErrors(fx.browser);
});
