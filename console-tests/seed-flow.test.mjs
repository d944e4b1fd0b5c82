// The seed page's flow, by clicking and typing: VPN Services > Add VPN Service > Save >
// "Continue configuring this IPSec service?" Yes > Add IPSec Session - Route Based with the
// service chosen, the seed's fields in the seed's order (the local endpoint made inline from
// the form), Save, and the read-only row.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

let fx;
before(async () => { fx = await h.startAll(); });
after(async () => { await fx?.stop(); });

const LOCAL = '198.51.100.41';
const REMOTE = '203.0.113.41';
const PSK = 'seed-flow-psk-Xq7!';

test('the seed flow: service, continue prompt, route-based session, read-only row', async () => {
  const { page, server } = fx;
  h.assertNotLocal(LOCAL);
  h.assertNotLocal(REMOTE);
  await h.login(page, server);

  // 1. VPN Services > Add VPN Service
  await h.openTab(page, 'VPN Services');
  await page.getByRole('button', { name: 'Add VPN Service', exact: true }).first().click();
  const svcForm = h.panel(page, 'Add IPSec Service');
  await h.expectVisible(svcForm);
  await svcForm.getByLabel('Name', { exact: true }).fill('seed-vpn');
  // a fresh gateway has no tier-0 yet: the form's inline Add Gateway makes one and selects it
  await svcForm.getByRole('button', { name: 'Add Gateway', exact: true }).click();
  const gwForm = h.panel(page, 'Add Gateway');
  await h.expectVisible(gwForm);
  await gwForm.getByLabel('Name', { exact: true }).fill('t0-edge');
  await gwForm.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(gwForm);
  await h.expectSelected(svcForm.getByLabel('Tier-0/Tier-1 Gateway', { exact: true }), /t0-edge/);
  await h.expectValue(svcForm.getByLabel('Name', { exact: true }), 'seed-vpn');
  const gw = await h.getObject(server, '/infra/tier-0s/t0-edge');
  assert.equal(gw?.ha_mode, 'ACTIVE_STANDBY', 'Add Gateway made an active-standby tier-0');
  await h.expectSelected(svcForm.getByLabel('IKE Log Level', { exact: true }), /info/i);
  await h.screenshot(page, '10-service-form');
  await svcForm.getByRole('button', { name: 'Save', exact: true }).click();

  // 2. the "continue?" prompt
  const prompt = page.getByRole('alertdialog').or(page.getByRole('dialog'))
    .filter({ hasText: 'Continue configuring this IPSec service?' }).first();
  await h.expectVisible(prompt);
  await h.expectVisible(prompt.getByRole('button', { name: 'No', exact: true }));
  await h.screenshot(page, '11-continue-prompt');
  await prompt.getByRole('button', { name: 'Yes', exact: true }).click();

  // 3. Add IPSec Session - Route Based, with the service chosen
  const form = h.panel(page, h.SESSION_FORM);
  await h.expectVisible(form);
  await h.expectSelected(form.getByLabel('VPN Service', { exact: true }), 'seed-vpn');

  // required fields are marked
  for (const label of ['Name', 'VPN Service', 'Local Endpoint', 'Remote IP', 'Tunnel Interface', 'Pre-shared Key']) {
    await h.expectAttr(form.getByLabel(label, { exact: true }), 'aria-required', 'true');
  }

  // the seed's fields in the seed's order
  const order = ['Name', 'VPN Service', 'Local Endpoint', 'Remote IP', 'Description', 'Admin Status',
    'Compliance Suite', 'Tunnel Interface', 'Authentication Mode', 'Pre-shared Key', 'Remote ID', 'Tags'];
  const boxes = [];
  for (const label of order) {
    const box = await form.getByLabel(label, { exact: true }).boundingBox();
    assert.ok(box, `${label} is visible`);
    boxes.push({ label, x: box.x, y: box.y + box.height / 2 });
  }
  for (let i = 1; i < boxes.length; i++) {
    const [a, b] = [boxes[i - 1], boxes[i]];
    const sameRow = Math.abs(a.y - b.y) <= 12;
    assert.ok(sameRow ? b.x > a.x : b.y > a.y, `${b.label} comes after ${a.label}: ${JSON.stringify(boxes)}`);
  }
  const handles = [];
  for (const label of order) handles.push(await form.getByLabel(label, { exact: true }).elementHandle());
  const domOrder = await page.evaluate((els) => els.every((e, i) =>
    i === 0 || (els[i - 1].compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING)), handles);
  assert.ok(domOrder, 'the fields are in the seed\'s order for keyboard and screen readers too');

  // step 4: Name
  await form.getByLabel('Name', { exact: true }).fill('seed-session');
  // step 6: no endpoint yet: More actions for Local Endpoint > Add Local Endpoint
  await form.getByRole('button', { name: 'More actions for Local Endpoint', exact: true }).click();
  await h.openMenu(page).getByRole('menuitem', { name: 'Add Local Endpoint', exact: true }).click();
  const le = h.panel(page, 'Add Local Endpoint');
  await h.expectVisible(le);
  await le.getByLabel('Name', { exact: true }).fill('seed-endpoint');
  await h.expectSelected(le.getByLabel('VPN Service', { exact: true }), 'seed-vpn');
  await le.getByLabel('IP Address', { exact: true }).fill(LOCAL);
  await h.screenshot(page, '12-inline-local-endpoint');
  await le.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(le);
  await h.expectSelected(form.getByLabel('Local Endpoint', { exact: true }), /seed-endpoint/);
  // step 7-9
  await form.getByLabel('Remote IP', { exact: true }).fill(REMOTE);
  await form.getByLabel('Description', { exact: true }).fill('Branch office from the seed page');
  await h.expectText(form, '32/1024');
  const adminStatus = form.getByRole('switch', { name: 'Admin Status', exact: true });
  assert.equal(await adminStatus.isChecked(), true, 'Admin Status is Enabled by default');
  // step 10: compliance suite None by default
  await h.expectSelected(form.getByLabel('Compliance Suite', { exact: true }), /none/i);
  // step 11: tunnel interface
  await form.getByLabel('Tunnel Interface', { exact: true }).fill('169.254.10.1/30');
  // step 12: PSK by default
  await h.expectSelected(form.getByLabel('Authentication Mode', { exact: true }), /psk/i);
  // step 13: the key, masked, with a show toggle
  const psk = form.getByLabel('Pre-shared Key', { exact: true });
  await psk.fill(PSK);
  assert.equal(await psk.getAttribute('type'), 'password');
  const show = form.getByRole('button', { name: 'Show pre-shared key', exact: true });
  await h.expectAttr(show, 'aria-pressed', 'false');
  await show.click();
  await h.expectAttr(show, 'aria-pressed', 'true');
  assert.equal(await psk.getAttribute('type'), 'text');
  await show.click();
  await h.expectAttr(show, 'aria-pressed', 'false');
  assert.equal(await psk.getAttribute('type'), 'password');
  // step 14-15
  await form.getByLabel('Remote ID', { exact: true }).fill(REMOTE);
  await form.getByLabel('Tags', { exact: true }).fill('site:branch-7, prod');
  // Advanced Properties: collapsed by default
  await h.expectAttr(form.getByRole('button', { name: 'Advanced Properties', exact: true }), 'aria-expanded', 'false');
  await h.screenshot(page, '13-session-form-filled');
  await h.assertNoHorizontalScroll(page, 'session form');
  // step 19: Save (the toasts of the inline saves do not cover the form's buttons)
  await h.assertNotCovered(form.getByRole('button', { name: 'Save', exact: true }), 'Save');
  await h.assertNotCovered(form.getByRole('button', { name: 'Cancel', exact: true }), 'Cancel');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);

  // the read-only row
  const row = h.rowOf(h.table(page, 'IPSec Sessions'), 'seed-session');
  await h.expectVisible(row);
  for (const text of ['seed-vpn', REMOTE, 'seed-endpoint', '169.254.10.1/30', 'Enabled']) {
    await h.expectText(row, text);
  }
  await h.expectCount(row.locator('input, select, textarea, [contenteditable=true]'), 0);
  await h.screenshot(page, '14-session-row');

  // what the API stored
  const svc = '/infra/tier-0s/t0-edge/ipsec-vpn-services';
  const services = await h.policy(server, 'GET', svc);
  assert.equal(services.result_count, 1);
  const service = services.results[0];
  assert.equal(service.display_name, 'seed-vpn');
  assert.equal(service.enabled, true);
  assert.equal(service.ike_log_level, 'INFO');
  const endpoints = await h.policy(server, 'GET', `${service.path}/local-endpoints`);
  assert.equal(endpoints.result_count, 1);
  assert.equal(endpoints.results[0].display_name, 'seed-endpoint');
  assert.equal(endpoints.results[0].local_address, LOCAL);
  const sessions = await h.policy(server, 'GET', `${service.path}/sessions`);
  assert.equal(sessions.result_count, 1);
  const s = sessions.results[0];
  assert.equal(s.id, 'seed-session');
  assert.equal(s.display_name, 'seed-session');
  assert.equal(s.resource_type, 'RouteBasedIPSecVpnSession');
  assert.equal(s.local_endpoint_path, endpoints.results[0].path);
  assert.equal(s.peer_address, REMOTE);
  assert.equal(s.peer_id, REMOTE);
  assert.equal(s.description, 'Branch office from the seed page');
  assert.equal(s.enabled, true);
  assert.equal(s.compliance_suite, 'NONE');
  assert.equal(s.authentication_mode, 'PSK');
  assert.deepEqual(s.tunnel_interfaces[0].ip_subnets, [{ ip_addresses: ['169.254.10.1'], prefix_length: 30 }]);
  assert.deepEqual(
    s.tags.map((t) => [t.scope ?? '', t.tag]).sort(),
    [['', 'prod'], ['site', 'branch-7']],
  );
  assert.equal(s.connection_initiation_mode, 'INITIATOR');
  assert.match(s.ike_profile_path, /nsx-default-l3vpn-ike-profile$/);
  const secret = await h.policy(server, 'GET', `${s.path}?action=show_sensitive_data`);
  assert.equal(secret.psk, PSK);
  h.assertNoPageErrors(fx.browser);
  h.assertRequestsSafe(fx.browser, server);
  assert.ok(fx.browser.requests.filter((r) => r.method === 'PUT').length >= 2, 'the saves went through the API');
});

test('No at the continue prompt stays on VPN Services with the new service listed', async () => {
  const { page, server } = fx;
  await h.resetPage(page, server);
  await h.policy(server, 'PATCH', '/infra/tier-0s/t0-second', { display_name: 't0-second' });
  await h.openTab(page, 'VPN Services');
  await page.getByRole('button', { name: 'Add VPN Service', exact: true }).first().click();
  const svcForm = h.panel(page, 'Add IPSec Service');
  await svcForm.getByLabel('Name', { exact: true }).fill('second-vpn');
  await h.chooseOption(svcForm.getByLabel('Tier-0/Tier-1 Gateway', { exact: true }), 't0-second');
  await svcForm.getByRole('button', { name: 'Save', exact: true }).click();
  const prompt = page.getByRole('alertdialog').or(page.getByRole('dialog'))
    .filter({ hasText: 'Continue configuring this IPSec service?' }).first();
  await prompt.getByRole('button', { name: 'No', exact: true }).click();
  await h.expectHidden(prompt);
  await h.expectCount(h.panel(page, h.SESSION_FORM), 0);
  await h.expectVisible(h.rowOf(h.table(page, 'VPN Services'), 'second-vpn'));
  const svc = await h.getObject(server, '/infra/tier-0s/t0-second/ipsec-vpn-services/second-vpn');
  assert.equal(svc?.display_name, 'second-vpn');
});
