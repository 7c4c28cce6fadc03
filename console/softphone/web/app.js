// Sentral's softphone page: one SIP line over WebSocket (JsSIP), audio over
// WebRTC. No framework: the page is index.html, this module, i18n.js and
// the JsSIP bundle (jssip.js, built by scripts/softphone.sh).
//
// Tests read window.sentralSoftphone (state(), lastError(), rtpStats(),
// history()) instead of scraping the screen.

import JsSIP from './jssip.js';
import { apply, pickLanguage, translator } from './i18n.js';

// How long to wait for ICE candidates after the first one before sending
// the offer or answer anyway (the SDP goes out with what was gathered:
// non-trickle ICE). On a LAN gathering completes in milliseconds; an
// unreachable STUN or TURN server would otherwise hold the call for tens
// of seconds.
const ICE_GATHER_MS = 2000;
const HISTORY_MAX = 50;
const STATS_EVERY_MS = 1000;
const REREGISTER_MS = 30000;
const TRANSFER_PATIENCE_MS = 8000;
const KEYS = {
  lang: 'sentral.softphone.lang',
  login: 'sentral.softphone.login',
  history: (who) => `sentral.softphone.history.${who}`,
};

const $ = (id) => document.getElementById(id);

// All of the page's state; the UI is drawn from it by render().
const st = {
  lang: 'en',
  config: null,
  ua: null,
  who: '', // ext@domain while logged in
  registration: 'idle', // idle, connecting, registering, registered, unregistered, failed
  transport: 'disconnected', // connecting, connected, disconnected
  everRegistered: false,
  loggingOut: false,
  call: null, // the current call, see newCall()
  lastCall: null, // summary of the last call that ended
  lastError: null,
  statusMsg: { key: 'loadingConfig', vars: null },
};

let t = translator('en');

// ---- storage (localStorage may be unavailable: private mode, policy) ----

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
    // ignore: history and preferences are a convenience
  }
}

// ---- status line and errors ----

function status(key, vars = null) {
  st.statusMsg = { key, vars };
  $('status').textContent = t(key, vars);
}

function causeText(cause, code, reason) {
  let s = cause ? t(`cause:${cause}`) : '';
  if (code) {
    s += `${s ? ' ' : ''}(${code}${reason ? ` ${reason}` : ''})`;
  }
  return s || t('cause:Internal Error');
}

function setError(what, cause, response, detail) {
  st.lastError = {
    what,
    cause: cause || null,
    status_code: response?.status_code ?? null,
    reason: response?.reason_phrase ?? null,
    detail: detail ?? null,
    at: new Date().toISOString(),
  };
}

// ---- tones (Web Audio; the context is created on a user gesture) ----

let audioCtx = null;

function ensureAudio() {
  try {
    if (!audioCtx) {
      audioCtx = new AudioContext();
    }
    if (audioCtx.state === 'suspended') {
      audioCtx.resume().catch(() => {});
    }
  } catch {
    audioCtx = null;
  }
}

// startTone plays a cadence until the returned function is called: ring
// (incoming) is two short bursts every 3 s, ringback 425 Hz 1 s on 4 s off
// (the European ringing tone).
function startTone(kind) {
  if (!audioCtx) {
    return () => {};
  }
  const ctx = audioCtx;
  const gain = ctx.createGain();
  gain.gain.value = kind === 'ring' ? 0.15 : 0.08;
  gain.connect(ctx.destination);
  const bursts = kind === 'ring' ? [[0, 0.4, 880], [0.6, 1.0, 880]] : [[0, 1, 425]];
  const period = kind === 'ring' ? 3 : 5;
  const play = () => {
    const now = ctx.currentTime;
    for (const [from, to, hz] of bursts) {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(gain);
      osc.start(now + from);
      osc.stop(now + to);
    }
  };
  play();
  const timer = setInterval(play, period * 1000);
  return () => {
    clearInterval(timer);
    gain.disconnect();
  };
}

// ---- config ----

async function loadConfig() {
  status('loadingConfig');
  let cfg;
  try {
    const res = await fetch('config.json', { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) {
      throw new Error(`HTTP ${res.status}`);
    }
    cfg = await res.json();
  } catch (err) {
    setError('config', null, null, String(err?.message || err));
    status('configFailed', { reason: String(err?.message || err) });
    return;
  }
  st.config = {
    ws_url: typeof cfg.ws_url === 'string' ? cfg.ws_url : '',
    domain_hint: typeof cfg.domain_hint === 'string' ? cfg.domain_hint : '',
    ice_servers: Array.isArray(cfg.ice_servers) ? cfg.ice_servers : [],
  };
  const remembered = load(KEYS.login, {});
  if (!$('ext').value && remembered.ext) {
    $('ext').value = remembered.ext;
  }
  if (!$('domain').value) {
    $('domain').value = remembered.domain || st.config.domain_hint;
  }
  if (!st.config.ws_url) {
    setError('config', null, null, 'no ws_url');
    status('noWebSocket');
    $('login-button').disabled = true;
    return;
  }
  status('ready');
  $('login-button').disabled = false;
  for (const id of ['ext', 'password', 'domain']) {
    if (!$(id).value) {
      $(id).focus();
      break;
    }
  }
}

function pcConfig() {
  const iceServers = st.config.ice_servers
    .filter((s) => s && (typeof s.urls === 'string' || Array.isArray(s.urls)))
    .map((s) => {
      const o = { urls: s.urls };
      if (s.username) {
        o.username = s.username;
      }
      if (s.credential) {
        o.credential = s.credential;
      }
      return o;
    });
  return { iceServers, iceTransportPolicy: 'all', bundlePolicy: 'balanced', rtcpMuxPolicy: 'require' };
}

function callOptions() {
  return {
    mediaConstraints: { audio: true, video: false },
    pcConfig: pcConfig(),
    rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
  };
}

// ---- registration ----

function login(ext, password, domain) {
  ext = ext.trim();
  domain = domain.trim().toLowerCase();
  if (!ext || !password || !domain) {
    status('fieldsMissing');
    return;
  }
  if (!window.isSecureContext) {
    status('insecure');
  }
  ensureAudio();
  stopUA();
  let ua;
  try {
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(st.config.ws_url)],
      uri: `sip:${encodeURIComponent(ext)}@${domain}`,
      authorization_user: ext,
      password,
      register: true,
      register_expires: 300,
      session_timers: false,
      no_answer_timeout: 60,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
      user_agent: `Sentral softphone (JsSIP ${JsSIP.version})`,
    });
  } catch (err) {
    st.registration = 'failed';
    setError('registration', 'Configuration Error', null, String(err?.message || err));
    status('registrationFailed', { reason: String(err?.parameter || err?.message || err) });
    return;
  }
  st.ua = ua;
  st.who = `${ext}@${domain}`;
  st.registration = 'connecting';
  st.everRegistered = false;
  st.loggingOut = false;
  st.lastError = null;

  ua.on('connecting', () => {
    if (ua !== st.ua) return;
    st.transport = 'connecting';
    if (!st.everRegistered) {
      status('connecting', { url: st.config.ws_url });
    }
  });
  ua.on('connected', () => {
    if (ua !== st.ua) return;
    st.transport = 'connected';
    if (st.registration !== 'registered') {
      st.registration = 'registering';
      status('registering');
    }
  });
  ua.on('disconnected', (e) => {
    if (ua !== st.ua || st.loggingOut) return;
    st.transport = 'disconnected';
    if (st.registration === 'registered') {
      st.registration = 'unregistered';
    }
    if (e?.error) {
      setError('transport', 'Connection Error', null, `WebSocket ${e.code ?? ''} ${e.reason ?? ''}`.trim());
    }
    if (!st.everRegistered) {
      // Never got through: stop retrying and let the user check the form.
      stopUA();
      st.registration = 'failed';
      if (!st.lastError) setError('transport', 'Connection Error');
      status('registrationFailed', { reason: causeText('Connection Error') });
    } else {
      status('disconnected');
    }
    render();
  });
  ua.on('registered', () => {
    if (ua !== st.ua) return;
    st.registration = 'registered';
    const first = !st.everRegistered;
    st.everRegistered = true;
    save(KEYS.login, { ext, domain });
    if (!st.call) {
      status('registered', { who: st.who });
    }
    render();
    if (first) keepFocus($('number'));
  });
  ua.on('unregistered', (e) => {
    if (ua !== st.ua) return;
    st.registration = 'unregistered';
    if (!st.loggingOut) {
      if (e?.cause) {
        setError('registration', e.cause, e.response);
      }
      status('unregistered');
    }
    render();
  });
  ua.on('registrationFailed', (e) => {
    if (ua !== st.ua) return;
    st.registration = 'failed';
    setError('registration', e.cause, e.response);
    status('registrationFailed', { reason: causeText(e.cause, e.response?.status_code, e.response?.reason_phrase) });
    // A wrong password must not be retried: the server bans sources that
    // keep failing. Back to the login form.
    if (e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR || e.cause === JsSIP.C.causes.REJECTED ||
        e.cause === JsSIP.C.causes.NOT_FOUND || !st.everRegistered) {
      stopUA();
      st.registration = 'failed';
      $('password').value = '';
    } else {
      // A refresh that timed out or met a server error: try again later
      // (JsSIP does not reschedule a failed refresh itself).
      setTimeout(() => {
        if (ua === st.ua && st.registration === 'failed') ua.register();
      }, REREGISTER_MS);
    }
    render();
  });
  ua.on('newRTCSession', onNewSession);
  ua.start();
  render();
}

function stopUA() {
  const ua = st.ua;
  if (!ua) return;
  st.ua = null;
  endCallState();
  try {
    ua.stop();
  } catch {
    // already stopped
  }
}

function logout() {
  st.loggingOut = true;
  const call = st.call;
  if (call && !call.session.isEnded()) {
    try {
      call.session.terminate();
    } catch {
      // ended meanwhile
    }
  }
  const ua = st.ua;
  const wasRegistered = st.registration === 'registered';
  if (ua) {
    // The UA goes on until the server confirmed the unregistration
    // (registration 'unregistering', then 'idle').
    const done = () => {
      if (st.registration === 'unregistering' && !st.ua) {
        st.registration = 'idle';
        st.transport = 'disconnected';
      }
    };
    ua.on('unregistered', done);
    ua.on('disconnected', done);
    setTimeout(done, 5000);
  }
  stopUA();
  st.registration = ua && wasRegistered ? 'unregistering' : 'idle';
  st.transport = ua && wasRegistered ? st.transport : 'disconnected';
  st.who = '';
  $('password').value = '';
  status('loggedOut');
  render();
  $('password').focus();
}

// ---- calls ----

function cleanNumber(s) {
  const v = String(s || '').trim();
  if (v.includes('@') || v.startsWith('sip:')) {
    return v;
  }
  return v.replace(/[\s\-().\/]/g, '');
}

function who(c) {
  if (!c) return '';
  if (c.name && c.name !== c.number) {
    return `${c.name} (${c.number})`;
  }
  return c.number || c.name || '?';
}

function userPart(u) {
  if (!u) return '';
  try {
    return decodeURIComponent(u);
  } catch {
    return u;
  }
}

// keepFocus moves the focus to el when it was on an element the last
// render hid (or nowhere), so keyboard users are not left on the page body.
function keepFocus(el) {
  const a = document.activeElement;
  if (!a || a === document.body || a.closest('[hidden]') || a.disabled) {
    el.focus();
  }
}

// newCall is the state of one call, owned by its session's handlers.
function newCall(session, direction) {
  const id = session.remote_identity;
  return {
    session,
    direction, // 'out' or 'in'
    number: userPart(id?.uri?.user),
    name: id?.display_name || '',
    state: direction === 'out' ? 'calling' : 'incoming',
    startedAt: Date.now(),
    answeredAt: 0,
    muted: false,
    held: false,
    heldByRemote: false,
    dtmf: '',
    dtmfTransport: null,
    transfer: 'idle',
    transferTarget: '',
    stats: { inbound: 0, outbound: 0, inboundBytes: 0, outboundBytes: 0, codec: null },
    statsTimer: null,
    stopTone: null,
    wantHeld: null,
    holdTimer: null,
    iceTimer: null,
    iceReady: null,
  };
}

function call(number) {
  const target = cleanNumber(number);
  if (!target) {
    status('emptyNumber');
    $('number').focus();
    return;
  }
  if (!st.ua || st.call) return;
  ensureAudio();
  try {
    st.ua.call(target, callOptions());
  } catch (err) {
    setError('call', 'Internal Error', null, String(err?.message || err));
    status('callFailed', { who: target, reason: String(err?.message || err) });
    render();
  }
}

function onNewSession(e) {
  const session = e.session;
  const direction = e.originator === 'remote' ? 'in' : 'out';
  if (direction === 'in' && st.call) {
    // One line: a second caller hears busy (and the server may forward).
    session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    const c = newCall(session, 'in');
    addHistory(c, 'Busy');
    return;
  }
  const previous = st.call;
  const c = newCall(session, direction);
  st.call = c;
  if (previous && previous.session !== session) {
    // A REFER we accepted replaces the call being transferred.
    stopCallSideEffects(previous);
  }

  session.on('peerconnection', (ev) => watchPeerConnection(c, ev.peerconnection));
  if (session.connection) {
    watchPeerConnection(c, session.connection);
  }
  session.on('icecandidate', (ev) => {
    // Non-trickle ICE: wait for gathering to complete, but not for ever.
    c.iceReady = ev.ready;
    if (!c.iceTimer) {
      c.iceTimer = setTimeout(() => {
        c.iceTimer = null;
        const ready = c.iceReady;
        c.iceReady = null;
        if (ready) ready();
      }, ICE_GATHER_MS);
    }
  });
  session.on('sdp', () => {
    clearTimeout(c.iceTimer);
    c.iceTimer = null;
    c.iceReady = null;
  });
  session.on('progress', (ev) => {
    if (c.direction !== 'out') return;
    c.state = 'ringing';
    const early = ev.response && ev.response.status_code === 183 && ev.response.body;
    if (!early && !c.stopTone) {
      c.stopTone = startTone('ringback');
    }
    if (st.call === c) status('ringing', { who: who(c) });
    render();
  });
  session.on('accepted', () => answered(c));
  session.on('confirmed', () => answered(c));
  session.on('ended', (ev) => finished(c, ev, false));
  session.on('failed', (ev) => finished(c, ev, true));
  session.on('hold', (ev) => {
    if (ev.originator === 'local') c.held = true;
    else c.heldByRemote = true;
    if (st.call === c) status(c.held ? 'onHold' : 'heldByRemote', { who: who(c) });
    render();
  });
  session.on('unhold', (ev) => {
    if (ev.originator === 'local') c.held = false;
    else c.heldByRemote = false;
    if (st.call === c) status('inCall', { who: who(c) });
    render();
  });
  session.on('muted', () => {
    c.muted = true;
    render();
  });
  session.on('unmuted', () => {
    c.muted = false;
    render();
  });
  session.on('refer', (ev) => {
    // We are transferred: call whom the other side names.
    ev.accept(() => {}, callOptions());
  });
  session.on('getusermediafailed', (err) => {
    setError('media', 'User Denied Media Access', null, String(err?.message || err));
    status('noMicrophone', { reason: String(err?.message || err) });
  });
  for (const evName of ['peerconnection:createofferfailed', 'peerconnection:createanswerfailed',
    'peerconnection:setlocaldescriptionfailed', 'peerconnection:setremotedescriptionfailed']) {
    session.on(evName, (err) => setError('media', 'WebRTC Error', null, `${evName}: ${err?.message || err}`));
  }

  if (direction === 'in') {
    c.stopTone = startTone('ring');
    status('incoming', { who: who(c) });
    document.title = t('incomingFrom', { who: who(c) });
  } else {
    status('calling', { who: who(c) });
  }
  render();
  if (direction === 'in') {
    $('answer').focus();
  }
}

function watchPeerConnection(c, pc) {
  if (c.pc === pc) return;
  c.pc = pc;
  pc.addEventListener('track', (ev) => {
    const audio = $('remote-audio');
    const stream = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
    if (audio.srcObject !== stream) {
      audio.srcObject = stream;
      audio.play().catch(() => {});
    }
  });
  clearInterval(c.statsTimer);
  c.statsTimer = setInterval(() => sampleStats(c), STATS_EVERY_MS);
}

async function sampleStats(c) {
  const pc = c.pc;
  if (!pc || pc.signalingState === 'closed') return c.stats;
  let report;
  try {
    report = await pc.getStats();
  } catch {
    return c.stats;
  }
  const s = { inbound: 0, outbound: 0, inboundBytes: 0, outboundBytes: 0, codec: null };
  const codecs = new Map();
  let codecId = null;
  report.forEach((r) => {
    const kind = r.kind || r.mediaType;
    if (r.type === 'codec') {
      codecs.set(r.id, r.mimeType);
    } else if (r.type === 'inbound-rtp' && kind === 'audio') {
      s.inbound += r.packetsReceived || 0;
      s.inboundBytes += r.bytesReceived || 0;
      codecId = codecId || r.codecId;
    } else if (r.type === 'outbound-rtp' && kind === 'audio') {
      s.outbound += r.packetsSent || 0;
      s.outboundBytes += r.bytesSent || 0;
      codecId = codecId || r.codecId;
    }
  });
  if (codecId && codecs.has(codecId)) {
    s.codec = String(codecs.get(codecId)).replace(/^audio\//, '');
  }
  // Counters only grow; a closed connection reports nothing.
  if (s.inbound >= c.stats.inbound && s.outbound >= c.stats.outbound) {
    c.stats = s;
  }
  return c.stats;
}

function answered(c) {
  if (c.state === 'established') return;
  c.state = 'established';
  c.answeredAt = Date.now();
  stopCallSideEffects(c, true);
  if (st.call === c) {
    status('inCall', { who: who(c) });
    document.title = t('title');
  }
  render();
  if (st.call === c) keepFocus($('hangup'));
}

// stopCallSideEffects stops tones (and, unless keepStats, stats polling).
function stopCallSideEffects(c, keepStats) {
  if (c.stopTone) {
    c.stopTone();
    c.stopTone = null;
  }
  if (!keepStats) {
    clearInterval(c.statsTimer);
    c.statsTimer = null;
  }
  clearTimeout(c.iceTimer);
  c.iceTimer = null;
  if (!keepStats) {
    clearTimeout(c.holdTimer);
  }
}

async function finished(c, ev, failed) {
  if (c.state === 'ended' || c.state === 'failed') return;
  stopCallSideEffects(c);
  // The connection is closed by now; the last sample stands.
  c.state = failed ? 'failed' : 'ended';
  const cause = ev?.cause || null;
  const code = ev?.message?.status_code ?? null;
  const reason = ev?.message?.reason_phrase ?? null;
  const missed = c.direction === 'in' && !c.answeredAt;
  const summary = {
    direction: c.direction,
    number: c.number,
    name: c.name,
    answered: Boolean(c.answeredAt),
    duration: c.answeredAt ? Math.round((Date.now() - c.answeredAt) / 1000) : 0,
    cause,
    originator: ev?.originator || null,
    status_code: code,
    failed,
    dtmf: c.dtmf,
    dtmf_transport: c.dtmfTransport,
    transfer: c.transfer,
    stats: { ...c.stats },
  };
  // A call replaced by a transfer may end after its successor started:
  // last_call describes the line's own last call.
  if (st.call === c || !st.call) {
    st.lastCall = summary;
  }
  if (failed && !missed && cause !== JsSIP.C.causes.CANCELED) {
    setError('call', cause, ev?.message);
  }
  addHistory(c, cause);
  if (st.call === c) {
    st.call = null;
    document.title = t('title');
    const audio = $('remote-audio');
    audio.srcObject = null;
    if (c.transfer === 'accepted') {
      status('transferred', { who: c.transferTarget });
    } else if (missed) {
      status('missed', { who: who(c) });
    } else if (failed && cause !== JsSIP.C.causes.CANCELED) {
      status('callFailed', { who: who(c), reason: causeText(cause, code, reason) });
    } else {
      status('callEnded', { who: who(c) });
    }
  }
  render();
  if (!st.call && !$('phone').hidden) keepFocus($('number'));
}

function endCallState() {
  if (st.call) {
    stopCallSideEffects(st.call);
    st.call = null;
  }
  document.title = t('title');
}

function answer() {
  const c = st.call;
  if (!c || c.direction !== 'in' || c.state !== 'incoming') return;
  ensureAudio();
  c.state = 'answering';
  if (c.stopTone) {
    c.stopTone();
    c.stopTone = null;
  }
  try {
    c.session.answer(callOptions());
  } catch (err) {
    setError('call', 'Internal Error', null, String(err?.message || err));
  }
  render();
}

function reject() {
  const c = st.call;
  if (!c || c.direction !== 'in' || c.state !== 'incoming') return;
  try {
    // 486 rather than 603: the server then applies the extension's
    // busy forwarding (voicemail, colleague).
    c.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  } catch {
    // ended meanwhile
  }
}

function hangup() {
  const c = st.call;
  if (!c) return;
  try {
    c.session.terminate();
  } catch {
    // ended meanwhile
  }
}

function toggleMute() {
  const c = st.call;
  if (!c || c.state !== 'established') return;
  if (c.session.isMuted().audio) {
    c.session.unmute({ audio: true });
  } else {
    c.session.mute({ audio: true });
  }
}

function toggleHold() {
  const c = st.call;
  if (!c || c.state !== 'established') return;
  c.wantHeld = !(c.wantHeld ?? c.session.isOnHold().local);
  applyHold(c, 0);
}

// applyHold moves the call towards c.wantHeld. JsSIP refuses a new
// re-INVITE while one is under way (hold right after resume, say): try
// again shortly.
function applyHold(c, tries) {
  clearTimeout(c.holdTimer);
  if (st.call !== c || c.state !== 'established' || c.session.isEnded()) return;
  if (c.session.isOnHold().local === c.wantHeld) return;
  const ok = c.wantHeld ? c.session.hold() : c.session.unhold();
  if (!ok && tries < 50) {
    c.holdTimer = setTimeout(() => applyHold(c, tries + 1), 200);
  }
}

// sendDTMF sends RFC 4733 events in the RTP stream when the call
// negotiated telephone-event, else SIP INFO.
function sendDTMF(tone) {
  const c = st.call;
  if (!c || c.state !== 'established' || !/^[0-9A-D#*]$/i.test(tone)) return;
  const sender = c.pc?.getSenders().find((s) => s.track && s.track.kind === 'audio');
  let transport = sender && sender.dtmf && sender.dtmf.canInsertDTMF ? 'RFC2833' : 'INFO';
  try {
    c.session.sendDTMF(tone, { transportType: transport, duration: 160, interToneGap: 80 });
  } catch (err) {
    if (transport === 'INFO') {
      setError('dtmf', 'Internal Error', null, String(err?.message || err));
      return;
    }
    transport = 'INFO';
    try {
      c.session.sendDTMF(tone, { transportType: transport, duration: 160, interToneGap: 80 });
    } catch (err2) {
      setError('dtmf', 'Internal Error', null, String(err2?.message || err2));
      return;
    }
  }
  c.dtmf += tone;
  c.dtmfTransport = transport;
  $('dtmf-shown').textContent = c.dtmf;
  status('dtmfSent', { tone });
}

function transfer(number) {
  const c = st.call;
  const target = cleanNumber(number);
  if (!c || c.state !== 'established') return;
  if (!target) {
    status('emptyNumber');
    $('transfer-number').focus();
    return;
  }
  c.transfer = 'requested';
  c.transferTarget = target;
  status('transferring', { who: target });
  let patience = null;
  const leave = () => {
    clearTimeout(patience);
    if (!c.session.isEnded()) {
      try {
        c.session.terminate();
      } catch {
        // ended meanwhile
      }
    }
  };
  const failed = (ev) => {
    clearTimeout(patience);
    c.transfer = 'failed';
    setError('transfer', ev?.cause || 'SIP Failure Code', ev?.response);
    if (st.call === c) {
      status('transferFailed', { reason: causeText(ev?.cause, ev?.response?.status_code, ev?.response?.reason_phrase) });
    }
    render();
  };
  try {
    c.session.refer(target, {
      eventHandlers: {
        requestSucceeded: () => {
          // 202: the other side took the transfer on. Its NOTIFY says how
          // the new call went; a blind transfer leaves at the first 2xx
          // there, or after TRANSFER_PATIENCE_MS without a verdict.
          if (c.transfer === 'requested') c.transfer = 'trying';
          patience = setTimeout(() => {
            if (c.transfer === 'trying') {
              c.transfer = 'accepted';
              leave();
            }
          }, TRANSFER_PATIENCE_MS);
          render();
        },
        requestFailed: failed,
        accepted: () => {
          c.transfer = 'accepted';
          leave();
        },
        failed,
      },
    });
  } catch (err) {
    failed({ cause: 'Internal Error' });
    st.lastError.detail = String(err?.message || err);
  }
  render();
}

// ---- history ----

function historyKey() {
  return KEYS.history(st.who || 'anonymous');
}

function loadHistory() {
  const h = load(historyKey(), []);
  return Array.isArray(h) ? h : [];
}

function addHistory(c, cause) {
  if (!st.who) return;
  const h = loadHistory();
  h.unshift({
    direction: c.direction,
    number: c.number,
    name: c.name,
    start: new Date(c.startedAt).toISOString(),
    answered: Boolean(c.answeredAt),
    duration: c.answeredAt ? Math.round((Date.now() - c.answeredAt) / 1000) : 0,
    cause: cause || null,
  });
  save(historyKey(), h.slice(0, HISTORY_MAX));
  renderHistory();
}

function formatDuration(sec) {
  const m = Math.floor(sec / 60);
  const s = String(sec % 60).padStart(2, '0');
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function renderHistory() {
  const list = $('history-list');
  list.replaceChildren();
  const h = st.who ? loadHistory() : [];
  $('history-empty').hidden = h.length > 0;
  $('history-clear').hidden = h.length === 0;
  const fmt = new Intl.DateTimeFormat(st.lang === 'nb' ? 'nb-NO' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
  for (const e of h) {
    const li = document.createElement('li');
    const missed = e.direction === 'in' && !e.answered;
    li.className = missed ? 'missed' : e.direction;
    const dir = document.createElement('span');
    dir.className = 'dir';
    dir.textContent = t(missed ? 'dirMissed' : e.direction === 'in' ? 'dirIn' : 'dirOut');
    const name = document.createElement('span');
    name.className = 'who';
    name.textContent = who(e);
    const when = document.createElement('time');
    when.dateTime = e.start;
    when.textContent = fmt.format(new Date(e.start));
    const dur = document.createElement('span');
    dur.className = 'dur';
    dur.textContent = e.answered ? formatDuration(e.duration) : t('notAnswered');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'call-back';
    btn.textContent = t('callBack');
    btn.setAttribute('aria-label', t('callBackLabel', { who: who(e) }));
    btn.disabled = !e.number || Boolean(st.call) || st.registration !== 'registered';
    btn.addEventListener('click', () => {
      $('number').value = e.number;
      call(e.number);
    });
    li.append(dir, name, when, dur, btn);
    list.append(li);
  }
}

// ---- rendering ----

function render() {
  const loggedIn = Boolean(st.ua) && st.everRegistered;
  $('login').hidden = loggedIn;
  $('phone').hidden = !loggedIn;
  $('identity').textContent = loggedIn ? t('loggedInAs', { who: st.who }) : '';
  $('login-button').disabled = !st.config?.ws_url || (Boolean(st.ua) && !st.everRegistered);

  const c = st.call;
  const incoming = Boolean(c) && c.direction === 'in' && (c.state === 'incoming' || c.state === 'answering');
  $('incoming').hidden = !incoming;
  if (incoming) {
    $('incoming-from').textContent = who(c);
    $('answer').disabled = c.state !== 'incoming';
    $('reject').disabled = c.state !== 'incoming';
  }
  const active = Boolean(c) && !incoming;
  $('in-call').hidden = !active;
  $('call').hidden = Boolean(c);
  $('call').disabled = st.registration !== 'registered';
  if (active) {
    $('call-peer').textContent = who(c);
    const established = c.state === 'established';
    $('hangup').textContent = t(established ? 'hangup' : 'cancel');
    for (const id of ['mute', 'hold', 'transfer', 'transfer-number']) {
      $(id).disabled = !established;
    }
    // The label says what a press does; the class shows the state.
    $('mute').classList.toggle('on', c.muted);
    $('mute').textContent = t(c.muted ? 'unmute' : 'mute');
    $('hold').classList.toggle('on', c.held);
    $('hold').textContent = t(c.held ? 'resume' : 'hold');
    $('dtmf-shown').textContent = c.dtmf;
  } else {
    $('dtmf-shown').textContent = '';
  }
  renderTimer();
  renderHistory();
}

function renderTimer() {
  const c = st.call;
  $('call-timer').textContent = c && c.answeredAt ? formatDuration(Math.floor((Date.now() - c.answeredAt) / 1000)) : '';
}

function setLanguage(lang) {
  st.lang = lang;
  t = translator(lang);
  document.documentElement.lang = lang;
  apply(document, t);
  const other = lang === 'nb' ? 'en' : 'nb';
  $('lang').lang = other;
  $('status').textContent = t(st.statusMsg.key, st.statusMsg.vars);
  render();
}

// ---- wiring ----

function pressKey(key) {
  if (st.call && st.call.state === 'established') {
    sendDTMF(key);
    return;
  }
  if (st.call) return;
  const input = $('number');
  input.value += key;
}

function init() {
  setLanguage(pickLanguage(load(KEYS.lang, null), navigator.languages || [navigator.language]));
  $('lang').addEventListener('click', () => {
    const next = st.lang === 'nb' ? 'en' : 'nb';
    save(KEYS.lang, next);
    setLanguage(next);
  });
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    login($('ext').value, $('password').value, $('domain').value);
  });
  $('logout').addEventListener('click', logout);
  $('dial-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    call($('number').value);
  });
  $('backspace').addEventListener('click', () => {
    const input = $('number');
    input.value = input.value.slice(0, -1);
    input.focus();
  });
  $('keypad').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-key]');
    if (b) pressKey(b.dataset.key);
  });
  $('answer').addEventListener('click', answer);
  $('reject').addEventListener('click', reject);
  $('hangup').addEventListener('click', hangup);
  $('mute').addEventListener('click', toggleMute);
  $('hold').addEventListener('click', toggleHold);
  $('transfer-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    transfer($('transfer-number').value);
  });
  $('history-clear').addEventListener('click', () => {
    save(historyKey(), []);
    renderHistory();
  });
  // Digits typed outside the text fields go to the keypad: DTMF in a
  // call, the number field otherwise. In a call the number field sends
  // DTMF too (the focus is often still there); the transfer field does not.
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !/^[0-9*#]$/.test(ev.key) || $('phone').hidden) return;
    const inCall = Boolean(st.call) && st.call.state === 'established';
    const field = ev.target.closest?.('input, textarea, select');
    if (field && !(inCall && field.id === 'number')) return;
    ev.preventDefault();
    pressKey(ev.key);
  });
  window.addEventListener('pagehide', () => stopUA());
  setInterval(renderTimer, 1000);

  window.sentralSoftphone = Object.freeze({
    version: JsSIP.version,
    state: snapshot,
    lastError: () => (st.lastError ? { ...st.lastError } : null),
    rtpStats: async () => {
      const c = st.call;
      if (c) {
        return { ...(await sampleStats(c)), live: true };
      }
      return st.lastCall ? { ...st.lastCall.stats, live: false } : { inbound: 0, outbound: 0, inboundBytes: 0, outboundBytes: 0, codec: null, live: false };
    },
    history: () => (st.who ? loadHistory() : []),
  });

  render();
  loadConfig();
}

function snapshot() {
  const c = st.call;
  return {
    config_loaded: Boolean(st.config),
    ws_url: st.config?.ws_url ?? null,
    lang: st.lang,
    user: st.who || null,
    transport: st.transport,
    registration: st.registration,
    registered: st.registration === 'registered',
    call: c ? c.state : 'idle',
    direction: c ? c.direction : null,
    remote: c ? { number: c.number, name: c.name } : null,
    muted: c ? c.muted : false,
    held: c ? c.held : false,
    held_by_remote: c ? c.heldByRemote : false,
    dtmf: c ? c.dtmf : '',
    dtmf_transport: c ? c.dtmfTransport : null,
    transfer: c ? c.transfer : 'idle',
    last_call: st.lastCall ? { ...st.lastCall } : null,
    status: $('status').textContent,
  };
}

init();
