#!/usr/bin/env node
// console.mjs drives Sentral's switchboard console page (/console/) in
// headless Chromium, as one operator, for the Go end-to-end tests
// (test/e2e/console_browser_test.go). It is softphone.mjs's sibling: same
// browser flags (fake microphone, loopback ICE), same output shape.
//
//   node console.mjs --url http://127.0.0.1:8443/console/ \
//        --user kari --password SECRET [--sip-password SIPSECRET] ACTION...
//
// Options (or the environment variable named in brackets):
//   --url URL            the console page [CONSOLE_URL]
//   --user NAME          operator to log in as [CONSOLE_USER]
//   --password P         the operator's console password [CONSOLE_PASSWORD]
//   --sip-password P     the operator extension's SIP password, for
//                        answering in the browser [CONSOLE_SIP_PASSWORD]
//   --timeout S          deadline for the whole run, seconds (default 60)
//   --lang en|nb         browser language (default en)
//   --chromium PATH      browser (default /usr/bin/chromium) [SOFTPHONE_CHROMIUM]
//   --screenshot-dir DIR where screenshot:NAME actions (and the final
//                        picture, final.png or failed.png) are written
//
// Actions, run in order (arguments separated by ':'; S is seconds, the
// step's own limit, default 20):
//   login                 log in with the form; wait for the state and
//                         the event stream
//   available             switch on #available (log in to the queue)
//   browser-phone         choose "answer in the browser", type the SIP
//                         password, wait until registered
//   wait-queue:CALLER[:S] wait for a queue row from CALLER (a number)
//   wait-ticks:CALLER     read the row's wait time twice, 2 s apart: it
//                         must increase
//   answer:CALLER         press the row's Answer
//   browser-answer[:S]    wait until the browser softphone has answered
//                         the console's call; a call without the
//                         X-Sentral-Console header rings instead
//                         (#incoming): then press #sip-answer, and say so
//                         ("header": false)
//   wait-call:STATE[:S]   wait for my call [data-state=STATE]
//   consult:TARGET        type TARGET into #target, press the call's Consult
//   wait-consult:STATE[:S] wait for the consult info's data-state
//   connect, hangup, hold, resume, return
//                         press the current call's button
//   wait-no-call[:S]      wait until I have no calls
//   wait-queue-gone:CALLER[:S]  wait until no queue row is from CALLER
//   board:NUMBER:STATES[:S] wait until the board row of NUMBER has a
//                         data-state among STATES (separated by '|')
//   screenshot:NAME       picture of the page to DIR/NAME.png
//   wait:S                sleep
//   wait-stdin            wait for a line on standard input (or its end);
//                         may be used several times
//
// Output: progress as JSON lines on stderr ({"event":"step",...} after
// each action, {"event":"waiting-stdin"}, {"event":"queue-row",...},
// {"event":"queue-gone",...}, {"event":"board",...}, {"event":"answered",
// ...}), and one JSON object on stdout when done:
//   {"ok":bool, "error":"...", "steps":[{"action","ok","ms",...}],
//    "state":{...window.sentralConsole.state()}, "screenshots":[...],
//    "page_errors":[...]}
// Exit status: 0 when every action succeeded, 1 when one failed, 2 for a
// usage error. The run ends by itself at --timeout (plus 15 s to close).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs, emit, Fail, need, parseArgs, sleep, usageExit } from './lib.mjs';

// ---- arguments ----

function usage(msg) {
  usageExit('console.mjs', '--url URL --user NAME --password P ACTION...', msg);
}

function parseOpts(argv) {
  const defaults = {
    url: process.env.CONSOLE_URL || '',
    user: process.env.CONSOLE_USER || '',
    password: process.env.CONSOLE_PASSWORD || '',
    sipPassword: process.env.CONSOLE_SIP_PASSWORD || '',
    timeout: 60,
    lang: 'en',
    chromium: process.env.SOFTPHONE_CHROMIUM || '/usr/bin/chromium',
    screenshotDir: '',
  };
  const flags = { '--url': 'url', '--user': 'user', '--password': 'password', '--sip-password': 'sipPassword',
    '--timeout': 'timeout', '--lang': 'lang', '--chromium': 'chromium', '--screenshot-dir': 'screenshotDir' };
  return parseArgs(argv, defaults, flags, usage);
}

// A line on stdin, or its end, releases one wait-stdin.
const stdinLines = [];
let stdinEnded = false;
let stdinWaiter = null;
function watchStdin() {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      stdinLines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    stdinWaiter?.();
  });
  const end = () => {
    stdinEnded = true;
    stdinWaiter?.();
  };
  process.stdin.on('end', end);
  process.stdin.on('error', end);
}

// Operator wraps the console page: UI by element id and data-testid,
// state through window.sentralConsole.state().
class Operator {
  constructor(page, opts, deadline) {
    this.page = page;
    this.opts = opts;
    this.deadline = deadline;
    this.shots = [];
  }

  state() {
    return this.page.evaluate(() => window.sentralConsole?.state() ?? null);
  }

  // until polls f() (an async probe returning a value or null) until it
  // gives something truthy, up to seconds (default 20) and the deadline.
  // (Polling from here, not waitForFunction: the page's CSP forbids eval.)
  async until(what, f, seconds = 20) {
    const end = Math.min(Date.now() + seconds * 1000, this.deadline);
    for (;;) {
      const v = await f().catch((err) => {
        if (err instanceof Fail) throw err;
        return null;
      });
      if (v) return v;
      if (Date.now() >= end) {
        const s = await this.state().catch(() => null);
        const err = await this.page.locator('#error-text').textContent().catch(() => '');
        throw new Fail(`${what}: not within ${seconds} s (state ${JSON.stringify(s)}${err ? `, error shown: ${err}` : ''})`);
      }
      await sleep(50);
    }
  }

  row(caller) {
    return this.page.locator('[data-testid=queue-row]').filter({
      has: this.page.locator('[data-testid=caller]', { hasText: new RegExp(`^${caller.replace(/[^0-9A-Za-z]/g, '\\$&')}$`) }),
    });
  }

  myCall() {
    // The call the page's shortcuts act on (there is one whenever the
    // operator has calls).
    return this.page.locator('[data-testid=my-call][data-current=true]').first();
  }

  async login() {
    const { user, password } = this.opts;
    need(user && password, 'login needs --user and --password');
    await this.page.locator('#login-form').waitFor({ state: 'visible', timeout: 15000 });
    await this.page.fill('#login-username', user);
    await this.page.fill('#login-password', password);
    await this.page.click('#login-submit');
    const s = await this.until('logged in, state loaded, event stream open',
      async () => {
        const err = await this.page.locator('#login-error').isVisible() ? await this.page.locator('#login-error').textContent() : '';
        if (err) throw new Fail(`login refused: ${err}`);
        const st = await this.state();
        return st && st.logged_in && st.state_loaded && st.events === 'open' ? st : null;
      });
    this.loggedIn = true;
    emit('logged-in', { user: s.user });
    return { user: s.user };
  }

  async available() {
    await this.page.locator('#available').check();
    const s = await this.until('available', async () => {
      const st = await this.state();
      return st?.available ? st : null;
    });
    // With an operator available the night service ("no operator") is
    // off: the page should say so within a moment.
    const day = await this.until('night service off', async () => ((await this.state())?.night === false ? true : null), 3).catch(() => false);
    const banner = await this.page.locator('#night-banner').isVisible() ? (await this.page.locator('#night-banner').textContent()).trim() : '';
    emit('available', { night_banner: banner });
    return { available: s.available, night_off: day === true, night_banner: banner };
  }

  async browserPhone() {
    need(this.opts.sipPassword, 'browser-phone needs --sip-password');
    await this.page.locator('#answer-mode-browser').check();
    await this.page.locator('#sip-dialog').waitFor({ state: 'visible', timeout: 10000 });
    await this.page.fill('#sip-password', this.opts.sipPassword);
    await this.page.click('#sip-submit');
    const s = await this.until('SIP registered in the browser', async () => {
      const st = await this.state();
      if (st?.sip === 'failed') {
        const e = await this.page.locator('#sip-error').textContent().catch(() => '');
        throw new Fail(`SIP registration failed: ${e}`);
      }
      return st?.sip === 'registered' ? st : null;
    }, 30);
    const status = await this.page.locator('#sip-status').getAttribute('data-state');
    need(status === 'registered', `#sip-status data-state=${status}`);
    emit('sip-registered');
    return { sip: s.sip, mode: s.mode };
  }

  async waitQueue(caller, seconds = 20) {
    need(caller, 'wait-queue needs CALLER');
    const row = this.row(caller);
    const info = await this.until(`a queue row from ${caller}`, async () => {
      if ((await row.count()) !== 1) return null;
      return {
        id: await row.getAttribute('data-call-id'),
        position: await row.getAttribute('data-position'),
        dialled: (await row.locator('[data-testid=dialled]').textContent()).trim(),
        wait: (await row.locator('[data-testid=wait]').textContent()).trim(),
      };
    }, seconds);
    emit('queue-row', { caller, ...info });
    return info;
  }

  async waitTicks(caller) {
    const w = this.row(caller).locator('[data-testid=wait]');
    const secs = (s) => s.split(':').reduce((acc, x) => acc * 60 + Number(x), 0);
    const first = (await w.textContent()).trim();
    await sleep(2100);
    const second = (await w.textContent()).trim();
    need(/^\d+:\d\d$/.test(first) && /^\d+:\d\d$/.test(second), `wait shows ${first} then ${second}, want m:ss`);
    need(secs(second) > secs(first), `wait did not tick: ${first} then ${second}`);
    return { first, second, since: await w.getAttribute('data-since') };
  }

  async answer(caller) {
    const b = this.row(caller).locator('[data-testid=answer]');
    await b.click({ timeout: 5000 });
    emit('answer-pressed', { caller });
    return {};
  }

  async browserAnswer(seconds = 20) {
    // Auto-answered (the console's header) or ringing as an outside call.
    const r = await this.until('the console\'s call in the browser', async () => {
      const st = await this.state();
      if (st?.browser_calls?.some((c) => c.answered)) return { header: st.browser_calls.some((c) => c.console), st };
      if (await this.page.locator('#incoming').isVisible()) return { header: false, ringing: true, st };
      return null;
    }, seconds);
    if (r.ringing) {
      emit('incoming-without-header', { text: await this.page.locator('#incoming-from').textContent() });
      await this.page.click('#sip-answer');
      await this.until('answered with #sip-answer', async () => {
        const st = await this.state();
        return st?.browser_calls?.some((c) => c.answered) ? st : null;
      }, 10);
    }
    const st = await this.state();
    emit('answered', { header: r.header, browser_calls: st.browser_calls });
    return { header: r.header, browser_calls: st.browser_calls };
  }

  async waitCall(state, seconds = 20) {
    const c = this.page.locator(`[data-testid=my-call][data-state=${state}]`);
    const info = await this.until(`my call in state ${state}`, async () => {
      if ((await c.count()) < 1) return null;
      return { id: await c.first().getAttribute('data-call-id'), who: (await c.first().locator('[data-testid=call-who]').textContent()).trim() };
    }, seconds);
    emit('call', { state, ...info });
    return info;
  }

  async consult(target) {
    need(target, 'consult needs TARGET');
    await this.page.fill('#target', target);
    await this.myCall().locator('[data-testid=consult]').click({ timeout: 5000 });
    emit('consult-pressed', { target });
    return {};
  }

  async waitConsult(state, seconds = 20) {
    const c = this.page.locator(`[data-testid=my-call] [data-testid=consult-info][data-state=${state}]`);
    const text = await this.until(`consultation ${state}`, async () => ((await c.count()) ? (await c.first().textContent()).trim() : null), seconds);
    emit('consult', { state, text });
    return { text };
  }

  async press(action) {
    await this.myCall().locator(`[data-testid=${action}]`).click({ timeout: 5000 });
    emit('pressed', { action });
    return {};
  }

  async waitNoCall(seconds = 20) {
    await this.until('no calls left', async () => ((await this.page.locator('[data-testid=my-call]').count()) === 0 ? true : null), seconds);
    emit('no-call');
    return {};
  }

  async waitQueueGone(caller, seconds = 20) {
    const start = Date.now();
    await this.until(`the queue row from ${caller} to go`, async () => ((await this.row(caller).count()) === 0 ? true : null), seconds);
    emit('queue-gone', { caller, ms: Date.now() - start });
    return { waited_ms: Date.now() - start };
  }

  async board(number, states, seconds = 20) {
    need(number && states, 'board needs NUMBER:STATES');
    const want = states.split('|');
    const r = this.page.locator(`[data-testid=board-row][data-number="${number}"]`);
    const start = Date.now();
    const state = await this.until(`board ${number} in ${states}`, async () => {
      if ((await r.count()) !== 1) return null;
      const s = await r.getAttribute('data-state');
      return want.includes(s) ? s : null;
    }, seconds);
    const badge = (await r.locator('[data-testid=board-state]').textContent()).trim();
    emit('board', { number, state, badge, ms: Date.now() - start });
    return { state, badge, waited_ms: Date.now() - start };
  }

  async screenshot(name) {
    need(this.opts.screenshotDir, 'screenshot needs --screenshot-dir');
    need(/^[\w.-]+$/.test(name || ''), `bad screenshot name ${name}`);
    const path = join(this.opts.screenshotDir, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    this.shots.push(path);
    return { path };
  }

  async waitStdin() {
    emit('waiting-stdin');
    const end = this.deadline;
    for (;;) {
      if (stdinLines.length) return { line: stdinLines.shift() };
      if (stdinEnded) return { line: null };
      if (Date.now() >= end) throw new Fail('wait-stdin: nothing on standard input before the deadline');
      await new Promise((r) => {
        stdinWaiter = r;
        setTimeout(r, Math.min(1000, Math.max(1, end - Date.now())));
      });
      stdinWaiter = null;
    }
  }
}

async function runAction(op, action) {
  const [name, ...args] = action.split(':');
  const secs = (v) => (v === undefined || v === '' ? undefined : Number(v));
  switch (name) {
    case 'login': return op.login();
    case 'available': return op.available();
    case 'browser-phone': return op.browserPhone();
    case 'wait-queue': return op.waitQueue(args[0], secs(args[1]));
    case 'wait-ticks': return op.waitTicks(args[0]);
    case 'answer': return op.answer(args[0]);
    case 'browser-answer': return op.browserAnswer(secs(args[0]));
    case 'wait-call': return op.waitCall(args[0], secs(args[1]));
    case 'consult': return op.consult(args[0]);
    case 'wait-consult': return op.waitConsult(args[0], secs(args[1]));
    case 'connect': case 'hangup': case 'hold': case 'resume': case 'return':
      return op.press(name);
    case 'wait-no-call': return op.waitNoCall(secs(args[0]));
    case 'wait-queue-gone': return op.waitQueueGone(args[0], secs(args[1]));
    case 'board': return op.board(args[0], args[1], secs(args[2]));
    case 'screenshot': return op.screenshot(args[0]);
    case 'wait': await sleep(Number(args[0] || 1) * 1000); return {};
    case 'wait-stdin': return op.waitStdin();
    default:
      throw new Fail(`unknown action ${name}`);
  }
}

// ---- main ----

async function main() {
  const opts = parseOpts(process.argv.slice(2));
  const deadline = Date.now() + opts.timeout * 1000;
  const result = { ok: false, error: null, steps: [], state: null, screenshots: [], page_errors: [] };
  if (opts.screenshotDir) mkdirSync(opts.screenshotDir, { recursive: true });
  watchStdin();
  const args = chromiumArgs(opts.lang);
  let browser;
  let page;
  let op;
  // abort ends the run from outside the action sequence (a stuck step past
  // the deadline, or SIGTERM from the test): the browser is closed all the
  // same.
  const abort = async (why) => {
    result.error = result.error || why;
    await Promise.race([browser?.close().catch(() => {}), sleep(5000)]);
    finish(result, 1);
  };
  const killer = setTimeout(() => abort(`deadline of ${opts.timeout} s passed`), opts.timeout * 1000 + 15000);
  process.once('SIGTERM', () => abort('terminated (SIGTERM)'));
  process.once('SIGINT', () => abort('interrupted (SIGINT)'));
  try {
    browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args, timeout: 30000 });
    // One context per operator: its own cookie jar (the session).
    const context = await browser.newContext({
      locale: opts.lang === 'nb' ? 'nb-NO' : 'en-GB',
      permissions: ['microphone'],
      ignoreHTTPSErrors: true,
      viewport: { width: 1400, height: 1000 },
    });
    page = await context.newPage();
    page.on('pageerror', (err) => result.page_errors.push(String(err?.message || err)));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // Before the login the page asks GET /console/api/me whether a
      // session exists: its 401 is the expected answer, not an error.
      if (!op?.loggedIn && /status of 401/.test(m.text()) && /\/console\/api\/me$/.test(m.location()?.url || '')) return;
      result.page_errors.push(`console: ${m.text()}`);
    });
    await page.goto(opts.url, { waitUntil: 'load', timeout: Math.max(1000, deadline - Date.now()) });
    op = new Operator(page, opts, deadline);
    await op.until('the page script', async () => (await op.state()) !== null, 10);
    for (const action of opts.actions) {
      const start = Date.now();
      const step = { action, ok: false, ms: 0 };
      result.steps.push(step);
      try {
        Object.assign(step, await runAction(op, action));
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
      result.state = await page.evaluate(() => window.sentralConsole?.state() ?? null);
      if (opts.screenshotDir && !result.ok) {
        const path = join(opts.screenshotDir, `failed-${opts.user || 'console'}.png`);
        await page.screenshot({ path, fullPage: true });
        op?.shots.push(path);
      }
    }
  } catch (err) {
    result.page_errors.push(`collecting results: ${err?.message || err}`);
  }
  result.screenshots = op?.shots ?? [];
  clearTimeout(killer);
  try {
    if (page) await page.close({ runBeforeUnload: false });
    if (browser) await browser.close();
  } catch {
    // the browser is gone anyway
  }
  finish(result, result.ok ? 0 : 1);
}

let finished = false;
function finish(result, code) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
}

main();
