// Sentral's switchboard console: the operators' page. No framework, no
// build step: index.html, this module, i18n.js and style.css, embedded in
// the binary (console/web). Everything it shows and does goes through the
// console API (docs/console-api.md): GET /console/api/state, the event
// stream /console/api/events, and POSTs with the X-CSRF-Token header.
// Answering in the browser uses the softphone package's JsSIP bundle
// (/softphone/jssip.js), loaded only when the operator chooses it.
//
// Stable hooks for end-to-end tests (Playwright):
//
//   Login         #login-form, #login-username, #login-password,
//                 #login-submit, #login-error ([data-testid=login-error])
//   Header        #me-name, #available (checkbox, role=switch), #help,
//                 #lang, #logout, #night-banner ([data-testid=night-banner]),
//                 #conn-status, #error ([data-testid=error]) with
//                 #error-text and #error-close, #announcer (aria-live)
//   Phone         #answer-mode-phone, #answer-mode-browser (radios),
//                 #sip-status ([data-testid=sip-status], data-state =
//                 off|connecting|registered|failed|disconnected),
//                 #incoming with #sip-answer and #sip-reject (a call that
//                 is not from the console), #browser-call with #sip-mute and
//                 #sip-hangup; dialog #sip-dialog with #sip-form,
//                 #sip-password, #sip-submit, #sip-cancel, #sip-error
//   Queue         #queue-body, #queue-count, #queue-empty;
//                 [data-testid=queue-row][data-call-id][data-position] with
//                 [data-testid=caller], [data-testid=caller-name],
//                 [data-testid=dialled], [data-testid=wait] (m:ss, ticking;
//                 data-since) and the button [data-testid=answer]
//   My calls      #target (target number or mailbox), #target-form,
//                 #target-submit, #target-hint, #calls-list, #calls-empty;
//                 [data-testid=my-call][data-call-id][data-state] (state
//                 ringing|talking|held|consulting; data-current="true" on
//                 the call the shortcuts act on) with [data-testid=call-state],
//                 [data-testid=consult-info], radio [data-testid=select-call]
//                 and the buttons [data-testid=hold|resume|transfer|consult|
//                 connect|return|voicemail|park|hangup] (only those the
//                 call's state allows are present)
//   Parked        #parked-body, #parked-empty;
//                 [data-testid=parked-row][data-slot][data-call-id] with
//                 [data-testid=parked-wait] and [data-testid=retrieve]
//   Board         #board-filter, #board-dept, #board-site, #board-body,
//                 #board-count; [data-testid=board-row][data-number]
//                 [data-state] with [data-testid=board-state] and the button
//                 [data-testid=board-use] (puts the number into #target)
//   Directory     #dir-form, #dir-search, #dir-submit, #dir-count, #dir-more;
//                 [data-testid=dir-row][data-entry-id] with
//                 [data-testid=dir-call] and [data-testid=dir-transfer]
//   Recent        [data-testid=recent-row][data-call-id][data-outcome] with
//                 [data-testid=call-back]
//   Operators     [data-testid=operator-row][data-username][data-available]
//                 [data-busy]
//   Help          #help-dialog, #help-body, #help-close
//
// window.sentralConsole.state() returns a snapshot of the page's state
// (logged in, event stream, SIP registration, counts) for tests.
//
// Keyboard shortcuts: see SHORTCUTS below (and the help dialog, "?").

import { apply, pickLanguage, translator } from './i18n.js';

const API = '/console/api/';
const JSSIP_URL = '/softphone/jssip.js';
// Non-trickle ICE: how long to wait for candidates before answering with
// what was gathered (as the softphone does).
const ICE_GATHER_MS = 2000;
const RECENT_MAX = 50;
const DIR_LIMIT = 20;
const DIR_DEBOUNCE_MS = 250;
const EVENTS_RETRY_MS = 3000;
const ERROR_SHOW_MS = 15000;
// Clock skew between server and browser below this is noise (the Date
// header has whole seconds).
const SKEW_MIN_MS = 2000;
const KEYS = {
  lang: 'sentral.console.lang',
  langFor: (user) => `sentral.console.lang.${user}`,
  mode: 'sentral.console.answerMode',
};

const $ = (id) => document.getElementById(id);

const st = {
  lang: 'nb',
  user: null, // User from login or /me
  csrf: '',
  loggedIn: false,
  queue: [],
  calls: [],
  parked: [],
  board: new Map(), // number -> BoardEntry
  recent: [],
  operators: [],
  night: { active: false, reason: '', target: '' },
  me: { available: false },
  softphone: null, // {ws_url, domain, ice_servers}
  stateLoaded: false,
  loadingState: 0, // requests in flight
  buffered: [], // events that arrived while the state was loading
  skew: 0, // server clock minus browser clock, ms
  seenQueue: new Set(),
  selected: null, // id of the call the operator picked
  pending: 'transfer', // what Enter in #target does
  events: 'closed', // connecting, open, closed
  es: null,
  esRetry: null,
  dir: { q: '', entries: [], total: 0, seq: 0, timer: null },
  mode: 'phone', // answer on the desk phone or in the browser
  sip: {
    JsSIP: null,
    ua: null,
    state: 'off', // off, connecting, registered, failed, disconnected
    everRegistered: false,
    password: '', // in memory only, for this page's life
    sessions: new Map(), // id -> {session, who, console, audio, muted, answered}
    incoming: null, // a ringing session that is not from the console
    stopTone: null,
  },
  errorTimer: null,
};

let t = translator('nb');

// ---- storage (may be unavailable: private mode, policy) ----

function load(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : JSON.parse(v);
  } catch {
    return fallback;
  }
}

function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // preferences are a convenience
  }
}

// ---- messages ----

function announce(key, vars) {
  const el = $('announcer');
  // Clear first so the same text twice is announced twice.
  el.textContent = '';
  setTimeout(() => {
    el.textContent = t(key, vars);
  }, 50);
}

function showError(text) {
  clearTimeout(st.errorTimer);
  $('error-text').textContent = text;
  $('error').hidden = false;
  st.errorTimer = setTimeout(clearError, ERROR_SHOW_MS);
}

function fail(key, vars) {
  showError(t(key, vars));
}

function clearError() {
  clearTimeout(st.errorTimer);
  $('error').hidden = true;
  $('error-text').textContent = '';
}

// ---- API ----

class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || '';
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method === 'POST') {
    headers['Content-Type'] = 'application/json';
    if (st.csrf) {
      headers['X-CSRF-Token'] = st.csrf;
    }
    init.body = JSON.stringify(body ?? {});
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, t('networkError'));
  }
  const date = Date.parse(res.headers.get('Date') || '');
  if (!Number.isNaN(date)) {
    const skew = date - Date.now();
    st.skew = Math.abs(skew) >= SKEW_MIN_MS ? skew : 0;
  }
  let data = null;
  if (res.status !== 204) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const msg = data && typeof data.error === 'string' && data.error ? data.error : t('httpError', { status: res.status });
    if (res.status === 401 && path !== 'login' && st.loggedIn) {
      sessionEnded('sessionExpired');
    }
    throw new ApiError(res.status, msg, data?.field);
  }
  return data;
}

// act runs one POST action; what names it in an error message.
async function act(what, path, body) {
  clearError();
  try {
    const data = await api('POST', path, body);
    if (st.events !== 'open') {
      loadState();
    }
    return data ?? {};
  } catch (err) {
    if (err.status !== 401) {
      showError(t('actionFailed', { action: what, reason: err.message }));
    }
    return null;
  }
}

// ---- switchboard settings (admins) ----

// loadSettings shows the opening hours and night target to admins, who
// may change them; operators do not see the panel.
async function loadSettings() {
  const admin = st.user?.role === 'admin';
  $('settings').hidden = !admin;
  if (!admin) return;
  try {
    const v = await api('GET', 'switchboard');
    $('settings-hours').value = v.hours || '';
    $('settings-night').value = v.night_target || '';
  } catch (err) {
    if (err.status !== 401) showError(err.message);
  }
}

async function saveSettings() {
  $('settings-status').textContent = '';
  const v = await act(t('settingsSave'), 'switchboard', {
    hours: $('settings-hours').value.trim(),
    night_target: $('settings-night').value.trim(),
  });
  if (v) {
    $('settings-hours').value = v.hours || '';
    $('settings-night').value = v.night_target || '';
    $('settings-status').textContent = t('settingsSaved');
  }
}

// ---- session ----

async function checkSession() {
  try {
    const data = await api('GET', 'me');
    enterApp(data);
  } catch (err) {
    showLogin(err.status === 401 ? '' : err.message);
  }
}

async function login(username, password) {
  const errEl = $('login-error');
  errEl.hidden = true;
  username = username.trim();
  if (!username || !password) {
    loginError(t('loginMissing'));
    (username ? $('login-password') : $('login-username')).focus();
    return;
  }
  $('login-submit').disabled = true;
  try {
    const data = await api('POST', 'login', { username, password });
    $('login-password').value = '';
    enterApp(data);
  } catch (err) {
    $('login-password').value = '';
    if (err.status === 401) {
      loginError(t('loginWrong'));
    } else if (err.status === 423) {
      loginError(t('loginLocked'));
    } else if (err.status === 429) {
      loginError(t('loginTooMany'));
    } else {
      loginError(err.message);
    }
    $('login-password').focus();
  } finally {
    $('login-submit').disabled = false;
  }
}

function loginError(text) {
  const el = $('login-error');
  el.textContent = text;
  el.hidden = !text;
  $('login-password').setAttribute('aria-invalid', text ? 'true' : 'false');
}

function showLogin(message) {
  st.loggedIn = false;
  $('login').hidden = false;
  $('app').hidden = true;
  for (const id of ['me-name', 'available-wrap', 'help', 'logout', 'night-banner', 'conn-status']) {
    $(id).hidden = true;
  }
  loginError(message || '');
  const user = $('login-username');
  (user.value ? $('login-password') : user).focus();
}

function enterApp(data) {
  st.user = data.user;
  st.csrf = data.csrf || '';
  st.loggedIn = true;
  const chosen = load(KEYS.langFor(st.user.username), null);
  const lang = chosen === 'nb' || chosen === 'en' ? chosen : st.user.locale === 'en' || st.user.locale === 'nb' ? st.user.locale : st.lang;
  if (lang !== st.lang) {
    setLanguage(lang);
  }
  $('login').hidden = true;
  $('app').hidden = false;
  for (const id of ['me-name', 'available-wrap', 'help', 'logout']) {
    $(id).hidden = false;
  }
  loginError('');
  st.stateLoaded = false;
  st.seenQueue = new Set();
  loadState();
  openEvents();
  render();
  $('main').focus();
  loadSettings();
  st.mode = load(KEYS.mode, 'phone') === 'browser' ? 'browser' : 'phone';
  $(st.mode === 'browser' ? 'answer-mode-browser' : 'answer-mode-phone').checked = true;
}

function sessionEnded(key) {
  closeEvents();
  stopUA();
  st.sip.password = '';
  st.user = null;
  st.csrf = '';
  st.queue = [];
  st.calls = [];
  st.parked = [];
  st.board = new Map();
  st.recent = [];
  st.operators = [];
  st.night = { active: false, reason: '', target: '' };
  st.softphone = null;
  st.stateLoaded = false;
  st.selected = null;
  for (const d of document.querySelectorAll('dialog[open]')) {
    d.close();
  }
  clearError();
  showLogin(key ? t(key) : '');
}

async function logout() {
  try {
    await api('POST', 'logout', {});
  } catch {
    // the session is gone either way
  }
  sessionEnded('loggedOut');
}

// ---- state and events ----

async function loadState() {
  st.loadingState++;
  let data;
  try {
    data = await api('GET', 'state');
  } catch (err) {
    st.loadingState--;
    if (err.status !== 401) {
      fail('stateFailed', { reason: err.message });
    }
    return;
  }
  st.loadingState--;
  if (!st.loggedIn) return;
  const first = !st.stateLoaded;
  applyState(data || {});
  if (first && st.mode === 'browser' && !st.sip.ua) {
    openSipDialog();
  }
  if (st.loadingState === 0) {
    const buffered = st.buffered;
    st.buffered = [];
    for (const [name, payload] of buffered) {
      onEvent(name, payload);
    }
  }
  render();
}

function applyState(s) {
  const first = !st.stateLoaded;
  setQueue(Array.isArray(s.queue) ? s.queue : [], first);
  st.calls = Array.isArray(s.calls) ? s.calls : [];
  st.parked = sortParked(Array.isArray(s.parked) ? s.parked : []);
  st.board = new Map();
  for (const e of Array.isArray(s.board) ? s.board : []) {
    st.board.set(String(e.number), e);
  }
  st.recent = Array.isArray(s.recent) ? s.recent.slice(0, RECENT_MAX) : [];
  setOperators(Array.isArray(s.operators) ? s.operators : []);
  st.night = s.night || { active: false, reason: '', target: '' };
  st.home = s.switchboard_home || null;
  st.me = s.me || { available: false };
  st.softphone = s.softphone || null;
  st.stateLoaded = true;
}

function setQueue(list, quiet) {
  st.queue = list.slice().sort((a, b) => (a.position || 0) - (b.position || 0));
  const fresh = st.queue.filter((c) => !st.seenQueue.has(c.id));
  st.seenQueue = new Set(st.queue.map((c) => c.id));
  if (quiet) return;
  if (fresh.length === 1) {
    announce('announceNewCall', { who: who(fresh[0].caller, fresh[0].caller_name), n: st.queue.length });
  } else if (fresh.length > 1) {
    announce('announceNewCalls', { count: fresh.length, n: st.queue.length });
  }
}

function sortParked(list) {
  return list.slice().sort((a, b) => (a.slot || 0) - (b.slot || 0));
}

function setOperators(list) {
  st.operators = list;
  const mine = list.find((o) => st.user && o.username === st.user.username);
  if (mine) {
    st.me = { ...st.me, available: Boolean(mine.available) };
  }
}

function onEvent(name, data) {
  switch (name) {
    case 'queue':
      setQueue(Array.isArray(data) ? data : [], false);
      renderQueue();
      break;
    case 'calls':
      st.calls = Array.isArray(data) ? data : [];
      renderCalls();
      break;
    case 'parked':
      st.parked = sortParked(Array.isArray(data) ? data : []);
      renderParked();
      break;
    case 'board':
      if (data && data.number !== undefined) {
        st.board.set(String(data.number), data);
        renderBoard();
        renderDirectory();
      }
      break;
    case 'recent':
      if (data && data.id !== undefined) {
        st.recent = [data, ...st.recent.filter((r) => r.id !== data.id)].slice(0, RECENT_MAX);
        renderRecent();
      }
      break;
    case 'operators':
      setOperators(Array.isArray(data) ? data : []);
      renderOperators();
      renderHeader();
      break;
    case 'night':
      st.night = data || { active: false, reason: '', target: '' };
      renderHeader();
      break;
    default:
  }
}

const EVENT_NAMES = ['queue', 'calls', 'parked', 'board', 'recent', 'operators', 'night'];

function openEvents() {
  closeEvents();
  const es = new EventSource(API + 'events');
  st.es = es;
  st.events = 'connecting';
  es.addEventListener('open', () => {
    if (st.es !== es) return;
    const reconnected = st.events !== 'open';
    st.events = 'open';
    renderConn();
    // Whatever happened while the stream was down: read it all again.
    if (reconnected) loadState();
  });
  es.addEventListener('error', () => {
    if (st.es !== es) return;
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream (no session?) or it failed for
      // good: check the session, then try again.
      es.close();
      st.es = null;
      st.events = 'closed';
      renderConn();
      api('GET', 'me')
        .then((d) => {
          if (d?.csrf) st.csrf = d.csrf;
          scheduleEvents();
        })
        .catch((err) => {
          if (err.status !== 401) scheduleEvents();
        });
    } else {
      st.events = 'connecting';
      renderConn();
    }
  });
  for (const name of EVENT_NAMES) {
    es.addEventListener(name, (ev) => {
      if (st.es !== es) return;
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (st.loadingState > 0) {
        st.buffered.push([name, data]);
        return;
      }
      onEvent(name, data);
    });
  }
  renderConn();
}

function scheduleEvents() {
  clearTimeout(st.esRetry);
  st.esRetry = setTimeout(() => {
    if (st.loggedIn && !st.es) openEvents();
  }, EVENTS_RETRY_MS);
}

function closeEvents() {
  clearTimeout(st.esRetry);
  if (st.es) {
    st.es.close();
    st.es = null;
  }
  st.events = 'closed';
}

// ---- formatting ----

function who(number, name) {
  number = number || '';
  if (name && name !== number) {
    return number ? `${name} (${number})` : name;
  }
  return number || t('unknownCaller');
}

function elapsed(iso) {
  const at = Date.parse(iso || '');
  if (Number.isNaN(at)) return 0;
  return Math.max(0, Math.floor((Date.now() + st.skew - at) / 1000));
}

function formatDuration(sec) {
  const m = Math.floor(sec / 60);
  const s = String(sec % 60).padStart(2, '0');
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function formatTime(iso) {
  const d = new Date(iso || '');
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date().toDateString() === d.toDateString();
  const fmt = new Intl.DateTimeFormat(st.lang === 'nb' ? 'nb-NO' : 'en-GB', today ? { timeStyle: 'short' } : { dateStyle: 'short', timeStyle: 'short' });
  return fmt.format(d);
}

function cleanTarget(s) {
  return String(s || '').trim().replace(/[\s\-().\/]/g, '');
}

function stateText(s) {
  return {
    idle: t('stateIdle'),
    ringing: t('stateRinging'),
    'in-call': t('stateInCall'),
    dnd: t('stateDnd'),
    forwarded: t('stateForwarded'),
    unregistered: t('stateUnregistered'),
  }[s] ?? (s || t('stateNone'));
}

function callStateText(s) {
  return {
    ringing: t('callRinging'),
    talking: t('callTalking'),
    held: t('callHeld'),
    consulting: t('callConsulting'),
  }[s] ?? s;
}

function outcomeText(r) {
  switch (r.outcome) {
    case 'answered':
      return r.operator ? t('outcomeAnsweredBy', { operator: r.operator }) : t('outcomeAnswered');
    case 'transferred':
      return t('outcomeTransferred', { to: r.to || '?' });
    case 'voicemail':
      return t('outcomeVoicemail', { to: r.to || '?' });
    case 'abandoned':
      return t('outcomeAbandoned');
    case 'overflow':
      return r.to ? t('outcomeOverflowTo', { to: r.to }) : t('outcomeOverflow');
    default:
      return r.outcome || '';
  }
}

// stateBadge is the board state as text, colour and shape.
function stateBadge(state, forward) {
  const span = document.createElement('span');
  span.className = `state state-${state || 'none'}`;
  span.dataset.testid = 'board-state';
  span.dataset.state = state || '';
  const shape = document.createElement('span');
  shape.className = 'shape';
  shape.setAttribute('aria-hidden', 'true');
  const text = document.createElement('span');
  text.textContent = state === 'forwarded' && forward ? t('stateForwardedTo', { to: forward }) : stateText(state);
  span.append(shape, text);
  return span;
}

// ---- DOM helpers ----

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'testid') e.dataset.testid = v;
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('aria-') || k === 'title' || k === 'scope' || k === 'role') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

function button(testid, label, onClick, cls = '') {
  const b = el('button', { type: 'button', testid, class: cls });
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

// reconcile makes parent's children one element per item, in order, by
// key: existing elements are updated in place (the focus stays where it
// is), new ones created, stale ones removed. When the focus was in a
// removed element it moves to the section's first control or heading.
function reconcile(parent, items, key, create, update) {
  const want = new Map();
  for (const item of items) want.set(String(key(item)), item);
  let lostFocus = false;
  const old = new Map();
  for (const child of [...parent.children]) {
    if (want.has(child.dataset.key)) {
      old.set(child.dataset.key, child);
    } else {
      if (child.contains(document.activeElement)) lostFocus = true;
      child.remove();
    }
  }
  let prev = null;
  for (const [k, item] of want) {
    let node = old.get(k);
    if (!node) {
      node = create(item);
      node.dataset.key = k;
    }
    update(node, item);
    const next = prev ? prev.nextSibling : parent.firstChild;
    if (next !== node) parent.insertBefore(node, next);
    prev = node;
  }
  if (lostFocus) {
    const section = parent.closest('section');
    const target = parent.querySelector('button:not(:disabled)') || section?.querySelector('h2');
    if (target) {
      if (target.tagName === 'H2') target.tabIndex = -1;
      target.focus();
    }
  }
}

// ---- rendering ----

function render() {
  if (!st.loggedIn) return;
  renderHeader();
  renderConn();
  renderSip();
  renderQueue();
  renderCalls();
  renderParked();
  renderBoard();
  renderDirectory();
  renderRecent();
  renderOperators();
}

function renderHeader() {
  const u = st.user;
  if (!u) return;
  $('me-name').textContent = t('meName', { name: u.name || u.username, ext: u.extension || '–' });
  $('available').checked = Boolean(st.me.available);
  // In a cluster one node holds the queues; on another node's console the
  // operator is sent there (docs/cluster.md).
  const h = st.home;
  $('home-banner').hidden = !h || h.here;
  if (h && !h.here) {
    $('home-text').textContent = t('homeElsewhere', { node: h.node });
    $('home-link').hidden = !h.url;
    if (h.url) {
      $('home-link').href = h.url;
      $('home-link').textContent = t('homeOpen');
    }
  }
  const n = st.night || {};
  $('night-banner').hidden = !n.active;
  if (n.active) {
    let s = t('nightActive');
    const reasons = { closed: t('nightReasonClosed'), 'no-operator': t('nightReasonNoOperator') };
    if (n.reason) s += ` ${t('nightReason', { reason: reasons[n.reason] || n.reason })}`;
    s += ` ${n.target ? t('nightTarget', { target: n.target }) : t('nightNoTarget')}`;
    $('night-banner').textContent = s;
  }
}

function renderConn() {
  const c = $('conn-status');
  if (!st.loggedIn || st.events === 'open') {
    c.hidden = true;
    c.textContent = '';
    return;
  }
  c.hidden = false;
  c.textContent = st.stateLoaded ? t('connLost') : t('connConnecting');
}

function renderQueue() {
  const body = $('queue-body');
  reconcile(body, st.queue, (c) => c.id, (c) => {
    const tr = el('tr', { testid: 'queue-row' });
    tr.append(
      el('td', { testid: 'position', class: 'num' }),
      el('td', {}, el('span', { testid: 'caller-name', class: 'name' }), el('span', { testid: 'caller', class: 'number' })),
      el('td', { testid: 'dialled' }),
      el('td', { testid: 'wait', class: 'num timer' }),
      el('td', { class: 'act' }, button('answer', '', () => answerCall(tr.dataset.callId), 'call')),
    );
    return tr;
  }, (tr, c) => {
    tr.dataset.callId = c.id;
    tr.dataset.position = c.position;
    const cells = tr.children;
    cells[0].textContent = c.position;
    cells[1].children[0].textContent = c.caller_name || '';
    cells[1].children[1].textContent = c.caller || t('unknownCaller');
    cells[2].textContent = c.dialled || '';
    const w = cells[3];
    w.dataset.since = c.since || '';
    w.textContent = formatDuration(elapsed(c.since));
    const b = cells[4].firstChild;
    b.textContent = t('answer');
    b.setAttribute('aria-label', t('answerLabel', { who: who(c.caller, c.caller_name) }));
    if (c.position === 1 || c === st.queue[0]) b.setAttribute('aria-keyshortcuts', 'A');
    else b.removeAttribute('aria-keyshortcuts');
  });
  $('queue-empty').hidden = st.queue.length > 0;
  $('queue-table').hidden = st.queue.length === 0;
  $('queue-count').textContent = String(st.queue.length);
  document.title = st.queue.length ? `(${st.queue.length}) ${t('title')}` : t('title');
}

// The buttons a call's state allows, in order.
function actionsFor(c) {
  switch (c.state) {
    case 'ringing':
      return ['hangup'];
    case 'talking':
      return ['hold', 'transfer', 'consult', 'voicemail', 'park', 'hangup'];
    case 'held':
      return ['resume', 'transfer', 'consult', 'voicemail', 'park', 'hangup'];
    case 'consulting':
      return ['connect', 'return', 'hangup'];
    default:
      return ['hangup'];
  }
}

function actionLabel(a) {
  return {
    hold: t('hold'),
    resume: t('resume'),
    transfer: t('transfer'),
    consult: t('consult'),
    connect: t('connect'),
    return: t('returnToCaller'),
    voicemail: t('voicemail'),
    park: t('park'),
    hangup: t('hangup'),
    dial: t('dial'),
  }[a] ?? a;
}

const ACTION_KEYS = { hold: 'H', resume: 'H', transfer: 'T', consult: 'K', connect: 'C', return: 'R', voicemail: 'V', park: 'P', hangup: 'X' };
const PARTNER = { hold: 'resume', resume: 'hold', consult: 'connect', connect: 'hangup', return: 'hold' };

function currentCall() {
  const sel = st.calls.find((c) => c.id === st.selected);
  if (sel) return sel;
  return st.calls.find((c) => c.state === 'talking' || c.state === 'consulting') ||
    st.calls.find((c) => c.state === 'ringing') || st.calls.find((c) => c.state === 'held') || st.calls[0] || null;
}

function renderCalls() {
  if (st.selected && !st.calls.some((c) => c.id === st.selected)) {
    st.selected = null;
  }
  const cur = currentCall();
  const list = $('calls-list');
  reconcile(list, st.calls, (c) => c.id, () => {
    const li = el('li', { testid: 'my-call', class: 'call-card' });
    const head = el('div', { class: 'call-head' });
    const pick = el('input', { type: 'radio', name: 'current-call', testid: 'select-call' });
    pick.id = `pick-${Math.random().toString(36).slice(2)}`;
    pick.addEventListener('change', () => {
      st.selected = li.dataset.callId;
      renderCalls();
    });
    const pickLabel = el('label', { class: 'pick' });
    pickLabel.htmlFor = pick.id;
    head.append(
      el('span', { class: 'pick-wrap' }, pick, pickLabel),
      el('span', { class: 'who', testid: 'call-who' }),
      el('span', { class: 'call-state', testid: 'call-state' }),
      el('span', { class: 'timer', testid: 'call-time' }),
    );
    li.append(head, el('p', { class: 'call-sub', testid: 'call-dialled' }), el('p', { class: 'consult', testid: 'consult-info' }),
      el('div', { class: 'actions', role: 'group' }));
    return li;
  }, (li, c) => {
    li.dataset.callId = c.id;
    li.dataset.state = c.state;
    const isCur = cur && cur.id === c.id;
    li.dataset.current = isCur ? 'true' : 'false';
    li.classList.toggle('current', Boolean(isCur));
    const [head, sub, consult, actions] = li.children;
    const [pickWrap, whoEl, stateEl, timeEl] = head.children;
    const pick = pickWrap.firstChild;
    pick.checked = Boolean(isCur);
    pickWrap.hidden = st.calls.length < 2;
    pickWrap.lastChild.textContent = t('selectCall');
    pick.setAttribute('aria-label', t('selectCallLabel', { who: who(c.caller, c.caller_name) }));
    whoEl.textContent = who(c.caller, c.caller_name);
    stateEl.textContent = callStateText(c.state);
    stateEl.className = `call-state cs-${c.state}`;
    timeEl.dataset.since = c.since || '';
    timeEl.textContent = formatDuration(elapsed(c.since));
    sub.textContent = c.state === 'ringing' ? t('yourPhoneRings') : (c.dialled ? t('dialledNumber', { number: c.dialled }) : '');
    sub.hidden = !sub.textContent;
    if (c.consult) {
      consult.hidden = false;
      const cw = who(c.consult.target, c.consult.name);
      consult.textContent = c.consult.state === 'talking' ? t('consultTalking', { who: cw }) : t('consultRinging', { who: cw });
      consult.dataset.state = c.consult.state || '';
    } else {
      consult.hidden = true;
      consult.textContent = '';
    }
    actions.setAttribute('aria-label', t('actionsFor', { who: who(c.caller, c.caller_name) }));
    const want = actionsFor(c);
    const have = [...actions.children].map((b) => b.dataset.testid);
    if (want.join() !== have.join()) {
      const focused = actions.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
      actions.replaceChildren(...want.map((a) => {
        const b = button(a, '', () => callAction(a, li.dataset.callId), a === 'hangup' ? 'danger' : '');
        return b;
      }));
      if (focused) {
        const again = actions.querySelector(`[data-testid="${focused}"]`) ||
          actions.querySelector(`[data-testid="${PARTNER[focused]}"]`) || actions.firstChild;
        again?.focus();
      }
    }
    for (const b of actions.children) {
      const a = b.dataset.testid;
      b.textContent = actionLabel(a);
      if (isCur && ACTION_KEYS[a]) {
        b.setAttribute('aria-keyshortcuts', ACTION_KEYS[a]);
        b.title = t('shortcutHint', { key: ACTION_KEYS[a] });
      } else {
        b.removeAttribute('aria-keyshortcuts');
        b.removeAttribute('title');
      }
    }
  });
  $('calls-empty').hidden = st.calls.length > 0;
  renderTarget();
  renderDirectory();
}

function renderTarget() {
  const cur = currentCall();
  let pending = st.pending;
  if (!cur) pending = 'dial';
  else if (pending === 'dial') pending = 'transfer';
  $('target-submit').textContent = actionLabel(pending);
  $('target-submit').dataset.action = pending;
  $('target-hint').textContent = cur ? t('targetHint', { action: actionLabel(pending), who: who(cur.caller, cur.caller_name) }) : t('targetHintDial');
}

function renderParked() {
  reconcile($('parked-body'), st.parked, (p) => p.slot, (p) => {
    const tr = el('tr', { testid: 'parked-row' });
    tr.append(
      el('td', { class: 'num', testid: 'slot' }),
      el('td', { testid: 'caller' }),
      el('td', { testid: 'parked-by' }),
      el('td', { class: 'num timer', testid: 'parked-wait' }),
      el('td', { class: 'act' }, button('retrieve', '', () => retrieve(tr.dataset.slot))),
    );
    return tr;
  }, (tr, p) => {
    tr.dataset.slot = p.slot;
    tr.dataset.callId = p.id;
    const c = tr.children;
    c[0].textContent = p.slot;
    c[1].textContent = who(p.caller, p.caller_name);
    c[2].textContent = operatorName(p.by);
    c[3].dataset.since = p.since || '';
    c[3].textContent = formatDuration(elapsed(p.since));
    const b = c[4].firstChild;
    b.textContent = t('retrieve');
    b.setAttribute('aria-label', t('retrieveLabel', { slot: p.slot, who: who(p.caller, p.caller_name) }));
    if (p === st.parked[0]) b.setAttribute('aria-keyshortcuts', 'U');
    else b.removeAttribute('aria-keyshortcuts');
  });
  $('parked-empty').hidden = st.parked.length > 0;
  $('parked-table').hidden = st.parked.length === 0;
  $('parked-count').textContent = String(st.parked.length);
}

function operatorName(username) {
  const o = st.operators.find((x) => x.username === username);
  return o?.name || username || '';
}

function fillSelect(sel, values) {
  const current = sel.value;
  const have = [...sel.options].slice(1).map((o) => o.value);
  if (have.join('\n') !== values.join('\n')) {
    sel.replaceChildren(sel.options[0], ...values.map((v) => el('option', { value: v, text: v })));
  }
  sel.value = values.includes(current) ? current : '';
}

function renderBoard() {
  const all = [...st.board.values()].sort((a, b) => String(a.number).localeCompare(String(b.number), undefined, { numeric: true }));
  const uniq = (f) => [...new Set(all.map(f).filter(Boolean))].sort((a, b) => a.localeCompare(b, st.lang));
  fillSelect($('board-dept'), uniq((e) => e.department));
  fillSelect($('board-site'), uniq((e) => e.site));
  const dept = $('board-dept').value;
  const site = $('board-site').value;
  const q = $('board-filter').value.trim().toLowerCase();
  const shown = all.filter((e) => (!dept || e.department === dept) && (!site || e.site === site) &&
    (!q || [e.number, e.name, e.department, e.site].some((v) => String(v || '').toLowerCase().includes(q))));
  reconcile($('board-body'), shown, (e) => e.number, (e) => {
    const tr = el('tr', { testid: 'board-row' });
    const use = button('board-use', '', () => useTarget(tr.dataset.number), 'link num');
    tr.append(el('td', {}, use), el('td', { testid: 'name' }), el('td', { testid: 'department' }), el('td', { testid: 'site' }), el('td', {}));
    return tr;
  }, (tr, e) => {
    tr.dataset.number = e.number;
    tr.dataset.state = e.state || '';
    const c = tr.children;
    const use = c[0].firstChild;
    use.textContent = e.number;
    use.setAttribute('aria-label', t('useTargetLabel', { who: who(e.number, e.name) }));
    c[1].textContent = e.name || '';
    c[2].textContent = e.department || '';
    c[3].textContent = e.site || '';
    c[4].replaceChildren(stateBadge(e.state, e.forward));
  });
  $('board-count').textContent = t('boardCount', { shown: shown.length, total: all.length });
}

function renderDirectory() {
  const d = st.dir;
  $('dir-table').hidden = d.entries.length === 0;
  $('dir-more').hidden = d.entries.length >= d.total;
  $('dir-count').textContent = d.q ? t('dirCount', { total: d.total, q: d.q }) : '';
  const cur = currentCall();
  const canTransfer = Boolean(cur) && (cur.state === 'talking' || cur.state === 'held');
  reconcile($('dir-body'), d.entries, (e) => e.id, (e) => {
    const tr = el('tr', { testid: 'dir-row' });
    tr.append(
      el('td', {}, el('span', { class: 'name' }), el('span', { class: 'sub' })),
      el('td', { class: 'numbers' }),
      el('td', {}),
      el('td', { class: 'notes' }),
      el('td', { class: 'act' },
        button('dir-call', '', () => dial(tr.dataset.target)),
        button('dir-transfer', '', () => transferTo(tr.dataset.target))),
    );
    return tr;
  }, (tr, e) => {
    tr.dataset.entryId = e.id;
    const nums = numbersOf(e);
    const target = nums[0] || e.mobile || '';
    tr.dataset.target = target;
    const c = tr.children;
    c[0].children[0].textContent = e.name || '';
    c[0].children[1].textContent = [e.title, e.department, e.site].filter(Boolean).join(' · ');
    const lines = nums.map((n) => el('span', { text: n }));
    if (e.mobile && !nums.includes(e.mobile)) lines.push(el('span', { text: t('mobileNumber', { number: e.mobile }) }));
    c[1].replaceChildren(...lines);
    // Live presence from the board when the number is there.
    const live = nums[0] ? st.board.get(String(nums[0])) : null;
    const state = live ? live.state : e.state;
    c[2].replaceChildren(state ? stateBadge(state, live?.forward || '') : el('span', { text: '' }));
    c[3].textContent = e.notes || '';
    const [callB, transB] = c[4].children;
    callB.textContent = t('dial');
    callB.setAttribute('aria-label', t('dialLabel', { who: who(target, e.name) }));
    callB.disabled = !target;
    transB.textContent = t('transferTo');
    transB.setAttribute('aria-label', t('transferToLabel', { who: who(target, e.name) }));
    transB.disabled = !target || !canTransfer;
  });
}

function numbersOf(e) {
  if (Array.isArray(e.numbers)) return e.numbers.map(String).filter(Boolean);
  return e.numbers ? String(e.numbers).split(/[,;\s]+/).filter(Boolean) : [];
}

function renderRecent() {
  reconcile($('recent-body'), st.recent, (r) => r.id, (r) => {
    const tr = el('tr', { testid: 'recent-row' });
    const time = el('time');
    tr.append(el('td', {}, time), el('td', {}), el('td', { testid: 'outcome' }),
      el('td', { class: 'act' }, button('call-back', '', () => dial(tr.dataset.caller))));
    return tr;
  }, (tr, r) => {
    tr.dataset.callId = r.id;
    tr.dataset.outcome = r.outcome || '';
    tr.dataset.caller = r.caller || '';
    const c = tr.children;
    c[0].firstChild.dateTime = r.at || '';
    c[0].firstChild.textContent = formatTime(r.at);
    c[1].textContent = who(r.caller, r.caller_name);
    c[2].textContent = outcomeText(r);
    c[2].className = `outcome o-${r.outcome}`;
    const b = c[3].firstChild;
    b.textContent = t('callBack');
    b.setAttribute('aria-label', t('callBackLabel', { who: who(r.caller, r.caller_name) }));
    b.disabled = !r.caller;
  });
  $('recent-empty').hidden = st.recent.length > 0;
  $('recent-table').hidden = st.recent.length === 0;
}

function renderOperators() {
  reconcile($('operators-list'), st.operators, (o) => o.username, () => el('li', { testid: 'operator-row' }, el('span', { class: 'name' }), el('span', {})), (li, o) => {
    li.dataset.username = o.username;
    li.dataset.available = o.available ? 'true' : 'false';
    li.dataset.busy = o.busy ? 'true' : 'false';
    li.children[0].textContent = o.name || o.username;
    const s = li.children[1];
    const state = !o.available ? 'away' : o.busy ? 'busy' : 'free';
    s.className = `op op-${state}`;
    s.textContent = { away: t('opAway'), busy: t('opBusy'), free: t('opFree') }[state];
  });
}

function renderSip() {
  const s = st.sip;
  const el2 = $('sip-status');
  el2.dataset.state = st.mode === 'browser' ? s.state : 'off';
  if (st.mode !== 'browser') {
    el2.textContent = t('sipDeskPhone', { ext: st.user?.extension || '–' });
  } else {
    el2.textContent = {
      off: t('sipOff'),
      connecting: t('sipConnecting'),
      registered: t('sipRegistered', { ext: st.user?.extension || '' }),
      failed: t('sipFailed'),
      disconnected: t('sipDisconnected'),
    }[s.state] ?? s.state;
  }
  const inc = s.incoming;
  $('incoming').hidden = !inc;
  if (inc) {
    $('incoming-from').textContent = t('incomingFrom', { who: inc.who });
  }
  const active = [...s.sessions.values()].filter((x) => x.answered);
  $('browser-call').hidden = active.length === 0;
  if (active.length) {
    const last = active[active.length - 1];
    $('browser-call-text').textContent = t('browserCall', { who: last.who });
    $('sip-mute').textContent = last.muted ? t('unmute') : t('mute');
    $('sip-mute').setAttribute('aria-pressed', last.muted ? 'true' : 'false');
  }
}

function tick() {
  for (const w of document.querySelectorAll('[data-since]')) {
    if (w.dataset.since) w.textContent = formatDuration(elapsed(w.dataset.since));
  }
}

// ---- actions ----

function answerCall(id) {
  if (!id) return;
  const c = st.queue.find((q) => q.id === id);
  act(t('answer'), `queue/${encodeURIComponent(id)}/answer`, {}).then((r) => {
    if (!r) return;
    announce('announceAnswering', { who: c ? who(c.caller, c.caller_name) : '' });
    warnIfNoBrowserPhone();
  });
}

function answerFirst() {
  const c = st.queue[0];
  if (!c) {
    fail('queueIsEmpty');
    return;
  }
  answerCall(c.id);
}

function needsTarget(a) {
  return a === 'transfer' || a === 'consult' || a === 'voicemail';
}

async function callAction(a, id, target) {
  const c = id ? st.calls.find((x) => x.id === id) : currentCall();
  if (!c) {
    fail('noCall');
    return;
  }
  if (!actionsFor(c).includes(a)) {
    fail('notNow', { action: actionLabel(a), state: callStateText(c.state) });
    return;
  }
  let body = {};
  if (needsTarget(a)) {
    target = cleanTarget(target ?? $('target').value);
    if (!target) {
      st.selected = c.id;
      startTarget(a);
      if (a === 'voicemail') fail('needMailbox');
      else fail('needTarget');
      return;
    }
    body = a === 'voicemail' ? { mailbox: target } : { target };
  }
  const r = await act(actionLabel(a), `calls/${encodeURIComponent(c.id)}/${a}`, body);
  if (!r) return;
  const w = who(c.caller, c.caller_name);
  if (needsTarget(a)) {
    $('target').value = '';
    st.pending = 'transfer';
    renderTarget();
  }
  switch (a) {
    case 'transfer':
      announce('announceTransferred', { who: w, target });
      break;
    case 'consult':
      announce('announceConsulting', { target });
      break;
    case 'voicemail':
      announce('announceVoicemail', { who: w, target });
      break;
    case 'park':
      announce('announceParked', { who: w, slot: r.slot ?? '?' });
      break;
    case 'connect':
      announce('announceConnected', { who: w });
      break;
    case 'return':
      announce('announceReturned', { who: w });
      break;
    case 'hold':
      announce('announceHeld', { who: w });
      break;
    case 'resume':
      announce('announceResumed', { who: w });
      break;
    case 'hangup':
      announce('announceHungUp', { who: w });
      break;
    default:
  }
}

function toggleHold() {
  const c = currentCall();
  if (!c) {
    fail('noCall');
    return;
  }
  callAction(c.state === 'held' ? 'resume' : 'hold', c.id);
}

// startTarget puts the focus in #target; Enter there does action a.
function startTarget(a) {
  if (a !== 'dial' && !currentCall()) {
    fail('noCall');
    return;
  }
  st.pending = a;
  renderTarget();
  const input = $('target');
  input.focus();
  input.select();
}

function submitTarget() {
  const action = $('target-submit').dataset.action || 'transfer';
  const target = cleanTarget($('target').value);
  if (!target) {
    if (action === 'voicemail') fail('needMailbox');
    else fail('needTarget');
    $('target').focus();
    return;
  }
  if (action === 'dial') {
    dial(target).then((ok) => {
      if (ok) $('target').value = '';
    });
    return;
  }
  callAction(action, null, target);
}

function transferTo(target) {
  const c = currentCall();
  if (!c) {
    fail('noCall');
    return;
  }
  callAction('transfer', c.id, target);
}

function useTarget(number) {
  $('target').value = number;
  renderTarget();
  $('target').focus();
  announce('announceTargetSet', { target: number });
}

async function dial(target) {
  target = cleanTarget(target);
  if (!target) {
    fail('needTarget');
    return false;
  }
  const r = await act(t('dial'), 'dial', { target });
  if (r) {
    announce('announceDialling', { target });
    warnIfNoBrowserPhone();
  }
  return Boolean(r);
}

// The server rings the operator's extension; in browser mode the page
// has to be registered to pick it up.
function warnIfNoBrowserPhone() {
  if (st.mode === 'browser' && st.sip.state !== 'registered') {
    fail('sipNotReady');
  }
}

function retrieve(slot) {
  const p = st.parked.find((x) => String(x.slot) === String(slot));
  act(t('retrieve'), `parked/${encodeURIComponent(slot)}/retrieve`, {}).then((r) => {
    if (r) announce('announceRetrieved', { who: p ? who(p.caller, p.caller_name) : '', slot });
  });
}

function retrieveFirst() {
  const p = st.parked[0];
  if (!p) {
    fail('noParked');
    return;
  }
  retrieve(p.slot);
}

async function setAvailable(on) {
  const box = $('available');
  box.disabled = true;
  const r = await act(t('available'), 'available', { available: on });
  box.disabled = false;
  if (r) {
    st.me = { ...st.me, available: on };
    if (on) announce('announceAvailable');
    else announce('announceUnavailable');
  }
  box.checked = Boolean(st.me.available);
}

function selectNextCall() {
  if (st.calls.length === 0) {
    fail('noCall');
    return;
  }
  const cur = currentCall();
  const i = st.calls.findIndex((c) => c === cur);
  const next = st.calls[(i + 1) % st.calls.length];
  st.selected = next.id;
  renderCalls();
  announce('announceSelected', { who: who(next.caller, next.caller_name), state: callStateText(next.state) });
}

// ---- directory ----

function searchDirectory(q, more) {
  const d = st.dir;
  q = q.trim();
  clearTimeout(d.timer);
  const seq = ++d.seq;
  if (!q) {
    d.q = '';
    d.entries = [];
    d.total = 0;
    renderDirectory();
    return;
  }
  const offset = more ? d.entries.length : 0;
  api('GET', `directory?q=${encodeURIComponent(q)}&limit=${DIR_LIMIT}&offset=${offset}`).then((r) => {
    if (seq !== d.seq) return;
    d.q = q;
    const entries = Array.isArray(r?.entries) ? r.entries : [];
    d.entries = more ? [...d.entries, ...entries] : entries;
    d.total = Number(r?.total) || d.entries.length;
    renderDirectory();
  }).catch((err) => {
    if (seq === d.seq && err.status !== 401) fail('dirFailed', { reason: err.message });
  });
}

// ---- browser softphone (JsSIP) ----

function setMode(mode) {
  st.mode = mode;
  save(KEYS.mode, mode);
  $(mode === 'browser' ? 'answer-mode-browser' : 'answer-mode-phone').checked = true;
  if (mode === 'browser') {
    if (!st.sip.ua) openSipDialog();
  } else {
    stopUA();
  }
  renderSip();
}

function openSipDialog(error) {
  const d = $('sip-dialog');
  const sp = st.softphone;
  $('sip-intro').textContent = t('sipIntro', { ext: st.user?.extension || '–', domain: sp?.domain || '' });
  const noWs = !sp || !sp.ws_url || !st.user?.extension;
  const errText = error || (noWs ? (st.user?.extension ? t('sipNoWs') : t('sipNoExtension')) : '');
  $('sip-error').textContent = errText;
  $('sip-error').hidden = !errText;
  $('sip-submit').disabled = noWs;
  $('sip-submit').textContent = t('sipConnect');
  $('sip-password').value = '';
  if (!d.open) d.showModal();
  $('sip-password').focus();
}

async function connectSip(password) {
  if (!password) {
    $('sip-error').textContent = t('sipPasswordMissing');
    $('sip-error').hidden = false;
    $('sip-password').focus();
    return;
  }
  $('sip-submit').disabled = true;
  $('sip-submit').textContent = t('sipConnecting');
  $('sip-error').hidden = true;
  ensureAudio();
  if (!window.isSecureContext || !navigator.mediaDevices) {
    sipDialogError(t('insecure'));
    return;
  }
  // Ask for the microphone now (a user gesture), not when a call arrives.
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    for (const tr of stream.getTracks()) tr.stop();
  } catch (err) {
    sipDialogError(t('noMicrophone', { reason: String(err?.message || err) }));
    return;
  }
  let JsSIP;
  try {
    if (!st.sip.JsSIP) st.sip.JsSIP = (await import(JSSIP_URL)).default;
    JsSIP = st.sip.JsSIP;
  } catch (err) {
    sipDialogError(t('sipLoadFailed', { reason: String(err?.message || err) }));
    return;
  }
  startUA(JsSIP, password);
}

function sipDialogError(text) {
  $('sip-error').textContent = text;
  $('sip-error').hidden = false;
  $('sip-submit').disabled = false;
  $('sip-submit').textContent = t('sipConnect');
  $('sip-password').focus();
}

function pcConfig() {
  const list = Array.isArray(st.softphone?.ice_servers) ? st.softphone.ice_servers : [];
  const iceServers = list
    .filter((s) => s && (typeof s.urls === 'string' || Array.isArray(s.urls)))
    .map((s) => {
      const o = { urls: s.urls };
      if (s.username) o.username = s.username;
      if (s.credential) o.credential = s.credential;
      return o;
    });
  return { iceServers, iceTransportPolicy: 'all', bundlePolicy: 'balanced', rtcpMuxPolicy: 'require' };
}

function answerOptions() {
  return { mediaConstraints: { audio: true, video: false }, pcConfig: pcConfig() };
}

function startUA(JsSIP, password) {
  stopUA();
  const ext = String(st.user.extension);
  const domain = String(st.softphone.domain || '').toLowerCase();
  let ua;
  try {
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(st.softphone.ws_url)],
      uri: `sip:${encodeURIComponent(ext)}@${domain}`,
      authorization_user: ext,
      password,
      register: true,
      register_expires: 300,
      session_timers: false,
      no_answer_timeout: 60,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
      user_agent: `Sentral console (JsSIP ${JsSIP.version})`,
    });
  } catch (err) {
    sipDialogError(t('sipFailedReason', { reason: String(err?.parameter || err?.message || err) }));
    return;
  }
  const s = st.sip;
  s.ua = ua;
  s.state = 'connecting';
  s.everRegistered = false;
  ua.on('registered', () => {
    if (s.ua !== ua) return;
    s.state = 'registered';
    s.password = password;
    if (!s.everRegistered) {
      s.everRegistered = true;
      const d = $('sip-dialog');
      if (d.open) d.close('connected');
      announce('announceSipRegistered', { ext });
    }
    renderSip();
  });
  ua.on('registrationFailed', (e) => {
    if (s.ua !== ua) return;
    const auth = e?.cause === JsSIP.C.causes.AUTHENTICATION_ERROR || e?.cause === JsSIP.C.causes.REJECTED;
    if (!s.everRegistered || auth) {
      stopUA();
      s.state = 'failed';
      s.password = '';
      renderSip();
      const reason = auth ? t('sipWrongPassword') : t('sipFailedReason', { reason: e?.cause || '' });
      if (st.mode === 'browser') {
        if (!$('sip-dialog').open) openSipDialog(reason);
        else sipDialogError(reason);
      }
      return;
    }
    s.state = 'failed';
    renderSip();
    setTimeout(() => {
      if (s.ua === ua && s.state === 'failed') ua.register();
    }, 30000);
  });
  ua.on('disconnected', () => {
    if (s.ua !== ua) return;
    if (!s.everRegistered) {
      stopUA();
      s.state = 'failed';
      renderSip();
      if ($('sip-dialog').open) sipDialogError(t('sipNoConnection'));
      return;
    }
    s.state = 'disconnected';
    renderSip();
  });
  ua.on('connected', () => {
    if (s.ua !== ua) return;
    if (s.state === 'disconnected') {
      s.state = 'connecting';
      renderSip();
    }
  });
  ua.on('unregistered', () => {
    if (s.ua !== ua) return;
    s.state = 'disconnected';
    renderSip();
  });
  ua.on('newRTCSession', (e) => onSession(JsSIP, e));
  ua.start();
  renderSip();
}

function stopUA() {
  const s = st.sip;
  stopRing();
  for (const x of s.sessions.values()) {
    x.audio?.remove();
  }
  s.sessions.clear();
  s.incoming = null;
  const ua = s.ua;
  s.ua = null;
  s.state = 'off';
  if (ua) {
    try {
      ua.stop();
    } catch {
      // stopped already
    }
  }
  if (st.loggedIn) renderSip();
}

let sessionSeq = 0;

function onSession(JsSIP, e) {
  const s = st.sip;
  const session = e.session;
  if (e.originator !== 'remote') return;
  const fromConsole = Boolean(e.request?.getHeader?.('X-Sentral-Console'));
  const id = String(++sessionSeq);
  const rid = session.remote_identity;
  const number = rid?.uri?.user ? decodeURIComponentSafe(rid.uri.user) : '';
  const x = { session, console: fromConsole, who: who(number, rid?.display_name || ''), audio: null, muted: false, answered: false, iceTimer: null, iceReady: null };
  if (!fromConsole && s.incoming) {
    // One ringing call at a time from elsewhere: busy (forwarding applies).
    session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    return;
  }
  s.sessions.set(id, x);
  session.on('peerconnection', (ev) => watchPeer(x, ev.peerconnection));
  if (session.connection) watchPeer(x, session.connection);
  session.on('icecandidate', (ev) => {
    x.iceReady = ev.ready;
    if (!x.iceTimer) {
      x.iceTimer = setTimeout(() => {
        x.iceTimer = null;
        const ready = x.iceReady;
        x.iceReady = null;
        if (ready) ready();
      }, ICE_GATHER_MS);
    }
  });
  session.on('sdp', () => {
    clearTimeout(x.iceTimer);
    x.iceTimer = null;
    x.iceReady = null;
  });
  const done = () => {
    clearTimeout(x.iceTimer);
    x.audio?.remove();
    s.sessions.delete(id);
    if (s.incoming === x) {
      s.incoming = null;
      stopRing();
    }
    renderSip();
  };
  session.on('accepted', () => {
    x.answered = true;
    renderSip();
  });
  session.on('confirmed', () => {
    x.answered = true;
    renderSip();
  });
  session.on('ended', done);
  session.on('failed', done);
  session.on('muted', () => {
    x.muted = true;
    renderSip();
  });
  session.on('unmuted', () => {
    x.muted = false;
    renderSip();
  });
  session.on('getusermediafailed', (err) => fail('noMicrophone', { reason: String(err?.message || err) }));
  if (fromConsole) {
    // The server rings the operator because they pressed Answer (or Call):
    // pick up at once.
    try {
      session.answer(answerOptions());
    } catch (err) {
      fail('sipAnswerFailed', { reason: String(err?.message || err) });
    }
  } else {
    s.incoming = x;
    startRing();
    renderSip();
    $('sip-answer').focus();
    announce('incomingFrom', { who: x.who });
  }
  renderSip();
}

function decodeURIComponentSafe(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function watchPeer(x, pc) {
  if (x.pc === pc) return;
  x.pc = pc;
  pc.addEventListener('track', (ev) => {
    if (!x.audio) {
      x.audio = document.createElement('audio');
      x.audio.autoplay = true;
      $('audio-sink').append(x.audio);
    }
    const stream = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
    if (x.audio.srcObject !== stream) {
      x.audio.srcObject = stream;
      x.audio.play().catch(() => {});
    }
  });
}

function sipAnswer() {
  const x = st.sip.incoming;
  if (!x) return;
  st.sip.incoming = null;
  stopRing();
  try {
    x.session.answer(answerOptions());
  } catch (err) {
    fail('sipAnswerFailed', { reason: String(err?.message || err) });
  }
  renderSip();
}

function sipReject() {
  const x = st.sip.incoming;
  if (!x) return;
  try {
    x.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  } catch {
    // ended meanwhile
  }
}

function lastAnswered() {
  const active = [...st.sip.sessions.values()].filter((x) => x.answered);
  return active[active.length - 1] || null;
}

function sipHangup() {
  const x = lastAnswered();
  if (!x) return;
  try {
    x.session.terminate();
  } catch {
    // ended meanwhile
  }
}

function sipMute() {
  const x = lastAnswered();
  if (!x) return;
  if (x.session.isMuted().audio) x.session.unmute({ audio: true });
  else x.session.mute({ audio: true });
}

// Ring tone for calls that are not from the console (Web Audio; the
// context is made on a user gesture).
let audioCtx = null;

function ensureAudio() {
  try {
    if (!audioCtx) audioCtx = new AudioContext();
    if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
  } catch {
    audioCtx = null;
  }
}

function startRing() {
  stopRing();
  if (!audioCtx) return;
  const ctx = audioCtx;
  const gain = ctx.createGain();
  gain.gain.value = 0.15;
  gain.connect(ctx.destination);
  const play = () => {
    const now = ctx.currentTime;
    for (const [from, to] of [[0, 0.4], [0.6, 1.0]]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(gain);
      osc.start(now + from);
      osc.stop(now + to);
    }
  };
  play();
  const timer = setInterval(play, 3000);
  st.sip.stopTone = () => {
    clearInterval(timer);
    gain.disconnect();
  };
}

function stopRing() {
  if (st.sip.stopTone) {
    st.sip.stopTone();
    st.sip.stopTone = null;
  }
}

// ---- keyboard ----

// SHORTCUTS: every operator action has a key (no modifiers; not while
// typing in a text field). The help dialog ("?") lists them.
const SHORTCUTS = [
  { key: 'A', label: () => t('scAnswer'), run: answerFirst },
  { key: 'H', label: () => t('scHold'), run: toggleHold },
  { key: 'T', label: () => t('scTransfer'), run: () => startTarget('transfer') },
  { key: 'K', label: () => t('scConsult'), run: () => startTarget('consult') },
  { key: 'C', label: () => t('scConnect'), run: () => callAction('connect') },
  { key: 'R', label: () => t('scReturn'), run: () => callAction('return') },
  { key: 'V', label: () => t('scVoicemail'), run: () => startTarget('voicemail') },
  { key: 'P', label: () => t('scPark'), run: () => callAction('park') },
  { key: 'U', label: () => t('scRetrieve'), run: retrieveFirst },
  { key: 'X', label: () => t('scHangup'), run: () => callAction('hangup') },
  { key: 'N', label: () => t('scNext'), run: selectNextCall },
  { key: 'D', label: () => t('scDial'), run: () => startTarget('dial') },
  { key: '/', label: () => t('scSearch'), run: () => focusField('dir-search') },
  { key: 'B', label: () => t('scBoard'), run: () => focusField('board-filter') },
  { key: 'L', label: () => t('scAvailable'), run: () => setAvailable(!st.me.available) },
  { key: '?', label: () => t('scHelp'), run: openHelp },
  { key: 'Esc', label: () => t('scEscape'), run: null },
];

function focusField(id) {
  const f = $(id);
  f.focus();
  f.select?.();
}

function isTyping(target) {
  if (!target || !target.closest) return false;
  if (target.isContentEditable) return true;
  const f = target.closest('input, textarea, select');
  if (!f) return false;
  return !(f.tagName === 'INPUT' && ['checkbox', 'radio', 'button', 'submit', 'reset'].includes(f.type));
}

function onKey(ev) {
  if (!st.loggedIn || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
  if (ev.key === 'Escape') {
    // Dialogs close themselves; in the target field Esc cancels the
    // pending action.
    if (ev.target.id === 'target') {
      st.pending = 'transfer';
      $('target').value = '';
      renderTarget();
      $('main').focus();
    }
    return;
  }
  if (document.querySelector('dialog[open]') || isTyping(ev.target)) return;
  const key = ev.key === '?' || ev.key === '/' ? ev.key : ev.key.toUpperCase();
  const sc = SHORTCUTS.find((s) => s.key === key && s.run);
  if (!sc) return;
  ev.preventDefault();
  sc.run();
}

function openHelp() {
  const body = $('help-body');
  body.replaceChildren(...SHORTCUTS.map((s) => el('tr', {},
    el('th', { scope: 'row' }, el('kbd', { text: s.key })),
    el('td', { text: s.label() }))));
  $('help-dialog').showModal();
  $('help-close').focus();
}

// ---- language ----

function setLanguage(lang) {
  st.lang = lang;
  t = translator(lang);
  document.documentElement.lang = lang;
  apply(document, t);
  $('lang').lang = lang === 'nb' ? 'en' : 'nb';
  if ($('help-dialog').open) openHelp();
  render();
  if (!st.loggedIn) document.title = t('title');
}

// ---- wiring ----

function init() {
  setLanguage(pickLanguage(load(KEYS.lang, null), navigator.languages || [navigator.language]));
  $('lang').addEventListener('click', () => {
    const next = st.lang === 'nb' ? 'en' : 'nb';
    save(KEYS.lang, next);
    if (st.user) save(KEYS.langFor(st.user.username), next);
    setLanguage(next);
  });
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    login($('login-username').value, $('login-password').value);
  });
  $('logout').addEventListener('click', logout);
  $('settings-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    saveSettings();
  });
  $('help').addEventListener('click', openHelp);
  $('help-close').addEventListener('click', () => $('help-dialog').close());
  $('error-close').addEventListener('click', clearError);
  $('available').addEventListener('change', (ev) => setAvailable(ev.target.checked));
  $('target-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitTarget();
  });
  $('target').addEventListener('input', () => renderTarget());
  $('board-filter').addEventListener('input', renderBoard);
  $('board-dept').addEventListener('change', renderBoard);
  $('board-site').addEventListener('change', renderBoard);
  $('dir-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    searchDirectory($('dir-search').value, false);
  });
  $('dir-search').addEventListener('input', () => {
    clearTimeout(st.dir.timer);
    st.dir.timer = setTimeout(() => searchDirectory($('dir-search').value, false), DIR_DEBOUNCE_MS);
  });
  $('dir-more').addEventListener('click', () => searchDirectory(st.dir.q, true));
  for (const id of ['answer-mode-phone', 'answer-mode-browser']) {
    $(id).addEventListener('change', (ev) => {
      if (ev.target.checked) setMode(ev.target.value);
    });
  }
  $('sip-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    connectSip($('sip-password').value);
  });
  $('sip-cancel').addEventListener('click', () => $('sip-dialog').close('cancel'));
  $('sip-dialog').addEventListener('close', () => {
    $('sip-password').value = '';
    // Closed without a registration: back to the desk phone.
    if (!st.sip.everRegistered || !st.sip.ua) {
      stopUA();
      if (st.mode === 'browser') setMode('phone');
    }
  });
  $('sip-answer').addEventListener('click', sipAnswer);
  $('sip-reject').addEventListener('click', sipReject);
  $('sip-hangup').addEventListener('click', sipHangup);
  $('sip-mute').addEventListener('click', sipMute);
  document.addEventListener('keydown', onKey);
  window.addEventListener('pagehide', () => {
    closeEvents();
    stopUA();
  });
  setInterval(tick, 1000);

  window.sentralConsole = Object.freeze({
    state: () => ({
      logged_in: st.loggedIn,
      user: st.user ? { ...st.user } : null,
      lang: st.lang,
      events: st.events,
      state_loaded: st.stateLoaded,
      queue: st.queue.length,
      calls: st.calls.map((c) => ({ id: c.id, state: c.state })),
      current: currentCall()?.id ?? null,
      parked: st.parked.length,
      board: st.board.size,
      available: Boolean(st.me.available),
      night: Boolean(st.night?.active),
      mode: st.mode,
      sip: st.sip.state,
      browser_calls: [...st.sip.sessions.values()].map((x) => ({ who: x.who, console: x.console, answered: x.answered })),
      pending: $('target-submit').dataset.action || st.pending,
    }),
  });

  checkSession();
}

init();
