import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { fakeCluster } from './helpers/cluster.js';
import { logSink } from './helpers/logs.js';
import { fakeApiserverIn, makeNetnsHost, netnsUnavailable } from './helpers/netns.js';
import { startProxy } from './helpers/proxy.js';

/** A kept-alive HTTPS connection through the proxy; `ask()` sends one GET and says who answered. */
async function session(port: number, ca: string): Promise<{ socket: tls.TLSSocket; ask(): Promise<string> }> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'kubernetes', ALPNProtocols: ['http/1.1'] });
  socket.on('error', () => undefined);
  await new Promise((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    ask: () =>
      new Promise((resolve, reject) => {
        let got = '';
        const onData = (d: Buffer) => {
          got += d.toString();
          const name = /x-fake-apiserver: (\S+)/i.exec(got)?.[1];
          if (name && got.includes('\r\n\r\n') && got.endsWith('ok')) {
            socket.off('data', onData);
            resolve(name);
          }
        };
        socket.on('data', onData);
        socket.once('close', () => reject(new Error('closed')));
        socket.write('GET /livez HTTP/1.1\r\nHost: kubernetes\r\n\r\n');
      }),
  };
}

test('link down to one backend (network namespace): its sessions are ejected within the bound, others unharmed', { skip: netnsUnavailable() }, async (t) => {
  const cluster = await fakeCluster(1, { startup: 'instant' });
  t.after(() => cluster.close());
  const host = makeNetnsHost();
  t.after(() => host.remove());
  const remote = await fakeApiserverIn(host, cluster.pki.tls, 'instant');
  t.after(() => {
    remote.child.kill('SIGKILL');
  });
  const [local] = cluster.apiservers;
  assert.ok(local);
  const remoteAddress = `${host.ip}:${remote.port}`;
  const health = { scheme: 'https' as const, intervalMs: 200, timeoutMs: 300, fall: 2, rise: 1,
    caFile: cluster.file('ca.crt', cluster.pki.ca.certPem) };
  const logs = logSink();
  const lb = await startProxy({ backends: [remoteAddress, local.address], health }, logs);
  t.after(() => lb.close());
  await logs.waitFor({ event: 'backend_state', backend: remoteAddress, to: 'up' });
  await logs.waitFor({ event: 'backend_state', backend: local.address, to: 'up' });

  const sessions: { socket: tls.TLSSocket; ask(): Promise<string>; name: string }[] = [];
  for (let i = 0; i < 40 && sessions.filter((s) => s.name === 'in-netns').length < 2; i++) {
    const s = await session(lb.port, cluster.pki.ca.certPem);
    sessions.push({ ...s, name: await s.ask() });
  }
  const pinned = sessions.filter((s) => s.name === 'in-netns');
  const healthy = sessions.filter((s) => s.name !== 'in-netns');
  assert.ok(pinned.length >= 1 && healthy.length >= 1, 'sessions on both backends');
  t.after(() => sessions.forEach((s) => s.socket.destroy()));

  const closed = pinned.map((s) => new Promise<number>((resolve) => s.socket.once('close', () => resolve(Date.now()))));
  const downAt = Date.now();
  host.linkDown();
  const closedAt = await Promise.all(closed);
  // fall x interval (+20% jitter) + one timeout, and slack for a loaded CI machine.
  const bound = 2 * 200 * 1.2 + 300 + 700;
  for (const at of closedAt) assert.ok(at - downAt <= bound, `ejected after ${at - downAt} ms (bound ${bound} ms)`);
  const down = await logs.waitFor({ event: 'backend_state', backend: remoteAddress, to: 'down' });
  assert.ok(['timeout', 'connect_timeout'].includes(String(down['reason'])), String(down['reason']));
  for (const s of healthy) assert.equal(await s.ask(), local.name, 'sessions on the healthy backend are untouched');
  const fresh = await session(lb.port, cluster.pki.ca.certPem);
  assert.equal(await fresh.ask(), local.name);
  fresh.socket.destroy();
});
