// lib.mjs is what the Playwright drivers of the end-to-end tests share
// (softphone.mjs, console.mjs): command-line parsing, progress events as
// JSON lines on stderr, failures, and Chromium's flags for fake media on
// loopback.

// usageExit reports a usage error of script and exits with status 2.
export function usageExit(script, synopsis, msg) {
  process.stderr.write(`${script}: ${msg}\nusage: node ${script} ${synopsis}\n`);
  process.exit(2);
}

// parseArgs reads --flag value / --flag=value options named in flags
// (flag -> key of defaults) and the remaining arguments as actions;
// --timeout is a number of seconds; --url and at least one action are
// required.
export function parseArgs(argv, defaults, flags, usage) {
  const o = { ...defaults, actions: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, null];
    if (flags[flag]) {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      o[flags[flag]] = flag === '--timeout' ? Number(v) : v;
    } else if (a.startsWith('--')) {
      usage(`unknown option ${a}`);
    } else {
      o.actions.push(a);
    }
  }
  if (!o.url) usage('--url is required');
  if (!(o.timeout > 0)) usage('--timeout must be a positive number of seconds');
  if (o.actions.length === 0) usage('no actions');
  return o;
}

// emit writes one progress event.
export function emit(event, fields = {}) {
  process.stderr.write(`${JSON.stringify({ event, t: Date.now(), ...fields })}\n`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Fail is a step's failure (as opposed to a bug in the script).
export class Fail extends Error {}

export function need(cond, msg) {
  if (!cond) throw new Fail(msg);
}

// chromiumArgs are the flags of a headless Chromium that fakes the
// microphone, allows loopback ICE candidates and accepts Sentral's
// generated self-signed certificate (loopback tests only).
export function chromiumArgs(lang) {
  return [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
    '--ignore-certificate-errors',
    `--lang=${lang === 'nb' ? 'nb-NO' : 'en-GB'}`,
  ];
}
