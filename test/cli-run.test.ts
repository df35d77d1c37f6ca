import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MAIN, cleanEnv, runMain } from './cli-spawn.js';
import { jsonLines, type LogFields } from './helpers/lb-process.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-run-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A running `kube-local-lb run`: its JSON log lines as they come, and its exit. */
interface Running {
  child: ChildProcess;
  records: LogFields[];
  stderr: () => string;
  waitFor(fields: LogFields, ms?: number): Promise<LogFields>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `fd3`: a descriptor of this process the child gets as its fd 3 (socket activation). */
function start(command: string, args: string[], env: Record<string, string> = {}, fd3?: number): Running {
  const child = spawn(command, args, {
    env: cleanEnv(env),
    stdio: fd3 === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', fd3],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const { records, waitFor } = jsonLines(child.stdout!, () => `stderr: ${stderr}`);
  return { child, records, stderr: () => stderr, exit, waitFor };
}

/**
 * A backend that passes plain-HTTP health checks (`GET` -> 200 "ok", kept alive) and holds any
 * other connection open without a byte: a client session through the proxy stays open.
 */
async function backend(): Promise<{ address: string; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (data) => {
      if (data.toString('latin1').startsWith('GET ')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const close = () => {
    for (const socket of sockets) socket.destroy();
    server.close();
  };
  after(close);
  return { address: `127.0.0.1:${port}`, close };
}

function configFile(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const HEALTH = ['health:', '  scheme: http', '  interval: 200ms', '  rise: 1'];

test('SIGHUP applies a valid config, refuses an invalid one and keeps serving; SIGTERM exits 0', async () => {
  const a = await backend();
  const b = await backend();
  const file = configFile('hup.yaml', [`backends: [${a.address}]`, 'listen: [127.0.0.1:0]', 'adminListen: ""', ...HEALTH]);
  const lb = start(process.execPath, [MAIN, 'run', '--config', file, '--log-level', 'info']);
  const started = await lb.waitFor({ event: 'started' });
  assert.deepEqual(started['backends'], [a.address]);
  assert.equal(started['configFile'], file);
  const [listen] = started['listen'] as string[];
  assert.ok(listen);

  configFile('hup.yaml', [`backends: [${a.address}, ${b.address}]`, 'listen: [127.0.0.1:0]', 'adminListen: ""', ...HEALTH]);
  lb.child.kill('SIGHUP');
  await lb.waitFor({ event: 'config_reloaded' });
  await lb.waitFor({ event: 'backend_added', backend: b.address });

  configFile('hup.yaml', [`backends: [${a.address}`]);
  lb.child.kill('SIGHUP');
  const rejected = await lb.waitFor({ event: 'config_rejected' });
  assert.match(JSON.stringify(rejected), new RegExp(`${file}:2:1: not valid YAML`));

  // Still serving on the same address.
  const [host = '', port = ''] = [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)];
  const client = net.connect(Number(port), host);
  await once(client, 'connect');
  client.destroy();

  lb.child.kill('SIGTERM');
  assert.deepEqual(await lb.exit, { code: 0, signal: null });
  assert.equal(lb.stderr(), '');
  assert.ok(lb.records.some((record) => record['event'] === 'shutdown'));
});

test('a change of the config file is applied without a signal', async () => {
  const a = await backend();
  const b = await backend();
  const file = configFile('watch.yaml', [`backends: [${a.address}]`, 'listen: [127.0.0.1:0]', 'adminListen: ""', ...HEALTH]);
  const lb = start(process.execPath, [MAIN, 'run', '--config', file]);
  await lb.waitFor({ event: 'started' });
  configFile('watch.yaml', [`backends: [${a.address}, ${b.address}]`, 'listen: [127.0.0.1:0]', 'adminListen: ""', ...HEALTH]);
  await lb.waitFor({ event: 'backend_added', backend: b.address });
  await lb.waitFor({ event: 'config_reloaded' });
  lb.child.kill('SIGINT');
  assert.deepEqual(await lb.exit, { code: 0, signal: null });
});

test('a second SIGTERM exits at once, without waiting for the shutdown grace', async () => {
  const a = await backend();
  const lb = start(process.execPath, [
    MAIN, 'run', '--backend', a.address, '--listen', '127.0.0.1:0', '--admin-listen', '',
    '--health-scheme', 'http', '--health-interval', '200ms', '--health-rise', '1', '--shutdown-grace', '1h',
  ]);
  const started = await lb.waitFor({ event: 'started' });
  await lb.waitFor({ event: 'backend_state', backend: a.address, to: 'up' });
  const listen = (started['listen'] as string[])[0] ?? '';
  const client = net.connect(Number(listen.split(':')[1]), '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  after(() => client.destroy());
  client.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x01, 0x01]));
  // The session is open; the first SIGTERM waits up to an hour for it.
  lb.child.kill('SIGTERM');
  await lb.waitFor({ event: 'shutdown' });
  lb.child.kill('SIGTERM');
  const exit = await lb.exit;
  assert.equal(exit.code, 1);
  assert.ok(lb.records.some((record) => record['event'] === 'shutdown' && record['forced'] === true));
});

test('a listen address in use exits 1 with one line naming what failed', async () => {
  const taken = net.createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  after(() => taken.close());
  const { port } = taken.address() as AddressInfo;
  const result = await runMain(['run', '--backend', '127.0.0.1:1', '--listen', `127.0.0.1:${port}`, '--admin-listen', '']);
  assert.equal(result.stderr, `kube-local-lb: cannot start: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
  assert.equal(result.code, 1);
});

test('socket activation: the socket systemd passes as fd 3 is served, whatever --listen says', async (t) => {
  if (process.platform === 'win32') return t.skip('no exec in sh');
  const a = await backend();
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // The listening socket's descriptor, as systemd would hold it (node has no public accessor).
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd > 2);
  // sh's $$ is the pid node keeps after exec: LISTEN_PID must equal the pid of kube-local-lb.
  const lb = start(
    '/bin/sh',
    ['-c', `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${MAIN}" run --backend ${a.address} --admin-listen "" --health-scheme http`],
    {},
    fd,
  );
  const started = await lb.waitFor({ event: 'started' });
  server.close();
  assert.equal(started['socketActivated'], true);
  assert.deepEqual(started['listen'], [`127.0.0.1:${port}`]);
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  client.destroy();
  lb.child.kill('SIGTERM');
  assert.deepEqual(await lb.exit, { code: 0, signal: null });
});
