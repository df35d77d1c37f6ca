import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeCluster } from './helpers/cluster.js';
import { startNodeProxy, startNsClient, type NsSession } from './helpers/netns-client.js';
import { fakeApiserverIn, makeNetnsHost, netnsUnavailable } from './helpers/netns.js';

/*
 * kube-local-lb runs in a "node" namespace, with its clients and one apiserver on the node's
 * loopback; the other apiserver is in a namespace of its own behind a veth pair whose link the
 * test pulls. No interface of the root namespace is involved.
 */
test('link down to one backend (network namespace): its sessions are ejected within the bound, others unharmed', { skip: netnsUnavailable() }, async (t) => {
  const pki = await fakeCluster(0, { startup: 'instant' });
  t.after(() => pki.close());
  const host = makeNetnsHost();
  t.after(() => host.remove());
  const remote = await fakeApiserverIn(host.spawn, host.ip, pki.pki.tls, 'instant');
  t.after(() => remote.child.kill('SIGKILL'));
  const local = await fakeApiserverIn(host.nodeSpawn, '127.0.0.1', pki.pki.tls, 'instant', 'local');
  t.after(() => local.child.kill('SIGKILL'));
  const caFile = pki.file('ca.crt', pki.pki.ca.certPem);
  const lb = await startNodeProxy(t, host, caFile, ['--backend', remote.address, '--backend', local.address,
    '--health-interval', '200ms', '--health-timeout', '300ms', '--health-fall', '2', '--health-rise', '1']);
  await lb.waitFor({ event: 'backend_state', backend: remote.address, to: 'up' });
  await lb.waitFor({ event: 'backend_state', backend: local.address, to: 'up' });
  const client = startNsClient(t, host, caFile);

  const sessions: NsSession[] = [];
  for (let i = 0; i < 40 && sessions.filter((s) => s.name === 'in-netns').length < 2; i++) sessions.push(await client.open(lb.port));
  const pinned = sessions.filter((s) => s.name === 'in-netns');
  const healthy = sessions.filter((s) => s.name !== 'in-netns');
  assert.ok(pinned.length >= 1 && healthy.length >= 1, 'sessions on both backends');

  const downAt = Date.now();
  host.linkDown();
  const closedAt = await Promise.all(pinned.map((s) => s.closed));
  // fall x interval (+20% jitter) + one timeout, and slack for a loaded CI machine.
  const bound = 2 * 200 * 1.2 + 300 + 700;
  for (const at of closedAt) assert.ok(at - downAt <= bound, `ejected after ${at - downAt} ms (bound ${bound} ms)`);
  const down = await lb.waitFor({ event: 'backend_state', backend: remote.address, to: 'down' });
  assert.ok(['timeout', 'connect_timeout'].includes(String(down['reason'])), String(down['reason']));
  for (const s of healthy) assert.equal(await s.ask(), 'local', 'sessions on the healthy backend are untouched');
  assert.equal(await client.livez(lb.port), 'local');
});
