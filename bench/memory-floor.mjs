#!/usr/bin/env node
// Idle memory of `run` against what it is made of, on the Node.js that runs this script: an empty
// node process, the plain Node proxy (lib/node-pipe.mjs), that proxy plus the runtime `run` cannot
// do without (lib/deps-pipe.mjs: HTTPS checks, an admin server with prom-client's default metrics,
// pino) and `run` itself with the same checks, each alone in front of three HTTPS backends that
// answer /readyz; and, on Node 24, the single executable if `npm run package` built it. Prints a
// markdown table of medians.
// usage: node bench/memory-floor.mjs [--reps N] [--settle-ms MS]      (needs `npm run build`)
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startDaemon, stopDaemon, waitPort } from './lib/procs.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: o } = parseArgs({ options: { reps: { type: 'string', default: '3' }, 'settle-ms': { type: 'string', default: '6000' } } });
const reps = Number(o.reps);
const settleMs = Number(o['settle-ms']);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: not a positive integer: ${o.reps}`);
if (!existsSync(path.join(REPO, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const scratch = mkdtempSync(path.join(tmpdir(), 'klb-memory-floor-'));
const { createCa, issueCert } = await import(pathToFileURL(path.join(REPO, 'dist', 'pki', 'index.js')).href);
const ca = createCa({ commonName: 'kube-local-lb bench CA', validDays: 2 });
const leaf = issueCert(ca, { commonName: 'kube-apiserver', dnsNames: ['kubernetes'], ipAddresses: ['127.0.0.1'], usage: 'server', validDays: 2 });
const caFile = path.join(scratch, 'ca.pem');
writeFileSync(caFile, ca.certPem);

const servers = [];
for (let i = 0; i < 3; i++) {
  const s = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('ok'));
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
}
const backends = servers.map((s) => `127.0.0.1:${s.address().port}`);
const PORT = 18950;

const subjects = {
  'empty node': ['-e', 'setInterval(() => {}, 1e6); require("net").createServer().listen(' + PORT + ', "127.0.0.1")'],
  'plain Node proxy': [path.join(REPO, 'bench', 'lib', 'node-pipe.mjs'), String(PORT), ...backends],
  'plain proxy + checks, admin, prom-client, pino': [path.join(REPO, 'bench', 'lib', 'deps-pipe.mjs'), String(PORT), caFile, ...backends],
  'kube-local-lb run': [path.join(REPO, 'dist', 'main.js'), 'run', '--listen', `127.0.0.1:${PORT}`, ...backends.flatMap((b) => ['--backend', b]),
    '--health-auth', 'anonymous', '--health-ca-file', caFile, '--health-tls-server-name', 'kubernetes',
    '--health-interval', '1s', '--health-timeout', '1s', '--admin-listen', '127.0.0.1:0'],
};

// The single executable (npm run package) embeds Node.js 24 and runs a CommonJS bundle: measured
// too when this script runs on Node 24 and the executable is there.
const sea = path.join(REPO, 'dist-bin', 'kube-local-lb');
const runArgs = subjects['kube-local-lb run'].slice(1);
const commands = Object.fromEntries(Object.keys(subjects).map((k) => [k, process.execPath]));
if (process.versions.node.startsWith('24.') && existsSync(sea)) {
  subjects['kube-local-lb single executable'] = runArgs;
  commands['kube-local-lb single executable'] = sea;
}

function smaps(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss'), anon: kb('Anonymous') };
}

const samples = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, args] of Object.entries(subjects)) {
      const daemon = startDaemon(name, commands[name], args, { logFile: path.join(scratch, 'log.txt') });
      try {
        if (!(await waitPort('127.0.0.1', PORT, 10000))) throw new Error(`${name} did not listen; see ${path.join(scratch, 'log.txt')}`);
        await sleep(settleMs);
        samples[name].push(smaps(daemon.pid));
      } finally {
        await stopDaemon(daemon);
      }
    }
  }
} finally {
  for (const s of servers) s.close();
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const mb = (kb) => (kb / 1024).toFixed(1);
const floor = median(samples['plain Node proxy'].map((s) => s.rss));
console.log(`Node.js ${process.version}, idle ${settleMs / 1000} s, medians of ${reps}; three HTTPS backends, checks every second.\n`);
console.log('| process | RSS MB | anonymous MB | RSS / plain Node proxy |');
console.log('|---|--:|--:|--:|');
for (const [name, v] of Object.entries(samples)) {
  const rss = median(v.map((s) => s.rss));
  console.log(`| ${name} | ${mb(rss)} | ${mb(median(v.map((s) => s.anon)))} | ${(rss / floor).toFixed(2)} |`);
}
rmSync(scratch, { recursive: true, force: true });
