// Networking > Tier-0 Gateways: the gateways with their BGP, a gateway's BGP tab (Edit BGP
// stored exactly; BGP neighbors added, edited and deleted, with their write-only password;
// the API's validation errors next to the fields; the Status column as neighbors/status
// says, refreshed in place), route redistribution, the routing table, and an auditor's
// read-only view. Each change is checked through the API.
//
// straitd runs with `--bird /nonexistent/bird`: BIRD never starts, so no BGP session is
// attempted from the host; the neighbors' status says why (whatever the API reports is what
// the page must show).

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

let fx;
let paths;
const T0 = '/infra/tier-0s/t0';
const LS = `${T0}/locale-services/default`;
const BGP = `${LS}/bgp`;
const NEIGHBORS = `${BGP}/neighbors`;
const VTI = '169.254.61.1'; // the session's tunnel interface (169.254.61.1/30)
const PEER_A = { name: 'peer-a', ip: '169.254.61.2', as: '65062' };
const PEER_B = { name: 'peer-b', ip: '169.254.62.2', as: '65063' };
const PASSWORD = 'BGP-md5-Secret-61xq';
const responses = []; // bodies of every response the page received
const neighborPuts = []; // {url, body} of every PUT of a BGP neighbor the page sent

before(async () => {
  fx = await h.startAll({ args: ['--bird', '/nonexistent/bird'] });
  for (const a of [VTI, PEER_A.ip, PEER_B.ip]) h.assertNotLocal(a);
  paths = await h.seedServiceAndEndpoint(fx.server, { address: '198.51.100.61' });
  await h.createSession(fx.server, paths.service, paths.endpoint, 'bgp-session', {
    peer_address: '203.0.113.61', peer_id: '203.0.113.61',
    tunnel_interfaces: [{ ip_subnets: [{ ip_addresses: [VTI], prefix_length: 30 }] }],
  });
  // a second tier-0 without BGP (the chooser and the list have two)
  await h.policy(fx.server, 'PATCH', '/infra/tier-0s/t0-other', { display_name: 't0-other' });
  fx.page.on('request', (r) => {
    if (r.method() === 'PUT' && r.url().includes('/bgp/neighbors/')) neighborPuts.push({ url: r.url(), body: JSON.parse(r.postData() || '{}') });
  });
  fx.page.on('response', async (r) => {
    try { responses.push({ url: r.url(), body: await r.text() }); } catch { /* redirects, aborted */ }
  });
  await h.login(fx.page, fx.server);
});
after(async () => { await fx?.stop(); });
// each test starts from a freshly loaded page (a failed test leaves no dialog behind)
beforeEach(async () => {
  await h.resetPage(fx.page, fx.server);
});

const bgpUrl = () => `${fx.server.url}/#/tier0/bgp?gateway=t0`;
const neighborsTable = (page) => h.table(page, 'BGP Neighbors');
const region = (page, name) => page.getByRole('region', { name, exact: true });

/** Open the BGP tab of t0 by its URL (reload-safe) and wait for the neighbors table. */
async function openBgp(page) {
  await page.goto(bgpUrl());
  await h.expectVisible(page.getByRole('tab', { name: 'BGP', exact: true, selected: true }));
  await h.expectVisible(neighborsTable(page));
}

/** The neighbor's status text the page must show, from a neighbors/status entry. */
function expectedStatus(st) {
  const words = {
    ESTABLISHED: 'Established', IDLE: 'Idle', CONNECT: 'Connect', ACTIVE: 'Active', OPEN_SENT: 'Open Sent',
    OPEN_CONFIRM: 'Open Confirm', INVALID: 'Invalid', UNKNOWN: 'Unknown',
  };
  const word = words[st.connection_state];
  assert.ok(word, `a connection_state the console knows: ${st.connection_state}`);
  const reason = st.connection_state === 'ESTABLISHED' ? null : (st.last_error || st.alarm);
  return reason ? `${word} - ${reason}` : word;
}

async function statusOf(server, name) {
  const r = await h.policy(server, 'GET', `${NEIGHBORS}/status`);
  const st = r.results.find((x) => x.neighbor_path === `${NEIGHBORS}/${name}`);
  assert.ok(st, `neighbors/status has ${name}`);
  return st;
}

/** Assert the field is marked invalid with a visible message (matching `re`) linked to it. */
async function assertFieldError(form, label, re) {
  const field = form.getByLabel(label, { exact: true });
  await h.expectAttr(field, 'aria-invalid', 'true');
  const message = await h.describedBy(field);
  assert.match(message, re, `${label}: message linked by aria-describedby`);
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
    assert.ok(v === null || v === 'false', `${label}: aria-invalid=${v}`);
  });
}

/** The password is in no page, field, storage or response the page received. */
async function assertPasswordNowhere(page) {
  const content = await page.content();
  assert.ok(!content.includes(PASSWORD), 'the password is not in the page');
  const values = await page.evaluate(() => [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\n'));
  assert.ok(!values.includes(PASSWORD), 'the password is in no field');
  const storage = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
  assert.ok(!storage.includes(PASSWORD), 'the password is not in the browser storage');
  const leaked = responses.filter((r) => r.body.includes(PASSWORD)).map((r) => r.url);
  assert.deepEqual(leaked, [], 'no response the page received holds the password');
}

test('navigation: Networking > Tier-0 Gateways, the gateways table, a gateway\'s BGP tab (empty), reload-safe', async () => {
  const { page, server } = fx;
  const nav = page.getByRole('navigation');
  const link = nav.getByRole('link', { name: 'Tier-0 Gateways', exact: true });
  await link.click();
  await h.expectVisible(page.getByRole('heading', { name: 'Tier-0 Gateways', exact: true, level: 1 }));
  await h.expectAttr(link, 'aria-current', 'page');
  await h.expectAttr(nav.getByRole('link', { name: 'VPN', exact: true }), 'aria-current', null);
  // both links are under the one Networking heading
  const networking = nav.getByRole('list', { name: 'Networking', exact: true });
  await h.expectVisible(networking.getByRole('link', { name: 'Tier-0 Gateways', exact: true }));
  await h.expectVisible(networking.getByRole('link', { name: 'VPN', exact: true }));
  assert.equal(await nav.getByRole('heading', { name: 'Networking', exact: true }).count(), 1);
  assert.equal(await page.evaluate(() => location.hash), '#/tier0/gateways');
  for (const name of ['Tier-0 Gateways', 'BGP', 'Routing Table']) {
    await h.expectVisible(page.getByRole('tablist').getByRole('tab', { name, exact: true }));
  }

  const t = h.table(page, 'Tier-0 Gateways');
  for (const c of ['Name', 'HA Mode', 'Local AS', 'BGP', 'BGP Neighbors']) {
    await h.expectVisible(t.getByRole('columnheader', { name: c, exact: true }));
  }
  const row = h.rowOf(t, 't0');
  await h.expectText(row, 'Active Standby');
  await h.expectText(row, 'Not configured (no local AS)');
  await h.expectText(row, '0 neighbors');
  await h.expectVisible(h.rowOf(t, 't0-other'));
  await h.expectVisible(page.getByRole('button', { name: 'Add Gateway', exact: true }).first());
  await h.assertNoHorizontalScroll(page, 'Tier-0 Gateways');
  await h.screenshot(page, '60-tier0-gateways');

  // the row menu leads to the gateway's BGP tab
  await page.getByRole('button', { name: 'Actions for t0', exact: true }).click();
  assert.deepEqual((await h.menuItems(page)).map((i) => i.name), ['BGP', 'Routing Table']);
  await h.openMenu(page).getByRole('menuitem', { name: 'BGP', exact: true }).click();
  await h.expectVisible(page.getByRole('tab', { name: 'BGP', exact: true, selected: true }));
  assert.equal(await page.evaluate(() => location.hash), '#/tier0/bgp?gateway=t0');
  await h.expectSelected(page.getByLabel('Tier-0 Gateway', { exact: true }), 't0');
  await h.expectText(region(page, 'BGP Configuration'), 'BGP is not running on t0');
  await h.expectText(region(page, 'BGP Configuration'), /Local AS\s*Not set/);
  const neighbors = neighborsTable(page);
  for (const c of ['Name', 'IP Address', 'Remote AS', 'BFD', 'Status', 'Routes Received', 'Routes Advertised']) {
    await h.expectVisible(neighbors.getByRole('columnheader', { name: c, exact: true }));
  }
  await h.expectText(neighbors, 'No BGP neighbors yet');
  await h.expectText(neighbors, /Set the local AS of t0 with Edit BGP/);
  await h.expectVisible(region(page, 'Route Redistribution'));
  await h.assertNoHorizontalScroll(page, 'BGP (empty)');
  await h.screenshot(page, '61-bgp-empty');

  // reload: the same gateway's BGP tab; the BGP tab keeps the gateway when going to Routing Table
  await page.reload();
  await h.expectVisible(page.getByRole('tab', { name: 'BGP', exact: true, selected: true }));
  await h.expectSelected(page.getByLabel('Tier-0 Gateway', { exact: true }), 't0');
  await h.openTab(page, 'Routing Table');
  assert.equal(await page.evaluate(() => location.hash), '#/tier0/routing?gateway=t0');
  await h.expectSelected(page.getByLabel('Tier-0 Gateway', { exact: true }), 't0');
  // choosing the other gateway changes the URL
  await page.getByLabel('Tier-0 Gateway', { exact: true }).selectOption('t0-other');
  await h.eventually(async () => assert.equal(await page.evaluate(() => location.hash), '#/tier0/routing?gateway=t0-other'));
  await h.expectSelected(page.getByLabel('Tier-0 Gateway', { exact: true }), 't0-other');
  await h.expectFocused(page.getByLabel('Tier-0 Gateway', { exact: true })); // redrawn, the focus kept
  // the BGP counts of the list come from the API
  const st = await h.policy(server, 'GET', `${NEIGHBORS}/status`);
  assert.equal(st.result_count, 0);
  h.assertNoPageErrors(fx.browser);
});

test('Edit BGP: the values are stored exactly; the API\'s errors appear next to the fields', async () => {
  const { page, server } = fx;
  await openBgp(page);
  const before = await h.getObject(server, BGP);
  await page.getByRole('button', { name: 'Edit BGP', exact: true }).click();
  let form = h.panel(page, 'Edit BGP');
  await h.expectVisible(form);
  // filled from the API: the defaults
  await h.expectValue(form.getByLabel('Local AS', { exact: true }), '');
  assert.equal(await form.getByRole('switch', { name: 'BGP', exact: true }).isChecked(), true);
  assert.equal(await form.getByRole('switch', { name: 'ECMP', exact: true }).isChecked(), true);
  assert.equal(await form.getByRole('switch', { name: 'Multipath Relax', exact: true }).isChecked(), true);
  await h.expectSelected(form.getByLabel('Graceful Restart', { exact: true }), 'Helper Only');
  await h.expectValue(form.getByLabel('Graceful Restart Timer (seconds)', { exact: true }), '180');
  await h.expectValue(form.getByLabel('Graceful Restart Stale Timer (seconds)', { exact: true }), '600');

  // what the API refuses: AS 0 and a timer out of range, both at once, next to their fields
  await form.getByLabel('Local AS', { exact: true }).fill('0');
  await form.getByLabel('Graceful Restart Timer (seconds)', { exact: true }).fill('5000');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await assertFieldError(form, 'Local AS', /reserved/);
  await assertFieldError(form, 'Graceful Restart Timer (seconds)', /3600/);
  await h.screenshot(page, '62-edit-bgp-errors');
  await h.expectValue(form.getByLabel('Local AS', { exact: true }), '0'); // nothing typed is lost
  assert.equal((await h.getObject(server, BGP))._revision, before._revision, 'nothing stored');
  // the same body through the API names the same fields
  const r = await h.api(server, 'PUT', h.POLICY + BGP, {
    ...before, local_as_num: '0', graceful_restart_config: { mode: 'HELPER_ONLY', timer: { restart_timer: 5000, stale_route_timer: 600 } },
  });
  assert.equal(r.status, 400);
  const fields = r.json.related_errors.map((e) => e.error_data?.field);
  assert.ok(fields.includes('local_as_num') && fields.some((f) => f?.startsWith('graceful_restart_config')), `API fields: ${fields}`);

  await form.getByLabel('Local AS', { exact: true }).fill('65061');
  await form.getByRole('switch', { name: 'ECMP', exact: true }).uncheck();
  await form.getByLabel('Graceful Restart', { exact: true }).selectOption('GR_AND_HELPER');
  await form.getByLabel('Graceful Restart Timer (seconds)', { exact: true }).fill('120');
  await form.getByLabel('Graceful Restart Stale Timer (seconds)', { exact: true }).fill('300');
  await form.getByLabel('Route Aggregation', { exact: true }).fill('10.61.0.0/16');
  await form.getByLabel('eBGP Admin Distance', { exact: true }).fill('30');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  const b = await h.getObject(server, BGP);
  assert.equal(b.local_as_num, '65061');
  assert.equal(b.enabled, true);
  assert.equal(b.ecmp, false);
  assert.equal(b.multipath_relax, true);
  assert.deepEqual(b.graceful_restart_config, { mode: 'GR_AND_HELPER', timer: { restart_timer: 120, stale_route_timer: 300 } });
  assert.deepEqual(b.route_aggregations, [{ prefix: '10.61.0.0/16', summary_only: true }]);
  assert.equal(b.ebgp_admin_distance, 30);
  assert.equal(b.ibgp_admin_distance, undefined);
  assert.equal(b._revision, before._revision + 1);

  const cfg = region(page, 'BGP Configuration');
  await h.expectText(cfg, /Local AS\s*65061/);
  await h.expectText(cfg, /ECMP\s*Disabled/);
  await h.expectText(cfg, /Graceful Restart\s*Graceful Restart and Helper/);
  await h.expectNoText(cfg, 'BGP is not running');
  await h.expectText(neighborsTable(page), /Add a BGP neighbor for each peer/);

  // the form opens with what is stored
  await page.getByRole('button', { name: 'Edit BGP', exact: true }).click();
  form = h.panel(page, 'Edit BGP');
  await h.expectValue(form.getByLabel('Local AS', { exact: true }), '65061');
  assert.equal(await form.getByRole('switch', { name: 'ECMP', exact: true }).isChecked(), false);
  await h.expectValue(form.getByLabel('Route Aggregation', { exact: true }), '10.61.0.0/16');
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(form);
  h.assertNoPageErrors(fx.browser);
});

test('Add BGP Neighbor: the API\'s errors next to the fields, nothing typed lost; fixed, it is stored with its password', async () => {
  const { page, server } = fx;
  await openBgp(page);
  await page.getByRole('button', { name: 'Add BGP Neighbor', exact: true }).first().click();
  const form = h.panel(page, 'Add BGP Neighbor');
  await h.expectVisible(form);
  // round 1: what the API's parser refuses, all at once
  const typed = {
    'Name': PEER_A.name,
    'IP Address': '169.254.61.300',
    'Remote AS': '0',
    'Hold Down Time (seconds)': '60',
    'Keep Alive Time (seconds)': '90',
  };
  for (const [label, v] of Object.entries(typed)) await form.getByLabel(label, { exact: true }).fill(v);
  await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await assertFieldError(form, 'IP Address', /169\.254\.61\.300/);
  await assertFieldError(form, 'Remote AS', /reserved/);
  await assertFieldError(form, 'Keep Alive Time (seconds)', /not shorter than/);
  await h.screenshot(page, '63-neighbor-errors');
  for (const [label, v] of Object.entries(typed)) await h.expectValue(form.getByLabel(label, { exact: true }), v);
  await h.expectValue(form.getByLabel('Password', { exact: true }), PASSWORD);
  assert.equal(await h.getObject(server, `${NEIGHBORS}/${PEER_A.name}`), undefined, 'nothing stored');
  // the API itself names those fields for that body
  const r = await h.api(server, 'PUT', `${h.POLICY}${NEIGHBORS}/probe`, {
    resource_type: 'BgpNeighborConfig', neighbor_address: '169.254.61.300', remote_as_num: '0', hold_down_time: 60, keep_alive_time: 90,
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json.related_errors.map((e) => e.error_data?.field).sort(), ['keep_alive_time', 'neighbor_address', 'remote_as_num']);

  // round 2: a source address that is not the gateway's (the API names the ones it has)
  await form.getByLabel('IP Address', { exact: true }).fill(PEER_A.ip);
  await form.getByLabel('Remote AS', { exact: true }).fill(PEER_A.as);
  await form.getByLabel('Hold Down Time (seconds)', { exact: true }).fill('90');
  await form.getByLabel('Keep Alive Time (seconds)', { exact: true }).fill('30');
  await form.getByLabel('Source Addresses', { exact: true }).fill('169.254.99.1');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await assertFieldError(form, 'Source Addresses', new RegExp(`not an address of .*${VTI.replace(/\./g, '\\.')}`));
  for (const label of ['IP Address', 'Remote AS', 'Keep Alive Time (seconds)']) await assertFieldOk(form, label);
  // the hint offers the gateway's own addresses
  assert.match(await h.describedBy(form.getByLabel('Source Addresses', { exact: true })), new RegExp(VTI.replace(/\./g, '\\.')));

  await form.getByLabel('Source Addresses', { exact: true }).fill(VTI);
  await form.getByRole('switch', { name: 'BFD', exact: true }).check();
  await form.getByLabel('BFD Interval (ms)', { exact: true }).fill('300');
  await form.getByLabel('BFD Multiplier', { exact: true }).fill('4');
  await form.getByRole('switch', { name: 'Allow-as-in', exact: true }).check();
  await form.getByLabel('Maximum Routes', { exact: true }).fill('500');
  // the password is masked and can be shown
  assert.equal(await form.getByLabel('Password', { exact: true }).getAttribute('type'), 'password');
  await form.getByRole('button', { name: 'Show password', exact: true }).click();
  assert.equal(await form.getByLabel('Password', { exact: true }).getAttribute('type'), 'text');
  await form.getByRole('button', { name: 'Show password', exact: true }).click();
  assert.equal(await form.getByLabel('Password', { exact: true }).getAttribute('type'), 'password');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);

  const n = await h.getObject(server, `${NEIGHBORS}/${PEER_A.name}`);
  assert.equal(n.display_name, PEER_A.name);
  assert.equal(n.neighbor_address, PEER_A.ip);
  assert.equal(n.remote_as_num, PEER_A.as);
  assert.deepEqual(n.source_addresses, [VTI]);
  assert.equal(n.hold_down_time, 90);
  assert.equal(n.keep_alive_time, 30);
  assert.deepEqual(n.bfd, { enabled: true, interval: 300, multiple: 4 });
  assert.equal(n.allow_as_in, true);
  assert.deepEqual(n.route_filtering, [{ address_family: 'IPV4', enabled: true, maximum_routes: 500 }]);
  assert.equal(n.has_password, true);
  assert.equal(n.password, undefined);
  // the API never returns it, not even with show_sensitive_data
  for (const q of ['', '?action=show_sensitive_data']) {
    const one = await h.api(server, 'GET', `${h.POLICY}${NEIGHBORS}/${PEER_A.name}${q}`);
    assert.ok(!one.text.includes(PASSWORD), `GET${q}`);
  }
  assert.ok(!(await h.api(server, 'GET', h.POLICY + NEIGHBORS)).text.includes(PASSWORD), 'the list');

  const row = h.rowOf(neighborsTable(page), PEER_A.name);
  await h.expectText(row, PEER_A.ip);
  await h.expectText(row, PEER_A.as);
  await h.expectText(row, 'Enabled (300 ms \u00d7 4)');
  await assertPasswordNowhere(page);
  h.assertNoPageErrors(fx.browser);
  h.assertRequestsSafe(fx.browser, fx.server);
});

test('the Status column shows what neighbors/status says; changes elsewhere are redrawn in place', async () => {
  const { page, server } = fx;
  await openBgp(page);
  const table = neighborsTable(page);
  const row = h.rowOf(table, PEER_A.name);
  // whatever the API says (BIRD does not run here), the row says the same
  await h.eventually(async () => {
    const st = await statusOf(server, PEER_A.name);
    const want = expectedStatus(st);
    const text = await row.innerText();
    assert.ok(text.includes(want), `row shows "${want}": ${text}`);
    assert.notEqual(st.connection_state, 'ESTABLISHED', 'no BGP session can come up here');
  });
  const st = await statusOf(server, PEER_A.name);
  const cells = await row.getByRole('cell').allInnerTexts();
  assert.ok(cells.includes(String(st.total_in_prefix_count)), `Routes Received ${st.total_in_prefix_count}: ${cells}`);
  assert.ok(cells.includes(String(st.total_out_prefix_count)), `Routes Advertised ${st.total_out_prefix_count}: ${cells}`);
  await h.expectText(page.getByRole('region', { name: 'BGP Neighbors', exact: true }), '1 neighbor, 0 established');

  // the expanded row: every field (the password only as "set") and the status details
  await page.getByRole('button', { name: `Expand ${PEER_A.name}`, exact: true }).click();
  const details = page.locator('tr.detail-row:visible');
  await h.expectText(details, 'Password set (never displayed)');
  await h.expectText(details, /Source Addresses\s*169\.254\.61\.1/);
  await h.expectText(details, /Maximum Routes\s*500 \(IPV4\)/);
  await h.expectText(details, new RegExp(`Connection State\\s*${expectedStatus({ ...st, last_error: null, alarm: null })}`));
  if (st.alarm) await h.expectText(details, st.alarm);
  await h.screenshot(page, '64-bgp-neighbor-expanded');
  await h.assertNoHorizontalScroll(page, 'BGP with an expanded neighbor');
  await page.getByRole('button', { name: `Expand ${PEER_A.name}`, exact: true }).click();

  // a change made elsewhere while the row menu is open: the cell changes, the menu stays open
  // and keeps the focus
  const actionsA = page.getByRole('button', { name: `Actions for ${PEER_A.name}`, exact: true });
  await actionsA.evaluate((el) => { el.dataset.testMark = 'opened-the-menu'; });
  await actionsA.click();
  const menu = h.openMenu(page);
  await h.expectVisible(menu);
  const focused = menu.getByRole('menuitem', { name: 'Edit', exact: true });
  await h.expectFocused(focused);
  await h.policy(server, 'PATCH', `${NEIGHBORS}/${PEER_A.name}`, { remote_as_num: '65099' });
  await h.expectText(row, '65099', 12_000);
  await h.expectVisible(menu);
  await h.expectFocused(focused);
  // the row was not rebuilt: the button that opened the menu is still there and still open
  await h.expectAttr(actionsA, 'data-test-mark', 'opened-the-menu');
  await h.expectAttr(actionsA, 'aria-expanded', 'true');
  await page.keyboard.press('Escape');
  await h.expectHidden(menu);
  await h.policy(server, 'PATCH', `${NEIGHBORS}/${PEER_A.name}`, { remote_as_num: PEER_A.as });
  await h.expectText(row, PEER_A.as, 12_000);

  // a neighbor added elsewhere appears by itself
  await h.policy(server, 'PUT', `${NEIGHBORS}/${PEER_B.name}`, {
    resource_type: 'BgpNeighborConfig', display_name: PEER_B.name, neighbor_address: PEER_B.ip, remote_as_num: PEER_B.as,
  });
  const rowB = h.rowOf(table, PEER_B.name);
  await h.expectVisible(rowB, 12_000);
  await h.eventually(async () => {
    const want = expectedStatus(await statusOf(server, PEER_B.name));
    assert.ok((await rowB.innerText()).includes(want), `peer-b shows "${want}"`);
  });
  await h.expectText(rowB, 'Disabled'); // BFD

  // Received Routes: what the API has (nothing, the session is not established)
  const routes = await h.policy(server, 'GET', `${NEIGHBORS}/${PEER_A.name}/routes`);
  assert.equal(routes.results[0].edge_node_routes[0].routes.length, 0);
  await h.rowAction(page, PEER_A.name, 'Received Routes');
  const dlg = h.panel(page, `Received Routes - ${PEER_A.name}`);
  await h.expectVisible(dlg);
  await h.expectVisible(dlg.getByRole('table', { name: `Received Routes - ${PEER_A.name}`, exact: true }));
  await h.expectText(dlg, `No routes received from ${PEER_A.name}`);
  await h.expectText(dlg, 'not established');
  await dlg.getByRole('button', { name: 'Close', exact: true }).last().click();
  await h.expectHidden(dlg);
  h.assertNoPageErrors(fx.browser);
});

test('Edit BGP Neighbor: filled from the API, an empty password keeps the stored one; a concurrent change is reported; Remove clears it', async () => {
  const { page, server } = fx;
  await openBgp(page);
  const before = await h.getObject(server, `${NEIGHBORS}/${PEER_A.name}`);
  assert.equal(before.has_password, true);
  await h.rowAction(page, PEER_A.name, 'Edit');
  let form = h.panel(page, 'Edit BGP Neighbor');
  await h.expectVisible(form);
  await h.expectValue(form.getByLabel('Name', { exact: true }), PEER_A.name);
  await h.expectValue(form.getByLabel('IP Address', { exact: true }), PEER_A.ip);
  await h.expectValue(form.getByLabel('Remote AS', { exact: true }), PEER_A.as);
  await h.expectValue(form.getByLabel('Source Addresses', { exact: true }), VTI);
  await h.expectValue(form.getByLabel('Hold Down Time (seconds)', { exact: true }), '90');
  await h.expectValue(form.getByLabel('Keep Alive Time (seconds)', { exact: true }), '30');
  await h.expectValue(form.getByLabel('BFD Interval (ms)', { exact: true }), '300');
  await h.expectValue(form.getByLabel('Maximum Routes', { exact: true }), '500');
  assert.equal(await form.getByRole('switch', { name: 'BFD', exact: true }).isChecked(), true);
  assert.equal(await form.getByRole('switch', { name: 'Allow-as-in', exact: true }).isChecked(), true);
  await h.expectValue(form.getByLabel('Password', { exact: true }), '');
  await h.expectVisible(form.getByText('Password set', { exact: true }));
  assert.match(await h.describedBy(form.getByLabel('Password', { exact: true })), /Leave empty to keep it/);
  await h.screenshot(page, '65-edit-neighbor');

  await form.getByLabel('Hold Down Time (seconds)', { exact: true }).fill('120');
  await form.getByRole('switch', { name: 'Allow-as-in', exact: true }).uncheck();
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  const n = await h.getObject(server, `${NEIGHBORS}/${PEER_A.name}`);
  assert.equal(n.hold_down_time, 120);
  assert.equal(n.allow_as_in, false);
  assert.equal(n.has_password, true, 'the stored password is kept');
  assert.deepEqual(n.bfd, before.bfd);
  assert.deepEqual(n.route_filtering, before.route_filtering);
  assert.equal(n._revision, before._revision + 1);
  // the add sent the password; the edit sent none (absent = keep the stored one)
  const puts = neighborPuts.filter((r) => r.url.endsWith(`/neighbors/${PEER_A.name}`));
  assert.equal(puts[0].body.password, PASSWORD, 'the add sent the password');
  const edit = puts[puts.length - 1].body;
  assert.equal(edit.hold_down_time, 120, 'the last PUT is the edit');
  assert.ok(!('password' in edit), `the edit sent no password: ${JSON.stringify(edit)}`);
  assert.equal(edit._revision, before._revision, 'the edit sent the revision it read');

  // someone else changes it meanwhile: reported, not overwritten, nothing typed lost
  await h.rowAction(page, PEER_A.name, 'Edit');
  form = h.panel(page, 'Edit BGP Neighbor');
  await h.expectValue(form.getByLabel('Hold Down Time (seconds)', { exact: true }), '120');
  await h.policy(server, 'PATCH', `${NEIGHBORS}/${PEER_A.name}`, { hold_down_time: 150 });
  await form.getByLabel('Keep Alive Time (seconds)', { exact: true }).fill('40');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectText(form.getByRole('alert').first(), /Someone else changed this BGP neighbor/);
  await h.expectValue(form.getByLabel('Keep Alive Time (seconds)', { exact: true }), '40');
  const mid = await h.getObject(server, `${NEIGHBORS}/${PEER_A.name}`);
  assert.equal(mid.hold_down_time, 150);
  assert.equal(mid.keep_alive_time, 30);
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(form);

  // Remove the stored password
  await h.rowAction(page, PEER_A.name, 'Edit');
  form = h.panel(page, 'Edit BGP Neighbor');
  await form.getByLabel('Remove the stored password', { exact: true }).check();
  await h.expectDisabled(form.getByLabel('Password', { exact: true }));
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  assert.equal(neighborPuts[neighborPuts.length - 1].body.password, '', 'Remove sends ""');
  const cleared = await h.getObject(server, `${NEIGHBORS}/${PEER_A.name}`);
  assert.equal(cleared.has_password, false);
  assert.equal(cleared.hold_down_time, 150, 'the other change was not overwritten');
  await page.getByRole('button', { name: `Expand ${PEER_A.name}`, exact: true }).click();
  await h.expectText(page.locator('tr.detail-row:visible'), /Password\s*None/);
  // set again through the form (for the auditor's test)
  await h.rowAction(page, PEER_A.name, 'Edit');
  form = h.panel(page, 'Edit BGP Neighbor');
  await h.expectCount(form.getByText('Password set', { exact: true }), 0);
  await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  assert.equal((await h.getObject(server, `${NEIGHBORS}/${PEER_A.name}`)).has_password, true);
  await assertPasswordNowhere(page);
  h.assertNoPageErrors(fx.browser);
});

test('Route Redistribution: the chosen types are stored in one rule into BGP', async () => {
  const { page, server } = fx;
  await openBgp(page);
  const sec = region(page, 'Route Redistribution');
  await h.expectText(sec, /Redistributed into BGP\s*Nothing/);
  await page.getByRole('button', { name: 'Edit Route Redistribution', exact: true }).click();
  const form = h.panel(page, 'Edit Route Redistribution');
  await h.expectVisible(form);
  await form.getByLabel('Tier-0 Connected', { exact: true }).check();
  await form.getByLabel('IPSec Local IP', { exact: true }).check();
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  const ls = await h.getObject(server, LS);
  assert.equal(ls.route_redistribution_config.bgp_enabled, true);
  assert.deepEqual(ls.route_redistribution_config.redistribution_rules.map((r) => ({ d: r.destinations, t: r.route_redistribution_types.slice().sort() })),
    [{ d: ['BGP'], t: ['TIER0_CONNECTED', 'TIER0_IPSEC_LOCAL_IP'] }]);
  await h.expectText(sec, /Redistributed into BGP\s*Tier-0 Connected, IPSec Local IP/);
});

test('the gateways list counts the neighbors; the Routing Table tab shows what the API has', async () => {
  const { page, server } = fx;
  await page.getByRole('navigation').getByRole('link', { name: 'Tier-0 Gateways', exact: true }).click();
  const t = h.table(page, 'Tier-0 Gateways');
  const row = h.rowOf(t, 't0');
  const st = await h.policy(server, 'GET', `${NEIGHBORS}/status`);
  const up = st.results.filter((x) => x.connection_state === 'ESTABLISHED').length;
  await h.expectText(row, `2 neighbors, ${up} established`);
  await h.expectText(row, '65061');
  await h.expectText(row, 'Enabled');
  await h.expectText(h.rowOf(t, 't0-other'), '0 neighbors');
  await h.assertNoHorizontalScroll(page, 'Tier-0 Gateways with BGP');
  // the neighbor count is a link to the BGP tab
  await row.getByRole('link', { name: '2 neighbors', exact: true }).click();
  await h.expectVisible(page.getByRole('tab', { name: 'BGP', exact: true, selected: true }));
  await h.expectVisible(h.rowOf(neighborsTable(page), PEER_B.name));
  await h.assertNoHorizontalScroll(page, 'BGP with neighbors');
  await h.screenshot(page, '66-bgp-neighbors');

  await h.openTab(page, 'Routing Table');
  const rt = h.table(page, 'Routing Table');
  await h.expectVisible(rt);
  for (const c of ['Network', 'Next Hop', 'Route Type', 'Admin Distance', 'Interface']) {
    await h.expectVisible(rt.getByRole('columnheader', { name: c, exact: true }));
  }
  const api = await h.policy(server, 'GET', `${T0}/routing-table`);
  const entries = api.results.flatMap((x) => x.route_entries);
  // the session's VTI subnet is a connected route leaving through the session
  const vti = entries.find((e) => e.network === '169.254.61.0/30');
  assert.ok(vti && vti.route_type === 't0c', `the API lists the VTI subnet: ${JSON.stringify(entries)}`);
  for (const e of entries) await h.expectVisible(h.rowOf(rt, e.network));
  const vtiRow = h.rowOf(rt, '169.254.61.0/30');
  await h.expectText(vtiRow, 'Connected');
  await h.expectText(vtiRow, 'bgp-session');
  await h.expectText(page.getByRole('tabpanel').first(), `${entries.length} ${entries.length === 1 ? 'route' : 'routes'}`);
  // a table the API could not read completely says why (here: BIRD does not run)
  const failed = api.results.find((x) => x.status !== 'SUCCESS');
  if (failed) await h.expectText(page.getByRole('alert').first(), failed.error_message);
  else assert.equal(await page.getByRole('tabpanel').first().getByRole('alert').count(), 0);
  // Route Source: BGP asks the API for BGP routes only (none: BIRD does not run)
  const bgpRoutes = (await h.policy(server, 'GET', `${T0}/routing-table?route_source=BGP`)).results.flatMap((x) => x.route_entries);
  assert.equal(bgpRoutes.length, 0);
  await page.getByLabel('Route Source', { exact: true }).selectOption('BGP');
  await h.expectText(h.table(page, 'Routing Table'), 'No BGP routes');
  await h.expectCount(h.rowOf(h.table(page, 'Routing Table'), '169.254.61.0/30'), 0);
  await h.assertNoHorizontalScroll(page, 'Routing Table');
  await h.screenshot(page, '67-routing-table');
  h.assertNoPageErrors(fx.browser);
});

test('Delete asks first: Cancel keeps the neighbor, Delete removes it', async () => {
  const { page, server } = fx;
  await openBgp(page);
  await h.rowAction(page, PEER_B.name, 'Delete');
  let dialog = page.getByRole('dialog', { name: 'Delete BGP Neighbor', exact: true });
  await h.expectVisible(dialog);
  await h.expectText(dialog, PEER_B.ip);
  await h.screenshot(page, '68-delete-neighbor');
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(dialog);
  assert.ok(await h.getObject(server, `${NEIGHBORS}/${PEER_B.name}`), 'Cancel keeps it');
  await h.expectFocused(page.getByRole('button', { name: `Actions for ${PEER_B.name}`, exact: true }));

  await h.rowAction(page, PEER_B.name, 'Delete');
  dialog = page.getByRole('dialog', { name: 'Delete BGP Neighbor', exact: true });
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await h.expectHidden(dialog);
  await h.eventually(async () => {
    assert.equal(await h.getObject(server, `${NEIGHBORS}/${PEER_B.name}`), undefined, 'peer-b is gone');
  });
  await h.expectCount(h.rowOf(neighborsTable(page), PEER_B.name), 0);
  await h.expectVisible(h.rowOf(neighborsTable(page), PEER_A.name));
  h.assertNoPageErrors(fx.browser);
  h.assertRequestsSafe(fx.browser, fx.server);
});

test('an auditor sees Tier-0 Gateways and BGP read-only, and the password nowhere', async () => {
  const { page, server } = fx;
  const auditor = await h.createAuditor(server);
  await page.getByRole('button', { name: 'Log Out', exact: true }).click();
  await h.login(page, server, auditor.username, auditor.password);
  await page.getByRole('navigation').getByRole('link', { name: 'Tier-0 Gateways', exact: true }).click();
  await h.expectVisible(h.rowOf(h.table(page, 'Tier-0 Gateways'), 't0'));
  assert.equal(await page.getByRole('button', { name: /^Add\b/ }).count(), 0, 'no Add Gateway');
  await page.getByRole('button', { name: 'Actions for t0', exact: true }).click();
  assert.deepEqual((await h.menuItems(page)).map((i) => i.name), ['BGP', 'Routing Table']);
  await h.openMenu(page).getByRole('menuitem', { name: 'BGP', exact: true }).click();
  const row = h.rowOf(neighborsTable(page), PEER_A.name);
  await h.expectVisible(row);
  await h.expectText(region(page, 'BGP Configuration'), /Local AS\s*65061/);
  for (const name of [/^Add\b/, /^Edit\b/, /^Delete\b/]) {
    assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
  }
  await page.getByRole('button', { name: `Actions for ${PEER_A.name}`, exact: true }).click();
  assert.deepEqual((await h.menuItems(page)).map((i) => i.name), ['Received Routes', 'Advertised Routes']);
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: `Expand ${PEER_A.name}`, exact: true }).click();
  await h.expectText(page.locator('tr.detail-row:visible'), 'Password set (never displayed)');
  await h.screenshot(page, '69-bgp-auditor');
  // the API refuses an auditor's change anyway; the page offers none
  const r = await h.api(server, 'PATCH', `${h.POLICY}${NEIGHBORS}/${PEER_A.name}`, { hold_down_time: 99 }, { user: auditor.username, password: auditor.password });
  assert.equal(r.status, 403);
  const seen = await h.api(server, 'GET', `${h.POLICY}${NEIGHBORS}/${PEER_A.name}?action=show_sensitive_data`, undefined, { user: auditor.username, password: auditor.password });
  assert.ok(!seen.text.includes(PASSWORD));
  await assertPasswordNowhere(page);
  h.assertNoPageErrors(fx.browser);
  await page.getByRole('button', { name: 'Log Out', exact: true }).click();
  await h.login(page, server);
});
