#!/usr/bin/env node
// softphone.mjs drives Sentral's softphone page in headless Chromium, as one
// browser phone, for the Go end-to-end tests (test/e2e/browser_test.go).
//
//   node softphone.mjs --url http://127.0.0.1:8443/softphone/ \
//        --ext 2001 --password SECRET --domain call.test  ACTION...
//
// Options (or the environment variable named in brackets):
//   --url URL            the page [SOFTPHONE_URL]
//   --ext N              extension to log in as [SOFTPHONE_EXT]
//   --password P         its SIP password [SOFTPHONE_PASSWORD]
//   --domain D           SIP domain (the tenant's) [SOFTPHONE_DOMAIN]
//   --timeout S          deadline for the whole run, seconds (default 60)
//                        [SOFTPHONE_TIMEOUT]
//   --lang en|nb         browser language (default en)
//   --chromium PATH      browser (default /usr/bin/chromium) [SOFTPHONE_CHROMIUM]
//   --audio-file WAV     microphone input instead of Chromium's beeps
//   --screenshot PNG     picture of the page when done (or failed)
//   --sip-trace FILE     write every SIP message sent and received over the
//                        WebSocket to FILE [SOFTPHONE_SIP_TRACE]
//
// Actions, run in order (arguments separated by ':'):
//   register                log in with the form; wait until registered
//   call:NUMBER[:S]         dial NUMBER, wait until answered, talk S seconds
//   answer[:S]              wait for a call, answer it, talk S seconds
//   reject                  wait for a call and reject it (486)
//   dtmf:DIGITS             press keypad keys in the call (RFC 4733 / INFO)
//   mute, unmute, hold, resume
//   transfer:NUMBER         blind transfer (REFER); wait until accepted
//   hangup                  hang up (or cancel) and wait until idle
//   wait-end[:S]            wait up to S seconds (default 30) for the other
//                           side to end the call
//   wait:S                  sleep
//   wait-stdin              wait until a line arrives on standard input, or
//                           it is closed (a test holds the phone there while
//                           it looks at the server)
//   expect-rtp[:MIN]        fail unless both directions carried >= MIN RTP
//                           packets in the current or last call (default 50)
//   logout                  log out: unregister, and wait for the server's OK
// Scenarios (each includes its register):
//   scenario:call-desk-phone:NUMBER[:S]   the browser calls a desk phone,
//       talks S (>= 3, default 5) seconds; RTP must flow both ways the whole
//       time; then hangs up
//   scenario:answer-desk-phone[:S]        a desk phone calls the browser,
//       which answers, talks S seconds (RTP both ways), then waits for the
//       caller to hang up (hangs up itself after 15 more seconds)
//   scenario:voicemail[:NUMBER[:S]]       the browser calls NUMBER (default
//       *98; to leave a message, an extension whose mailbox answers) and
//       speaks S seconds (default 5, at least 3) into it: RTP must flow
//       out the whole time, and prompts come in; then it hangs up. The
//       greeting comes first: leave S long enough for it and the message.
//
// Output: progress events as JSON lines on stderr ({"event":"registered"},
// {"event":"incoming",...}, {"event":"established",...}, ...), and one JSON
// object on stdout when done:
//   {"ok":true|false, "error":"...", "registered":bool,
//    "steps":[{"action":"call:2002:5","ok":true,"ms":1234,...}],
//    "state":{...window.sentralSoftphone.state()},
//    "rtp":{"inbound":N,"outbound":N,"codec":"PCMU",...},
//    "last_error":{...}|null, "history":[...], "page_errors":[...]}
// Exit status: 0 when every action succeeded, 1 when one failed, 2 for a
// usage error.

import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs, emit, Fail, need, parseArgs, sleep, usageExit } from './lib.mjs';

// ---- arguments ----

function usage(msg) {
  usageExit('softphone.mjs', '--url URL --ext N --password P --domain D ACTION...', msg);
}

function parseOpts(argv) {
  const defaults = {
    url: process.env.SOFTPHONE_URL || '',
    ext: process.env.SOFTPHONE_EXT || '',
    password: process.env.SOFTPHONE_PASSWORD || '',
    domain: process.env.SOFTPHONE_DOMAIN || '',
    timeout: Number(process.env.SOFTPHONE_TIMEOUT || 60),
    lang: 'en',
    chromium: process.env.SOFTPHONE_CHROMIUM || '/usr/bin/chromium',
    audioFile: '',
    screenshot: '',
    sipTrace: process.env.SOFTPHONE_SIP_TRACE || '',
  };
  const flags = { '--url': 'url', '--ext': 'ext', '--password': 'password', '--domain': 'domain', '--timeout': 'timeout',
    '--lang': 'lang', '--chromium': 'chromium', '--audio-file': 'audioFile', '--screenshot': 'screenshot', '--sip-trace': 'sipTrace' };
  return parseArgs(argv, defaults, flags, usage);
}

// Phone wraps the page: UI actions by element id, state via the test hook.
class Phone {
  constructor(page, opts, deadline) {
    this.page = page;
    this.opts = opts;
    this.deadline = deadline;
  }

  remaining() {
    return Math.max(1, this.deadline - Date.now());
  }

  state() {
    return this.page.evaluate(() => window.sentralSoftphone.state());
  }

  stats() {
    return this.page.evaluate(() => window.sentralSoftphone.rtpStats());
  }

  lastError() {
    return this.page.evaluate(() => window.sentralSoftphone.lastError());
  }

  // until polls the page's state until pred(state) holds, up to ms
  // (default: the deadline), and fails with what the page shows. (Polling
  // from here, not waitForFunction: the page's CSP forbids eval.)
  async until(what, pred, ms) {
    const end = Math.min(Date.now() + (ms ?? Infinity), this.deadline);
    for (;;) {
      const s = await this.page.evaluate(() => window.sentralSoftphone?.state() ?? null).catch(() => null);
      if (s && pred(s)) return s;
      if (Date.now() >= end) {
        const e = await this.lastError().catch(() => null);
        throw new Fail(`${what}: not within the time (state ${JSON.stringify(s)}, last error ${JSON.stringify(e)})`);
      }
      await sleep(50);
    }
  }

  async register() {
    const { ext, password, domain } = this.opts;
    need(ext && password && domain, 'register needs --ext, --password and --domain');
    await this.until('page ready', (s) => s.config_loaded);
    const s0 = await this.state();
    need(s0.ws_url, `the page has no WebSocket URL (status: ${s0.status})`);
    await this.page.fill('#ext', ext);
    await this.page.fill('#password', password);
    await this.page.fill('#domain', domain);
    await this.page.click('#login-button');
    const s = await this.until('registered', (st) => st.registered || st.registration === 'failed');
    need(s.registered, `registration failed: ${s.status} ${JSON.stringify(await this.lastError())}`);
    emit('registered', { user: s.user, ws_url: s.ws_url });
    return { user: s.user, ws_url: s.ws_url };
  }

  async call(number, seconds = 0) {
    need(number, 'call needs a NUMBER');
    await this.page.fill('#number', number);
    await this.page.click('#call');
    emit('calling', { number });
    const s = await this.until('answered', (st) => st.call === 'established' || (st.call === 'idle' && st.last_call));
    need(s.call === 'established', `the call to ${number} was not answered: ${s.status}`);
    emit('established', { number, remote: s.remote });
    const samples = await this.talk(seconds);
    return { remote: s.remote, samples };
  }

  async waitIncoming() {
    const s = await this.until('an incoming call', (st) => st.call === 'incoming');
    emit('incoming', { remote: s.remote });
    return s;
  }

  async answer(seconds = 0) {
    const s = await this.waitIncoming();
    await this.page.click('#answer');
    const a = await this.until('established', (st) => st.call === 'established' || st.call === 'idle');
    need(a.call === 'established', `answering failed: ${a.status}`);
    emit('established', { remote: s.remote });
    const samples = await this.talk(seconds);
    return { remote: s.remote, samples };
  }

  async reject() {
    const s = await this.waitIncoming();
    await this.page.click('#reject');
    await this.until('idle after rejecting', (st) => st.call === 'idle');
    return { remote: s.remote };
  }

  // talk keeps the call for seconds, sampling RTP counters every second;
  // it fails if the call ends meanwhile.
  async talk(seconds) {
    const samples = [];
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(1000, end - Date.now()));
      const s = await this.state();
      need(s.call === 'established', `the call ended after ${samples.length} s of ${seconds}: ${s.status}`);
      const r = await this.stats();
      samples.push({ inbound: r.inbound, outbound: r.outbound });
    }
    return samples;
  }

  async dtmf(digits) {
    need(digits, 'dtmf needs DIGITS');
    const before = (await this.state()).dtmf;
    for (const d of digits) {
      await this.page.click(`#keypad button[data-key="${d}"]`);
      await sleep(300);
    }
    const s = await this.state();
    need(s.dtmf === before + digits, `DTMF sent ${JSON.stringify(s.dtmf)}, want ${JSON.stringify(before + digits)}`);
    return { digits, transport: s.dtmf_transport };
  }

  async toggle(id, field, want) {
    const s0 = await this.state();
    need(s0.call === 'established', `${id}: no call`);
    if (s0[field] !== want) await this.page.click(`#${id}`);
    const s = await this.until(`${field}=${want}`, (st) => st[field] === want, 10000);
    return { [field]: s[field] };
  }

  async transfer(number) {
    need(number, 'transfer needs a NUMBER');
    await this.page.fill('#transfer-number', number);
    await this.page.click('#transfer');
    const s = await this.until('transfer outcome', (st) => st.call === 'idle' || st.transfer === 'failed');
    const outcome = s.call === 'idle' ? s.last_call?.transfer : s.transfer;
    need(outcome === 'accepted', `transfer to ${number}: ${outcome} (${s.status})`);
    return { transfer: outcome };
  }

  async hangup() {
    const s0 = await this.state();
    if (s0.call !== 'idle') {
      await this.page.click(s0.call === 'incoming' ? '#reject' : '#hangup');
    }
    const s = await this.until('idle after hanging up', (st) => st.call === 'idle');
    return { last_call: s.last_call };
  }

  async waitEnd(seconds = 30) {
    const s = await this.until('the other side to hang up', (st) => st.call === 'idle', seconds * 1000);
    emit('ended', { cause: s.last_call?.cause, originator: s.last_call?.originator });
    return { last_call: s.last_call };
  }

  async expectRTP(min = 50) {
    const r = await this.stats();
    need(r.inbound >= min && r.outbound >= min, `RTP in ${r.inbound} out ${r.outbound}, want >= ${min} each way`);
    return { rtp: r };
  }

  async logout() {
    await this.page.click('#logout');
    const s = await this.until('logged out and unregistered', (st) => !st.user && st.registration === 'idle');
    emit('logged-out', { registration: s.registration });
    return {};
  }
}

// stdinSignal resolves when standard input yields a line or ends (fails
// at the deadline).
function stdinSignal(phone) {
  emit('waiting-stdin');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Fail('wait-stdin: nothing on standard input before the deadline')), phone.remaining());
    const done = () => {
      clearTimeout(timer);
      process.stdin.pause();
      resolve();
    };
    process.stdin.once('data', done);
    process.stdin.once('end', done);
    process.stdin.once('error', done);
    process.stdin.resume();
  });
}

// flowing checks that both counters (or only outbound) grew in every
// one-second sample: RTP flowed for the whole time, not just at the start.
function flowing(samples, both) {
  const stalls = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (b.outbound <= a.outbound || (both && b.inbound <= a.inbound)) stalls.push(i);
  }
  return stalls;
}

// ---- scenarios ----

const scenarios = {
  // The browser calls a desk phone; both sides get RTP for >= 3 s.
  async 'call-desk-phone'(phone, number, seconds = '5') {
    const secs = Math.max(3, Number(seconds));
    await phone.register();
    const c = await phone.call(number, secs);
    const stalls = flowing(c.samples, true);
    need(stalls.length === 0, `RTP stalled in second(s) ${stalls.join(',')}: ${JSON.stringify(c.samples)}`);
    const r = await phone.expectRTP(Math.floor(secs * 50 * 0.6));
    await phone.hangup();
    return { remote: c.remote, samples: c.samples, rtp: r.rtp };
  },

  // A desk phone calls the browser, which answers; RTP both ways; the
  // caller hangs up (or the browser, 15 s after talking).
  async 'answer-desk-phone'(phone, seconds = '5') {
    const secs = Math.max(3, Number(seconds));
    await phone.register();
    const a = await phone.answer(secs);
    const stalls = flowing(a.samples, true);
    need(stalls.length === 0, `RTP stalled in second(s) ${stalls.join(',')}: ${JSON.stringify(a.samples)}`);
    const r = await phone.expectRTP(Math.floor(secs * 50 * 0.6));
    let ended;
    try {
      ended = await phone.waitEnd(15);
    } catch (err) {
      if (!(err instanceof Fail)) throw err;
      ended = await phone.hangup();
    }
    return { remote: a.remote, samples: a.samples, rtp: r.rtp, last_call: ended.last_call };
  },

  // The browser calls a mailbox and leaves audio: RTP out the whole time,
  // prompts in.
  async voicemail(phone, number = '*98', seconds = '5') {
    const secs = Math.max(3, Number(seconds));
    await phone.register();
    const c = await phone.call(number, secs);
    const stalls = flowing(c.samples, false);
    need(stalls.length === 0, `RTP out stalled in second(s) ${stalls.join(',')}: ${JSON.stringify(c.samples)}`);
    const r = await phone.stats();
    need(r.outbound >= Math.floor(secs * 50 * 0.6), `only ${r.outbound} RTP packets left in the mailbox`);
    need(r.inbound > 0, 'no prompt heard from the mailbox (no RTP in)');
    const h = await phone.hangup();
    return { remote: c.remote, samples: c.samples, rtp: r, last_call: h.last_call };
  },
};

async function runAction(phone, action) {
  const [name, ...args] = action.split(':');
  switch (name) {
    case 'register': return phone.register();
    case 'call': return phone.call(args[0], Number(args[1] || 0));
    case 'answer': return phone.answer(Number(args[0] || 0));
    case 'reject': return phone.reject();
    case 'dtmf': return phone.dtmf(args.join(':'));
    case 'mute': return phone.toggle('mute', 'muted', true);
    case 'unmute': return phone.toggle('mute', 'muted', false);
    case 'hold': return phone.toggle('hold', 'held', true);
    case 'resume': return phone.toggle('hold', 'held', false);
    case 'transfer': return phone.transfer(args[0]);
    case 'hangup': return phone.hangup();
    case 'wait-end': return phone.waitEnd(Number(args[0] || 30));
    case 'wait': await sleep(Number(args[0] || 1) * 1000); return {};
    case 'wait-stdin': await stdinSignal(phone); return {};
    case 'expect-rtp': return phone.expectRTP(Number(args[0] || 50));
    case 'logout': return phone.logout();
    case 'scenario': {
      const f = scenarios[args[0]];
      need(f, `unknown scenario ${args[0]} (have: ${Object.keys(scenarios).join(', ')})`);
      return f(phone, ...args.slice(1));
    }
    default:
      throw new Fail(`unknown action ${name}`);
  }
}

// ---- main ----

async function main() {
  const opts = parseOpts(process.argv.slice(2));
  const deadline = Date.now() + opts.timeout * 1000;
  const result = { ok: false, error: null, registered: false, steps: [], state: null, rtp: null, last_error: null, history: [], page_errors: [] };
  const profile = mkdtempSync(join(tmpdir(), 'sentral-softphone-'));
  const args = chromiumArgs(opts.lang);
  if (opts.audioFile) args.push(`--use-file-for-fake-audio-capture=${opts.audioFile}`);
  let context;
  let page;
  // abort ends the run from outside the action sequence (a stuck step past
  // the deadline, or SIGTERM from the test): the browser is closed and the
  // profile removed all the same.
  const abort = async (why) => {
    result.error = result.error || why;
    await Promise.race([context?.close().catch(() => {}), sleep(5000)]);
    rmSync(profile, { recursive: true, force: true });
    finish(result, 1);
  };
  const killer = setTimeout(() => abort(`deadline of ${opts.timeout} s passed`), opts.timeout * 1000 + 15000);
  process.once('SIGTERM', () => abort('terminated (SIGTERM)'));
  process.once('SIGINT', () => abort('interrupted (SIGINT)'));
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium,
      headless: true,
      args,
      locale: opts.lang === 'nb' ? 'nb-NO' : 'en-GB',
      permissions: ['microphone'],
      ignoreHTTPSErrors: true,
      timeout: 30000,
    });
    page = context.pages()[0] || (await context.newPage());
    if (opts.sipTrace) {
      writeFileSync(opts.sipTrace, '');
      page.on('websocket', (ws) => {
        const log = (dir) => (f) => appendFileSync(opts.sipTrace, `----- ${new Date().toISOString()} ${dir} ${ws.url()}\n${f.payload}\n`);
        ws.on('framesent', log('sent'));
        ws.on('framereceived', log('received'));
      });
    }
    page.on('pageerror', (err) => result.page_errors.push(String(err?.message || err)));
    page.on('console', (m) => {
      if (m.type() === 'error') result.page_errors.push(`console: ${m.text()}`);
    });
    await page.goto(opts.url, { waitUntil: 'load', timeout: Math.max(1000, deadline - Date.now()) });
    const phone = new Phone(page, opts, deadline);
    await phone.until('the page script', () => true, 10000);
    for (const action of opts.actions) {
      const start = Date.now();
      const step = { action, ok: false, ms: 0 };
      result.steps.push(step);
      try {
        Object.assign(step, await runAction(phone, action));
        step.ok = true;
      } catch (err) {
        step.error = String(err?.message || err);
        throw err;
      } finally {
        step.ms = Date.now() - start;
        emit('step', { action, ok: step.ok, ms: step.ms, error: step.error });
      }
    }
    result.ok = true;
  } catch (err) {
    result.error = String(err?.message || err);
  }
  try {
    if (page) {
      result.state = await page.evaluate(() => window.sentralSoftphone?.state() ?? null);
      result.registered = Boolean(result.state?.registered || result.steps.some((s) => s.action === 'register' && s.ok));
      result.rtp = await page.evaluate(() => window.sentralSoftphone?.rtpStats() ?? null);
      result.last_error = await page.evaluate(() => window.sentralSoftphone?.lastError() ?? null);
      result.history = await page.evaluate(() => window.sentralSoftphone?.history() ?? []);
      if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
    }
  } catch (err) {
    result.page_errors.push(`collecting results: ${err?.message || err}`);
  }
  clearTimeout(killer);
  try {
    // Unregister cleanly: the page stops its UA on pagehide.
    if (page) await page.close({ runBeforeUnload: false });
    if (context) await context.close();
  } catch {
    // the browser is gone anyway
  }
  rmSync(profile, { recursive: true, force: true });
  finish(result, result.ok ? 0 : 1);
}

let finished = false;
function finish(result, code) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
}

main();
