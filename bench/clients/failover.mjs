// Failover probe: one GET on a new connection every --interval ms for --duration ms, each with
// its own --timeout. It injects nothing itself: the bench freezes or kills a backend meanwhile
// and reads the per-request records this writes to --out (one JSON object a line):
//   { start, end, ms, status, backend, error }   start/end: epoch ms, sub-ms precision
// stdout: {"event":"started","at":EPOCH_MS} at once, {"event":"done",...} at the end.
// usage: node failover.mjs --url URL --out FILE [--interval 20] [--duration 15000]
//                          [--timeout 3000] [--ca CA.pem]
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    url: { type: 'string' }, out: { type: 'string' }, ca: { type: 'string' },
    interval: { type: 'string', default: '20' }, duration: { type: 'string', default: '15000' },
    timeout: { type: 'string', default: '3000' },
  },
});
if (!a.url || !a.out) {
  process.stderr.write('usage: failover.mjs --url URL --out FILE [--interval MS] [--duration MS] [--timeout MS] [--ca FILE]\n');
  process.exit(2);
}
const url = new URL(a.url);
const intervalMs = Number(a.interval);
const durationMs = Number(a.duration);
const timeoutMs = Number(a.timeout);
const ca = a.ca ? readFileSync(a.ca) : undefined;
const mod = url.protocol === 'https:' ? https : http;
const now = () => performance.timeOrigin + performance.now();

const records = [];
let pending = 0;

function fire() {
  const r = { start: now(), end: 0, ms: 0, status: 0, backend: '', error: '' };
  records.push(r);
  pending++;
  let finished = false;
  const finish = (error) => {
    if (finished) return;
    finished = true;
    pending--;
    clearTimeout(timer);
    r.end = now();
    r.ms = Math.round((r.end - r.start) * 10) / 10;
    r.error = error;
  };
  const req = mod.request(url, { agent: false, ca, headers: { connection: 'close' } }, (res) => {
    r.status = res.statusCode ?? 0;
    r.backend = String(res.headers['x-backend'] ?? '');
    res.resume();
    res.on('end', () => finish(''));
    res.on('error', (err) => finish(err.code ?? 'response_error'));
  });
  const timer = setTimeout(() => {
    finish('timeout');
    req.destroy();
  }, timeoutMs);
  req.on('error', (err) => finish(err.code ?? err.message));
  req.end();
}

const t0 = now();
process.stdout.write(`${JSON.stringify({ event: 'started', at: t0 })}\n`);
const total = Math.floor(durationMs / intervalMs);
let fired = 0;
// Fire on a fixed schedule (request k at t0 + k * interval), catching up if a tick was late.
function tick() {
  while (fired < total && t0 + fired * intervalMs <= now()) {
    fire();
    fired++;
  }
  if (fired < total) setTimeout(tick, Math.max(0, t0 + fired * intervalMs - now()));
  else waitForPending();
}
function waitForPending() {
  if (pending > 0) {
    setTimeout(waitForPending, 20);
    return;
  }
  writeFileSync(a.out, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  process.stdout.write(`${JSON.stringify({ event: 'done', n: records.length })}\n`);
  process.exit(0);
}
tick();
