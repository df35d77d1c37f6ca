import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SETTINGS } from '../src/config/settings.js';
import { runMain } from './cli-spawn.js';

// Files the credential flags may name; only their readability is checked at load.
const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => {
  writeFileSync(join(dir, name), 'not checked here\n');
  return join(dir, name);
};
const token = file('token');
const cert = file('client.crt');
const key = file('client.key');
const missing = join(dir, 'missing.pem');
const folder = join(dir, 'folder');
mkdirSync(folder);

// Valid flags every case starts from, so that each case has exactly one thing wrong, and so that
// a bad value wrongly accepted would bind nothing fixed (and be killed by runMain's timeout).
const BASE = ['run', '--backend', '127.0.0.1:1', '--listen', '127.0.0.1:0', '--admin-listen', ''];
const HOSTPORT = 'HOST:PORT, e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443';
const IPPORT = 'e.g. 127.0.0.1:6444, [::1]:6444';

interface Case {
  /** The flag under test (coverage is checked against the settings table). */
  flag: string;
  args: string[];
  stderr: string;
}

/** `--flag value` (after `extra`) must fail with `--flag: "value" <tail>`. */
function bad(flag: string, value: string, tail: string, extra: string[] = []): Case {
  return { flag, args: [...extra, `--${flag}`, value], stderr: `--${flag}: ${JSON.stringify(value)} ${tail}` };
}

const CASES: Case[] = [
  bad('listen', 'localhost:6443', `is not an IP address and port (${IPPORT})`),
  bad('listen', '127.0.0.1', `has no port (HOST:PORT, ${IPPORT})`),
  bad('listen', '127.0.0.1:65536', 'has an invalid port (expected 0-65535)'),
  bad('listen', '::1:6443', 'needs brackets around the IPv6 address, e.g. [::1]:6443'),
  bad('listen', '[::1]:6443', 'is listed more than once', ['--listen', '[0::1]:6443']),
  bad('backend', '10.0.0.1', `has no port (${HOSTPORT})`),
  bad('backend', '10.0.0.1:0', 'has an invalid port (expected 1-65535)'),
  bad('backend', 'https://10.0.0.1:6443', `is a URL, not HOST:PORT (${HOSTPORT.slice('HOST:PORT, '.length)})`),
  bad('backend', '10.0.0.1:6443,priority=x', 'has an invalid priority (expected an integer from 0 to 100)'),
  bad('backend', '10.0.0.1:6443,priority=101', 'has an invalid priority (expected an integer from 0 to 100)'),
  bad('backend', '10.0.0.1:6443,weight=0', 'has an invalid weight (expected an integer from 1 to 100)'),
  bad('backend', '10.0.0.1:6443,color=red', 'has an unknown option "color" (expected priority=N, weight=N)'),
  bad('backend', '10.0.0.1:6443,prio=1', 'has an unknown option "prio" (did you mean priority?)'),
  bad('backend', '10.0.0.1:6443,weight=1,weight=2', 'sets weight twice'),
  bad('backend', '127.0.0.1:1', 'is listed more than once'),
  bad('backend', 'priority=1', 'must start with HOST:PORT (e.g. 10.0.0.1:6443,priority=1)'),
  bad('backend', '', 'is empty (expected at least one HOST:PORT)'),
  bad('balance', 'fastest', 'is not one of least-conn, round-robin, random'),
  bad('connect-timeout', 'fast', 'is not a duration (e.g. 2s, 500ms)'),
  bad('connect-timeout', '1', 'is not a duration (e.g. 2s, 500ms)'),
  bad('connect-timeout', '0s', 'is out of range (1ms to 1m)'),
  bad('connect-timeout', '-1s', 'is out of range (1ms to 1m)'),
  bad('connect-timeout', '2m', 'is out of range (1ms to 1m)'),
  bad('first-byte-timeout', '1 s', 'is not a duration (e.g. 2s, 500ms)'),
  bad('first-byte-timeout', '0', 'is out of range (1ms to 1m)'),
  bad('replay', 'sometimes', 'is not one of tls, always, never'),
  bad('max-connections', '0', 'is not an integer from 1 to 1000000'),
  bad('max-connections', '1000001', 'is not an integer from 1 to 1000000'),
  bad('max-connections', '1e3', 'is not an integer from 1 to 1000000'),
  bad('max-connections', '1.5', 'is not an integer from 1 to 1000000'),
  bad('max-connections', 'many', 'is not an integer from 1 to 1000000'),
  bad('drain-timeout', '2h', 'is out of range (0s to 1h)'),
  bad('drain-timeout', '-5s', 'is out of range (0s to 1h)'),
  bad('slow-start', 'soon', 'is not a duration (e.g. 2s, 500ms)'),
  bad('slow-start', '61m', 'is out of range (0s to 1h)'),
  bad('shutdown-grace', '1d', 'is not a duration (e.g. 2s, 500ms)'),
  bad('eject-spread', '11s', 'is out of range (0s to 10s)'),
  bad('eject-spread', 'random', 'is not a duration (e.g. 2s, 500ms)'),
  bad('rebalance', 'sometimes', 'is not true or false'),
  bad('rebalance-interval', '500ms', 'is out of range (1s to 1h)'),
  bad('rebalance-interval', '0', 'is out of range (1s to 1h)'),
  bad('rebalance-interval', '10/min', 'is not a duration (e.g. 2s, 500ms)'),
  bad('rebalance-quiet', '50ms', 'is out of range (100ms to 10m)'),
  bad('rebalance-quiet', 'quiet', 'is not a duration (e.g. 2s, 500ms)'),
  bad('rebalance-after', '2h', 'is out of range (0s to 1h)'),
  bad('rebalance-after', 'later', 'is not a duration (e.g. 2s, 500ms)'),
  bad('health-path', 'readyz', 'is not an HTTP path (must start with /, e.g. /readyz)'),
  bad('health-path', '/ready z', 'is not an HTTP path (must start with /, e.g. /readyz)'),
  bad('health-path', '//readyz', 'is not an HTTP path (must start with /, e.g. /readyz)'),
  bad('health-path', '/readyz#x', 'is not an HTTP path (must start with /, e.g. /readyz)'),
  bad('health-interval', 'fast', 'is not a duration (e.g. 2s, 500ms)'),
  bad('health-interval', '5ms', 'is out of range (10ms to 1h)'),
  bad('health-interval', '2h', 'is out of range (10ms to 1h)'),
  bad('health-interval', '0', 'is out of range (10ms to 1h)'),
  bad('health-timeout', '0s', 'is out of range (1ms to 1m)'),
  bad('health-timeout', '2m', 'is out of range (1ms to 1m)'),
  bad('health-fall', '0', 'is not an integer from 1 to 10'),
  bad('health-fall', '11', 'is not an integer from 1 to 10'),
  bad('health-fall', 'two', 'is not an integer from 1 to 10'),
  bad('health-rise', '0', 'is not an integer from 1 to 10'),
  bad('health-rise', '-1', 'is not an integer from 1 to 10'),
  bad('health-scheme', 'ftp', 'is not one of https, http'),
  bad('health-auth', 'basic', 'is not one of anonymous, token, client-cert, kubeconfig'),
  bad('health-auth', 'token', 'needs --health-token-file'),
  bad('health-auth', 'client-cert', 'needs --health-client-cert'),
  bad('health-auth', 'client-cert', 'needs --health-client-key', ['--health-client-cert', cert]),
  bad('health-auth', 'kubeconfig', 'needs --health-kubeconfig'),
  bad('health-token-file', token, 'is only used with --health-auth token (it is anonymous)'),
  bad('health-token-file', missing, 'cannot be read: no such file', ['--health-auth', 'token']),
  bad('health-token-file', folder, 'is not a regular file', ['--health-auth', 'token']),
  bad('health-client-cert', missing, 'cannot be read: no such file', ['--health-auth', 'client-cert', '--health-client-key', key]),
  bad('health-client-cert', cert, 'is only used with --health-auth client-cert (it is token)', ['--health-auth', 'token', '--health-token-file', token]),
  bad('health-client-key', missing, 'cannot be read: no such file', ['--health-auth', 'client-cert', '--health-client-cert', cert]),
  bad('health-kubeconfig', missing, 'cannot be read: no such file', ['--health-auth', 'kubeconfig']),
  bad('health-kubeconfig', token, 'is only used with --health-auth kubeconfig (it is anonymous)'),
  bad('health-ca-file', missing, 'cannot be read: no such file'),
  bad('health-ca-file', folder, 'is not a regular file'),
  bad('health-ca-file', '', 'is not a file path'),
  bad('health-tls-server-name', 'not a name', 'is not a DNS name or IP address'),
  bad('health-tls-server-name', '', 'is not a DNS name or IP address'),
  bad('health-insecure-skip-verify', 'maybe', 'is not true or false'),
  bad('health-insecure-skip-verify', 'yes', 'is not true or false'),
  bad('discover', 'maybe', 'is not true or false'),
  bad('discover', 'yes', 'is not true or false'),
  bad('discover-port-override', '65536', 'is not an integer from 0 to 65535', ['--discover']),
  bad('discover-port-override', 'https', 'is not an integer from 0 to 65535', ['--discover']),
  // Cross-setting rules quote the value as read: a port is a number.
  { flag: 'discover-port-override', args: ['--discover-port-override', '443'], stderr: '--discover-port-override: 443 is only used with --discover (it is false)' },
  bad('state-dir', token, 'is not a directory', ['--discover']),
  bad('state-dir', folder, 'is only used with --discover (it is false)'),
  bad('state-dir', folder, 'is only used with --discover (it is false)', ['--discover=false']),
  bad('cluster-ip', 'kubernetes', 'is not a ClusterIP (expected IP, IP:PORT, [IPv6]:PORT, auto or "" (e.g. 10.96.0.1, 10.96.0.1:443, auto))'),
  bad('cluster-ip', 'automatic', 'is not a ClusterIP (expected IP, IP:PORT, [IPv6]:PORT, auto or "" (e.g. 10.96.0.1, 10.96.0.1:443, auto))'),
  bad('cluster-ip', '10.96.0.1:0', 'has an invalid port (expected 1-65535)'),
  bad('cluster-ip', '[fd00::1]:https', 'is not a ClusterIP (expected IP, IP:PORT, [IPv6]:PORT, auto or "" (e.g. 10.96.0.1, 10.96.0.1:443, auto))'),
  bad('cluster-ip', '10.96.0.1:6443', 'is also a proxy address (--listen)', ['--listen', '10.96.0.1:6443']),
  bad('cluster-ip-interface', 'eth/0', 'is not an interface name (1-15 characters, no "/", ":" or spaces; e.g. kube-local-lb0, lo)'),
  bad('cluster-ip-interface', 'a-name-far-too-long', 'is not an interface name (1-15 characters, no "/", ":" or spaces; e.g. kube-local-lb0, lo)'),
  bad('cluster-ip-interface', 'lo', 'is only used with --cluster-ip or --cluster-ip-link-local'),
  bad('cluster-ip-link-local', '10.0.0.1:6443', 'is not a link-local IP:PORT (169.254.0.0/16 or [fe80::/10], e.g. 169.254.20.11:6443) or ""'),
  bad('cluster-ip-link-local', '169.254.20.11', `has no port (HOST:PORT, ${IPPORT})`),
  bad('cluster-ip-link-local', '169.254.20.11:443', 'is also --cluster-ip', ['--cluster-ip', '169.254.20.11']),
  bad('admin-listen', 'localhost:9445', `is not an IP address and port (${IPPORT})`),
  bad('admin-listen', '127.0.0.1', `has no port (HOST:PORT, ${IPPORT})`),
  bad('admin-listen', '127.0.0.1:6443', 'is also a proxy address (--listen)', ['--listen', '127.0.0.1:6443']),
  bad('log-level', 'verbose', 'is not one of trace, debug, info, warn, error, fatal, silent'),
  bad('config', missing, 'cannot be read: no such file'),
  bad('config', folder, 'cannot be read: is a directory'),
  bad('config', '', 'is not a file path'),
];

// The command line itself: exit 2 and one line too.
const USAGE: Array<{ name: string; args: string[]; stderr: string | RegExp }> = [
  { name: 'misspelt flag', args: [...BASE, '--health-intervall', '2s'], stderr: '--health-intervall: unknown flag (did you mean --health-interval?)' },
  { name: 'unknown flag', args: [...BASE, '--frobnicate'], stderr: '--frobnicate: unknown flag (see --help)' },
  { name: 'unknown flag with =', args: [...BASE, '--listen-address=127.0.0.1:6443'], stderr: '--listen-address: unknown flag (did you mean --listen?)' },
  { name: 'plural of a flag', args: [...BASE, '--backends', '127.0.0.1:2'], stderr: '--backends: unknown flag (did you mean --backend?)' },
  { name: 'unknown command', args: ['frobnicate', '--backend', '127.0.0.1:1'], stderr: /^frobnicate: unknown command \(expected run, check-config, .*; see --help\)$/ },
  { name: 'misspelt command', args: ['chek-config', '--backend', '127.0.0.1:1'], stderr: 'chek-config: unknown command (did you mean check-config?)' },
  { name: 'stray word after run', args: [...BASE, 'extra'], stderr: /^extra: unknown command \(expected run, check-config, .*; see --help\)$/ },
  { name: 'flag without its value', args: [...BASE, '--health-interval'], stderr: '--health-interval: missing value' },
  { name: 'flag followed by a flag', args: ['run', '--backend', '--listen', '127.0.0.1:0'], stderr: '--backend: missing value' },
  { name: 'no backend at all', args: ['run', '--listen', '127.0.0.1:0'], stderr: '--backend: missing: at least one apiserver HOST:PORT is required (or KUBE_LOCAL_LB_BACKEND, or backends in the config file)' },
  { name: 'check-config, bad value', args: ['check-config', '--backend', '127.0.0.1:1', '--health-fall', '0'], stderr: '--health-fall: "0" is not an integer from 1 to 10' },
];

test('the table covers every flag', () => {
  const covered = new Set(CASES.map((c) => c.flag));
  const flags = [...Object.values(SETTINGS).map((spec) => spec.flag), 'config'];
  assert.deepEqual(flags.filter((flag) => !covered.has(flag)), []);
});

test('every bad flag value exits 2 with exactly one line naming the flag and the value', { concurrency: 8 }, async (t) => {
  await Promise.all(
    CASES.map((c) =>
      t.test(c.args.join(' '), async () => {
        const result = await runMain([...BASE, ...c.args]);
        assert.equal(result.stderr, `kube-local-lb: ${c.stderr}\n`);
        assert.equal(result.code, 2);
        assert.equal(result.stdout, '');
      }),
    ),
  );
});

test('a wrong command line exits 2 with exactly one line', { concurrency: 8 }, async (t) => {
  await Promise.all(
    USAGE.map((c) =>
      t.test(c.name, async () => {
        const result = await runMain(c.args);
        assert.ok(result.stderr.startsWith('kube-local-lb: ') && result.stderr.endsWith('\n'), result.stderr);
        assert.equal(result.stderr.split('\n').length, 2, 'one line');
        const message = result.stderr.slice('kube-local-lb: '.length, -1);
        if (typeof c.stderr === 'string') assert.equal(message, c.stderr);
        else assert.match(message, c.stderr);
        assert.equal(result.code, 2);
        assert.equal(result.stdout, '');
      }),
    ),
  );
});
