// docs/install-kubeadm.md against the executable: every kube-local-lb command the guide shows
// exists with the flags it uses, the defaults it relies on are the defaults, and the files and
// units it names are in the repository.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runMain } from './cli-spawn.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GUIDE = readFileSync(join(ROOT, 'docs/install-kubeadm.md'), 'utf8');
const COMMANDS = new Set(['run', 'status', 'check-config', 'kubeconfig', 'doctor', 'demo']);

/** The shell lines of the guide's ```sh blocks, continuations joined, comments dropped. */
function shellLines(): string[] {
  const lines: string[] = [];
  for (const [, body] of GUIDE.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const line of (body ?? '').replace(/\\\n\s*/g, ' ').split('\n')) {
      const code = line.replace(/(^|\s)#.*$/, '').trim();
      if (code) lines.push(code);
    }
  }
  return lines;
}

/** Every kube-local-lb invocation: in shell blocks, and in inline code that starts with it. */
function invocations(): string[][] {
  const found: string[][] = [];
  const inline = [...GUIDE.matchAll(/`(kube-local-lb [^`]+)`/g)].map((m) => (m[1] ?? '').replace(/\s+/g, ' '));
  for (const text of [...shellLines(), ...inline]) {
    for (const segment of text.split(/\s*(?:\||&&|;)\s*/)) {
      const words = segment.trim().split(/\s+/);
      if (words[0] === 'kube-local-lb' && words.length > 1) found.push(words.slice(1));
    }
  }
  return found;
}

const helpCache = new Map<string, Promise<string>>();
function help(command: string): Promise<string> {
  let text = helpCache.get(command);
  if (!text) {
    text = runMain([command, '--help']).then((r) => {
      assert.equal(r.code, 0, `kube-local-lb ${command} --help: ${r.stderr}`);
      return r.stdout;
    });
    helpCache.set(command, text);
  }
  return text;
}

test('every kube-local-lb command in the guide exists, with only flags its --help lists', async () => {
  const calls = invocations();
  assert.ok(calls.length >= 10, `commands found in the guide: ${calls.length}`);
  const commands = new Set<string>();
  for (const words of calls) {
    const [first, ...rest] = words;
    if (first === '--version') continue;
    assert.ok(first !== undefined && COMMANDS.has(first), `kube-local-lb ${words.join(' ')}: "${first}" is no command`);
    commands.add(first);
    const text = await help(first);
    for (const flag of rest.filter((w) => /^--[a-z]/.test(w)).map((w) => w.replace(/=.*$/, ''))) {
      if (flag === '--help' || flag === '--version') continue;
      assert.match(text, new RegExp(`^\\s+(?:-\\w, )?${flag}\\b`, 'm'), `kube-local-lb ${first} ${flag}: not in its --help`);
    }
  }
  for (const wanted of ['check-config', 'doctor', 'kubeconfig']) assert.ok(commands.has(wanted), `the guide runs ${wanted}`);
});

test('the defaults the guide relies on: 127.0.0.1:6444 for run, the socket, the static pod, kubeconfig and doctor', async () => {
  const flat = (text: string): string => text.replace(/\s+/g, ' ');
  assert.match(flat(await help('run')), /--listen .*?\[default: 127\.0\.0\.1:6444\]/);
  assert.match(flat(await help('kubeconfig')), /--server .*?\[default: https:\/\/127\.0\.0\.1:6444\]/);
  assert.match(flat(await help('doctor')), /--proxy .*?\[default: 127\.0\.0\.1:6444\]/);
  assert.match(readFileSync(join(ROOT, 'systemd/kube-local-lb.socket'), 'utf8'), /^ListenStream=127\.0\.0\.1:6444$/m);
  const config = parse(readFileSync(join(ROOT, 'static-pod/config.yaml'), 'utf8')) as { listen: string[]; health: { kubeconfig: string } };
  assert.deepEqual(config.listen, ['127.0.0.1:6444']);
  assert.equal(config.health.kubeconfig, '/etc/kube-local-lb/kubeconfig');
  // The guide's one address, and no command that points a client at 6443 through the proxy.
  assert.match(GUIDE, /127\.0\.0\.1:6444/);
  for (const words of invocations()) {
    assert.doesNotMatch(words.join(' '), /127\.0\.0\.1:6443/, `kube-local-lb ${words.join(' ')}`);
  }
});

test('the files, units and package the guide names exist in the repository or are what npm run package writes', () => {
  for (const [, path] of GUIDE.matchAll(/`((?:static-pod|systemd|docs|deploy)\/[\w./-]+)`/g)) {
    if (path?.includes('*')) continue;
    assert.ok(path && existsSync(join(ROOT, path)), `${path} is named by the guide`);
  }
  for (const line of shellLines().filter((l) => l.startsWith('systemctl enable'))) {
    for (const unit of line.split(/\s+/).filter((w) => /^kube-local-lb\.\w+$/.test(w))) {
      assert.ok(existsSync(join(ROOT, 'systemd', unit)), `${unit} (${line})`);
    }
  }
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  assert.ok(GUIDE.includes(`kube-local-lb_${version}_amd64.deb`), 'the guide names the package of this version');
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.ok(scripts['package'], 'npm run package exists');
});
