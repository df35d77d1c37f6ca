import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { DEFAULTS } from '../src/config/schema.js';
import { Checker, type CheckResult } from '../src/health/checker.js';
import type { ProbeCredentials } from '../src/health/credentials.js';
import { waitUntil } from './helpers/wait.js';

const ANONYMOUS: ProbeCredentials = { headers: {}, ca: undefined, cert: undefined, key: undefined, source: 'anonymous', generation: '0' };
const SETTINGS = { ...DEFAULTS.health, scheme: 'http' as const, intervalMs: 40, timeoutMs: 500 };

async function okServer(t: { after(fn: () => unknown): void }): Promise<number> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

test('a credential source that throws something other than a CredentialError: reported, and the checks go on', async (t) => {
  const port = await okServer(t);
  const errors: unknown[] = [];
  let calls = 0;
  const results: CheckResult[] = [];
  const checker = new Checker({
    target: { address: `127.0.0.1:${port}`, host: '127.0.0.1', port },
    settings: () => SETTINGS,
    credentials: () => {
      calls++;
      // The first two rounds fail in a way the checker does not know; then the source recovers.
      if (calls <= 2) return Promise.reject(new TypeError(`broken source ${calls}`));
      return Promise.resolve(ANONYMOUS);
    },
    onResult: (r) => {
      results.push(r);
      return 'interval';
    },
    onCredentialError: () => assert.fail('not a CredentialError'),
    onError: (err) => errors.push(err),
  });
  t.after(() => checker.stop());
  checker.start();
  await waitUntil(() => results.length > 0, 'a check after the failing rounds', 5_000);
  assert.deepEqual(errors.map((e) => (e instanceof Error ? e.message : String(e))), ['broken source 1', 'broken source 2']);
  assert.equal(results[0]?.reason, 'ok');
});

test('an owner that throws on a result: reported, and the next check still runs', async (t) => {
  const port = await okServer(t);
  const errors: unknown[] = [];
  let results = 0;
  const checker = new Checker({
    target: { address: `127.0.0.1:${port}`, host: '127.0.0.1', port },
    settings: () => SETTINGS,
    credentials: () => Promise.resolve(ANONYMOUS),
    onResult: () => {
      results++;
      if (results === 1) throw new RangeError('owner bug');
      return 'interval';
    },
    onCredentialError: () => assert.fail('not a CredentialError'),
    onError: (err) => errors.push(err),
  });
  t.after(() => checker.stop());
  checker.start();
  await waitUntil(() => results >= 2, 'the check after the one whose result threw', 5_000);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof RangeError);
});
