/**
 * Secrets stay secret: the probe's bearer token, and a kubeconfig's inline client key, appear in
 * no admin endpoint answer and no log line of the real binary, through rotation, removal and a
 * broken file; and credential files others can read are named in a warning at start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MAIN, cleanEnv } from './cli-spawn.js';
import { childLines, exitOf } from './helpers/child-lines.js';
import { fakeCluster } from './helpers/cluster.js';
import { kubeconfig } from './fake-apiserver/index.js';
import { logSink } from './helpers/logs.js';
import { startProxy } from './helpers/proxy.js';
import { stackLines } from './helpers/hostile-values.js';
import { waitUntil } from './helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const secret = (): string => `tok-${randomBytes(24).toString('base64url')}`;

/** Every admin path there is, and some there are not, with each method: what a scraper or a curious user gets. */
async function everyAdminAnswer(port: number): Promise<string> {
  const paths = ['/metrics', '/livez', '/readyz', '/backends', '/backends?verbose=1', '/', '/debug/pprof', '/metrics/../backends', '/%2e%2e/backends', '/healthz'];
  let all = '';
  for (const path of paths) {
    for (const method of ['GET', 'HEAD', 'POST']) {
      all += await new Promise<string>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve(`${method} ${path} ${res.statusCode}\n${JSON.stringify(res.headers)}\n${body}\n`));
        });
        req.on('error', reject);
        req.end();
      });
    }
  }
  return all;
}

/** `kube-local-lb run` with `args`; its stdout as lines (JSON logs) and its stderr. */
function run(args: string[]): { lines: ReturnType<typeof childLines>; stderr: () => string; child: ReturnType<typeof spawn> } {
  const child = spawn(process.execPath, [MAIN, 'run', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-level', 'debug', ...args],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { lines: childLines(child.stdout), stderr: () => stderr, child };
}

async function adminPort(lines: ReturnType<typeof childLines>): Promise<number> {
  const [, port] = await lines.waitFor(/"event":"admin_listening".*"address":"127\.0\.0\.1:(\d+)"/);
  return Number(port);
}

function assertNowhere(secrets: readonly string[], texts: Record<string, string>): void {
  for (const [what, text] of Object.entries(texts)) {
    for (const s of secrets) assert.ok(!text.includes(s), `${what} shows a secret (${s.slice(0, 12)}...)`);
    assert.deepEqual(stackLines(text), [], `${what}: a stack trace`);
  }
}

test('a bearer token file: in no admin answer and no log line, through 401s, rotation and removal', async (t) => {
  // Backends that record what the checks send, one of them refusing the token.
  const seen: string[] = [];
  const backend = async (status: number): Promise<{ address: string; server: http.Server }> => {
    const server = http.createServer((req, res) => {
      seen.push(String(req.headers.authorization ?? ''));
      const health = req.url?.startsWith('/readyz');
      res.writeHead(health ? status : 200).end(health ? (status === 200 ? 'ok' : '{"kind":"Status"}') : 'hello');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  };
  const good = await backend(200);
  const denied = await backend(401);
  t.after(() => {
    good.server.closeAllConnections();
    good.server.close();
    denied.server.closeAllConnections();
    denied.server.close();
  });
  const tokens = [secret(), secret()];
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${tokens[0]}\n`, { mode: 0o644 });
  chmodSync(tokenFile, 0o644);
  const lb = run(['--backend', good.address, '--backend', denied.address, '--health-scheme', 'http', '--health-interval', '100ms',
    '--health-auth', 'token', '--health-token-file', tokenFile]);
  const port = await adminPort(lb.lines);
  await lb.lines.waitFor(new RegExp(`"event":"credential_file_exposed".*"file":"${tokenFile}","mode":"0644"`));
  await lb.lines.waitFor(/"event":"backend_check_unauthorized"/);
  assert.ok(seen.includes(`Bearer ${tokens[0]}`), 'the checks send the token');
  const answers = [await everyAdminAnswer(port)];

  // Rotated: the new token is sent, and shown nowhere either.
  writeFileSync(tokenFile, `${tokens[1]}\n`);
  await waitUntil(() => seen.includes(`Bearer ${tokens[1]}`), 'the rotated token sent');
  // Removed: the checks go on without it, and say why, by file name.
  unlinkSync(tokenFile);
  await lb.lines.waitFor(/"event":"health_credentials_error"/);
  answers.push(await everyAdminAnswer(port));
  lb.child.kill('SIGTERM');
  assert.deepEqual(await exitOf(lb.child), { code: 0, signal: null });
  assertNowhere(tokens, { 'the admin endpoint': answers.join('\n'), 'the log': lb.lines.lines.join('\n'), stderr: lb.stderr() });
});

test('a kubeconfig with an inline client key: in no admin answer and no log line, even once the file is broken', async (t) => {
  const cluster = await fakeCluster(2, { startup: 'instant', anonymous: 'off' });
  t.after(() => cluster.close());
  const { keyPem, certPem } = cluster.pki.node;
  const token = secret();
  const file = join(dir, 'kubelet.conf');
  const text = kubeconfig({ server: 'https://10.0.0.10:6443', caPem: cluster.pki.ca.certPem, tlsServerName: 'kubernetes', user: { certPem, keyPem } });
  writeFileSync(file, text, { mode: 0o640 });
  chmodSync(file, 0o640);
  // The key as PEM lines, and as the base64 the kubeconfig holds, in pieces long enough to be telling.
  const keyB64 = Buffer.from(keyPem).toString('base64');
  const keyMaterial = [...keyPem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----')),
    ...Array.from({ length: Math.floor(keyB64.length / 40) }, (_, i) => keyB64.slice(i * 40, i * 40 + 40)), token];
  const lb = run([...cluster.apiservers.flatMap((a) => ['--backend', a.address]), '--health-interval', '100ms',
    '--health-auth', 'kubeconfig', '--health-kubeconfig', file]);
  const port = await adminPort(lb.lines);
  await lb.lines.waitFor(new RegExp(`"event":"credential_file_exposed".*"mode":"0640"`));
  // Up, and never unauthorized: the client certificate is what the checks present (anonymous is off).
  for (const a of cluster.apiservers) await lb.lines.waitFor(new RegExp(`"event":"backend_state".*"backend":"${a.address}".*"to":"up"`));
  assert.equal(lb.lines.lines.find((line) => line.includes('backend_check_unauthorized')), undefined);
  const answers = [await everyAdminAnswer(port)];

  // A careless edit: the token written where YAML reads an alias. The error line names the file.
  writeFileSync(file, text.replace('"fake-user",', `"fake-user", "token": *${token},`));
  await lb.lines.waitFor(/"event":"health_credentials_error".*not valid YAML/);
  answers.push(await everyAdminAnswer(port));
  lb.child.kill('SIGTERM');
  assert.deepEqual(await exitOf(lb.child), { code: 0, signal: null });
  assertNowhere(keyMaterial, { 'the admin endpoint': answers.join('\n'), 'the log': lb.lines.lines.join('\n'), stderr: lb.stderr() });
});

test('credential files other users can read are named in a warning at start; private ones and public certificates are not', async (t) => {
  const write = (name: string, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, 'x\n', { mode });
    chmodSync(path, mode);
    return path;
  };
  const cases = [
    { health: { auth: 'token' as const, tokenFile: write('t-open', 0o604) }, exposed: ['0604'] },
    { health: { auth: 'token' as const, tokenFile: write('t-private', 0o600) }, exposed: [] },
    { health: { auth: 'client-cert' as const, clientCertFile: write('c.crt', 0o644), clientKeyFile: write('c.key', 0o640) }, exposed: ['0640'] },
    { health: { auth: 'client-cert' as const, clientCertFile: write('c2.crt', 0o644), clientKeyFile: write('c2.key', 0o400) }, exposed: [] },
    { health: { auth: 'kubeconfig' as const, kubeconfigFile: write('k.conf', 0o644) }, exposed: ['0644'] },
    { health: { auth: 'anonymous' as const, caFile: write('ca.crt', 0o644) }, exposed: [] },
  ];
  for (const c of cases) {
    const logs = logSink('info');
    const lb = await startProxy({ backends: ['127.0.0.1:1'], health: { ...c.health, intervalMs: 60_000 } }, logs);
    await lb.close();
    const lines = logs.all({ event: 'credential_file_exposed' });
    assert.deepEqual(lines.map((l) => l['mode']), c.exposed, JSON.stringify(c.health));
    for (const line of lines) {
      assert.equal(line['level'], 'warn');
      assert.match(String(line['msg']), /can be read by other users \(mode 0\d{3}\): chmod 600 it$/);
    }
  }
  void t;
});
