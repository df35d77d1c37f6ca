import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import https from 'node:https';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { MAIN, cleanEnv } from './cli-spawn.js';
import { childLines, exitOf, type ChildLines } from './helpers/child-lines.js';
import { commandExists } from './helpers/command-exists.js';
import { waitUntil } from './helpers/wait.js';

const run = promisify(execFile);

interface RunningDemo {
  child: ChildProcessWithoutNullStreams;
  out: ChildLines;
  stderr: () => string;
  kubeconfig: string;
  dir: string;
  port: number;
}

/** `kube-local-lb demo` as a process with pipes for stdin and stdout: the line mode. */
async function startDemo(t: TestContext): Promise<RunningDemo> {
  const child = spawn(process.execPath, [MAIN, 'demo', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--clients', '2'],
    { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const out = childLines(child.stdout);
  const kubeconfig = (await out.waitFor(/^kubeconfig: (\S+)$/))[1] ?? '';
  const port = Number((await out.waitFor(/^proxy: https:\/\/127\.0\.0\.1:(\d+)$/))[1]);
  for (const i of [1, 2, 3]) await out.waitFor(new RegExp(`backend ${i} apiserver-${i} \\S+: unknown -> up \\(ready\\)$`));
  return { child, out, stderr: () => stderr, kubeconfig, dir: kubeconfig.replace(/\/kubeconfig$/, ''), port };
}

/** A printed `try:` command, split into its words (the temp paths hold no spaces). */
async function printed(out: ChildLines, program: string): Promise<string[]> {
  const line = (await out.waitFor(new RegExp(`^try: (${program} .*)$`)))[1] ?? '';
  return line.split(' ');
}

test('demo without a terminal: up, requests through the proxy with the printed kubeconfig, kill 1 is one line, q exits 0 and cleans up', async (t) => {
  const demo = await startDemo(t);
  assert.ok(existsSync(demo.kubeconfig), 'the kubeconfig is written');

  await t.test('the kubeconfig verifies and authenticates through the proxy (node https)', async () => {
    const config = parse(readFileSync(demo.kubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string; 'tls-server-name': string } }[];
      users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
    };
    const cluster = config.clusters[0]?.cluster;
    const user = config.users[0]?.user;
    assert.ok(cluster && user);
    assert.equal(cluster.server, `https://127.0.0.1:${demo.port}`);
    assert.equal(cluster['tls-server-name'], 'kubernetes');
    const b64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');
    const answer = await new Promise<{ status: number; body: string; by: string }>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: demo.port, path: '/api/v1/namespaces/default/pods', servername: cluster['tls-server-name'],
        ca: b64(cluster['certificate-authority-data']), cert: b64(user['client-certificate-data']), key: b64(user['client-key-data']), agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, by: String(res.headers['x-demo-apiserver']) }));
      }).on('error', reject);
    });
    assert.equal(answer.status, 200);
    assert.match(answer.by, /^apiserver-[123]$/);
    assert.match(answer.body, /"kind":"PodList"/);
  });

  await t.test('the printed kubectl command answers ok', async (st) => {
    if (!commandExists('kubectl')) return st.skip('kubectl is not installed');
    const [program, ...args] = await printed(demo.out, 'kubectl --kubeconfig \\S+ get --raw');
    assert.equal(program, 'kubectl');
    const { stdout } = await run('kubectl', args, { timeout: 20_000 });
    assert.equal(stdout.trim(), 'ok');
  });

  await t.test('the printed curl command gets /version', async (st) => {
    if (!commandExists('curl')) return st.skip('curl is not installed');
    const [program, ...args] = await printed(demo.out, 'curl');
    assert.equal(program, 'curl');
    const { stdout } = await run('curl', ['--silent', '--show-error', '--fail', ...args], { timeout: 20_000 });
    assert.equal((JSON.parse(stdout) as { gitVersion: string }).gitVersion, 'v1.32.4');
  });

  demo.child.stdin.write('kill 1\n');
  await demo.out.waitFor(/^\S+ backend 1 apiserver-1 \S+ killed: listener closed, its connections reset$/);
  await demo.out.waitFor(/^\S+ backend 1 apiserver-1 127\.0\.0\.1:\d+: up -> down \(connection refused\)$/);
  demo.child.stdin.write('status\n');
  await demo.out.waitFor(/^\S+ backend 1 apiserver-1 \S+: down \(connection refused\) since .*imitation killed/);
  await demo.out.waitFor(/^\S+ backend 2 apiserver-2 \S+: up since /);

  demo.child.stdin.write('frobnicate 1\n');
  await demo.out.waitFor(/"frobnicate" is not a command; commands: kill N/);
  demo.child.stdin.write('q\n');
  const end = await exitOf(demo.child);
  assert.deepEqual(end, { code: 0, signal: null }, demo.stderr());
  assert.equal(demo.stderr(), '');
  assert.ok(demo.out.lines.at(-1)?.startsWith('demo stopped:'), demo.out.lines.at(-1));
  assert.equal(existsSync(demo.dir), false, `${demo.dir} removed`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`demo: ${signal} stops everything, removes the temp directory and exits 0`, async (t) => {
    const demo = await startDemo(t);
    demo.child.kill(signal);
    const end = await exitOf(demo.child);
    assert.deepEqual(end, { code: 0, signal: null }, demo.stderr());
    assert.equal(demo.stderr(), '');
    assert.equal(existsSync(demo.dir), false, `${demo.dir} removed`);
  });
}

/** The demo's temp directories now in the system temp dir. */
function demoDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('kube-local-lb-demo-')).sort();
}

test('demo: a bad flag is one line on stderr and exit 2, before anything is left behind', async () => {
  const before = demoDirs();
  const cases = [
    { args: ['--listen', '127.0.0.1'], stderr: 'kube-local-lb: --listen: "127.0.0.1" has no port (HOST:PORT, e.g. 127.0.0.1:6444, [::1]:6444)\n' },
    { args: ['--clients', 'many'], stderr: 'kube-local-lb: --clients: "many" is not a number of clients (0-100)\n' },
    { args: ['--admin-listen', 'localhost:1'], stderr: 'kube-local-lb: --admin-listen: "localhost:1" is not an IP address and port (e.g. 127.0.0.1:6444, [::1]:6444)\n' },
  ];
  for (const c of cases) {
    const child = spawn(process.execPath, [MAIN, 'demo', ...c.args], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const end = await exitOf(child);
    assert.equal(end.code, 2, c.args.join(' '));
    assert.equal(stderr, c.stderr);
  }
  assert.deepEqual(demoDirs().filter((d) => !before.includes(d)), [], 'no temp directory left behind');
});

test('demo: a proxy port in use is one line and exit 1, and nothing is left behind', async (t) => {
  const before = demoDirs();
  const taken = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => taken.once('listening', resolve));
  t.after(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const child = spawn(process.execPath, [MAIN, 'demo', '--listen', `127.0.0.1:${port}`, '--admin-listen', '127.0.0.1:0'], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const end = await exitOf(child);
  assert.equal(end.code, 1);
  assert.match(stderr, new RegExp(`^kube-local-lb: cannot start the demo: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}\\n$`));
  assert.deepEqual(demoDirs().filter((d) => !before.includes(d)), [], 'no temp directory left behind');
});

test('demo on a terminal: a live table, 2 then k kills backend 2, q restores the screen and exits 0', async (t) => {
  // script(1) gives the demo a pseudo-terminal on stdin and stdout, as a person's shell would.
  if (!commandExists('script')) return t.skip('script (util-linux) is not installed');
  const command = [process.execPath, MAIN, 'demo', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--clients', '1']
    .map((word) => `'${word}'`).join(' ');
  const child = spawn('script', ['-qfec', `stty cols 200 rows 50; exec ${command}`, '/dev/null'], { env: cleanEnv({ TERM: 'xterm' }), stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (screen += chunk));
  const plain = (): string => screen.replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, '');
  await waitUntil(() => (plain().match(/\sup\s/g) ?? []).length >= 3, 'three backends up in the table', 15_000);
  assert.match(plain(), /#\s+apiserver\s+address\s+imitation\s+state\s+since\s+sessions\s+last check\s+answers/);
  assert.ok(screen.includes('\u001b[?1049h'), 'the alternate screen is used');
  child.stdin.write('2');
  await waitUntil(() => />\s+2\s+apiserver-2/.test(plain()), 'backend 2 selected');
  child.stdin.write('k');
  await waitUntil(() => /2\s+apiserver-2\s+\S+\s+killed\s+down: connection refused/.test(plain()), 'backend 2 down in the table', 15_000);
  const dir = /kubeconfig: (\S+)\/kubeconfig/.exec(plain())?.[1] ?? '';
  child.stdin.write('q');
  const end = await exitOf(child);
  assert.deepEqual(end, { code: 0, signal: null });
  assert.ok(screen.includes('\u001b[?1049l'), 'the screen is given back');
  assert.match(plain(), /demo stopped: /);
  assert.notEqual(dir, '');
  assert.equal(existsSync(dir), false, `${dir} removed`);
});

interface Status {
  /** Kept-alive sessions per backend (1-based index). */
  sessions: Map<number, number>;
  /** The two lines on what the demo's clients saw. */
  keptAlive: string;
  newConnections: string;
}

/** Types `status` and reads its answer: one line per backend, then the clients' two lines. */
async function status(demo: RunningDemo): Promise<Status> {
  const from = demo.out.lines.length;
  demo.child.stdin.write('status\n');
  let mine: string[] = [];
  await waitUntil(() => {
    mine = demo.out.lines.slice(from);
    return mine.some((line) => / new connection per request /.test(line));
  }, 'the answer to status', 15_000);
  const sessions = new Map<number, number>();
  for (const line of mine) {
    const row = /^\S+ backend (\d) apiserver-\d \S+: .*, (\d+) sessions, /.exec(line);
    if (row) sessions.set(Number(row[1]), Number(row[2]));
  }
  const keptAlive = mine.find((line) => / demo clients: /.test(line)) ?? '';
  const newConnections = mine.find((line) => / new connection per request /.test(line)) ?? '';
  return { sessions, keptAlive, newConnections };
}

/** The answers a status line counts. */
function answersIn(line: string): number {
  return Number(/: (\d+) answers?[;,]/.exec(line)?.[1] ?? Number.NaN);
}

/**
 * Status once the two kept-alive sessions are placed, the new-connection client is answered, and
 * none of its short-lived sessions is under way.
 */
async function settledStatus(demo: RunningDemo): Promise<Status> {
  for (let i = 0; i < 50; i++) {
    const s = await status(demo);
    const placed = [...s.sessions.values()].reduce((a, b) => a + b, 0) === 2 && s.sessions.size === 3;
    if (placed && answersIn(s.newConnections) > 0) return s;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the two kept-alive sessions never showed alone in status, with the new-connection client answered');
}

test('demo: new sessions sent to a blackholed backend before the checks notice are replayed, and the new-connection client sees no failure', async (t) => {
  const demo = await startDemo(t);
  // Two kept-alive clients on three backends: one backend has none, so least-conn sends every
  // new session there; blackholing it means the next new sessions meet a silent apiserver.
  const before = await settledStatus(demo);
  const [emptiest] = [...before.sessions.entries()].sort((a, b) => a[1] - b[1])[0] ?? [1];
  demo.child.stdin.write(`blackhole ${emptiest}\n`);
  await demo.out.waitFor(new RegExp(`^\\S+ backend ${emptiest} apiserver-${emptiest} \\S+: up -> down \\(no answer within the timeout\\)$`));
  await demo.out.waitFor(new RegExp(`^\\S+ a new session to backend ${emptiest} apiserver-${emptiest} \\S+ failed before any answer \\(\\w+\\); replayed on another backend$`));
  // The replayed requests are answered within the first-byte timeout; give them that time.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const after = await status(demo);
  // A request whose session was already on it when it went silent is cut by the eject and redialled, not failed.
  assert.match(after.newConnections, /new connection per request \(like kubectl\): \d+ answers(, \d+ requests? cut when (its|their) apiserver was ejected or killed \([^)]*\))?, 0 failures; [1-9]\d* new sessions? replayed past a silent apiserver, none failed$/);
  assert.ok(answersIn(after.newConnections) > answersIn(before.newConnections), after.newConnections);
  demo.child.stdin.write('q\n');
  assert.deepEqual(await exitOf(demo.child), { code: 0, signal: null }, demo.stderr());
});

test('demo: requests cut by an eject are named as redialled, not as failures, and the clients keep getting answers', async (t) => {
  const demo = await startDemo(t);
  // A request is cut only when it is in flight as the eject comes (most rounds): blackhole the
  // backend holding kept-alive sessions until one was, reviving it between rounds.
  let s = await settledStatus(demo);
  for (let round = 1; ; round++) {
    const [busiest] = [...s.sessions.entries()].sort((a, b) => b[1] - a[1])[0] ?? [1];
    const from = demo.out.lines.length;
    demo.child.stdin.write(`blackhole ${busiest}\n`);
    await waitUntil(() => demo.out.lines.slice(from).some((line) => new RegExp(`backend ${busiest} apiserver-${busiest} \\S+: [1-9]\\d* sessions ejected`).test(line)),
      `backend ${busiest} ejects its sessions`, 15_000);
    s = await status(demo);
    if (!/; 0 requests cut /.test(s.keptAlive) || round === 6) break;
    demo.child.stdin.write(`revive ${busiest}\n`);
    await waitUntil(() => demo.out.lines.slice(from).some((line) => new RegExp(`backend ${busiest} apiserver-${busiest} \\S+: down -> up`).test(line)), 'revived', 15_000);
    s = await settledStatus(demo);
  }
  // A redial is answered within milliseconds; status may come between the cut and the answer.
  for (let i = 0; i < 20 && / redialling\)/.test(s.keptAlive); i++) s = await status(demo);
  assert.match(s.keptAlive, /demo clients: \d+ answers; (1 request cut when its apiserver was ejected or killed \(the client|[2-9] requests cut when their apiserver was ejected or killed \(each client) redialled at once and was answered by another\); 0 other failures$/);
  const answered = answersIn(s.keptAlive);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const later = await status(demo);
  assert.ok(answersIn(later.keptAlive) >= answered + 2, `${s.keptAlive}\n${later.keptAlive}`);
  assert.match(later.keptAlive, /; 0 other failures$/);
  assert.match(later.newConnections, /, 0 failures; /);
  demo.child.stdin.write('q\n');
  assert.deepEqual(await exitOf(demo.child), { code: 0, signal: null }, demo.stderr());
});
