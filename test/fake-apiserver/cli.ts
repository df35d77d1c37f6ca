/**
 * Runs one fake apiserver as its own process, so tests can SIGSTOP or SIGKILL it, or start it
 * inside a network namespace.
 *
 *   node dist-test/test/fake-apiserver/cli.js --name a [--host 127.0.0.1] [--port 0]
 *     [--cert FILE|PEM --key FILE|PEM [--client-ca FILE|PEM]] [--anonymous on|off|health-only]
 *     [--public-info-viewer false] [--token TOKEN=user[:group,group]]... [--shutdown-delay-ms N] [--cluster-ip IP]
 *     [--shutdown-timeout-ms N] [--startup real|instant] [--startup-forbidden-ms N]
 *     [--startup-not-ready-ms N] [--etcd-healthcheck-timeout-ms N] [--etcd-readycheck-timeout-ms N]
 *     [--request-timeout-ms N] [--rbac FILE]   (Role/RoleBinding manifests, YAML)
 *     [--config JSON|@FILE]   (the same options as one JSON object; flags win)
 *
 * When listening it prints exactly one JSON line on stdout: `{"port":N,"host":…,"name":…,
 * "pid":…}` plus, when it generated its own certificates, `pki` with the CA, the admin client
 * certificate and the tokens. Then it reads line commands on stdin, answering `ok <command>`
 * (or `error <command>: <why>`) on stderr: `etcd down`, `etcd up`, `shutdown <delayMs>
 * [retry-after]`, `crash`, `blackhole`, `revive [instant]`, `slow <ms>`, `stall`, `unstall`,
 * `add-pod <namespace>/<name>`, `quit`. SIGTERM is a graceful shutdown as the apiserver's
 * (idle HTTP/1.1 connections closed, GOAWAY, watches until the shutdown timeout); the process
 * exits when it is over. End of stdin or SIGINT closes at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { AnonymousMode, User } from './auth.js';
import { parseRbac, type RbacObject } from './rbac.js';
import { startFakeApiserver, type FakeApiserver, type FakeApiserverOptions } from './server.js';

interface CliConfig {
  name?: string;
  host?: string;
  port?: number;
  cert?: string;
  key?: string;
  clientCa?: string;
  anonymous?: AnonymousMode;
  publicInfoViewer?: boolean;
  tokens?: Record<string, User>;
  shutdownDelayMs?: number;
  shutdownTimeoutMs?: number;
  startup?: 'real' | 'instant';
  startupForbiddenMs?: number;
  startupNotReadyMs?: number;
  etcdHealthcheckTimeoutMs?: number;
  etcdReadycheckTimeoutMs?: number;
  requestTimeoutMs?: number;
  rbac?: string;
  clusterIp?: string;
}

class UsageError extends Error {}

/** A PEM given inline, or the path of a file holding it. */
function pem(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.includes('-----BEGIN')) return value;
  if (!existsSync(value)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is neither a PEM nor an existing file`);
  return readFileSync(value, 'utf8');
}

function parseConfig(argv: string[]): CliConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
      cert: { type: 'string' }, key: { type: 'string' }, 'client-ca': { type: 'string' },
      anonymous: { type: 'string' }, 'public-info-viewer': { type: 'string' },
      token: { type: 'string', multiple: true }, 'shutdown-delay-ms': { type: 'string' }, config: { type: 'string' },
      'shutdown-timeout-ms': { type: 'string' }, startup: { type: 'string' }, 'startup-forbidden-ms': { type: 'string' },
      'startup-not-ready-ms': { type: 'string' }, 'etcd-healthcheck-timeout-ms': { type: 'string' },
      'etcd-readycheck-timeout-ms': { type: 'string' }, 'request-timeout-ms': { type: 'string' }, rbac: { type: 'string' },
      'cluster-ip': { type: 'string' },
    },
    strict: true,
  });
  const raw = values.config;
  const base = raw === undefined ? {} : (JSON.parse(raw.startsWith('@') ? readFileSync(raw.slice(1), 'utf8') : raw) as CliConfig);
  const config: CliConfig = { ...base };
  const number = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text)) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a non-negative integer`);
    return Number(text);
  };
  if (values.name !== undefined) config.name = values.name;
  if (values.host !== undefined) config.host = values.host;
  if (values['cluster-ip'] !== undefined) config.clusterIp = values['cluster-ip'];
  config.port = number(values.port, '--port') ?? config.port;
  config.shutdownDelayMs = number(values['shutdown-delay-ms'], '--shutdown-delay-ms') ?? config.shutdownDelayMs;
  config.shutdownTimeoutMs = number(values['shutdown-timeout-ms'], '--shutdown-timeout-ms') ?? config.shutdownTimeoutMs;
  config.startupForbiddenMs = number(values['startup-forbidden-ms'], '--startup-forbidden-ms') ?? config.startupForbiddenMs;
  config.startupNotReadyMs = number(values['startup-not-ready-ms'], '--startup-not-ready-ms') ?? config.startupNotReadyMs;
  config.etcdHealthcheckTimeoutMs = number(values['etcd-healthcheck-timeout-ms'], '--etcd-healthcheck-timeout-ms') ?? config.etcdHealthcheckTimeoutMs;
  config.etcdReadycheckTimeoutMs = number(values['etcd-readycheck-timeout-ms'], '--etcd-readycheck-timeout-ms') ?? config.etcdReadycheckTimeoutMs;
  config.requestTimeoutMs = number(values['request-timeout-ms'], '--request-timeout-ms') ?? config.requestTimeoutMs;
  if (values.startup !== undefined) {
    if (values.startup !== 'real' && values.startup !== 'instant') throw new UsageError(`--startup: ${JSON.stringify(values.startup)} is not one of real, instant`);
    config.startup = values.startup;
  }
  config.rbac = values.rbac ?? config.rbac;
  config.cert = values.cert ?? config.cert;
  config.key = values.key ?? config.key;
  config.clientCa = values['client-ca'] ?? config.clientCa;
  if (values.anonymous !== undefined) {
    if (!['on', 'off', 'health-only'].includes(values.anonymous)) throw new UsageError(`--anonymous: ${JSON.stringify(values.anonymous)} is not one of on, off, health-only`);
    config.anonymous = values.anonymous as AnonymousMode;
  }
  if (values['public-info-viewer'] !== undefined) config.publicInfoViewer = values['public-info-viewer'] !== 'false';
  for (const spec of values.token ?? []) {
    const match = /^([^=]+)=([^:]+)(?::(.*))?$/.exec(spec);
    if (!match?.[1] || !match[2]) throw new UsageError(`--token: ${JSON.stringify(spec)} is not TOKEN=user[:group,group]`);
    config.tokens = { ...config.tokens, [match[1]]: { name: match[2], groups: match[3] ? match[3].split(',') : [] } };
  }
  return config;
}

/** Ends the process the quiet way: the server closed and stdin released, nothing keeps the loop alive. */
async function stop(fake: FakeApiserver): Promise<void> {
  await fake.close();
  process.stdin.destroy();
}

async function run(fake: FakeApiserver, command: string, config: CliConfig): Promise<void> {
  const [verb = '', arg, extra] = command.trim().split(/\s+/);
  if (verb === 'etcd' && (arg === 'up' || arg === 'down')) return fake.setEtcd(arg === 'up');
  switch (verb) {
    case 'shutdown':
      void fake.shutdown({ shutdownDelayMs: Number(arg ?? config.shutdownDelayMs ?? 0), sendRetryAfter: extra === 'retry-after',
        ...(config.shutdownTimeoutMs !== undefined ? { hardCloseAfterMs: config.shutdownTimeoutMs } : {}) });
      return;
    case 'crash': return fake.crash();
    case 'blackhole': return fake.blackhole();
    case 'revive':
      if (arg !== undefined && arg !== 'instant') throw new UsageError('revive takes nothing or "instant"');
      return fake.revive({ startup: arg === 'instant' ? 'instant' : 'real' });
    case 'slow': return fake.slow(Number(arg ?? 0));
    case 'stall': return fake.stallWatches(true);
    case 'unstall': return fake.stallWatches(false);
    case 'add-pod': {
      const [namespace, name] = (arg ?? '').includes('/') ? (arg ?? '').split('/') : ['default', arg];
      if (!name) throw new UsageError('add-pod needs <namespace>/<name>');
      fake.store.add({ namespace, name });
      return;
    }
    case 'quit': return stop(fake);
    default: throw new UsageError(`unknown command ${JSON.stringify(command.trim())}`);
  }
}

async function main(): Promise<void> {
  let config: CliConfig;
  let cert: string | undefined;
  let key: string | undefined;
  let clientCa: string | undefined;
  let rbac: RbacObject[] | undefined;
  try {
    config = parseConfig(process.argv.slice(2));
    cert = pem(config.cert, '--cert');
    key = pem(config.key, '--key');
    clientCa = pem(config.clientCa, '--client-ca');
    if (config.rbac !== undefined) {
      if (!existsSync(config.rbac)) throw new UsageError(`--rbac: ${JSON.stringify(config.rbac)} is not an existing file`);
      rbac = parseRbac(readFileSync(config.rbac, 'utf8'));
    }
  } catch (err) {
    process.stderr.write(`fake-apiserver: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
    return;
  }
  const options: FakeApiserverOptions = {
    name: config.name ?? 'fake-apiserver',
    ...(config.host !== undefined ? { host: config.host } : {}),
    ...(config.port !== undefined ? { port: config.port } : {}),
    ...(cert && key ? { tls: { certPem: cert, keyPem: key, ...(clientCa ? { clientCaPem: clientCa } : {}) } } : {}),
    ...(config.anonymous ? { anonymous: config.anonymous } : {}),
    ...(config.publicInfoViewer !== undefined ? { publicInfoViewer: config.publicInfoViewer } : {}),
    ...(config.tokens ? { tokens: config.tokens } : {}),
    ...(config.startup ? { startup: config.startup } : {}),
    startupTiming: {
      ...(config.startupForbiddenMs !== undefined ? { forbiddenMs: config.startupForbiddenMs } : {}),
      ...(config.startupNotReadyMs !== undefined ? { notReadyMs: config.startupNotReadyMs } : {}),
    },
    ...(config.etcdHealthcheckTimeoutMs !== undefined ? { etcdHealthcheckTimeoutMs: config.etcdHealthcheckTimeoutMs } : {}),
    ...(config.etcdReadycheckTimeoutMs !== undefined ? { etcdReadycheckTimeoutMs: config.etcdReadycheckTimeoutMs } : {}),
    ...(config.requestTimeoutMs !== undefined ? { requestTimeoutMs: config.requestTimeoutMs } : {}),
    ...(rbac ? { rbac } : {}),
    ...(config.clusterIp ? { clusterIp: config.clusterIp } : {}),
  };
  const fake = await startFakeApiserver(options);
  const pki = fake.pki && {
    caPem: fake.pki.ca.certPem, admin: fake.pki.admin, node: fake.pki.node,
    adminToken: fake.pki.adminToken, userToken: fake.pki.userToken, sans: fake.pki.sans,
  };
  process.stdout.write(`${JSON.stringify({ port: fake.port, host: fake.host, name: fake.name, pid: process.pid, ...(pki ? { pki } : {}) })}\n`);

  process.on('SIGTERM', () => {
    void fake.shutdown({ shutdownDelayMs: config.shutdownDelayMs ?? 0,
      ...(config.shutdownTimeoutMs !== undefined ? { hardCloseAfterMs: config.shutdownTimeoutMs } : {}) }).stopped.then(() => stop(fake));
  });
  process.on('SIGINT', () => void stop(fake));
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    run(fake, line, config).then(
      () => process.stderr.write(`ok ${line.trim()}\n`),
      (err: unknown) => process.stderr.write(`error ${line.trim()}: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  lines.on('close', () => void stop(fake));
}

void main();
