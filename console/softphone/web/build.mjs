// npm run build: bundles JsSIP with esbuild into ../assets/jssip.js (an ES
// module whose default export is the JsSIP namespace) and writes the
// licences of everything bundled into ../assets/THIRD-PARTY-LICENSES.txt.
// The versions are pinned in package.json and package-lock.json, so the
// output is the same on every run (scripts/softphone.sh runs npm ci first).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

const OUT = '../assets/jssip.js';
const LICENSES = '../assets/THIRD-PARTY-LICENSES.txt';

// JsSIP keeps only the last WWW-/Proxy-Authenticate header of a response
// (its parser replaces rather than adds), answers that one, and gives up
// when it is not MD5. Sentral offers SHA-256 and MD5 (RFC 8760), where a
// client is to answer the first challenge it supports: these patches make
// JsSIP keep every challenge and answer the first MD5 one. The build fails
// when the code it patches changes (a new JsSIP version): look again then.
const keepAll = (name) => [
  `message.setHeader('${name}', headerValue);\n            parsed = message.parseHeader('${name}');`,
  `message.addHeader('${name}', headerValue);\n            parsed = message.parseHeader('${name}', message.getHeaders('${name}').length - 1);`,
];
const patches = [
  {
    file: /[\\/]jssip[\\/]lib[\\/]Parser\.js$/,
    replace: [keepAll('www-authenticate'), keepAll('proxy-authenticate')],
    append: '',
  },
  {
    file: /[\\/]jssip[\\/]lib[\\/]RequestSender\.js$/,
    replace: [
      ["response.parseHeader('www-authenticate')", "sentralChallenge(response, 'www-authenticate')"],
      ["response.parseHeader('proxy-authenticate')", "sentralChallenge(response, 'proxy-authenticate')"],
    ],
    append: `
// Added by Sentral's build (console/softphone/web/build.mjs): the first
// challenge with an algorithm JsSIP computes (MD5, or none given), else
// the first challenge as before.
function sentralChallenge(response, name) {
  const n = response.getHeaders(name).length;
  for (let i = 0; i < n; i++) {
    const c = response.parseHeader(name, i);
    if (c && (!c.algorithm || String(c.algorithm).toUpperCase() === 'MD5')) {
      return c;
    }
  }
  return response.parseHeader(name);
}
`,
  },
];

const patchPlugin = {
  name: 'sentral-patches',
  setup(build) {
    for (const p of patches) {
      build.onLoad({ filter: p.file }, (args) => {
        let src = readFileSync(args.path, 'utf8');
        for (const [from, to] of p.replace) {
          if (src.split(from).length !== 2) {
            throw new Error(`${args.path}: expected exactly one ${from}; JsSIP changed, review the patch in build.mjs`);
          }
          src = src.replace(from, to);
        }
        return { contents: src + p.append, loader: 'js' };
      });
    }
  },
};

const result = await esbuild.build({
  entryPoints: ['jssip-entry.js'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  banner: { js: '/* JsSIP bundled by esbuild for Sentral (patched: see build.mjs); licences in THIRD-PARTY-LICENSES.txt. Regenerate with scripts/softphone.sh. */' },
  metafile: true,
  logLevel: 'warning',
  plugins: [patchPlugin],
  outfile: OUT,
});

// The licences of the npm packages that went into the bundle.
const dirs = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/^(node_modules\/(?:@[^/]+\/)?[^/]+)\//);
  if (m) dirs.add(m[1]);
}
let out = 'Third-party software in jssip.js (bundled with esbuild by scripts/softphone.sh)\n';
for (const dir of [...dirs].sort()) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).filter((f) => /^(licen[cs]e|copying)/i.test(f)).sort()[0];
  out += `\n${'='.repeat(72)}\n${pkg.name} ${pkg.version} (${pkg.license})\n${'='.repeat(72)}\n\n`;
  out += file ? `${readFileSync(join(dir, file), 'utf8').trim()}\n` : `No licence file in the package; its package.json says: ${pkg.license}\n`;
}
writeFileSync(LICENSES, out);
console.log(`built ${OUT} (${result.metafile.outputs[OUT.replace(/^\.\.\//, '../')]?.bytes ?? '?'} bytes) from ${dirs.size} packages`);
