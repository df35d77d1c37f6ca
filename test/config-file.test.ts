import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SETTINGS } from '../src/config/settings.js';
import { runMain } from './cli-spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = join(dir, 'token');
const key = join(dir, 'client.key');
for (const path of [token, key]) writeFileSync(path, 'not read here\n');

const HOSTPORT = 'e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443';
const IPPORT = 'e.g. 127.0.0.1:6444, [::1]:6444';
const TOP_LEVEL = 'listen, backends, balance, connectTimeout, firstByteTimeout, replay, maxConnections, drainTimeout, slowStart, shutdownGrace, ejectSpread, rebalance, rebalanceInterval, rebalanceQuiet, rebalanceAfter, health, discover, discoverPortOverride, stateDir, clusterIP, adminListen, logLevel';

// Each case file gets these settings unless it sets the key itself, so that it has exactly one
// thing wrong and, wrongly accepted, would bind nothing fixed.
const BASE: Record<string, string> = { backends: '[127.0.0.1:1]', listen: '[127.0.0.1:0]', adminListen: '""' };

interface Case {
  /** The file key under test (coverage is checked against the settings table). */
  key: string;
  yaml: string;
  /** The message after `kube-local-lb: <file>`; a RegExp for the YAML parser's own words. */
  stderr: string | RegExp;
  /** Written as is, without the base settings (syntax errors: line numbers must stay). */
  raw?: true;
}

const CASES: Case[] = [
  { key: 'listen', yaml: 'listen: [localhost:6443]', stderr: `: listen[0]: "localhost:6443" is not an IP address and port (${IPPORT})` },
  { key: 'listen', yaml: 'listen: 6443', stderr: ': listen: 6443 is not IP:PORT (e.g. 127.0.0.1:6444)' },
  { key: 'listen', yaml: 'listen: []', stderr: ': listen: [] is empty (expected at least one IP:PORT)' },
  { key: 'backends', yaml: 'backends: [10.0.0.1]', stderr: `: backends[0]: "10.0.0.1" has no port (HOST:PORT, ${HOSTPORT})` },
  { key: 'backends', yaml: 'backends:\n  - address: 10.0.0.1:6443\n    priority: -1', stderr: ': backends[0].priority: -1 is not an integer from 0 to 100' },
  { key: 'backends', yaml: 'backends:\n  - {address: 10.0.0.1:6443, weight: 1.5}', stderr: ': backends[0].weight: 1.5 is not an integer from 1 to 100' },
  { key: 'backends', yaml: 'backends:\n  - 10.0.0.2:6443\n  - {priority: 1}', stderr: ': backends[1].address: is missing (HOST:PORT)' },
  { key: 'backends', yaml: 'backends:\n  - {address: 10.0.0.1:6443, prio: 1}', stderr: ': backends[0].prio: unknown key (did you mean priority?)' },
  { key: 'backends', yaml: 'backends: [cp.example.com:6443, CP.example.com:6443]', stderr: ': backends: "CP.example.com:6443" is listed more than once' },
  { key: 'backends', yaml: 'backends: [42]', stderr: ': backends[0]: 42 is not HOST:PORT or a mapping {address, priority, weight}' },
  { key: 'backends', yaml: 'backends: []', stderr: ': backends: [] is empty (expected at least one HOST:PORT)' },
  { key: 'balance', yaml: 'balance: fastest', stderr: ': balance: "fastest" is not one of least-conn, round-robin, random' },
  { key: 'connectTimeout', yaml: 'connectTimeout: 1', stderr: ': connectTimeout: 1 is not a duration (e.g. 2s, 500ms)' },
  { key: 'firstByteTimeout', yaml: 'firstByteTimeout: 2m', stderr: ': firstByteTimeout: "2m" is out of range (1ms to 1m)' },
  { key: 'replay', yaml: 'replay: true', stderr: ': replay: true is not one of tls, always, never' },
  { key: 'maxConnections', yaml: 'maxConnections: 0', stderr: ': maxConnections: 0 is not an integer from 1 to 1000000' },
  { key: 'maxConnections', yaml: 'maxConnections: lots', stderr: ': maxConnections: "lots" is not an integer from 1 to 1000000' },
  { key: 'drainTimeout', yaml: 'drainTimeout: -1s', stderr: ': drainTimeout: "-1s" is out of range (0s to 1h)' },
  { key: 'slowStart', yaml: 'slowStart: soon', stderr: ': slowStart: "soon" is not a duration (e.g. 2s, 500ms)' },
  { key: 'shutdownGrace', yaml: 'shutdownGrace:', stderr: ': shutdownGrace: null is not a duration (e.g. 2s, 500ms)' },
  { key: 'ejectSpread', yaml: 'ejectSpread: 1m', stderr: ': ejectSpread: "1m" is out of range (0s to 10s)' },
  { key: 'rebalance', yaml: 'rebalance: yes', stderr: ': rebalance: "yes" is not true or false' },
  { key: 'rebalanceInterval', yaml: 'rebalanceInterval: 10', stderr: ': rebalanceInterval: 10 is not a duration (e.g. 2s, 500ms)' },
  { key: 'rebalanceQuiet', yaml: 'rebalanceQuiet: 2h', stderr: ': rebalanceQuiet: "2h" is out of range (100ms to 10m)' },
  { key: 'rebalanceAfter', yaml: 'rebalanceAfter: 2d', stderr: ': rebalanceAfter: "2d" is not a duration (e.g. 2s, 500ms)' },
  { key: 'health', yaml: 'health: 3', stderr: ': health: 3 is not a mapping (e.g. health: {path: ...})' },
  { key: 'health.path', yaml: 'health: {path: readyz}', stderr: ': health.path: "readyz" is not an HTTP path (must start with /, e.g. /readyz)' },
  { key: 'health.interval', yaml: 'health: {interval: fast}', stderr: ': health.interval: "fast" is not a duration (e.g. 2s, 500ms)' },
  { key: 'health.interval', yaml: 'health:\n  interval: 2', stderr: ': health.interval: 2 is not a duration (e.g. 2s, 500ms)' },
  { key: 'health.timeout', yaml: 'health: {timeout: 0s}', stderr: ': health.timeout: "0s" is out of range (1ms to 1m)' },
  { key: 'health.fall', yaml: 'health: {fall: 11}', stderr: ': health.fall: 11 is not an integer from 1 to 10' },
  { key: 'health.rise', yaml: 'health: {rise: x}', stderr: ': health.rise: "x" is not an integer from 1 to 10' },
  { key: 'health.scheme', yaml: 'health: {scheme: HTTPS}', stderr: ': health.scheme: "HTTPS" is not one of https, http' },
  { key: 'health.auth', yaml: 'health: {auth: token}', stderr: ': health.auth: "token" needs health.tokenFile' },
  // Relative paths in the file are relative to the file's folder.
  { key: 'health.tokenFile', yaml: 'health: {auth: token, tokenFile: missing-token}', stderr: `: health.tokenFile: "${join(dir, 'missing-token')}" cannot be read: no such file` },
  { key: 'health.clientCert', yaml: `health: {auth: client-cert, clientCert: ./missing.crt, clientKey: ${key}}`, stderr: `: health.clientCert: "${join(dir, 'missing.crt')}" cannot be read: no such file` },
  { key: 'health.clientKey', yaml: `health: {auth: client-cert, clientCert: ${token}, clientKey: 42}`, stderr: ': health.clientKey: 42 is not a file path' },
  { key: 'health.kubeconfig', yaml: `health: {kubeconfig: ${token}}`, stderr: `: health.kubeconfig: "${token}" is only used with health.auth kubeconfig (it is anonymous)` },
  { key: 'health.caFile', yaml: 'health: {caFile: ""}', stderr: ': health.caFile: "" is not a file path' },
  { key: 'health.tlsServerName', yaml: 'health: {tlsServerName: "bad name"}', stderr: ': health.tlsServerName: "bad name" is not a DNS name or IP address' },
  // YAML 1.2: `yes` is a string, not a boolean.
  { key: 'health.insecureSkipVerify', yaml: 'health: {insecureSkipVerify: yes}', stderr: ': health.insecureSkipVerify: "yes" is not true or false' },
  { key: 'discover', yaml: 'discover: yes', stderr: ': discover: "yes" is not true or false' },
  { key: 'discoverPortOverride', yaml: 'discover: true\ndiscoverPortOverride: 70000', stderr: ': discoverPortOverride: 70000 is not an integer from 0 to 65535' },
  { key: 'discoverPortOverride', yaml: 'discoverPortOverride: 6443', stderr: ': discoverPortOverride: 6443 is only used with discover (it is false)' },
  { key: 'stateDir', yaml: 'discover: true\nstateDir: 42', stderr: ': stateDir: 42 is not a directory path' },
  { key: 'stateDir', yaml: `discover: true\nstateDir: ${token}`, stderr: `: stateDir: "${token}" is not a directory` },
  // Relative to the file's folder, like every path in it.
  { key: 'stateDir', yaml: 'stateDir: state', stderr: `: stateDir: "${join(dir, 'state')}" is only used with discover (it is false)` },
  { key: 'clusterIP.address', yaml: 'clusterIP: {address: 443}', stderr: ': clusterIP.address: 443 is not a ClusterIP (expected IP, IP:PORT, [IPv6]:PORT, auto or "" (e.g. 10.96.0.1, 10.96.0.1:443, auto))' },
  { key: 'clusterIP.interface', yaml: 'clusterIP: {interface: lo}', stderr: ': clusterIP.interface: "lo" is only used with clusterIP.address or clusterIP.linkLocal' },
  { key: 'clusterIP.interface', yaml: 'clusterIP: {address: auto, interface: "lo:1"}', stderr: ': clusterIP.interface: "lo:1" is not an interface name (1-15 characters, no "/", ":" or spaces; e.g. kube-local-lb0, lo)' },
  { key: 'clusterIP.linkLocal', yaml: 'clusterIP: {linkLocal: "10.0.0.1:6443"}', stderr: ': clusterIP.linkLocal: "10.0.0.1:6443" is not a link-local IP:PORT (169.254.0.0/16 or [fe80::/10], e.g. 169.254.20.11:6443) or ""' },
  { key: 'adminListen', yaml: 'adminListen: 9445', stderr: ': adminListen: 9445 is not IP:PORT or "" (e.g. 127.0.0.1:9445)' },
  { key: 'adminListen', yaml: 'listen: [127.0.0.1:6443]\nadminListen: 127.0.0.1:6443', stderr: ': adminListen: "127.0.0.1:6443" is also a proxy address (listen)' },
  { key: 'logLevel', yaml: 'logLevel: verbose', stderr: ': logLevel: "verbose" is not one of trace, debug, info, warn, error, fatal, silent' },
  // Typos are never ignored.
  { key: 'unknown', yaml: 'frobnicate: 1', stderr: `: frobnicate: unknown key (known: ${TOP_LEVEL})` },
  { key: 'unknown', yaml: 'backend: [10.0.0.1:6443]', stderr: ': backend: unknown key (did you mean backends?)' },
  { key: 'unknown', yaml: 'health: {intervall: 2s}', stderr: ': health.intervall: unknown key (did you mean interval?)' },
  { key: 'unknown', yaml: 'health: {token: s3cr3t-inline-token}', stderr: ': health.token: unknown key (did you mean tokenFile?)' },
  // Not YAML, or not a mapping: the file, line and column.
  { key: 'syntax', yaml: 'backends: [10.0.0.1:6443\n', stderr: /^:2:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/, raw: true },
  { key: 'syntax', yaml: 'logLevel: info\nlogLevel: warn', stderr: /^:2:1: not valid YAML: Map keys must be unique$/, raw: true },
  { key: 'syntax', yaml: 'health:\n\tinterval: 2s', stderr: /^:2:1: not valid YAML: .+$/, raw: true },
  { key: 'syntax', yaml: 'balance: *undefined_anchor', stderr: /^: not valid YAML: Unresolved alias .+$/, raw: true },
  { key: 'syntax', yaml: '- 10.0.0.1:6443', stderr: ': must be a YAML mapping of settings (e.g. backends: [10.0.0.1:6443])', raw: true },
];

/** The case's YAML, after the base settings it does not set itself. */
function fileText(yaml: string): string {
  const base = Object.entries(BASE).filter(([key]) => !new RegExp(`^${key}:`, 'm').test(yaml));
  return [...base.map(([key, value]) => `${key}: ${value}`), yaml].join('\n') + '\n';
}

test('the table covers every key of the file', () => {
  const covered = new Set(CASES.map((c) => c.key));
  const keys = Object.values(SETTINGS).map((spec) => spec.file);
  assert.deepEqual(keys.filter((key) => !covered.has(key)), []);
});

test('every bad file value exits 2 with one line naming the file, the key and the value', { concurrency: 8 }, async (t) => {
  await Promise.all(
    CASES.map((c, i) =>
      t.test(c.yaml.replace(/\n/g, ' | '), async () => {
        const path = join(dir, `case-${i}.yaml`);
        writeFileSync(path, c.raw ? c.yaml : fileText(c.yaml));
        const result = await runMain(['run', '--config', path]);
        assert.equal(result.code, 2, result.stderr);
        assert.equal(result.stdout, '');
        const prefix = `kube-local-lb: ${path}`;
        assert.ok(result.stderr.startsWith(prefix) && result.stderr.endsWith('\n'), result.stderr);
        assert.equal(result.stderr.split('\n').length, 2, 'one line');
        const rest = result.stderr.slice(prefix.length, -1);
        if (typeof c.stderr === 'string') assert.equal(rest, c.stderr);
        else assert.match(rest, c.stderr);
      }),
    ),
  );
});

test('an inline secret under an unknown key is never echoed', async () => {
  const path = join(dir, 'inline-token.yaml');
  writeFileSync(path, fileText('health:\n  token: s3cr3t-inline-token'));
  const result = await runMain(['run', '--config', path]);
  assert.equal(result.code, 2);
  assert.ok(!result.stderr.includes('s3cr3t'), result.stderr);
});

test('a missing config file exits 2 naming --config and the path', async () => {
  const path = join(dir, 'nowhere.yaml');
  const result = await runMain(['run', '--config', path]);
  assert.equal(result.stderr, `kube-local-lb: --config: ${JSON.stringify(path)} cannot be read: no such file\n`);
  assert.equal(result.code, 2);
});

test('an empty file sets nothing', async () => {
  const path = join(dir, 'empty.yaml');
  writeFileSync(path, '# nothing yet\n');
  const result = await runMain(['check-config', '--config', path, '--backend', '127.0.0.1:1']);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
});
