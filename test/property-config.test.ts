/**
 * Property-based tests of the config parsers: durations, addresses, flags, variables and YAML
 * files. Whatever the input, the answer is a value or a ConfigError naming where the input came
 * from; never another exception. Valid inputs, generated, read back as what they say.
 * A failure prints fast-check's seed and the smallest failing input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { addressKey, formatHostPort, isDnsName, parseHostPort, type AddressRules } from '../src/config/address.js';
import { ConfigError } from '../src/config/config-error.js';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import { loadConfig } from '../src/config/load.js';
import { SETTINGS, SETTING_KEYS, envName } from '../src/config/settings.js';
import { DEEP_YAML, hostileConfigText, hostileEnv, hostileFlags, hostileText } from './helpers/hostile-values.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-property-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BACKEND = { backend: '10.0.0.1:6443' };
const BACKEND_RULES: AddressRules = { host: 'ip-or-name', allowPortZero: false };
const LISTEN_RULES: AddressRules = { host: 'ip', allowPortZero: true };

/**
 * Runs `parse`; a ConfigError must name `where` (one of the accepted prefixes) and say what was
 * wrong. Anything else thrown fails the property with its stack.
 */
function valueOrConfigError<T>(parse: () => T, where: readonly string[]): T | ConfigError {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    assert.ok(where.some((w) => err.where.startsWith(w)), `the error names ${JSON.stringify(err.where)}, not one of ${JSON.stringify(where)}: ${err.message}`);
    assert.ok(err.message.startsWith(`${err.where}: `), err.message);
    assert.ok(err.expected.length > 0);
    return err;
  }
}

test('durations: any text is a whole number of milliseconds or undefined, and formatted durations read back', () => {
  const durationish = fc.oneof(
    hostileText,
    fc.array(fc.tuple(fc.nat(10_000), fc.constantFrom('h', 'm', 's', 'ms')), { minLength: 1, maxLength: 5 }).map((parts) => parts.map(([n, u]) => `${n}${u}`).join('')),
  );
  fc.assert(fc.property(durationish, (text) => {
    const ms = parseDuration(text);
    assert.ok(ms === undefined || Number.isSafeInteger(ms), `${JSON.stringify(text)} -> ${ms}`);
  }), { numRuns: 2000 });
  fc.assert(fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (ms) => {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }), { numRuns: 1000 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(1000), fc.constantFrom('h', 'm', 's', 'ms')), { minLength: 1, maxLength: 4 }), (parts) => {
    const unit = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
    assert.equal(parseDuration(parts.map(([n, u]) => `${n}${u}`).join('')), parts.reduce((sum, [n, u]) => sum + n * unit[u], 0));
  }), { numRuns: 500 });
});

test('HOST:PORT: any text is an address or a ConfigError naming the setting', () => {
  const seen = { refused: 0, accepted: 0 };
  fc.assert(fc.property(fc.oneof(hostileText, fc.string({ maxLength: 60 })), fc.constantFrom(BACKEND_RULES, LISTEN_RULES), (text, rules) => {
    const r = valueOrConfigError(() => parseHostPort(text, '--backend', rules), ['--backend']);
    if (r instanceof ConfigError) return void seen.refused++;
    seen.accepted++;
    assert.ok(r.port >= (rules.allowPortZero ? 0 : 1) && r.port <= 65535);
    assert.ok(!r.host.startsWith('['), r.host);
    // What was read is written back in a form that reads the same.
    assert.deepEqual(parseHostPort(formatHostPort(r), '--backend', rules), r);
  }), { numRuns: 3000 });
  assert.ok(seen.refused > 0, `bad input was refused: ${JSON.stringify(seen)}`);
});

test('HOST:PORT: every IPv4 address, bracketed IPv6 address and DNS name with a port reads back as written', () => {
  const port = fc.integer({ min: 1, max: 65535 });
  fc.assert(fc.property(fc.ipV4(), port, (host, p) => {
    assert.deepEqual(parseHostPort(`${host}:${p}`, '--listen', LISTEN_RULES), { host, port: p });
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.ipV6(), port, (host, p) => {
    assert.deepEqual(parseHostPort(`[${host}]:${p}`, '--backend', BACKEND_RULES), { host, port: p });
    assert.equal(formatHostPort({ host, port: p }), `[${host}]:${p}`);
    // Two spellings of one address are one backend.
    const long = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    assert.equal(addressKey({ host, port: p }), addressKey({ host: long, port: p }));
    assert.throws(() => parseHostPort(`${host}:${p}`, '--backend', BACKEND_RULES), ConfigError);
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.domain().filter((d) => d.length <= 253), port, (host, p) => {
    assert.ok(isDnsName(host), host);
    assert.deepEqual(parseHostPort(`${host}:${p}`, '--backend', BACKEND_RULES), { host, port: p });
    assert.throws(() => parseHostPort(`${host}:${p}`, '--listen', LISTEN_RULES), ConfigError, 'a listener binds an IP, not a name');
  }), { numRuns: 500 });
});

test('flags: any values of any flags give a config or a ConfigError naming one of the flags given', () => {
  const seen = { refused: 0, accepted: 0 };
  fc.assert(fc.property(hostileFlags, (flags) => {
    const given = Object.keys(flags).map((name) => `--${name}`);
    const config = valueOrConfigError(() => loadConfig({ ...BACKEND, ...flags }, {}), [...given, '--backend']);
    if (config instanceof ConfigError) return void seen.refused++;
    seen.accepted++;
    assert.ok(config.backends.length > 0 && config.listen.length > 0);
  }), { numRuns: 600 });
  // The property says nothing unless bad values were met and refused.
  assert.ok(seen.refused > 0, `bad input was refused: ${JSON.stringify(seen)}`);
});

test('variables: any KUBE_LOCAL_LB_* values give a config or a ConfigError naming a variable given', () => {
  fc.assert(fc.property(hostileEnv, (env) => {
    const config = valueOrConfigError(() => loadConfig(BACKEND, env), [...Object.keys(env), '--backend',
      // A config file named by KUBE_LOCAL_LB_CONFIG is resolved against the working directory.
      ...(env['KUBE_LOCAL_LB_CONFIG'] !== undefined ? ['/'] : [])]);
    if (config instanceof ConfigError) return;
    assert.ok(config.backends.length > 0);
  }), { numRuns: 600 });
  // Every setting has a variable, and a variable of the wrong kind of value names itself.
  for (const key of SETTING_KEYS) {
    const name = envName(SETTINGS[key].flag);
    const r = valueOrConfigError(() => loadConfig(BACKEND, { [name]: '\u0000not a value\u0000' }), [name]);
    assert.ok(r instanceof ConfigError, `${name} accepted a value with NUL characters`);
  }
});

test('config files: any YAML (or not YAML) gives a config or a ConfigError naming the file', () => {
  let n = 0;
  const seen = { refused: 0, accepted: 0 };
  fc.assert(fc.property(hostileConfigText, (text) => {
    const path = join(dir, `config-${n++}.yaml`);
    writeFileSync(path, text);
    const config = valueOrConfigError(() => loadConfig({ ...BACKEND, config: path }, {}), [path]);
    if (config instanceof ConfigError) return void seen.refused++;
    seen.accepted++;
    assert.equal(config.configFile, path);
  }), { numRuns: 400 });
  assert.ok(seen.refused > 0, `bad input was refused: ${JSON.stringify(seen)}`);
});

test('config files nested thousands deep are refused by name, however often they are read (a reload each time)', () => {
  for (const [shape, text] of Object.entries(DEEP_YAML)) {
    const path = join(dir, `deep-${shape.replace(/ /g, '-')}.yaml`);
    writeFileSync(path, text);
    // Several times: V8 aborted the process on a later read of such a file, not the first.
    for (let i = 0; i < 6; i++) {
      assert.throws(() => loadConfig({ ...BACKEND, config: path }, {}),
        (err) => err instanceof ConfigError && err.message === `${path}: nests collections more than 64 levels deep: not a config file`, shape);
    }
  }
});
