/**
 * Sessions read into one buffer shared by every socket and forward copies of what they read
 * (src/proxy/reader.ts). These tests move megabytes both ways through several sessions at once,
 * with readers that stall, so that writes the kernel cannot take at once are queued while other
 * sockets keep reading: a forwarded view of the shared buffer instead of a copy would be
 * overwritten there, and the digests would differ.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { adoptAccepted } from '../src/proxy/reader.js';
import { echoBackend } from './helpers/echo-backend.js';
import { startProxyFor } from './helpers/proxy.js';

const MiB = 1024 * 1024;
const HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Reads `socket` to its end, stalling 3 ms after each chunk when `slow`. */
async function readAll(socket: net.Socket, slow: boolean): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (d: Buffer) => {
    parts.push(d);
    if (slow) {
      socket.pause();
      setTimeout(() => socket.resume(), 3);
    }
  });
  await once(socket, 'end');
  return Buffer.concat(parts);
}

test('bytes arrive intact both ways through concurrent sessions whose readers stall', { timeout: 60_000 }, async (t) => {
  const download = randomBytes(6 * MiB);
  let served = 0;
  const backend = await echoBackend('bulk', {
    // Sends `download`, then, once the client has sent everything, the digest of what came.
    session(s, first) {
      const slow = served++ % 2 === 0;
      const received: Buffer[] = [first.subarray(HELLO.length)];
      s.on('data', (d: Buffer) => {
        received.push(d);
        if (slow) {
          s.pause();
          setTimeout(() => s.resume(), 3);
        }
      });
      s.write(download);
      s.on('end', () => s.end(sha(Buffer.concat(received))));
    },
  });
  const lb = await startProxyFor(t, backend);

  const sessions = [0, 1, 2, 3].map(async (i) => {
    const upload = randomBytes(6 * MiB);
    const client = net.connect(lb.port, '127.0.0.1');
    await once(client, 'connect');
    const answer = readAll(client, i % 2 === 1);
    client.write(HELLO);
    client.end(upload);
    const got = await answer;
    assert.equal(got.length, download.length + 64, `session ${i}: ${got.length} bytes`);
    assert.equal(sha(got.subarray(0, download.length)), sha(download), `session ${i}: the download changed on the way`);
    assert.equal(got.subarray(download.length).toString(), sha(upload), `session ${i}: the upload changed on the way`);
  });
  await Promise.all(sessions);
  assert.equal(served, 4);
});

test('adoptAccepted takes over a paused accepted connection and hands over its bytes; not a flowing one', async (t) => {
  const got: Buffer[] = [];
  const adopted: (net.Socket | null)[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    if (adopted.length === 1) s.resume();
    const socket = adoptAccepted(s, (chunk) => got.push(chunk), false);
    adopted.push(socket);
    if (!socket) s.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;

  const first = net.connect(port, '127.0.0.1');
  await once(first, 'connect');
  first.write('one');
  await new Promise((r) => setTimeout(r, 50));
  first.write('two');
  first.end();
  while (!adopted[0] || !adopted[0].readableEnded) await new Promise((r) => setTimeout(r, 10));
  // Each chunk is a copy: the second read did not overwrite the first.
  assert.equal(Buffer.concat(got).toString(), 'onetwo');
  assert.equal(got[0]?.toString(), 'one');
  adopted[0].destroy();

  // A connection already flowing cannot change how it reads: the caller keeps 'data'.
  const second = net.connect(port, '127.0.0.1');
  await once(second, 'close');
  assert.equal(adopted[1], null);
});
