// Shared helpers of the console's browser tests: a straitd per test file, headless Debian
// chromium driven by playwright-core, REST API calls with HTTP Basic, login and screenshots.
//
// Network safety: the tests only use 198.51.100.x (local endpoints), 203.0.113.x (remote IPs)
// and 169.254.x.x (tunnel interfaces). None of these is on the host, so straitd cannot bind IKE
// on the local endpoint address and sends nothing (the session shows "Configuration failed").
// `assertNotLocal` refuses to go on if such an address ever is on the host.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import https from 'node:https';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SCREENSHOTS = join(REPO, 'target', 'console-screenshots');
export const ADMIN_PASSWORD = 'console-test-admin-pw';
/** Timeout of one UI step (a locator action or an expectation). */
export const STEP_TIMEOUT = 15_000;
export const POLICY = '/policy/api/v1';

// ---------------------------------------------------------------------------------------------
// straitd

/**
 * Start a straitd on a fresh data directory, listening on a free loopback port, with `args`
 * added to its command line (e.g. `--bird /nonexistent/bird`).
 * Returns { url, port, dataDir, stop(), log() }.
 */
export async function startStraitd({ adminPassword = ADMIN_PASSWORD, args = [] } = {}) {
  const bin = process.env.STRAITD || join(REPO, 'target', 'debug', 'straitd');
  assert.ok(existsSync(bin), `${bin} not found: run cargo build -p strait --bin straitd`);
  const dataDir = mkdtempSync(join(tmpdir(), 'strait-console-test-'));
  const child = spawn(bin, ['--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, STRAIT_ADMIN_PASSWORD: adminPassword },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`straitd did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = output.match(/straitd listening on https:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', (c) => { output += c.toString(); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`straitd exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });
  let stopped = false;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    dataDir,
    adminPassword,
    log: () => output,
    /** SIGTERM (straitd removes its VTIs and routes), SIGKILL after 15 s; remove the data dir. */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Throw if `address` is configured on this host (the tests must never make straitd talk IKE). */
export function assertNotLocal(address) {
  let out = '';
  try {
    out = execFileSync('ip', ['-o', 'addr', 'show'], { encoding: 'utf8' });
  } catch {
    return; // no iproute2: nothing to compare with
  }
  const present = out.split('\n').some((l) => l.split(/\s+/).some((w) => w.split('/')[0] === address));
  assert.ok(!present, `test address ${address} is configured on this host: refusing to run`);
}

// ---------------------------------------------------------------------------------------------
// REST API (HTTP Basic)

/**
 * One API request with HTTP Basic. Returns { status, headers, text, json }.
 * `body` is sent as JSON when it is not a string.
 */
export function api(server, method, path, body, { user = 'admin', password = server.adminPassword } = {}) {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers = {
    authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64'),
    accept: 'application/json',
  };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((res, rej) => {
    const req = https.request(
      `${server.url}${path}`,
      { method, headers, rejectUnauthorized: false, timeout: 15_000 },
      (r) => {
        const chunks = [];
        r.on('data', (c) => chunks.push(c));
        r.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
          res({ status: r.statusCode, headers: r.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', rej);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Like `api`, but asserts a 2xx answer and returns its JSON body. */
export async function apiOk(server, method, path, body, auth) {
  const r = await api(server, method, path, body, auth);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} -> ${r.status}: ${r.text}`);
  return r.json;
}

export const policy = (server, method, path, body, auth) => apiOk(server, method, POLICY + path, body, auth);

/** GET a policy object; returns undefined on 404. */
export async function getObject(server, path, auth) {
  const r = await api(server, 'GET', POLICY + path, undefined, auth);
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, `GET ${path} -> ${r.status}: ${r.text}`);
  return r.json;
}

/**
 * A tier-0 gateway `t0`, its VPN service `svc` and a local endpoint `le1` (198.51.100.11),
 * made through the API. Returns their paths.
 */
export async function seedServiceAndEndpoint(server, {
  gateway = 't0', service = 'svc', endpoint = 'le1', address = '198.51.100.11',
} = {}) {
  assertNotLocal(address);
  const gw = `/infra/tier-0s/${gateway}`;
  await policy(server, 'PATCH', gw, { display_name: gateway });
  const svc = `${gw}/ipsec-vpn-services/${service}`;
  await policy(server, 'PUT', svc, { resource_type: 'IPSecVpnService', display_name: service });
  const le = `${svc}/local-endpoints/${endpoint}`;
  await policy(server, 'PUT', le, {
    resource_type: 'IPSecVpnLocalEndpoint', display_name: endpoint, local_address: address,
  });
  return { gateway: gw, service: svc, endpoint: le };
}

/** A route-based PSK session made through the API (Respond Only unless said otherwise). */
export async function createSession(server, servicePath, endpointPath, id, fields = {}) {
  const body = {
    resource_type: 'RouteBasedIPSecVpnSession',
    display_name: id,
    local_endpoint_path: endpointPath,
    peer_address: '203.0.113.10',
    peer_id: '203.0.113.10',
    authentication_mode: 'PSK',
    psk: 'api-made-psk-123',
    connection_initiation_mode: 'RESPOND_ONLY',
    tunnel_interfaces: [{ ip_subnets: [{ ip_addresses: ['169.254.50.1'], prefix_length: 30 }] }],
    ...fields,
  };
  assertNotLocal(body.peer_address);
  return policy(server, 'PUT', `${servicePath}/sessions/${id}`, body);
}

/** Create an auditor through the API. */
export async function createAuditor(server, username = 'aud', password = 'auditor-pw-123') {
  await apiOk(server, 'PUT', `/api/v1/users/${username}`, { username, role: 'auditor', password });
  return { username, password };
}

// ---------------------------------------------------------------------------------------------
// Browser

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Launch Debian's chromium (or env CHROMIUM) headless with a fresh user-data-dir.
 * Returns { context, page, errors, close() }; `errors` collects page errors, console errors
 * and CSP violations, for `assertNoPageErrors`.
 */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  assert.ok(existsSync(executablePath), `${executablePath} not found: apt-get install chromium`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'strait-console-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    locale: 'en-US',
    reducedMotion: 'reduce',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(STEP_TIMEOUT);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT);
  const errors = [];
  const requests = [];
  const watch = (page) => {
    page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), headers: r.headers() }));
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    errors,
    requests,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Assert that the page reported no script error and no CSP violation. Console errors from
 * failed requests (4xx answers the console shows as messages, e.g. validation errors) are
 * expected and ignored.
 */
export function assertNoPageErrors(browser) {
  const bad = browser.errors.filter((e) => !/Failed to load resource: the server responded with a status of (4\d\d)/.test(e));
  assert.deepEqual(bad, [], 'the page reported errors');
}

/**
 * Assert that every request the browser made went to straitd itself (nothing from outside the
 * gateway) and that every state-changing API request carried X-XSRF-TOKEN.
 */
export function assertRequestsSafe(browser, server) {
  const foreign = browser.requests.filter((r) => !r.url.startsWith(server.url + '/') && !r.url.startsWith('data:'));
  assert.deepEqual(foreign.map((r) => r.url), [], 'requests to anything but straitd');
  const unsafe = browser.requests.filter((r) => !['GET', 'HEAD'].includes(r.method)
    && !r.url.endsWith('/api/session/create') && !r.headers['x-xsrf-token']);
  assert.deepEqual(unsafe.map((r) => `${r.method} ${r.url}`), [], 'state-changing requests without X-XSRF-TOKEN');
}

/** Open the console and log in through its login form; waits for the VPN page. */
export async function login(page, server, username = 'admin', password = server.adminPassword) {
  await page.goto(server.url + '/');
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log In', exact: true }).click();
  await page.getByRole('heading', { name: 'VPN', exact: true }).waitFor();
}

/**
 * Back to a clean VPN page (closes forms and menus): reload the console at VPN Services,
 * logging in again if it asks.
 */
export async function resetPage(page, server, username = 'admin', password = server.adminPassword) {
  await page.goto(`${server.url}/#/vpn/services`);
  await page.reload();
  const heading = page.getByRole('heading', { name: 'VPN', exact: true });
  const logIn = page.getByRole('button', { name: 'Log In', exact: true });
  await heading.or(logIn).first().waitFor();
  if (await logIn.isVisible()) await login(page, server, username, password);
  assert.equal(await page.getByRole('dialog').count(), 0, 'no dialog after a reload');
}

/** Open a main tab (`VPN Services`, `IPSec Sessions`, `Local Endpoints`, `Profiles`). */
export async function openTab(page, name) {
  await page.getByRole('tab', { name, exact: true }).click();
  await page.getByRole('tab', { name, exact: true, selected: true }).waitFor();
}

/** The table of a tab (accessible name = the tab's name). */
export const table = (page, name) => page.getByRole('table', { name, exact: true });

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The row of a table with a cell reading `text` (exactly, or followed by a badge: "x System"). */
export const rowOf = (tbl, text) =>
  tbl.getByRole('row').filter({ has: tbl.page().getByRole('cell', { name: new RegExp(`^${escapeRe(text)}(\\s|$)`) }) });

/** Save a full-page screenshot as target/console-screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
}

/** Assert that the page does not scroll horizontally. */
export async function assertNoHorizontalScroll(page, what) {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
  assert.ok(scrollWidth <= clientWidth, `${what}: horizontal scrolling (scrollWidth ${scrollWidth} > clientWidth ${clientWidth})`);
}

/**
 * Wait until `fn` (async, returning a value) passes `check` (throws when not yet), polling
 * every 200 ms for at most `timeout` ms. For conditions on the API, not the page.
 */
export async function eventually(fn, timeout = STEP_TIMEOUT) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * A per-file fixture: a straitd and a browser, fresh for the file. Use in `before`/`after`.
 * `opts` go to startStraitd.
 */
export async function startAll(opts = {}) {
  const server = await startStraitd(opts);
  let browser;
  try {
    browser = await launchBrowser();
  } catch (e) {
    await server.stop();
    throw e;
  }
  return {
    server,
    browser,
    page: browser.page,
    async stop() {
      await browser.close();
      await server.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Auto-waiting expectations (playwright-core has no `expect`): each polls until it holds or
// STEP_TIMEOUT passes, then fails with the last value seen.

const matches = (actual, expected) =>
  expected instanceof RegExp ? expected.test(actual) : actual.includes(expected);

async function poll(what, get, ok, timeout = STEP_TIMEOUT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch (e) {
      last = `<${e.message.split('\n')[0]}>`;
    }
    if (Date.now() > end) assert.fail(`${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The element's text contains `expected` (a string) or matches it (a RegExp). */
export const expectText = (loc, expected, timeout) =>
  poll(`expected ${loc} to have text ${expected}`, () => loc.innerText({ timeout: 1000 }), (t) => matches(t, expected), timeout);

/** The element's text does not contain / match `expected`. */
export const expectNoText = (loc, expected, timeout) =>
  poll(`expected ${loc} not to have text ${expected}`, () => loc.innerText({ timeout: 1000 }), (t) => !matches(t, expected), timeout);

/** The attribute has exactly `value` (null: absent). */
export const expectAttr = (loc, name, value, timeout) =>
  poll(`expected ${loc} to have ${name}=${value}`, () => loc.getAttribute(name, { timeout: 1000 }), (v) => v === value, timeout);

/** The form control's value is exactly `value`. */
export const expectValue = (loc, value, timeout) =>
  poll(`expected ${loc} to have value ${value}`, () => loc.inputValue({ timeout: 1000 }), (v) => v === value, timeout);

/** The select shows the option whose label is `label`. */
export const expectSelected = (loc, label, timeout) =>
  poll(`expected ${loc} to show ${label}`,
    () => loc.evaluate((el) => el.selectedOptions?.[0]?.textContent?.trim() ?? null, undefined, { timeout: 1000 }),
    (v) => (label instanceof RegExp ? label.test(v ?? '') : v === label), timeout);

export const expectCount = (loc, n, timeout) =>
  poll(`expected ${n} of ${loc}`, () => loc.count(), (c) => c === n, timeout);

export const expectDisabled = (loc, timeout) =>
  poll(`expected ${loc} to be disabled`, () => loc.isDisabled({ timeout: 1000 }), (v) => v === true, timeout);

export const expectEnabled = (loc, timeout) =>
  poll(`expected ${loc} to be enabled`, () => loc.isEnabled({ timeout: 1000 }), (v) => v === true, timeout);

export const expectVisible = (loc, timeout = STEP_TIMEOUT) => loc.waitFor({ state: 'visible', timeout });
export const expectHidden = (loc, timeout = STEP_TIMEOUT) => loc.waitFor({ state: 'hidden', timeout });

/** The focused element is `loc`. */
export const expectFocused = (loc, timeout) =>
  poll(`expected ${loc} to be focused`, () => loc.evaluate((el) => el === document.activeElement, undefined, { timeout: 1000 }), (v) => v === true, timeout);

// ---------------------------------------------------------------------------------------------
// Console UI pieces (accessible names from docs/console.md)

/** A form by its accessible name: a dialog, or a form/group (inline forms). */
export const panel = (scope, name) =>
  scope.getByRole('dialog', { name, exact: true })
    .or(scope.getByRole('form', { name, exact: true }))
    .or(scope.getByRole('group', { name, exact: true }))
    .first();

export const SESSION_FORM = 'Add IPSec Session - Route Based';
export const EDIT_SESSION_FORM = 'Edit IPSec Session';

/** The visible menu (role=menu). */
export const openMenu = (page) => page.locator('[role=menu]:visible');

/** Select the option of a <select> whose label or value matches `what` (string: contains; RegExp). */
export async function chooseOption(select, what) {
  const pick = (options) => options.find((o) => !o.disabled && (o.text === what || o.value === what))
    ?? options.find((o) => !o.disabled && (what instanceof RegExp ? what.test(o.text) || what.test(o.value) : o.text.includes(what)));
  // the options may still be loading: wait for the one wanted
  const hit = await poll(`expected an option ${what} in ${select}`,
    async () => pick(await optionsOf(select)) ?? JSON.stringify(await optionsOf(select)),
    (v) => typeof v === 'object');
  await select.selectOption(hit.value);
  return hit;
}

/** The options of a <select>: [{value, text, disabled}]. */
export const optionsOf = (select) =>
  select.evaluate((el) => [...el.options].map((o) => ({ value: o.value, text: o.textContent.trim(), disabled: o.disabled, title: o.title })));

/** Text of the elements named by the control's aria-describedby. */
export const describedBy = (loc) =>
  loc.evaluate((el) => (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent?.trim() ?? '').join(' | '));

/** Open IPSec Sessions > Add IPSec Session > Route Based; returns the form. */
export async function openAddSessionForm(page) {
  await openTab(page, 'IPSec Sessions');
  await page.getByRole('button', { name: 'Add IPSec Session', exact: true }).first().click();
  await openMenu(page).getByRole('menuitem', { name: 'Route Based', exact: true }).click();
  const form = panel(page, SESSION_FORM);
  await form.waitFor();
  return form;
}

/** Click `Actions for <name>` and then the menu item `item`. */
export async function rowAction(page, name, item) {
  await page.getByRole('button', { name: `Actions for ${name}`, exact: true }).click();
  await openMenu(page).getByRole('menuitem', { name: item, exact: true }).click();
}

/** Menu items (names) of the open menu. */
export const menuItems = (page) =>
  openMenu(page).getByRole('menuitem').evaluateAll((els) => els.map((e) => ({
    name: (e.getAttribute('aria-label') || e.textContent).trim(),
    disabled: e.getAttribute('aria-disabled') === 'true' || e.disabled === true,
  })));

/** "Down - Configuration failed" etc. from a detailed-status answer. */
export function statusText(detailed) {
  const r = detailed.results[0];
  const word = { UP: 'Up', DOWN: 'Down', DEGRADED: 'Degraded' }[r.runtime_status];
  const reason = r.ike_status?.fail_reason;
  return r.runtime_status !== 'UP' && reason ? `${word} - ${reason}` : word;
}

/** Assert that nothing (a toast, another layer) covers the centre of the element. */
export async function assertNotCovered(loc, what) {
  await loc.scrollIntoViewIfNeeded();
  const covered = await loc.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return top && !el.contains(top) ? top.outerHTML.slice(0, 160) : null;
  });
  assert.equal(covered, null, `${what} is covered by another element`);
}
