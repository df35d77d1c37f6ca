import fc from 'fast-check';
import { stringify } from 'yaml';
import { SETTINGS, SETTING_KEYS, envName } from '../../src/config/settings.js';

/**
 * Generators of what an operator, a broken tool or an attacker may hand kube-local-lb: text that
 * is almost right, text that is nothing like it, and text built to hurt parsers (huge numbers,
 * control characters, lone surrogates, prototype keys, alias bombs, deep nesting).
 */

/** Values that break careless parsers, whatever the setting. */
export const NASTY = [
  '', ' ', '\t', '\n', '\r\n', ' 2s ', '0', '-0', '-1', '+1', '1e3', '1e309', 'NaN', 'Infinity', '-Infinity', '0x10', '0o7',
  '1_000', '9'.repeat(400), 'true', 'false', 'yes', 'null', '~', '[]', '{}', '__proto__', 'constructor', 'toString',
  'hasOwnProperty', '%00', '\u0000', '\u202e', '\ud800', '\uffff', '💥', '..', '/', '//', '/dev/null', '/proc/self/environ',
  'https://10.0.0.1:6443', '[::1]', '[::1]:', '[::1]:0', '[::1]x', '[]:1', '[:::1]:1', '::1:6443', '1.2.3.4:99999',
  '1.2.3.4:-1', '1.2.3.4: 1', '01.2.3.4:1', '256.0.0.1:1', 'a..b:1', '-a.b:1', 'a_b.c:1', `${'x'.repeat(64)}.com:1`,
  `${'a.'.repeat(130)}com:1`, '10.0.0.1:6443,priority=', '10.0.0.1:6443,=1', ',,,', 'priority=1', '1ms1h', '1.5.5s', '.5s',
  '5.s', '1m-1s', '--1s', '999999999999999999h', '1µs', '1ns', '2S', '[fe80::1%eth0]:6443', '[fe80::1%25eth0]:6443',
  '${HOME}', '$(id)', '`id`', "'; rm -rf /", '"quoted"', '\\', 'a\nb', '--backend', '-h',
];

/** Text in the shapes settings take (durations, addresses, lists), sometimes slightly wrong. */
const nearMiss: fc.Arbitrary<string> = fc.oneof(
  // Durations: amounts and units, some not units.
  fc.array(fc.tuple(fc.oneof(fc.nat(100_000), fc.double({ min: 0, max: 1e6, noNaN: true })), fc.constantFrom('h', 'm', 's', 'ms', 'us', 'd', '', ' s')), { minLength: 1, maxLength: 4 })
    .map((parts) => parts.map(([n, u]) => `${n}${u}`).join('')),
  // Addresses.
  fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV6().map((ip) => `[${ip}]`), fc.domain(), fc.constant('')), fc.oneof(fc.nat(70_000), fc.constant(-1)), fc.boolean())
    .map(([host, port, colon]) => (colon ? `${host}:${port}` : `${host}${port}`)),
  // Backend lists with options.
  fc.tuple(fc.array(fc.oneof(fc.ipV4().map((ip) => `${ip}:6443`), fc.constantFrom('priority=1', 'weight=200', 'weight=x', 'prio=1', 'priority=-1')), { maxLength: 5 }),
    fc.constantFrom(',', ' ', ', ')).map(([items, separator]) => items.join(separator)),
  // Numbers.
  fc.oneof(fc.integer(), fc.double(), fc.bigInt()).map(String),
);

/** A string for any setting: nasty constants, near misses, and anything at all. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 3, arbitrary: nearMiss },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  // Any code point, lone surrogates too (fc.string's 'binary' unit costs seconds to set up).
  { weight: 1, arbitrary: fc.string({ unit: fc.nat(0x10ffff).map((c) => String.fromCodePoint(c)), maxLength: 40 }) },
);

/** The flag names `run` and `check-config` take, without dashes. */
export const FLAG_NAMES = SETTING_KEYS.map((key) => SETTINGS[key].flag);

/** yargs-shaped flag values for a few settings: a string, or an array for a repeated flag. */
export const hostileFlags: fc.Arbitrary<Record<string, string | string[]>> = fc.dictionary(
  fc.constantFrom(...FLAG_NAMES),
  fc.oneof({ weight: 4, arbitrary: hostileText }, { weight: 1, arbitrary: fc.array(hostileText, { minLength: 1, maxLength: 3 }) }),
  { minKeys: 1, maxKeys: 4 },
);

/** KUBE_LOCAL_LB_* variables: known ones, near misses of them, and Kubernetes service links. */
export const hostileEnv: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...FLAG_NAMES.map(envName)) },
    { weight: 1, arbitrary: fc.constantFrom('KUBE_LOCAL_LB_BACKENDS', 'KUBE_LOCAL_LB_HEALTH_INTERVALL', 'KUBE_LOCAL_LB_', 'KUBE_LOCAL_LB_SERVICE_HOST',
      'KUBE_LOCAL_LB_PORT_9445_TCP', 'KUBE_LOCAL_LB___PROTO__', 'KUBE_LOCAL_LB_CONFIG') },
    { weight: 1, arbitrary: fc.stringMatching(/^KUBE_LOCAL_LB_[A-Z_]{1,12}$/) },
  ),
  hostileText,
  { minKeys: 1, maxKeys: 4 },
);

/** A YAML-able value that is the wrong shape for most settings. */
const wrongShape: fc.Arbitrary<unknown> = fc.oneof(
  hostileText,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileText, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('address', 'priority', 'weight', 'interval', 'x', '__proto__'), fc.oneof(hostileText, fc.integer()), { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Keys of the config file: the real ones (nested as the file nests them), typos, and junk. */
const fileKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SETTING_KEYS.map((key) => SETTINGS[key].file)) },
  { weight: 1, arbitrary: fc.constantFrom('backend', 'health.intervall', 'health', 'admin', '__proto__', 'constructor', 'health.__proto__', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** A config file's data: some settings, each given a value of any shape. */
export const hostileConfigData: fc.Arbitrary<Record<string, unknown>> = fc.array(fc.tuple(fileKey, wrongShape), { maxLength: 5 }).map((pairs) => {
  const root: Record<string, unknown> = {};
  for (const [key, value] of pairs) {
    const [top = '', sub] = key.split('.');
    if (sub === undefined) {
      Object.defineProperty(root, top, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const section = root[top];
    const holder: Record<string, unknown> = typeof section === 'object' && section !== null && !Array.isArray(section) ? (section as Record<string, unknown>) : {};
    Object.defineProperty(holder, sub, { value, enumerable: true, writable: true, configurable: true });
    Object.defineProperty(root, top, { value: holder, enumerable: true, writable: true, configurable: true });
  }
  return root;
});

/** YAML text that is no config at all, or is built to hurt a YAML parser. */
const hostileYaml: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '',
    '# only a comment\n',
    '---\n---\n',
    'backends: [',
    'backends: {a: 1',
    'a: &a [1]\nb: *b\n',
    'backends:\n\t- 10.0.0.1:6443\n',
    'backends: !!binary aGVsbG8=\n',
    'backends: !!js/function "function(){}"\n',
    'backends: !custom 10.0.0.1:6443\n',
    'listen: 1\nlisten: 2\n',
    'health:\n  interval: 2s\n  interval: 3s\n',
    '? [a, b]\n: c\n',
    '%YAML 1.1\n---\nbackends: [10.0.0.1:6443]\n',
    '%TAG ! tag:example.com,2000:\n---\nbackends: !x 1\n',
    'backends: "\\x"\n',
    'backends: |\n  10.0.0.1:6443\n',
    'health: [1, 2]\n',
    'health: null\n',
    'maxConnections: 0x10\n',
    'maxConnections: 1e3\n',
    'maxConnections: .inf\n',
    'maxConnections: 12345678901234567890\n',
    'maxConnections: !!int 99999999999999999999999\n',
    '\ufeffbackends: [10.0.0.1:6443]\n',
    '\u0000',
    // Billion laughs: aliases expanded into an exponential tree.
    ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n'),
  ),
);

/** YAML nested deeper than any parser that recurses can follow: flow, block, compact and keys. */
export const DEEP_YAML: Record<string, string> = {
  'flow sequences': `backends: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
  'flow mappings': `backends: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n`,
  'block sequences': `backends:\n${Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}- `).join('\n')}x\n`,
  'compact sequences': `backends:\n${'- '.repeat(20_000)}x\n`,
  'block mappings': `${Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} x\n`,
  'brackets never closed': '['.repeat(1_000_000),
};

/** Config file text: valid YAML of hostile data in several styles, or hostile text. */
export const hostileConfigText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(hostileConfigData, fc.boolean()).map(([data, flow]) => stringify(data, flow ? { collectionStyle: 'flow' } : {})) },
  { weight: 1, arbitrary: hostileConfigData.map((data) => JSON.stringify(data)) },
  { weight: 2, arbitrary: hostileYaml },
  // Valid YAML cut at a random point, or with a random line inserted.
  { weight: 2, arbitrary: fc.tuple(hostileConfigData, fc.nat(), fc.string({ maxLength: 20 })).map(([data, at, junk]) => {
    const text = stringify(data);
    const cut = text.length === 0 ? 0 : at % text.length;
    return at % 2 === 0 ? text.slice(0, cut) : `${text.slice(0, cut)}${junk}${text.slice(cut)}`;
  }) },
);

/** Lines of output that look like a JavaScript stack trace. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((line) => /^\s+at .+\(?.*:\d+:\d+\)?$/.test(line) || /^\w*Error: /.test(line.trim()));
}
