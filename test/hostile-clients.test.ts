/**
 * Clients that misbehave, on purpose or not: connections that never speak, FIN at once, never
 * reading, too many at once, a first flight larger than the replay buffer. The proxy must keep
 * serving the others, count what it refuses, and keep its memory per session bounded by
 * backpressure (measured as Buffers held after garbage collection, not as timing).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { echoBackend } from './helpers/echo-backend.js';
import { logSink } from './helpers/logs.js';
import { parseMetrics, value } from './helpers/prometheus.js';
import { startProxy, startProxyFor, type TestProxy } from './helpers/proxy.js';
import { collectGarbage } from './helpers/resources.js';
import { waitUntil } from './helpers/wait.js';

const MiB = 1024 * 1024;
// A TLS record header (ClientHello): the session may be replayed until the backend answers.
const HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]);

async function metrics(lb: TestProxy): Promise<ReturnType<typeof parseMetrics>> {
  return parseMetrics(await lb.registry.metrics());
}

function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  return once(socket, 'connect').then(() => socket);
}

/** Sends `bytes` on a fresh session, ends it, and resolves with everything that came back. */
async function echoed(port: number, bytes: Buffer): Promise<Buffer> {
  const socket = await connect(port);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const ended = once(socket, 'end');
  socket.end(bytes);
  await ended;
  socket.destroy();
  return Buffer.concat(chunks);
}

/** Writes `chunk` on the session and resolves with as many bytes of answer. */
function ask(socket: net.Socket, chunk: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length < chunk.length) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(got);
    };
    const onClose = (): void => reject(new Error('closed before the echo'));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(chunk);
  });
}

/** `promise`, or a failure naming `what` after `ms`: a stuck session fails the test instead of hanging it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `read` until it gives the same number `times` times in a row: the flow it measures has stopped. */
async function settled(read: () => number, what: string, times = 5, everyMs = 50): Promise<number> {
  let last = -1;
  let same = 0;
  await waitUntil(() => {
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
    return same >= times;
  }, what, 15_000, everyMs);
  return last;
}

test('a flood of clients that send nothing holds sessions, is counted, and does not stop others being served', async (t) => {
  const backends = await Promise.all(['a', 'b'].map((n) => echoBackend(n)));
  const logs = logSink('info');
  const lb = await startProxy({ backends: backends.map((b) => b.address) }, logs);
  const idle: net.Socket[] = [];
  t.after(async () => {
    idle.forEach((s) => s.destroy());
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });
  await logs.waitFor({ event: 'backend_state', to: 'up' });
  const FLOOD = 400;
  for (let i = 0; i < FLOOD; i++) idle.push(net.connect(lb.port, '127.0.0.1').on('error', () => undefined));
  await waitUntil(() => lb.app.sessionCount === FLOOD, `${FLOOD} idle sessions`);
  const m = await metrics(lb);
  const open = backends.reduce((sum, b) => sum + value(m, 'kube_local_lb_backend_sessions', { backend: b.address }), 0);
  assert.equal(open, FLOOD, 'every idle session is counted against a backend');
  // Nothing times them out (a watch may be quiet for minutes), and others are served meanwhile.
  for (let i = 0; i < 20; i++) {
    const payload = Buffer.concat([HELLO, Buffer.from(`session ${i}`)]);
    assert.deepEqual(await echoed(lb.port, payload), payload);
  }
  assert.equal(lb.app.sessionCount, FLOOD);
  idle.forEach((s) => s.destroy());
  await waitUntil(() => lb.app.sessionCount === 0, 'the idle sessions closed');
  const after = await metrics(lb);
  for (const b of backends) assert.equal(value(after, 'kube_local_lb_backend_sessions', { backend: b.address }), 0);
  assert.equal(logs.find({ level: 'error' }), undefined);
});

test('half-open clients: a FIN right after connect closes the session; a FIN after a request still gets the whole answer', async (t) => {
  const backend = await echoBackend('a');
  const lb = await startProxyFor(t, backend);
  const silent = await Promise.all(Array.from({ length: 50 }, async () => {
    const s = net.connect({ port: lb.port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => undefined);
    s.end();
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    await once(s, 'end');
    s.destroy();
    return Buffer.concat(got).length;
  }));
  assert.deepEqual(new Set(silent), new Set([0]), 'nothing comes back, and the FIN does');
  const payloads = Array.from({ length: 50 }, (_, i) => Buffer.concat([HELLO, Buffer.alloc(1000 + i * 997, i)]));
  const answers = await Promise.all(payloads.map((p) => echoed(lb.port, p)));
  answers.forEach((a, i) => assert.ok(a.equals(payloads[i] ?? Buffer.alloc(0)), `session ${i} echoed whole after its FIN`));
  await waitUntil(() => lb.app.sessionCount === 0, 'every half-closed session closed');
});

test('a client that never reads: backpressure holds the backend, the proxy buffers little; all arrives once it reads', async (t) => {
  const BODY = 192 * MiB;
  const CHUNK = Buffer.alloc(64 * 1024, 0x61);
  let accepted = 0;
  const firehose = await echoBackend('firehose', {
    // Writes BODY bytes as fast as the proxy takes them: the same Buffer again and again, so
    // that the only Buffers that pile up in this process are the proxy's.
    session(s) {
      let sent = 0;
      const pump = (): void => {
        while (sent < BODY) {
          sent += CHUNK.length;
          const more = s.write(CHUNK);
          accepted = s.bytesWritten - s.writableLength;
          if (!more) return void s.once('drain', pump);
        }
        s.end();
      };
      s.on('data', () => undefined);
      pump();
    },
  });
  const lb = await startProxyFor(t, firehose);
  const before = collectGarbage();
  const client = await connect(lb.port);
  t.after(() => client.destroy());
  client.write(HELLO);
  await once(client, 'data');
  client.pause();
  await settled(() => accepted, 'the backend stalls');
  const held = collectGarbage();
  const proxyBuffers = held.arrayBuffers - before.arrayBuffers;
  assert.ok(proxyBuffers < 4 * MiB, `the proxy holds ${(proxyBuffers / MiB).toFixed(1)} MiB for a client that does not read`);
  assert.ok(accepted < BODY / 2, `the backend could write ${(accepted / MiB).toFixed(0)} MiB of ${BODY / MiB} MiB`);
  for (const backend of lb.app.pool.backends) {
    for (const session of backend.sessions) {
      if (!('client' in session) || !(session.client instanceof net.Socket)) continue;
      assert.ok(session.client.writableLength < MiB, `${session.client.writableLength} bytes queued toward the client`);
    }
  }
  let received = 0;
  client.on('data', (d: Buffer) => (received += d.length));
  const ended = once(client, 'end');
  client.resume();
  await within(ended, 20_000, 'the whole body arrives once the client reads');
  // The first chunk was read before pausing.
  assert.ok(received >= BODY - CHUNK.length && received <= BODY, `received ${received} of ${BODY}`);
});

test('at --max-connections new clients are refused and counted; the open sessions keep being served', async (t) => {
  const backend = await echoBackend('a');
  const logs = logSink('info');
  const MAX = 20;
  const lb = await startProxy({ backends: [backend.address], maxConnections: MAX }, logs);
  const open: net.Socket[] = [];
  t.after(async () => {
    open.forEach((s) => s.destroy());
    await lb.close();
    await backend.close();
  });
  await logs.waitFor({ event: 'backend_state', to: 'up' });
  for (let i = 0; i < MAX; i++) {
    const s = await connect(lb.port);
    open.push(s);
    assert.deepEqual(await ask(s, Buffer.concat([HELLO, Buffer.from(`hi ${i}`)])), Buffer.concat([HELLO, Buffer.from(`hi ${i}`)]));
  }
  const REFUSED = 5;
  const refused = await Promise.all(Array.from({ length: REFUSED }, async () => {
    const s = net.connect(lb.port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => undefined);
    s.write(HELLO);
    await new Promise((resolve) => s.once('close', resolve));
    return Buffer.concat(got).length;
  }));
  assert.deepEqual(refused, Array(REFUSED).fill(0), 'refused clients are closed without an answer');
  let m = await metrics(lb);
  assert.equal(value(m, 'kube_local_lb_rejected_connections_total', { reason: 'max_connections' }), REFUSED);
  assert.equal(lb.app.sessionCount, MAX);
  for (const [i, s] of open.entries()) {
    const again = Buffer.from(`still here ${i}`);
    assert.deepEqual(await ask(s, again), again, `session ${i} is still served`);
  }
  // Room again once some leave.
  open.splice(0, 3).forEach((s) => s.destroy());
  await waitUntil(() => lb.app.sessionCount === MAX - 3, 'three sessions closed');
  const payload = Buffer.concat([HELLO, Buffer.from('a newcomer')]);
  assert.deepEqual(await echoed(lb.port, payload), payload);
  m = await metrics(lb);
  assert.equal(value(m, 'kube_local_lb_rejected_connections_total', { reason: 'max_connections' }), REFUSED);
});

test('a first flight past the replay buffer before the backend answers: reading pauses; the session completes once it answers', async (t) => {
  const FLIGHT = 4 * MiB;
  let received = 0;
  let answer: (() => void) | undefined;
  const late = await echoBackend('late', {
    // Reads everything, answers only when the test says so, and at the end reports what it got.
    session(s, first) {
      const hash = createHash('sha256');
      const take = (d: Buffer): void => {
        received += d.length;
        hash.update(d);
      };
      take(first);
      s.on('data', take);
      answer = () => s.write('hello');
      s.on('end', () => s.end(`${received} ${hash.digest('hex')}`));
    },
  });
  const lb = await startProxyFor(t, late, { firstByteTimeoutMs: 30_000 });
  const flight = Buffer.concat([HELLO, Buffer.alloc(FLIGHT - HELLO.length, 0x42)]);
  const client = await connect(lb.port);
  t.after(() => client.destroy());
  client.write(flight);
  client.end();
  await waitUntil(() => answer, 'the backend has the session');
  const before = await settled(() => received, 'the proxy stops reading');
  // The replay buffer (64 KiB) plus the chunk that crossed it, not the whole flight.
  assert.ok(before <= 256 * 1024, `the backend got ${before} bytes before answering`);
  const got: Buffer[] = [];
  client.on('data', (d: Buffer) => got.push(d));
  const ended = once(client, 'end');
  answer?.();
  await within(ended, 10_000, 'the session completes once the backend answers');
  const text = Buffer.concat(got).toString('latin1');
  assert.equal(text, `hello${FLIGHT} ${createHash('sha256').update(flight).digest('hex')}`);
});

test('a plain first flight to a backend that reads nothing is held by backpressure, not buffered', async (t) => {
  const FLIGHT = 160 * MiB;
  let release: (() => void) | undefined;
  let received = 0;
  const stalled = await echoBackend('stalled', {
    // Reads nothing until released (a backend stuck before its accept loop reads), then drains.
    session(s, first) {
      received += first.length;
      s.pause();
      release = () => {
        s.on('data', (d: Buffer) => (received += d.length));
        s.resume();
      };
      s.on('end', () => s.end(String(received)));
    },
  });
  const lb = await startProxyFor(t, stalled);
  const before = collectGarbage();
  const client = await connect(lb.port);
  t.after(() => client.destroy());
  // A first request, and the rest only once the backend has it: the proxy is past connecting.
  client.write('POST /upload HTTP/1.1\r\n');
  await waitUntil(() => release, 'the backend has the session');
  const CHUNK = Buffer.alloc(MiB, 0x50);
  let written = 0;
  const pump = (): void => {
    while (written < FLIGHT) {
      written += CHUNK.length;
      if (!client.write(CHUNK)) return void client.once('drain', pump);
    }
    client.end();
  };
  pump();
  await settled(() => client.bytesWritten - client.writableLength, 'the client stalls');
  const held = collectGarbage();
  const proxyBuffers = held.arrayBuffers - before.arrayBuffers;
  assert.ok(proxyBuffers < 4 * MiB, `the proxy holds ${(proxyBuffers / MiB).toFixed(1)} MiB of the client's bytes`);
  const reply: Buffer[] = [];
  client.on('data', (d: Buffer) => reply.push(d));
  const ended = once(client, 'end');
  release?.();
  await within(ended, 10_000, 'the session completes once the backend reads');
  assert.equal(Buffer.concat(reply).toString(), String(FLIGHT + 'POST /upload HTTP/1.1\r\n'.length));
});

test('a plain first flight past the replay buffer, sent while the proxy connects, is passed on once connected', async (t) => {
  // Says nothing until the client's request is complete (its FIN), as an upload's answer.
  const backend = await echoBackend('a', {
    session(s, first) {
      let received = first.length;
      s.on('data', (d: Buffer) => (received += d.length));
      s.on('end', () => s.end(String(received)));
    },
  });
  const lb = await startProxyFor(t, backend);
  // Not TLS, so nothing is kept for replay: the backend gets it all before it says a word.
  const flight = Buffer.alloc(MiB, 0x50);
  const answer = await within(echoed(lb.port, flight), 10_000, 'the backend gets the whole flight');
  assert.equal(answer.toString(), String(flight.length));
});
