// The console shows a live tunnel (run by crates/strait/tests/console_live.rs, inside the
// network namespace of a straitd whose session has a real peer in another namespace; the
// harness passes STRAIT_URL, STRAIT_PASSWORD and SESSION_PATH). Not a `*.test.mjs` file:
// scripts/console-tests.sh does not run it on its own, since it needs that setup.
//
// The session starts disabled: the row says "Down - Session not enabled". It is enabled
// through the API, and the row turns "Enabled" and "Up" by itself (the 5 s refresh, no reload); the expanded
// row shows the VTI and the negotiated SAs, and the status matches GET detailed-status. Then a
// tunnel profile the peer refuses makes it "Degraded" with the reason and the alarm.

import assert from 'node:assert/strict';
import * as h from './helpers.mjs';

const server = { url: process.env.STRAIT_URL, adminPassword: process.env.STRAIT_PASSWORD };
const sessionPath = process.env.SESSION_PATH;
assert.ok(server.url && server.adminPassword && sessionPath, 'STRAIT_URL, STRAIT_PASSWORD and SESSION_PATH are required');

const browser = await h.launchBrowser();
try {
  const { page } = browser;
  // The VTI appearing in this namespace makes Chromium abort requests in flight (see below);
  // the first page load gets a second chance if that happened while its modules loaded.
  try {
    await h.login(page, server);
  } catch (e) {
    console.error(`login page did not come up (${e.message.split('\n')[0]}); loading it again`);
    await h.login(page, server);
  }
  await h.openTab(page, 'IPSec Sessions');
  const sessions = h.table(page, 'IPSec Sessions');
  const row = h.rowOf(sessions, 'live-session');
  await h.expectText(row, 'Down - Session not enabled', 20_000);

  await h.policy(server, 'PATCH', sessionPath, { enabled: true });
  // The row refreshes itself every 5 s: Up without a reload.
  await h.expectText(row, /\bUp\b/, 30_000);
  await h.expectNoText(row, 'Down', 5_000);
  // The change made elsewhere shows in the row's configuration too, without a reload.
  await h.expectText(row, 'Enabled', 10_000);
  await h.expectNoText(row, 'Disabled', 5_000);
  const detailed = await h.apiOk(server, 'GET', `${h.POLICY}${sessionPath}/detailed-status`);
  assert.equal(detailed.results[0].runtime_status, 'UP');
  assert.equal(h.statusText(detailed), 'Up');

  await row.getByRole('button', { name: 'Expand live-session', exact: true }).click();
  const details = page.locator('body');
  const vti = detailed.results[0].interface_name;
  assert.ok(vti, 'detailed-status names the VTI');
  await h.expectText(details, vti);
  await h.expectText(details, 'AES_GCM_128');
  await h.screenshot(page, '15-session-up');

  // A tunnel profile the peer does not accept: IKE comes up, the Child SA does not. The row
  // says Degraded with the reason, as detailed-status does, and the alarm says what to change.
  await h.policy(server, 'PUT', '/infra/ipsec-vpn-tunnel-profiles/gcm256-only', {
    resource_type: 'IPSecVpnTunnelProfile', display_name: 'gcm256-only',
    encryption_algorithms: ['AES_GCM_256'], dh_groups: ['GROUP14'],
  });
  await h.policy(server, 'PATCH', sessionPath, { tunnel_profile_path: '/infra/ipsec-vpn-tunnel-profiles/gcm256-only' });
  await h.expectText(row, /Degraded/, 30_000);
  const degraded = await h.apiOk(server, 'GET', `${h.POLICY}${sessionPath}/detailed-status`);
  assert.equal(degraded.results[0].runtime_status, 'DEGRADED');
  await h.expectText(row, h.statusText(degraded), 10_000);
  const alarm = degraded.results[0].alarm && degraded.results[0].alarm.message;
  assert.ok(alarm, 'a degraded session has an alarm');
  await h.expectText(details, alarm.slice(0, 40), 10_000);
  await h.screenshot(page, '16-session-degraded');
  // Chromium runs inside the gateway's own namespace here, so it sees the VTI appear and go
  // and aborts the requests in flight at that moment (net::ERR_NETWORK_CHANGED; the next 5 s
  // poll fetches again). A browser elsewhere never sees the gateway's interfaces.
  browser.errors.splice(0, browser.errors.length,
    ...browser.errors.filter((e) => !e.includes('net::ERR_NETWORK_CHANGED')));
  h.assertNoPageErrors(browser);
  h.assertRequestsSafe(browser, server);
  console.log(`the console showed ${sessionPath} Up on ${vti}`);
} finally {
  await browser.close();
}
