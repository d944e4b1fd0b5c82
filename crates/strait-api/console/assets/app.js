// The console's entry point: login and logout, the NSX-like shell (header, left
// navigation Networking > Tier-0 Gateways and VPN, System > Certificates, each page's tabs)
// and hash routing (#/vpn/services, #/tier0/bgp?gateway=t0, #/certificates/crls, ...).

import * as api from './api.js';
import { h, clear, srOnly } from './dom.js';
import { tabList, closeAllDialogs, setDialogsHidden } from './ui.js';
import * as services from './services.js';
import * as sessions from './sessions.js';
import * as endpoints from './endpoints.js';
import * as profiles from './profiles.js';
import * as certificates from './certificates.js';
import * as tier0 from './tier0.js';

// Pages of the left navigation, each with its tabs, in the navigation's order (grouped by
// section). Tab ids are unique across pages (they name the tab and panel elements). A tab's
// `href` may be a function of the URL's query (the tier-0 tabs keep the chosen gateway).
const PAGES = [
  {
    id: 'tier0', title: 'Tier-0 Gateways', section: 'Networking', icon: 'nav-icon-t0',
    tabs: [
      { id: 'gateways', label: 'Tier-0 Gateways', href: '#/tier0/gateways', module: tier0, view: 'gateways' },
      { id: 'bgp', label: 'BGP', href: (q) => tier0.tabHref('bgp', q), module: tier0, view: 'bgp' },
      { id: 'routing', label: 'Routing Table', href: (q) => tier0.tabHref('routing', q), module: tier0, view: 'routing' },
    ],
  },
  {
    id: 'vpn', title: 'VPN', section: 'Networking', icon: 'nav-icon-vpn',
    tabs: [
      { id: 'services', label: 'VPN Services', href: '#/vpn/services', module: services },
      { id: 'sessions', label: 'IPSec Sessions', href: '#/vpn/sessions', module: sessions },
      { id: 'endpoints', label: 'Local Endpoints', href: '#/vpn/endpoints', module: endpoints },
      { id: 'profiles', label: 'Profiles', href: '#/vpn/profiles', module: profiles },
    ],
  },
  {
    id: 'certificates', title: 'Certificates', section: 'System', icon: 'nav-icon-cert',
    tabs: [
      { id: 'certificates', label: 'Certificates', href: '#/certificates/certificates', module: certificates, view: 'certificates' },
      { id: 'crls', label: 'CRLs', href: '#/certificates/crls', module: certificates, view: 'crls' },
    ],
  },
];

// Where an unknown or empty hash leads.
const DEFAULT_PAGE = PAGES.find((p) => p.id === 'vpn');

const loginView = document.getElementById('login-view');
const appEl = document.getElementById('app');

let user = null; // {username, role}
let shell = null; // {main, panelHost, tabsHost, title, crumbs, navLinks}
let leaveFns = [];
let renderSeq = 0;
let expired = false;

// ---------------------------------------------------------------------------------------
// Routing

function parseHash() {
  const raw = (location.hash || '').replace(/^#/, '');
  const [pathPart, queryPart = ''] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean);
  const page = PAGES.find((p) => p.id === parts[0]) || DEFAULT_PAGE;
  let tab = page.tabs[0].id;
  let sub = null;
  if (page.id === parts[0] && parts[1]) {
    if (page.tabs.some((t) => t.id === parts[1])) tab = parts[1];
    sub = parts[2] || null;
  }
  return { page, tab, sub, query: new URLSearchParams(queryPart) };
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function leave() {
  const fns = leaveFns;
  leaveFns = [];
  for (const f of fns) {
    try { f(); } catch { /* ignore */ }
  }
}

function route() {
  if (!user || !shell || expired) return;
  const r = parseHash();
  const active = document.activeElement;
  const focusedTab = active && active.getAttribute('role') === 'tab' ? active.id : null;
  leave();
  const seq = ++renderSeq;
  const page = r.page;
  const tab = page.tabs.find((t) => t.id === r.tab);
  shell.title.textContent = page.title;
  shell.crumbs.textContent = page.section;
  for (const [id, link] of shell.navLinks) {
    const on = id === page.id;
    link.classList.toggle('is-current', on);
    if (on) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  clear(shell.tabsHost).append(tabList({
    label: page.title,
    current: tab.id,
    tabs: page.tabs.map(({ id, label, href }) => ({ id, label, href: typeof href === 'function' ? href(r.query) : href })),
  }));
  const panel = h('div', { role: 'tabpanel', id: `panel-${tab.id}`, 'aria-labelledby': `tab-${tab.id}`, class: 'tabpanel' });
  clear(shell.panelHost).append(panel);
  const ctx = {
    user,
    isAdmin: user.role === 'admin',
    view: tab.view || null,
    sub: r.sub,
    query: r.query,
    navigate,
    refresh: () => { if (seq === renderSeq) route(); },
    reload: () => route(),
    onLeave: (fn) => leaveFns.push(fn),
    current: () => seq === renderSeq,
  };
  tab.module.render(panel, ctx);
  if (focusedTab) {
    const again = document.getElementById(focusedTab);
    if (again) again.focus();
  }
}

window.addEventListener('hashchange', route);

// ---------------------------------------------------------------------------------------
// Shell

function buildShell() {
  clear(appEl);
  const roleLabel = user.role === 'admin' ? 'admin' : 'auditor';
  const header = h('header', { class: 'topbar' },
    h('div', { class: 'brand' },
      h('img', { src: '/assets/favicon.svg', alt: '', class: 'brand-logo', width: '22', height: '22' }),
      h('span', { class: 'brand-name' }, 'strait'),
      h('span', { class: 'brand-sub' }, 'IPsec VPN Gateway')),
    h('div', { class: 'topbar-right' },
      h('div', { class: 'user', 'aria-label': undefined },
        h('span', { class: 'user-icon', 'aria-hidden': 'true' }),
        h('span', { class: 'user-name' }, user.username),
        h('span', { class: `role-chip role-${roleLabel}` }, srOnly('role: '), roleLabel)),
      h('button', { type: 'button', class: 'btn btn-topbar', onclick: doLogout }, 'Log Out')));
  const navLinks = new Map();
  const sections = [];
  for (const p of PAGES) {
    let sec = sections.find((x) => x.name === p.section);
    if (!sec) sections.push(sec = { name: p.section, pages: [] });
    sec.pages.push(p);
  }
  const nav = h('nav', { class: 'sidenav', 'aria-label': 'Main navigation' },
    sections.map((sec) => {
      const headingId = `nav-${sec.name.toLowerCase()}`;
      return h('div', { class: 'nav-section' },
        h('h2', { class: 'nav-heading', id: headingId }, sec.name),
        h('ul', { class: 'nav-list', 'aria-labelledby': headingId }, sec.pages.map((p) => {
          const link = h('a', { href: p.tabs[0].href, class: 'nav-link' },
            h('span', { class: `nav-icon ${p.icon}`, 'aria-hidden': 'true' }), p.title);
          navLinks.set(p.id, link);
          return h('li', null, link);
        })));
    }));
  const tabsHost = h('div', { class: 'tabs-host' });
  const panelHost = h('div', { class: 'panel-host' });
  const crumbs = h('div', { class: 'crumbs', 'aria-hidden': 'true' }, 'Networking');
  const title = h('h1', { class: 'page-title', id: 'main-heading', tabindex: '-1' }, 'VPN');
  const main = h('main', { class: 'main', id: 'main' },
    h('div', { class: 'page-head' }, crumbs, title),
    tabsHost, panelHost);
  appEl.append(header, h('div', { class: 'layout' }, nav, main));
  if (user.role !== 'admin') {
    main.querySelector('.page-head').append(h('p', { class: 'readonly-note' },
      h('span', { class: 'lock', 'aria-hidden': 'true' }), 'Read-only access: auditors can view the configuration and download peer configurations.'));
  }
  shell = { main, panelHost, tabsHost, title, crumbs, navLinks };
}

function showApp() {
  expired = false;
  loginView.hidden = true;
  clear(loginView);
  appEl.hidden = false;
  setDialogsHidden(false);
  if (location.pathname !== '/') history.replaceState(null, '', `/${location.hash || '#/vpn/services'}`);
  if (!location.hash) history.replaceState(null, '', '/#/vpn/services');
  buildShell();
  route();
}

// ---------------------------------------------------------------------------------------
// Login

function showLogin({ message, kind = 'info', username = '' } = {}) {
  appEl.hidden = true;
  loginView.hidden = false;
  clear(loginView);
  const msg = h('div', { class: `login-message ${message ? `login-${kind}` : ''}`, role: 'alert', hidden: !message }, message || '');
  const userInput = h('input', { id: 'login-username', class: 'input', type: 'text', name: 'username', autocomplete: 'username', value: username, autocapitalize: 'none', spellcheck: 'false', 'aria-required': 'true' });
  const passInput = h('input', { id: 'login-password', class: 'input', type: 'password', name: 'password', autocomplete: 'current-password', 'aria-required': 'true' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Log In');
  const form = h('form', { class: 'login-form', novalidate: true, 'aria-labelledby': 'login-title' },
    h('div', { class: 'field' }, h('div', { class: 'field-label' }, h('label', { for: 'login-username' }, 'Username')), userInput),
    h('div', { class: 'field' }, h('div', { class: 'field-label' }, h('label', { for: 'login-password' }, 'Password')), passInput),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const u = userInput.value.trim();
    if (!u || !passInput.value) {
      msg.className = 'login-message login-error';
      msg.textContent = !u ? 'Enter your username.' : 'Enter your password.';
      msg.hidden = false;
      (!u ? userInput : passInput).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging in\u2026';
    try {
      const s = await api.login(u, passInput.value);
      passInput.value = '';
      const sameUser = shell && user && expired && user.username === s.username && user.role === s.role;
      user = { username: s.username, role: s.role };
      if (sameUser) {
        // Back to exactly where the session ended, open forms included.
        expired = false;
        loginView.hidden = true;
        clear(loginView);
        appEl.hidden = false;
        setDialogsHidden(false);
        route();
      } else {
        closeAllDialogs();
        showApp();
      }
    } catch (err) {
      submit.disabled = false;
      submit.textContent = 'Log In';
      msg.className = 'login-message login-error';
      msg.textContent = loginFailure(err);
      msg.hidden = false;
      passInput.value = '';
      passInput.focus();
    }
  });
  loginView.append(h('div', { class: 'login-wrap' },
    h('div', { class: 'login-card' },
      h('div', { class: 'login-brand' },
        h('img', { src: '/assets/favicon.svg', alt: '', width: '36', height: '36' }),
        h('div', null, h('div', { class: 'login-product' }, 'strait'), h('div', { class: 'login-tag' }, 'Route-based IPsec VPN gateway'))),
      h('h1', { class: 'login-title', id: 'login-title' }, 'Log in'),
      msg, form),
    h('p', { class: 'login-foot' }, 'Use an account of this gateway (admin or auditor).')));
  (username ? passInput : userInput).focus();
}

function loginFailure(err) {
  if (err.status === 403) {
    const m = err.message || '';
    return m ? m.charAt(0).toUpperCase() + m.slice(1) : 'Login failed: the username or password is incorrect.';
  }
  if (err.status === 0) return err.message;
  return err.message || 'Login failed.';
}

async function doLogout() {
  leave();
  try {
    await api.logout();
  } catch { /* the local session is gone anyway */ }
  const name = user ? user.username : '';
  user = null;
  shell = null;
  closeAllDialogs();
  clear(appEl);
  history.replaceState(null, '', `/login${location.hash || ''}`);
  showLogin({ message: 'You have logged out.', kind: 'info', username: name });
}

api.onUnauthorized(() => {
  if (expired) return;
  expired = true;
  leave();
  const name = user ? user.username : '';
  setDialogsHidden(true);
  showLogin({ message: 'Your session has ended. Log in again to continue.', kind: 'warn', username: name });
});

// ---------------------------------------------------------------------------------------
// Boot

async function boot() {
  const s = api.currentSession();
  if (!s) {
    showLogin();
    return;
  }
  user = { username: s.username, role: s.role };
  try {
    const fresh = await api.whoami();
    user = { username: fresh.username, role: fresh.role };
    showApp();
  } catch (err) {
    if (err.status === 401) return; // onUnauthorized showed the login form
    user = { username: s.username, role: s.role };
    showApp();
  }
}

boot();
