// The single executable and the Debian package that `npm run package` writes (dist-bin/): run
// with no Node.js on PATH nor in the environment, and installed with dpkg into an overlay of
// this machine's root in a mount namespace of its own, maintainer scripts and all.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { childLines, exitOf } from './helpers/child-lines.js';
import { h1Request } from './fake-apiserver/index.js';
import { fakeCluster } from './helpers/cluster.js';
import { freePort } from './helpers/ports.js';
import { commandExists } from './helpers/command-exists.js';
import { makeClusterPki } from './fake-apiserver/index.js';
import { kubeconfig } from './fake-apiserver/kubeconfig.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const BIN = join(ROOT, 'dist-bin', 'kube-local-lb');
const DEB = join(ROOT, 'dist-bin', `kube-local-lb_${VERSION}_amd64.deb`);

/** CI builds the package first (.ci/run); elsewhere a missing one is a skip that says how to make it. */
function needPackage(t: TestContext): boolean {
  if (existsSync(BIN) && existsSync(DEB)) return true;
  if (process.env['CI'] === 'true') assert.fail(`${BIN} or ${DEB} is missing: .ci/run runs npm run package first`);
  t.skip('no dist-bin/: run `npm run package`');
  return false;
}

/** No node anywhere: an empty environment but for a PATH that is an empty directory. */
const EMPTY_PATH = mkdtempSync(join(tmpdir(), 'klb-pkg-path-'));
process.on('exit', () => rmSync(EMPTY_PATH, { recursive: true, force: true }));

function noNodeEnv(): Record<string, string> {
  const found = spawnSync('/bin/sh', ['-c', 'command -v node'], { env: { PATH: EMPTY_PATH } });
  assert.notEqual(found.status, 0, `node is on ${EMPTY_PATH}: this test could not tell the executable needs none`);
  return { PATH: EMPTY_PATH };
}

test('the executable says its version, checks a config and refuses a bad flag with no Node.js around', async (t) => {
  if (!needPackage(t)) return;
  const env = noNodeEnv();
  assert.equal((await run(BIN, ['--version'], { env })).stdout, `${VERSION}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'klb-pkg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), 'backends: [10.0.0.11:6443, 10.0.0.12:6443]\n');
  const checked = await run(BIN, ['check-config', '--config', join(dir, 'config.yaml')], { env });
  assert.match(checked.stdout, /^ {2}- address: 10\.0\.0\.12:6443$/m);
  assert.match(checked.stdout, /^ {2}- 127\.0\.0\.1:6444$/m);
  const bad = spawnSync(BIN, ['check-config', '--backend', '10.0.0.1:6443', '--health-interval', 'fast'], { env, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'kube-local-lb: --health-interval: "fast" is not a duration (e.g. 2s, 500ms)\n');
});

test('the executable proxies to a TLS apiserver imitation and stops cleanly on SIGTERM', async (t) => {
  if (!needPackage(t)) return;
  const cluster = await fakeCluster(1, { startup: 'instant' });
  t.after(() => cluster.close());
  const [apiserver] = cluster.apiservers;
  assert.ok(apiserver);
  const ca = cluster.file('ca.crt', cluster.pki.ca.certPem);
  const port = await freePort();
  const child = spawn(BIN, ['run', '--backend', apiserver.address, '--health-ca-file', ca, '--listen', `127.0.0.1:${port}`,
    '--admin-listen', '127.0.0.1:0'], { env: noNodeEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out = childLines(child.stdout);
  await out.waitFor(/"event":"backend_state".*"to":"up"/);
  const answer = await h1Request({ port, caPem: cluster.pki.ca.certPem }, '/version');
  assert.deepEqual({ status: answer.status, by: String(answer.headers['x-fake-apiserver']) }, { status: 200, by: 'apiserver-1' });
  child.kill('SIGTERM');
  assert.deepEqual(await exitOf(child), { code: 0, signal: null });
  await out.waitFor(/"event":"shutdown"/);
});

/** Every path in the package (dpkg-deb --contents), without the leading "./". */
async function contents(): Promise<Map<string, string>> {
  const { stdout } = await run('dpkg-deb', ['--contents', DEB]);
  const map = new Map<string, string>();
  for (const line of stdout.trim().split('\n')) {
    const fields = line.split(/\s+/);
    const path = (fields.at(-1) ?? '').replace(/^\.\//, '');
    if (path !== '' && !path.endsWith('/')) map.set(path, `${fields[0] ?? ''} ${fields[1] ?? ''}`);
  }
  return map;
}

test('the package holds the executable, the units, a conffile config and docs, owned by root', async (t) => {
  if (!needPackage(t)) return;
  const files = await contents();
  assert.deepEqual([...files.keys()].sort(), [
    'etc/kube-local-lb/config.yaml',
    'lib/systemd/system/kube-local-lb.service',
    'lib/systemd/system/kube-local-lb.socket',
    'usr/bin/kube-local-lb',
    'usr/share/doc/kube-local-lb/changelog.gz',
    'usr/share/doc/kube-local-lb/configuration.md',
    'usr/share/doc/kube-local-lb/copyright',
    'usr/share/doc/kube-local-lb/install-kubeadm.md',
    'usr/share/doc/kube-local-lb/operations.md',
    'usr/share/doc/kube-local-lb/troubleshooting.md',
    'usr/share/lintian/overrides/kube-local-lb',
    'usr/share/man/man1/kube-local-lb.1.gz',
  ]);
  assert.equal(files.get('usr/bin/kube-local-lb'), '-rwxr-xr-x root/root');
  for (const [path, modeOwner] of files) if (path !== 'usr/bin/kube-local-lb') assert.equal(modeOwner, '-rw-r--r-- root/root', path);
  const field = async (name: string): Promise<string> => (await run('dpkg-deb', ['--field', DEB, name])).stdout.trim();
  assert.equal(await field('Package'), 'kube-local-lb');
  assert.equal(await field('Version'), VERSION);
  assert.equal(await field('Architecture'), 'amd64');
  const { stdout: conffiles } = await run('dpkg-deb', ['--info', DEB, 'conffiles']);
  assert.equal(conffiles, '/etc/kube-local-lb/config.yaml\n');
  // What is installed is what the repository holds.
  const extracted = mkdtempSync(join(tmpdir(), 'klb-pkg-x-'));
  t.after(() => rmSync(extracted, { recursive: true, force: true }));
  await run('dpkg-deb', ['--extract', DEB, extracted]);
  for (const [installed, source] of [['lib/systemd/system/kube-local-lb.service', 'systemd/kube-local-lb.service'],
    ['lib/systemd/system/kube-local-lb.socket', 'systemd/kube-local-lb.socket'],
    ['etc/kube-local-lb/config.yaml', 'static-pod/config.yaml']] as const) {
    assert.equal(readFileSync(join(extracted, installed), 'utf8'), readFileSync(join(ROOT, source), 'utf8'), installed);
  }
  assert.match(readFileSync(join(extracted, 'lib/systemd/system/kube-local-lb.service'), 'utf8'),
    /^ExecStart=\/usr\/bin\/kube-local-lb run --config \/etc\/kube-local-lb\/config\.yaml$/m);
});

/**
 * A shell script run as root in a new mount namespace over an overlay of "/": dpkg installs,
 * removes and purges there for real (database, maintainer scripts, triggers), and the
 * machine's own root never changes. Prints what the script prints.
 */
function inOverlay(script: string, env: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), `klb-pkg-ov-${process.pid}-`));
  try {
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', `
      mount -t tmpfs tmpfs ${dir}
      mkdir ${dir}/upper ${dir}/work ${dir}/root
      mount -t overlay overlay -o lowerdir=/,upperdir=${dir}/upper,workdir=${dir}/work ${dir}/root
      R=${dir}/root U=${dir}/upper
      ${script}`], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DEB, ...env } });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    return result.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('dpkg installs, upgrades in place, removes and purges the package; its scripts leave nothing behind', { timeout: 300_000 }, (t) => {
  if (!needPackage(t)) return;
  if (process.getuid?.() !== 0 || !commandExists('unshare')) {
    if (process.env['CI'] === 'true') assert.fail('CI runs as root with unshare (util-linux)');
    return t.skip('needs root and unshare for a mount namespace');
  }
  // The guide's one step between installing and starting: the health checks' credential.
  const dir = mkdtempSync(join(tmpdir(), 'klb-pkg-cred-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makeClusterPki();
  const credential = join(dir, 'kubeconfig');
  writeFileSync(credential, kubeconfig({ server: 'https://10.0.0.11:6443', caPem: pki.ca.certPem,
    user: { certPem: pki.probe.certPem, keyPem: pki.probe.keyPem } }), { mode: 0o600 });
  const out = inOverlay(`
    cp "$DEB" $R/tmp/klb.deb
    chroot $R dpkg -i /tmp/klb.deb >/dev/null
    echo "status: $(chroot $R dpkg-query -W -f '\${Status}' kube-local-lb)"
    echo "version: $(chroot $R kube-local-lb --version)"
    chroot $R kube-local-lb check-config --config /etc/kube-local-lb/config.yaml 2>&1 >/dev/null || echo "exit $?"
    install -m 0400 "$KUBECONFIG_FILE" $R/etc/kube-local-lb/kubeconfig
    chroot $R kube-local-lb check-config --config /etc/kube-local-lb/config.yaml | grep -E '^  - (127|address: 10)' | tr '\\n' ' '; echo
    rm $R/etc/kube-local-lb/kubeconfig
    echo "# edited" >> $R/etc/kube-local-lb/config.yaml
    chroot $R dpkg -i --force-confold /tmp/klb.deb >/dev/null
    echo "kept edit: $(tail -n 1 $R/etc/kube-local-lb/config.yaml)"
    chroot $R dpkg -r kube-local-lb >/dev/null
    echo "removed: bin $(test -e $R/usr/bin/kube-local-lb && echo present || echo gone), config $(test -e $R/etc/kube-local-lb/config.yaml && echo present || echo gone)"
    chroot $R dpkg -P kube-local-lb >/dev/null
    echo "purged: config $(test -e $R/etc/kube-local-lb && echo present || echo gone), status $(chroot $R dpkg-query -W -f '\${Status}' kube-local-lb 2>/dev/null || echo none)"
    rm -f $R/tmp/klb.deb
    cd $U && find . -path ./var -prune -o -path ./tmp -prune -o -path ./dev -prune -o -type f -print | sort | sed 's/^/left: /'`,
  { KUBECONFIG_FILE: credential });
  assert.equal(out, [
    'status: install ok installed',
    `version: ${VERSION}`,
    // The default config needs nothing but the credential the guide puts beside it.
    'kube-local-lb: /etc/kube-local-lb/config.yaml: health.kubeconfig: "/etc/kube-local-lb/kubeconfig" cannot be read: no such file',
    'exit 2',
    '  - 127.0.0.1:6444   - address: 10.0.0.11:6443   - address: 10.0.0.12:6443   - address: 10.0.0.13:6443 ',
    'kept edit: # edited',
    'removed: bin gone, config present',
    'purged: config gone, status none',
    '',
  ].join('\n'));
});
