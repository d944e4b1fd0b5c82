// Serving, login/logout, the VPN page's layout (navigation, tabs, tables, empty states, URL
// hash) and the 1280x800 layout of every main screen.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import * as h from './helpers.mjs';

let fx;
before(async () => { fx = await h.startAll(); });
after(async () => { await fx?.stop(); });

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
  + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** GET without authentication. */
function rawGet(url) {
  return new Promise((res, rej) => {
    https.get(url, { rejectUnauthorized: false }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, text: Buffer.concat(chunks).toString() }));
    }).on('error', rej);
  });
}

test('the console is served without login, with its security headers', async () => {
  for (const path of ['/', '/login']) {
    const r = await rawGet(fx.server.url + path);
    assert.equal(r.status, 200, `${path}`);
    assert.match(r.headers['content-type'], /^text\/html/, path);
    assert.equal(r.headers['content-security-policy'], CSP, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(r.headers['referrer-policy'], 'no-referrer', path);
    assert.equal(r.headers['cache-control'], 'no-cache', path);
    assert.doesNotMatch(r.text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${path}: inline script`);
    assert.doesNotMatch(r.text, /<style[\s>]|\sstyle=/i, `${path}: inline style`);
  }
  assert.equal((await rawGet(fx.server.url + '/assets/no-such-file.js')).status, 404);
  // what the console fetches needs the login
  assert.equal((await rawGet(fx.server.url + '/policy/api/v1/infra/tier-0s')).status, 401);
});

test('a failed login says why and keeps the username', async () => {
  const { page } = fx;
  await page.goto(fx.server.url + '/');
  await h.expectVisible(page.getByRole('button', { name: 'Log In', exact: true }));
  await h.screenshot(page, '01-login');
  await h.assertNoHorizontalScroll(page, 'login');
  await page.getByLabel('Username', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Log In', exact: true }).click();
  await h.expectText(page.locator('body'), 'the username or password is incorrect');
  await h.expectValue(page.getByLabel('Username', { exact: true }), 'admin');
  await h.screenshot(page, '02-login-failed');
});

test('after login: header, navigation, tabs with empty states and add buttons', async () => {
  const { page } = fx;
  await h.login(page, fx.server);
  const banner = page.getByRole('banner');
  await h.expectText(banner, 'admin');
  await h.expectVisible(page.getByRole('button', { name: 'Log Out', exact: true }));
  const nav = page.getByRole('navigation');
  await h.expectText(nav, 'Networking');
  const vpnLink = nav.getByRole('link', { name: 'VPN', exact: true });
  await h.expectVisible(vpnLink);
  await h.expectAttr(vpnLink, 'aria-current', 'page');

  const tablist = page.getByRole('tablist').first();
  for (const name of ['VPN Services', 'IPSec Sessions', 'Local Endpoints', 'Profiles']) {
    await h.expectVisible(tablist.getByRole('tab', { name, exact: true }));
  }
  const hashes = new Set();
  const tabs = [
    ['VPN Services', 'Add VPN Service', /No VPN services yet/i,
      ['Name', 'Gateway', 'Admin Status', 'IKE Log Level', 'Sessions']],
    ['IPSec Sessions', 'Add IPSec Session', /No IPSec sessions yet/i,
      ['Name', 'VPN Service', 'Remote IP', 'Local Endpoint', 'Tunnel Interface', 'Admin Status', 'Status']],
    ['Local Endpoints', 'Add Local Endpoint', /No local endpoints yet/i,
      ['Name', 'VPN Service', 'IP Address', 'Local ID', 'Certificate']],
  ];
  for (const [tab, addButton, empty, columns] of tabs) {
    await h.openTab(page, tab);
    const t = h.table(page, tab);
    await h.expectVisible(t);
    for (const c of columns) await h.expectVisible(t.getByRole('columnheader', { name: c, exact: true }));
    await h.expectText(page.getByRole('tabpanel').first(), empty);
    await h.expectVisible(page.getByRole('button', { name: addButton, exact: true }).first());
    const hash = await page.evaluate(() => location.hash);
    assert.match(hash, /^#\/vpn\//, `${tab}: URL hash`);
    hashes.add(hash);
    await h.assertNoHorizontalScroll(page, `${tab} (empty)`);
  }
  assert.equal(hashes.size, 3, 'each tab has its own hash');

  // Profiles: its own tabs; the system-owned defaults are there, read-only
  await h.openTab(page, 'Profiles');
  for (const [tab, sys] of [
    ['IKE Profiles', 'nsx-default-l3vpn-ike-profile'],
    ['IPSec Profiles', 'nsx-default-l3vpn-tunnel-profile'],
    ['DPD Profiles', 'nsx-default-l3vpn-dpd-profile'],
  ]) {
    await h.openTab(page, tab);
    const t = h.table(page, tab);
    const row = h.rowOf(t, sys);
    await h.expectVisible(row);
    await h.expectText(row, 'System');
    await row.getByRole('button', { name: `Actions for ${sys}`, exact: true }).click();
    const items = await h.menuItems(page);
    for (const i of items.filter((x) => ['Edit', 'Delete'].includes(x.name))) {
      assert.ok(i.disabled, `${sys}: ${i.name} must be disabled for a system-owned profile`);
    }
    await page.keyboard.press('Escape');
    await h.expectHidden(h.openMenu(page));
    await h.assertNoHorizontalScroll(page, tab);
  }
  h.assertNoPageErrors(fx.browser);
});

test('the URL hash follows the tab: reload and back/forward work', async () => {
  const { page } = fx;
  await h.openTab(page, 'IPSec Sessions');
  assert.equal(await page.evaluate(() => location.hash), '#/vpn/sessions');
  await h.openTab(page, 'Local Endpoints');
  const endpointsHash = await page.evaluate(() => location.hash);
  await page.reload();
  await h.expectVisible(page.getByRole('tab', { name: 'Local Endpoints', exact: true, selected: true }));
  await page.goBack();
  await h.expectVisible(page.getByRole('tab', { name: 'IPSec Sessions', exact: true, selected: true }));
  await page.goForward();
  await h.expectVisible(page.getByRole('tab', { name: 'Local Endpoints', exact: true, selected: true }));
  assert.equal(await page.evaluate(() => location.hash), endpointsHash);
  // opening the URL of a tab directly (still logged in: sessionStorage)
  await page.goto(fx.server.url + '/#/vpn/sessions');
  await h.expectVisible(page.getByRole('tab', { name: 'IPSec Sessions', exact: true, selected: true }));
});

test('every tab with data: screenshots, no horizontal scrolling at 1280x800', async () => {
  const { page, server } = fx;
  const p = await h.seedServiceAndEndpoint(server, { service: 'branch-offices-vpn-service' });
  await h.createSession(server, p.service, p.endpoint, 'branch-office-amsterdam-01', {
    description: 'Amsterdam branch office, respond only',
  });
  await h.createSession(server, p.service, p.endpoint, 'branch-office-rotterdam-02', {
    peer_address: '203.0.113.12', peer_id: 'rotterdam.branch.example.net',
    tunnel_interfaces: [{ ip_subnets: [{ ip_addresses: ['169.254.51.1'], prefix_length: 30 }] }],
  });
  const q = await h.seedServiceAndEndpoint(server, {
    gateway: 't0-dc2', service: 'dc2-vpn', endpoint: 'le-dc2', address: '198.51.100.21',
  });
  await h.createSession(server, q.service, q.endpoint, 'dc2-only-session', { peer_address: '203.0.113.30', peer_id: '203.0.113.30' });
  await h.policy(server, 'PUT', '/infra/ipsec-vpn-ike-profiles/ike-aes256-sha384-group20', {
    resource_type: 'IPSecVpnIkeProfile', encryption_algorithms: ['AES_256'],
    digest_algorithms: ['SHA2_384'], dh_groups: ['GROUP20', 'GROUP19'], sa_life_time: 28800,
  });
  await page.reload();
  const shots = [
    ['VPN Services', null, '03-tab-vpn-services', 'branch-offices-vpn-service'],
    ['IPSec Sessions', null, '04-tab-ipsec-sessions', 'branch-office-rotterdam-02'],
    ['Local Endpoints', null, '05-tab-local-endpoints', 'le1'],
    ['Profiles', 'IKE Profiles', '06-tab-ike-profiles', 'ike-aes256-sha384-group20'],
    ['Profiles', 'IPSec Profiles', '07-tab-ipsec-profiles', 'nsx-default-l3vpn-tunnel-profile'],
    ['Profiles', 'DPD Profiles', '08-tab-dpd-profiles', 'nsx-default-l3vpn-dpd-profile'],
  ];
  for (const [tab, sub, shot, name] of shots) {
    await h.openTab(page, tab);
    if (sub) await h.openTab(page, sub);
    await h.expectVisible(h.rowOf(h.table(page, sub ?? tab), name));
    await h.assertNoHorizontalScroll(page, sub ?? tab);
    await h.screenshot(page, shot);
  }
  // the session count links to the sessions of that service
  await h.openTab(page, 'VPN Services');
  await h.rowOf(h.table(page, 'VPN Services'), 'branch-offices-vpn-service')
    .getByRole('link', { name: '2 sessions', exact: true }).click();
  await h.expectVisible(page.getByRole('tab', { name: 'IPSec Sessions', exact: true, selected: true }));
  const sessions = h.table(page, 'IPSec Sessions');
  await h.expectVisible(h.rowOf(sessions, 'branch-office-amsterdam-01'));
  await h.expectVisible(h.rowOf(sessions, 'branch-office-rotterdam-02'));
  await h.expectCount(h.rowOf(sessions, 'dc2-only-session'), 0);
  h.assertNoPageErrors(fx.browser);
  h.assertRequestsSafe(fx.browser, fx.server);
});

test('Log Out ends the session and shows the login form', async () => {
  const { page } = fx;
  const cookie = (await fx.browser.context.cookies()).find((c) => c.name === 'JSESSIONID');
  assert.ok(cookie, 'logged in with the JSESSIONID cookie');
  await page.getByRole('button', { name: 'Log Out', exact: true }).click();
  await h.expectVisible(page.getByRole('button', { name: 'Log In', exact: true }));
  // the API session is destroyed, not only forgotten by the page
  const r = await new Promise((res, rej) => {
    https.get(`${fx.server.url}/policy/api/v1/infra/tier-0s`,
      { rejectUnauthorized: false, headers: { cookie: `JSESSIONID=${cookie.value}` } },
      (x) => { x.resume(); x.on('end', () => res(x.statusCode)); }).on('error', rej);
  });
  assert.equal(r, 401, 'the old session cookie no longer works');
  // the API session is gone: reloading does not bring the VPN page back
  await page.reload();
  await h.expectVisible(page.getByRole('button', { name: 'Log In', exact: true }));
  await h.expectCount(page.getByRole('heading', { name: 'VPN', exact: true }), 0);
  await h.login(page, fx.server);
});

test('a session that ends (401) goes back to the login form, saying so', async () => {
  const { page, server } = fx;
  await h.openTab(page, 'VPN Services');
  // another admin changing the admin's password ends the admin's sessions
  await h.apiOk(server, 'PUT', '/api/v1/users/admin2', { username: 'admin2', role: 'admin', password: 'second-admin-pw' });
  const newPassword = 'console-test-admin-pw-2';
  await h.apiOk(server, 'PUT', '/api/v1/users/admin', { username: 'admin', role: 'admin', password: newPassword },
    { user: 'admin2', password: 'second-admin-pw' });
  server.adminPassword = newPassword;
  await h.openTab(page, 'IPSec Sessions').catch(() => {}); // any request now gets 401
  await h.expectVisible(page.getByRole('button', { name: 'Log In', exact: true }));
  await h.expectText(page.locator('body'), /session (has )?ended|session expired|log in again/i);
  await h.login(page, server);
  await h.expectText(page.getByRole('banner'), 'admin');
});
