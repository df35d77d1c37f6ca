// Long-lived client connections through several proxies, each redialled when it closes, the way
// client-go does: a connection that ends is dialled again at once (a watch resumes), a dial that
// fails is retried with a jittered backoff (200 ms doubling up to 5 s). Every connection asks
// "GET /healthz" (keep-alive) at once and then every 3-9 s at random, like a kubelet's lease
// renewals, so that a request can be in flight when a proxy closes it. stdout, one JSON a line:
//   {"event":"ready","ok":K,"failed":F}                                once every connection answered
//   {"event":"connected","p":I,"b":"b2","at":EPOCH_MS,"re":true}       first answer on a (re)dialled connection
//   {"event":"closed","p":I,"b":"b1","at":EPOCH_MS,"inflight":false}   a connection ended
//   {"event":"failed","p":I,"b":"b1","at":EPOCH_MS,"why":"closed","sentMsAgo":3}  a request got no answer
// p is the index of the proxy in --ports. Ends on SIGTERM/SIGINT or after --hold-ms.
// usage: node redial.mjs --ports P1,P2,... --n N [--host H] [--ca CA.pem] [--hold-ms MS] [--every-ms LO,HI]
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' }, ports: { type: 'string' }, n: { type: 'string' },
    ca: { type: 'string' }, 'hold-ms': { type: 'string', default: '600000' }, 'every-ms': { type: 'string', default: '3000,9000' },
    timeout: { type: 'string', default: '10000' },
  },
});
if (!a.ports || !a.n) {
  process.stderr.write('usage: redial.mjs --ports P1,P2,... --n N [--host H] [--ca FILE] [--hold-ms MS] [--every-ms LO,HI]\n');
  process.exit(2);
}
const ports = a.ports.split(',').map(Number);
const n = Number(a.n);
const [everyLo, everyHi] = a['every-ms'].split(',').map(Number);
const requestTimeoutMs = Number(a.timeout);
const ca = a.ca ? readFileSync(a.ca) : undefined;
const now = () => performance.timeOrigin + performance.now();
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let answeredFirst = 0;
let failedFirst = 0;
let ready = false;
let stopping = false;
const sockets = new Set();

/** One client connection slot through proxy `p`: dialled, redialled when it ends. */
function slot(p) {
  let backoffMs = 200;
  let first = true;
  const dial = (re) => {
    if (stopping) return;
    const port = ports[p];
    const s = ca ? tls.connect({ host: a.host, port, ca, servername: 'kubernetes' }) : net.connect({ host: a.host, port });
    sockets.add(s);
    let buf = Buffer.alloc(0);
    let backend = '';
    let inflight = false;
    let sentAt = 0;
    let answered = false;
    let reqTimer;
    let nextTimer;
    const ask = () => {
      if (s.destroyed) return;
      inflight = true;
      sentAt = now();
      s.write(`GET /healthz HTTP/1.1\r\nHost: kubernetes\r\nConnection: keep-alive\r\n\r\n`);
      reqTimer = setTimeout(() => {
        emit({ event: 'failed', p, b: backend, at: now(), why: 'timeout', sentMsAgo: Math.round(now() - sentAt) });
        s.destroy();
      }, requestTimeoutMs);
    };
    s.once(ca ? 'secureConnect' : 'connect', ask);
    s.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        clearTimeout(reqTimer);
        inflight = false;
        backend = /\r\nx-backend:\s*(\S+)/i.exec(head)?.[1] ?? '?';
        if (!answered) {
          answered = true;
          backoffMs = 200;
          emit({ event: 'connected', p, b: backend, at: now(), re });
          if (first) {
            first = false;
            answeredFirst++;
            checkReady();
          }
        }
        nextTimer = setTimeout(ask, everyLo + Math.random() * (everyHi - everyLo));
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      sockets.delete(s);
      clearTimeout(reqTimer);
      clearTimeout(nextTimer);
      if (stopping) return;
      if (answered) emit({ event: 'closed', p, b: backend, at: now(), inflight });
      if (inflight && answered) emit({ event: 'failed', p, b: backend, at: now(), why: 'closed', sentMsAgo: Math.round(now() - sentAt) });
      if (!answered && first) {
        first = false;
        failedFirst++;
        checkReady();
      }
      if (answered) {
        dial(true);
        return;
      }
      // The dial failed: back off (jittered) before the next one.
      const wait = backoffMs * (0.5 + Math.random());
      backoffMs = Math.min(5000, backoffMs * 2);
      setTimeout(() => dial(true), wait);
    });
  };
  dial(false);
}

function checkReady() {
  if (!ready && answeredFirst + failedFirst === ports.length * n) {
    ready = true;
    emit({ event: 'ready', ok: answeredFirst, failed: failedFirst });
  }
}

function bye() {
  stopping = true;
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
setTimeout(bye, Number(a['hold-ms']));
// Dialled a few at a time, so that the start is not itself a herd.
let k = 0;
const all = ports.flatMap((_, p) => Array.from({ length: n }, () => p));
const opener = setInterval(() => {
  for (let i = 0; i < 20 && k < all.length; i++) slot(all[k++]);
  if (k >= all.length) clearInterval(opener);
}, 50);
