// Holds N long-lived client connections through a proxy. Each one first carries a keep-alive
// "GET /healthz" (so the whole path exists and the backend is known from X-Backend), then stays
// idle. stdout, one JSON object a line:
//   {"event":"ready","ok":K,"failed":F,"ms":T,"backends":{"b1":10,...}}  once all have answered
//   {"event":"closed","backend":"b1","at":EPOCH_MS}   with --report-closes, for each later close
// Ends on SIGTERM/SIGINT or after --hold-ms.
// usage: node hold.mjs --host H --port P --n N [--ca CA.pem] [--concurrency 100]
//                      [--hold-ms 120000] [--report-closes]
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, n: { type: 'string' },
    ca: { type: 'string' }, concurrency: { type: 'string', default: '100' },
    'hold-ms': { type: 'string', default: '120000' }, 'report-closes': { type: 'boolean', default: false },
  },
});
if (!a.port || !a.n) {
  process.stderr.write('usage: hold.mjs --host H --port P --n N [--ca FILE] [--concurrency C] [--hold-ms MS] [--report-closes]\n');
  process.exit(2);
}
const port = Number(a.port);
const n = Number(a.n);
const concurrency = Number(a.concurrency);
const ca = a.ca ? readFileSync(a.ca) : undefined;
const now = () => performance.timeOrigin + performance.now();
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const sockets = [];
const backends = {};
let started = 0;
let answered = 0;
let failed = 0;
let ready = false;
const t0 = Date.now();

function open() {
  started++;
  let settled = false;
  let buf = Buffer.alloc(0);
  let backend = '';
  const s = ca ? tls.connect({ host: a.host, port, ca }) : net.connect({ host: a.host, port });
  sockets.push(s);
  const settle = (ok) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (ok) {
      answered++;
      backends[backend] = (backends[backend] ?? 0) + 1;
    } else {
      failed++;
      s.destroy();
    }
    next();
  };
  const timer = setTimeout(() => settle(false), 10000);
  s.once(ca ? 'secureConnect' : 'connect', () => s.write(`GET /healthz HTTP/1.1\r\nHost: ${a.host}\r\nConnection: keep-alive\r\n\r\n`));
  s.on('data', (chunk) => {
    if (settled) return;
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buf.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < end + 4 + length) return;
    backend = /\r\nx-backend:\s*(\S+)/i.exec(head)?.[1] ?? '?';
    settle(head.startsWith('HTTP/1.1 200'));
  });
  s.on('error', () => settle(false));
  s.on('close', () => {
    if (!settled) return settle(false);
    if (ready && a['report-closes'] && backend) emit({ event: 'closed', backend, at: now() });
  });
}

function next() {
  while (started < n && started - answered - failed < concurrency) open();
  if (!ready && answered + failed === n) {
    ready = true;
    emit({ event: 'ready', ok: answered, failed, ms: Date.now() - t0, backends });
  }
}

function bye() {
  ready = false;
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
setTimeout(bye, Number(a['hold-ms']));
next();
