// System > Certificates: importing a CA certificate (from a file), a site certificate with its
// private key (pasted) and a CRL; the lists (subject, issuer, expiry, key, private key, used
// by); the local endpoint form's site certificate, trusted CAs and CRLs (checked through the
// API); the session form in Certificate mode; deletes refused while in use (the API's message
// shown) and allowed once unassigned. The PEMs are console-tests/fixtures/ (made by
// fixtures/make-fixtures.sh with openssl).

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as h from './helpers.mjs';

const FIXTURES = join(h.REPO, 'console-tests', 'fixtures');
const fixture = (name) => readFileSync(join(FIXTURES, name), 'utf8');
/** A line from the middle of a PEM body: if it is anywhere on the page, the PEM is. */
const innerLine = (pem) => pem.trim().split('\n').slice(1, -1)[5];

let fx;
let paths;
let noCertEndpoint;
before(async () => {
  fx = await h.startAll();
  paths = await h.seedServiceAndEndpoint(fx.server, { address: '198.51.100.71' });
  h.assertNotLocal('198.51.100.72');
  noCertEndpoint = `${paths.service}/local-endpoints/le-nocert`;
  await h.policy(fx.server, 'PUT', noCertEndpoint, {
    resource_type: 'IPSecVpnLocalEndpoint', display_name: 'le-nocert', local_address: '198.51.100.72',
  });
  await h.login(fx.page, fx.server);
});
after(async () => { await fx?.stop(); });
beforeEach(async () => { await h.resetPage(fx.page, fx.server); });

const field = (scope, label) => scope.getByLabel(label, { exact: true });
const certTable = (page) => h.table(page, 'Certificates');

/** The text of the cell in column `column` of the row named `name`. */
async function cellText(tbl, name, column) {
  const headers = (await tbl.getByRole('columnheader').allInnerTexts()).map((t) => t.trim());
  const i = headers.indexOf(column);
  assert.ok(i >= 0, `no column ${column} in ${JSON.stringify(headers)}`);
  const row = h.rowOf(tbl, name);
  await h.expectVisible(row);
  return (await row.getByRole('cell').allInnerTexts())[i].trim();
}

async function openCertificates(page, tab = 'Certificates') {
  await page.getByRole('navigation').getByRole('link', { name: 'Certificates', exact: true }).click();
  await h.expectVisible(page.getByRole('heading', { name: 'Certificates', exact: true }));
  await h.openTab(page, tab);
}

async function importMenu(page, item) {
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await h.openMenu(page).getByRole('menuitem', { name: item, exact: true }).click();
}

test('Certificates page: navigation and empty states; a CA from a file and a site certificate with its key; the list; the key is never shown', async () => {
  const { page, server } = fx;
  await openCertificates(page);
  const navLink = page.getByRole('navigation').getByRole('link', { name: 'Certificates', exact: true });
  await h.expectAttr(navLink, 'aria-current', 'page');
  await h.expectAttr(page.getByRole('navigation').getByRole('link', { name: 'VPN', exact: true }), 'aria-current', null);
  assert.equal(await page.evaluate(() => location.hash), '#/certificates/certificates');
  await h.expectText(page.getByRole('tabpanel').first(), /No certificates yet/);
  for (const c of ['Name', 'Subject', 'Issuer', 'Expires', 'Key', 'Private Key', 'Used By']) {
    await h.expectVisible(certTable(page).getByRole('columnheader', { name: c, exact: true }));
  }
  await h.openTab(page, 'CRLs');
  assert.equal(await page.evaluate(() => location.hash), '#/certificates/crls');
  await h.expectText(page.getByRole('tabpanel').first(), /No CRLs yet/);
  await h.openTab(page, 'Certificates');

  // a CA certificate, loaded from its file
  await importMenu(page, 'CA Certificate');
  const caForm = h.panel(page, 'Import CA Certificate');
  await h.expectVisible(caForm);
  await h.expectCount(field(caForm, 'Private Key'), 0);
  await field(caForm, 'Name').fill('test-ca');
  await field(caForm, 'Load Certificate Contents from a file').setInputFiles(join(FIXTURES, 'ca.pem'));
  await h.expectValue(field(caForm, 'Certificate Contents'), fixture('ca.pem'));
  await caForm.getByRole('button', { name: 'Import', exact: true }).click();
  await h.expectHidden(caForm);
  const caRow = h.rowOf(certTable(page), 'test-ca');
  await h.expectText(caRow, 'C=US, O=Strait Console Test, CN=Console Test CA');
  await h.expectText(caRow, '2045-01-01');
  await h.expectText(caRow, 'RSA 2048');
  assert.match(await cellText(certTable(page), 'test-ca', 'Name'), /^test-ca\s+CA$/);
  assert.equal(await cellText(certTable(page), 'test-ca', 'Private Key'), 'No');
  assert.equal(await cellText(certTable(page), 'test-ca', 'Used By'), 'Not used');

  // a site certificate with its private key, pasted
  await importMenu(page, 'Certificate');
  const form = h.panel(page, 'Import Certificate');
  await h.expectVisible(form);
  await field(form, 'Name').fill('site-a');
  await field(form, 'Certificate Contents').fill(fixture('site.pem'));
  await field(form, 'Private Key').fill(fixture('site.key'));
  await h.screenshot(page, '70-import-certificate');
  await form.getByRole('button', { name: 'Import', exact: true }).click();
  await h.expectHidden(form);
  const row = h.rowOf(certTable(page), 'site-a');
  await h.expectText(row, 'C=US, O=Strait Console Test, CN=site-a.example.net');
  await h.expectText(row, 'C=US, O=Strait Console Test, CN=Console Test CA');
  await h.expectText(row, '2045-01-01');
  await h.expectText(row, 'RSA 2048');
  assert.equal(await cellText(certTable(page), 'site-a', 'Name'), 'site-a');
  assert.equal(await cellText(certTable(page), 'site-a', 'Private Key'), 'Yes');
  assert.equal(await cellText(certTable(page), 'site-a', 'Expires'), '2045-01-01');
  assert.match(await cellText(certTable(page), 'site-a', 'Issuer'), /CN=Console Test CA$/);

  const stored = await h.getObject(server, '/infra/certificates/site-a');
  assert.equal(stored.has_private_key, true);
  assert.equal(stored.details[0].subject_cn, 'site-a.example.net');
  assert.equal(stored.private_key, undefined);
  const ca = await h.getObject(server, '/infra/certificates/test-ca');
  assert.equal(ca.has_private_key, false);
  assert.equal(ca.details[0].is_ca, true);

  // the key is in no page once imported (also not in the expanded details)
  await row.getByRole('button', { name: 'Expand site-a', exact: true }).click();
  await h.expectText(page.locator('.detail-row:visible'), 'Imported (never displayed)');
  await h.expectText(page.locator('.detail-row:visible'), stored.details[0].sha256_fingerprint);
  const html = await page.content();
  assert.ok(!html.includes(innerLine(fixture('site.key'))), 'the private key is not on the page');
  assert.ok(!html.includes('PRIVATE KEY'), 'no PEM key block on the page');
  await h.screenshot(page, '71-certificates-list');
  await h.assertNoHorizontalScroll(page, 'Certificates');
  h.assertNoPageErrors(fx.browser);
  h.assertRequestsSafe(fx.browser, server);
});

test('an expired certificate is flagged; an encrypted key without its passphrase is refused at the field, then imported', async () => {
  const { page, server } = fx;
  await openCertificates(page);
  await importMenu(page, 'CA Certificate');
  const caForm = h.panel(page, 'Import CA Certificate');
  await field(caForm, 'Name').fill('old-ca');
  await field(caForm, 'Certificate Contents').fill(fixture('expired.pem'));
  await caForm.getByRole('button', { name: 'Import', exact: true }).click();
  await h.expectHidden(caForm);
  const oldRow = h.rowOf(certTable(page), 'old-ca');
  await h.expectText(oldRow, '2021-01-01');
  assert.match(await cellText(certTable(page), 'old-ca', 'Expires'), /^2021-01-01\s*Expired$/);
  await h.expectNoText(h.rowOf(certTable(page), 'test-ca'), 'Expired');

  await importMenu(page, 'Certificate');
  const form = h.panel(page, 'Import Certificate');
  await field(form, 'Name').fill('site-b');
  await field(form, 'Load Certificate Contents from a file').setInputFiles(join(FIXTURES, 'site2.pem'));
  await field(form, 'Load Private Key from a file').setInputFiles(join(FIXTURES, 'site2.key'));
  await form.getByRole('button', { name: 'Import', exact: true }).click();
  const key = field(form, 'Private Key');
  await h.expectAttr(key, 'aria-invalid', 'true');
  const r = await h.api(server, 'PUT', `${h.POLICY}/infra/certificates/probe`, {
    display_name: 'probe', pem_encoded: fixture('site2.pem'), private_key: fixture('site2.key'),
  });
  assert.equal(r.status, 400);
  const apiMessage = r.json.related_errors[0].error_message.replace(/^private_key: /, '');
  // the API's words (the console only capitalizes the first letter)
  assert.ok((await h.describedBy(key)).toLowerCase().includes(apiMessage.toLowerCase()), apiMessage);
  await h.screenshot(page, '72-import-certificate-passphrase-error');
  await field(form, 'Passphrase').fill('console-fixture-pass');
  await form.getByRole('button', { name: 'Import', exact: true }).click();
  await h.expectHidden(form);
  const row = h.rowOf(certTable(page), 'site-b');
  await h.expectText(row, 'CN=site-b.example.net');
  assert.equal(await cellText(certTable(page), 'site-b', 'Key'), 'EC 256');
  assert.equal(await cellText(certTable(page), 'site-b', 'Private Key'), 'Yes');
  const stored = await h.getObject(server, '/infra/certificates/site-b');
  assert.equal(stored.has_private_key, true);
  assert.equal(stored.passphrase, undefined);
  assert.ok(!(await page.content()).includes('console-fixture-pass'), 'the passphrase is not on the page');
  h.assertNoPageErrors(fx.browser);
});

test('a CRL from a file: issuer, next update, revoked count', async () => {
  const { page, server } = fx;
  await openCertificates(page, 'CRLs');
  await page.getByRole('button', { name: 'Import CRL', exact: true }).first().click();
  const form = h.panel(page, 'Import CRL');
  await h.expectVisible(form);
  // a certificate is not a CRL: said at the field, before anything is sent
  await field(form, 'Name').fill('test-crl');
  await field(form, 'CRL Contents').fill(fixture('ca.pem'));
  await form.getByRole('button', { name: 'Import', exact: true }).click();
  await h.expectAttr(field(form, 'CRL Contents'), 'aria-invalid', 'true');
  assert.match(await h.describedBy(field(form, 'CRL Contents')), /BEGIN X509 CRL/);
  await field(form, 'Load CRL Contents from a file').setInputFiles(join(FIXTURES, 'ca.crl'));
  await form.getByRole('button', { name: 'Import', exact: true }).click();
  await h.expectHidden(form);
  const crl = await h.getObject(server, '/infra/crls/test-crl');
  assert.equal(crl.details.issuer, 'C=US, O=Strait Console Test, CN=Console Test CA');
  const row = h.rowOf(h.table(page, 'CRLs'), 'test-crl');
  await h.expectText(row, 'C=US, O=Strait Console Test, CN=Console Test CA');
  await h.expectText(row, new Date(crl.details.next_update).toISOString().slice(0, 10));
  await h.expectText(row, new Date(crl.details.this_update).toISOString().slice(0, 10));
  assert.equal(await cellText(h.table(page, 'CRLs'), 'test-crl', 'Revoked'), '1');
  assert.equal(await cellText(h.table(page, 'CRLs'), 'test-crl', 'Used By'), 'Not used');
  await h.screenshot(page, '73-crls-list');
  h.assertNoPageErrors(fx.browser);
});

test('Local endpoint form: site certificate (only ones with a key), trusted CAs and CRLs; stored; shown in the row and as Used By', async () => {
  const { page, server } = fx;
  await h.openTab(page, 'Local Endpoints');
  await h.rowAction(page, 'le1', 'Edit');
  const form = h.panel(page, 'Edit Local Endpoint');
  await h.expectVisible(form);
  const siteSel = field(form, 'Site Certificate');
  const options = (await h.optionsOf(siteSel)).map((o) => o.text);
  assert.ok(options.some((t) => t.startsWith('site-a (site-a.example.net, expires 2045-01-01)')), JSON.stringify(options));
  assert.ok(options.some((t) => t.startsWith('site-b')), JSON.stringify(options));
  assert.ok(!options.some((t) => /test-ca|old-ca/.test(t)), `CA certificates (no key) are not offered: ${JSON.stringify(options)}`);
  await h.chooseOption(siteSel, /^site-a/);
  const cas = form.getByRole('group', { name: 'Trusted CA Certificates', exact: true });
  await cas.getByRole('checkbox', { name: 'test-ca (Console Test CA)', exact: true }).check();
  await h.expectCount(cas.getByRole('checkbox', { name: /^site-a/ }), 0);
  const crls = form.getByRole('group', { name: 'Trusted CRLs', exact: true });
  await crls.getByRole('checkbox', { name: /^test-crl/ }).check();
  await h.screenshot(page, '74-local-endpoint-certificates');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);

  const le = await h.getObject(server, paths.endpoint);
  assert.equal(le.certificate_path, '/infra/certificates/site-a');
  assert.deepEqual(le.trust_ca_paths, ['/infra/certificates/test-ca']);
  assert.deepEqual(le.trust_crl_paths, ['/infra/crls/test-crl']);
  assert.equal(le.local_address, '198.51.100.71', 'the rest of the endpoint is kept');
  const row = h.rowOf(h.table(page, 'Local Endpoints'), 'le1');
  await h.expectText(row, 'site-a');
  await h.expectText(row, 'test-ca');
  await h.expectText(row, 'test-crl');
  await h.expectText(h.rowOf(h.table(page, 'Local Endpoints'), 'le-nocert'), 'None (PSK only)');

  // the form shows what is stored when opened again
  await h.rowAction(page, 'le1', 'Edit');
  const again = h.panel(page, 'Edit Local Endpoint');
  await h.expectSelected(field(again, 'Site Certificate'), /^site-a/);
  assert.equal(await again.getByRole('group', { name: 'Trusted CA Certificates', exact: true })
    .getByRole('checkbox', { name: 'test-ca (Console Test CA)', exact: true }).isChecked(), true);
  await again.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(again);

  await openCertificates(page);
  await h.expectText(h.rowOf(certTable(page), 'site-a'), 'le1 (site certificate)');
  await h.expectText(h.rowOf(certTable(page), 'test-ca'), 'le1 (trusted CA)');
  await h.expectText(h.rowOf(certTable(page), 'site-b'), 'Not used');
  await h.screenshot(page, '75-certificates-used-by');
  await h.openTab(page, 'CRLs');
  await h.expectText(h.rowOf(h.table(page, 'CRLs'), 'test-crl'), 'le1 (CRL)');
  h.assertNoPageErrors(fx.browser);
});

test('Session form, Certificate mode: the local endpoint\'s site certificate is shown, the PSK hidden; an endpoint without one is an inline error; saved', async () => {
  const { page, server } = fx;
  const form = await h.openAddSessionForm(page);
  await field(form, 'Name').fill('cert-session');
  await h.chooseOption(field(form, 'VPN Service'), 'svc');
  await h.chooseOption(field(form, 'Local Endpoint'), 'le1');
  const psk = field(form, 'Pre-shared Key');
  await h.expectVisible(psk);
  const info = form.getByRole('status', { name: 'Site Certificate', exact: true });
  await h.expectCount(info, 0);
  await h.chooseOption(field(form, 'Authentication Mode'), 'Certificate');
  await h.expectHidden(psk);
  await h.expectVisible(info);
  await h.expectText(info, 'site-a');
  await h.expectText(info, 'C=US, O=Strait Console Test, CN=site-a.example.net');
  await h.expectText(info, 'Expires 2045-01-01');
  await h.expectNoText(info, 'no site certificate');
  assert.match(await h.describedBy(field(form, 'Remote ID')), /\(CN\).*\(DN\)/);
  await h.screenshot(page, '76-session-certificate-mode');

  await h.chooseOption(field(form, 'Local Endpoint'), 'le-nocert');
  await h.expectText(info, 'The local endpoint le-nocert has no site certificate: choose one on the local endpoint');
  await h.expectVisible(info.getByRole('button', { name: 'Edit local endpoint le-nocert', exact: true }));
  await h.expectNoText(info, 'site-a');
  await h.screenshot(page, '77-session-certificate-missing');

  // back to PSK: the key field returns, the certificate line goes
  await h.chooseOption(field(form, 'Authentication Mode'), 'PSK');
  await h.expectVisible(psk);
  await h.expectCount(info, 0);

  await h.chooseOption(field(form, 'Authentication Mode'), 'Certificate');
  await h.chooseOption(field(form, 'Local Endpoint'), 'le1');
  await h.expectText(info, 'site-a');
  assert.ok(!(await page.content()).includes('PRIVATE KEY'));
  await field(form, 'Remote IP').fill('203.0.113.71');
  await field(form, 'Tunnel Interface').fill('169.254.71.1/30');
  await field(form, 'Remote ID').fill('C=US, O=Peer Site, CN=peer.example.net');
  await form.getByRole('button', { name: 'Advanced Properties', exact: true }).click();
  await h.chooseOption(field(form, 'Connection Initiation Mode'), 'Respond Only');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  const s = await h.getObject(server, `${paths.service}/sessions/cert-session`);
  assert.equal(s.authentication_mode, 'CERTIFICATE');
  assert.equal(s.local_endpoint_path, paths.endpoint);
  assert.equal(s.peer_id, 'C=US, O=Peer Site, CN=peer.example.net');
  assert.equal(s.psk, undefined);
  h.assertNoPageErrors(fx.browser);
});

test('delete refused while in use shows the API\'s message; unassigned (after the session), the delete works', async () => {
  const { page, server } = fx;
  await openCertificates(page);
  await h.rowAction(page, 'site-a', 'Delete');
  const confirm = page.getByRole('dialog', { name: 'Delete Certificate', exact: true });
  await h.expectText(confirm, 'le1 (site certificate)');
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
  await h.expectHidden(confirm);
  const refused = await h.api(server, 'DELETE', `${h.POLICY}/infra/certificates/site-a`);
  assert.equal(refused.status, 400);
  const alert = page.getByRole('alert').filter({ hasText: 'Could not delete site-a' });
  await h.expectText(alert, refused.json.error_message);
  assert.ok(await h.getObject(server, '/infra/certificates/site-a'), 'still there');
  await h.expectVisible(h.rowOf(certTable(page), 'site-a'));
  await h.screenshot(page, '78-certificate-delete-refused');

  // The endpoint keeps its certificate while a certificate session uses it: the API's
  // problem is shown at the Site Certificate field.
  await page.getByRole('navigation').getByRole('link', { name: 'VPN', exact: true }).click();
  await h.openTab(page, 'Local Endpoints');
  await h.rowAction(page, 'le1', 'Edit');
  let form = h.panel(page, 'Edit Local Endpoint');
  await h.chooseOption(field(form, 'Site Certificate'), /^None/);
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectAttr(field(form, 'Site Certificate'), 'aria-invalid', 'true');
  assert.match(await h.describedBy(field(form, 'Site Certificate')), /cert-session uses certificate authentication/);
  await form.getByRole('button', { name: 'Cancel', exact: true }).click();
  await h.expectHidden(form);

  await h.policy(server, 'DELETE', `${paths.service}/sessions/cert-session`);
  await h.rowAction(page, 'le1', 'Edit');
  form = h.panel(page, 'Edit Local Endpoint');
  await h.chooseOption(field(form, 'Site Certificate'), /^None/);
  await form.getByRole('group', { name: 'Trusted CRLs', exact: true }).getByRole('checkbox', { name: /^test-crl/ }).uncheck();
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await h.expectHidden(form);
  const le = await h.getObject(server, paths.endpoint);
  assert.equal(le.certificate_path, undefined);
  assert.deepEqual(le.trust_ca_paths, ['/infra/certificates/test-ca']);
  assert.equal(le.trust_crl_paths, undefined);

  await openCertificates(page);
  await h.expectText(h.rowOf(certTable(page), 'site-a'), 'Not used');
  await h.rowAction(page, 'site-a', 'Delete');
  const confirm2 = page.getByRole('dialog', { name: 'Delete Certificate', exact: true });
  await confirm2.getByRole('button', { name: 'Delete', exact: true }).click();
  await h.expectCount(h.rowOf(certTable(page), 'site-a'), 0);
  await h.eventually(async () => assert.equal(await h.getObject(server, '/infra/certificates/site-a'), undefined));

  await h.openTab(page, 'CRLs');
  await h.rowAction(page, 'test-crl', 'Delete');
  await page.getByRole('dialog', { name: 'Delete CRL', exact: true }).getByRole('button', { name: 'Delete', exact: true }).click();
  await h.expectCount(h.rowOf(h.table(page, 'CRLs'), 'test-crl'), 0);
  await h.eventually(async () => assert.equal(await h.getObject(server, '/infra/crls/test-crl'), undefined));
  h.assertNoPageErrors(fx.browser);
});

test('an auditor sees the certificates read-only', async () => {
  const { page, server } = fx;
  const aud = await h.createAuditor(server, 'cert-aud', 'cert-auditor-pw-1');
  await page.getByRole('button', { name: 'Log Out', exact: true }).click();
  await h.login(page, server, aud.username, aud.password);
  try {
    await openCertificates(page);
    await h.expectVisible(h.rowOf(certTable(page), 'test-ca'));
    await h.expectCount(page.getByRole('button', { name: 'Import', exact: true }), 0);
    await h.expectCount(page.getByRole('button', { name: /^Actions for/ }), 0);
    await h.openTab(page, 'CRLs');
    await h.expectCount(page.getByRole('button', { name: 'Import CRL', exact: true }), 0);
  } finally {
    await page.getByRole('button', { name: 'Log Out', exact: true }).click();
    await h.login(page, server);
  }
  h.assertNoPageErrors(fx.browser);
});
