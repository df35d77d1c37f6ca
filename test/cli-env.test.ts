import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runMain } from './cli-spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = join(dir, 'token');
writeFileSync(token, 'not read here\n');
const missing = join(dir, 'missing');

const BASE = ['run', '--listen', '127.0.0.1:0', '--admin-listen', ''];
const HOSTPORT = 'e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443';

interface Case {
  env: Record<string, string>;
  stderr: string;
}

/** One variable set to `value` must fail with `NAME: "value" <tail>`. */
function bad(name: string, value: string, tail: string, extra: Record<string, string> = {}): Case {
  return { env: { ...extra, [name]: value }, stderr: `${name}: ${JSON.stringify(value)} ${tail}` };
}

// A sample of each kind of value, each list form, the cross-setting rules as variables name them,
// and unknown variables.
const CASES: Case[] = [
  bad('KUBE_LOCAL_LB_HEALTH_INTERVAL', 'fast', 'is not a duration (e.g. 2s, 500ms)'),
  bad('KUBE_LOCAL_LB_CONNECT_TIMEOUT', '5m', 'is out of range (1ms to 1m)'),
  bad('KUBE_LOCAL_LB_CLUSTER_IP', '10.96.0.1.5', 'is not a ClusterIP (expected IP, IP:PORT, [IPv6]:PORT, auto or "" (e.g. 10.96.0.1, 10.96.0.1:443, auto))'),
  bad('KUBE_LOCAL_LB_CLUSTER_IP_LINK_LOCAL', '192.168.0.1:6443', 'is not a link-local IP:PORT (169.254.0.0/16 or [fe80::/10], e.g. 169.254.20.11:6443) or ""'),
  bad('KUBE_LOCAL_LB_BACKEND', '10.0.0.1', `has no port (HOST:PORT, ${HOSTPORT})`),
  // In a list, the message quotes the one item at fault.
  {
    env: { KUBE_LOCAL_LB_BACKEND: '10.0.0.1:6443,10.0.0.2:6443,weight=200' },
    stderr: 'KUBE_LOCAL_LB_BACKEND: "10.0.0.2:6443,weight=200" has an invalid weight (expected an integer from 1 to 100)',
  },
  { env: { KUBE_LOCAL_LB_BACKEND: '10.0.0.1:6443 10.0.0.1:6443' }, stderr: 'KUBE_LOCAL_LB_BACKEND: "10.0.0.1:6443" is listed more than once' },
  bad('KUBE_LOCAL_LB_BACKEND', 'priority=1,10.0.0.1:6443', 'must start with HOST:PORT (e.g. 10.0.0.1:6443,priority=1)'),
  bad('KUBE_LOCAL_LB_BACKEND', '', 'is empty (expected at least one HOST:PORT)'),
  {
    env: { KUBE_LOCAL_LB_LISTEN: '127.0.0.1:6443,localhost:6443' },
    stderr: 'KUBE_LOCAL_LB_LISTEN: "localhost:6443" is not an IP address and port (e.g. 127.0.0.1:6444, [::1]:6444)',
  },
  bad('KUBE_LOCAL_LB_BALANCE', 'LEAST-CONN', 'is not one of least-conn, round-robin, random'),
  bad('KUBE_LOCAL_LB_MAX_CONNECTIONS', '0', 'is not an integer from 1 to 1000000'),
  bad('KUBE_LOCAL_LB_HEALTH_INSECURE_SKIP_VERIFY', 'yes', 'is not true or false'),
  bad('KUBE_LOCAL_LB_HEALTH_INSECURE_SKIP_VERIFY', '', 'is not true or false'),
  bad('KUBE_LOCAL_LB_HEALTH_PATH', 'readyz', 'is not an HTTP path (must start with /, e.g. /readyz)'),
  bad('KUBE_LOCAL_LB_HEALTH_AUTH', 'token', 'needs KUBE_LOCAL_LB_HEALTH_TOKEN_FILE'),
  bad('KUBE_LOCAL_LB_HEALTH_TOKEN_FILE', token, 'is only used with KUBE_LOCAL_LB_HEALTH_AUTH token (it is anonymous)'),
  bad('KUBE_LOCAL_LB_HEALTH_TOKEN_FILE', missing, 'cannot be read: no such file', { KUBE_LOCAL_LB_HEALTH_AUTH: 'token' }),
  bad('KUBE_LOCAL_LB_HEALTH_CA_FILE', missing, 'cannot be read: no such file'),
  bad('KUBE_LOCAL_LB_DISCOVER', 'on', 'is not true or false'),
  bad('KUBE_LOCAL_LB_DISCOVER_PORT_OVERRIDE', '-1', 'is not an integer from 0 to 65535', { KUBE_LOCAL_LB_DISCOVER: 'true' }),
  { env: { KUBE_LOCAL_LB_DISCOVER_PORT_OVERRIDE: '6443' }, stderr: 'KUBE_LOCAL_LB_DISCOVER_PORT_OVERRIDE: 6443 is only used with KUBE_LOCAL_LB_DISCOVER (it is false)' },
  bad('KUBE_LOCAL_LB_STATE_DIR', token, 'is not a directory', { KUBE_LOCAL_LB_DISCOVER: 'true' }),
  bad('KUBE_LOCAL_LB_STATE_DIR', dir, 'is only used with KUBE_LOCAL_LB_DISCOVER (it is false)'),
  bad('KUBE_LOCAL_LB_ADMIN_LISTEN', '127.0.0.1', 'has no port (HOST:PORT, e.g. 127.0.0.1:6444, [::1]:6444)'),
  bad('KUBE_LOCAL_LB_LOG_LEVEL', 'loud', 'is not one of trace, debug, info, warn, error, fatal, silent'),
  bad('KUBE_LOCAL_LB_CONFIG', missing, 'cannot be read: no such file'),
  { env: { KUBE_LOCAL_LB_HEALTH_INTERVALL: '2s' }, stderr: 'KUBE_LOCAL_LB_HEALTH_INTERVALL: unknown variable (did you mean KUBE_LOCAL_LB_HEALTH_INTERVAL?)' },
  { env: { KUBE_LOCAL_LB_BACKENDS: '10.0.0.1:6443' }, stderr: 'KUBE_LOCAL_LB_BACKENDS: unknown variable (did you mean KUBE_LOCAL_LB_BACKEND?)' },
  { env: { KUBE_LOCAL_LB_FROBNICATE: '1' }, stderr: 'KUBE_LOCAL_LB_FROBNICATE: unknown variable' },
];

test('every bad variable exits 2 with exactly one line naming the variable and the value', { concurrency: 8 }, async (t) => {
  await Promise.all(
    CASES.map((c) =>
      t.test(Object.entries(c.env).map(([name, value]) => `${name}=${value}`).join(' '), async () => {
        const result = await runMain(BASE, { env: { KUBE_LOCAL_LB_BACKEND: '127.0.0.1:1', ...c.env } });
        assert.equal(result.stderr, `kube-local-lb: ${c.stderr}\n`);
        assert.equal(result.code, 2);
        assert.equal(result.stdout, '');
      }),
    ),
  );
});

test('a bad variable is refused even when a flag overrides it: every value given must be valid', async () => {
  const result = await runMain([...BASE, '--health-interval', '2s'], {
    env: { KUBE_LOCAL_LB_BACKEND: '127.0.0.1:1', KUBE_LOCAL_LB_HEALTH_INTERVAL: 'fast' },
  });
  assert.equal(result.stderr, 'kube-local-lb: KUBE_LOCAL_LB_HEALTH_INTERVAL: "fast" is not a duration (e.g. 2s, 500ms)\n');
  assert.equal(result.code, 2);
});

test('variables Kubernetes sets for a Service named kube-local-lb are not ours and are ignored', async () => {
  const result = await runMain(['check-config'], {
    env: {
      KUBE_LOCAL_LB_BACKEND: '127.0.0.1:1',
      KUBE_LOCAL_LB_SERVICE_HOST: '10.96.0.12',
      KUBE_LOCAL_LB_SERVICE_PORT: '9445',
      KUBE_LOCAL_LB_SERVICE_PORT_METRICS: '9445',
      KUBE_LOCAL_LB_PORT: 'tcp://10.96.0.12:9445',
      KUBE_LOCAL_LB_PORT_9445_TCP: 'tcp://10.96.0.12:9445',
      KUBE_LOCAL_LB_PORT_9445_TCP_PROTO: 'tcp',
      KUBE_LOCAL_LB_PORT_9445_TCP_PORT: '9445',
      KUBE_LOCAL_LB_PORT_9445_TCP_ADDR: '10.96.0.12',
    },
  });
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
});
