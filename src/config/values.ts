import { resolve } from 'node:path';
import { addressKey, formatHostPort, isHostName, parseHostPort, type AddressRules } from './address.js';
import { ConfigError } from './config-error.js';
import { formatDuration, parseDuration } from './duration.js';
import type { BackendConfig, HostPort } from './schema.js';
import { suggest } from './suggest.js';

/**
 * How one setting's value is read from each source and written back. Flags and environment
 * variables give text; the YAML file gives text, numbers, booleans, lists or mappings. Every
 * reader throws a ConfigError naming `where` and the value.
 */
export interface ValueKind<T> {
  /** Placeholder in `--help`, e.g. `DURATION`. */
  readonly placeholder: string;
  /** What a flag given without a value means (`--switch` alone is `true`); undefined: it needs one. */
  readonly flagAlone?: string;
  /** For lists: joins the values of a repeated flag, each read on its own, into one. */
  concat?(parts: T[], where: string): T;
  fromText(text: string, where: string): T;
  /** `baseDir`: the config file's folder, against which relative paths in it are resolved. */
  fromFile(value: unknown, where: string, baseDir: string): T;
  /** The value as a config file would hold it: what `check-config` prints. */
  toFile(value: T): unknown;
  /** The value in `--help`. */
  show(value: T): string;
}

const DURATION_EXAMPLE = 'is not a duration (e.g. 2s, 500ms)';

export function duration(bounds: { minMs: number; maxMs: number }): ValueKind<number> {
  const range = `${formatDuration(bounds.minMs)} to ${formatDuration(bounds.maxMs)}`;
  const fromText = (text: string, where: string): number => {
    const ms = parseDuration(text.trim());
    if (ms === undefined) throw new ConfigError(where, text, DURATION_EXAMPLE);
    if (ms < bounds.minMs || ms > bounds.maxMs) throw new ConfigError(where, text, `is out of range (${range})`);
    return ms;
  };
  return {
    placeholder: 'DURATION',
    fromText,
    fromFile(value, where) {
      // A bare number in YAML has no unit: 2 could be seconds or milliseconds, so it is refused.
      if (typeof value !== 'string') throw new ConfigError(where, value, DURATION_EXAMPLE);
      return fromText(value, where);
    },
    toFile: formatDuration,
    show: formatDuration,
  };
}

export function integer(bounds: { min: number; max: number }): ValueKind<number> {
  const expected = `is not an integer from ${bounds.min} to ${bounds.max}`;
  const check = (number: number, value: unknown, where: string): number => {
    if (!Number.isSafeInteger(number) || number < bounds.min || number > bounds.max) {
      throw new ConfigError(where, value, expected);
    }
    return number;
  };
  const fromText = (text: string, where: string): number => {
    if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(where, text, expected);
    return check(Number(text), text, where);
  };
  return {
    placeholder: 'N',
    fromText,
    fromFile(value, where) {
      if (typeof value === 'number') return check(value, value, where);
      if (typeof value === 'string') return fromText(value, where);
      throw new ConfigError(where, value, expected);
    },
    toFile: (value) => value,
    show: String,
  };
}

export function oneOf<const T extends string>(choices: readonly T[]): ValueKind<T> {
  const expected = `is not one of ${choices.join(', ')}`;
  const fromText = (text: string, where: string): T => {
    const choice = choices.find((candidate) => candidate === text.trim());
    if (choice === undefined) throw new ConfigError(where, text, expected);
    return choice;
  };
  return {
    placeholder: choices.join('|'),
    fromText,
    fromFile(value, where) {
      if (typeof value !== 'string') throw new ConfigError(where, value, expected);
      return fromText(value, where);
    },
    toFile: (value) => value,
    show: String,
  };
}

export function boolean(): ValueKind<boolean> {
  const expected = 'is not true or false';
  return {
    placeholder: 'BOOL',
    flagAlone: 'true',
    fromText(text, where) {
      const word = text.trim().toLowerCase();
      if (word === 'true' || word === '1') return true;
      if (word === 'false' || word === '0') return false;
      throw new ConfigError(where, text, expected);
    },
    fromFile(value, where) {
      if (typeof value !== 'boolean') throw new ConfigError(where, value, expected);
      return value;
    },
    toFile: (value) => value,
    show: String,
  };
}

/** A file path, made absolute: relative to the working directory, or to the config file's folder. */
export function filePath(): ValueKind<string> {
  const read = (value: unknown, where: string, baseDir: string): string => {
    if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(where, value, 'is not a file path');
    return resolve(baseDir, value);
  };
  return {
    placeholder: 'FILE',
    fromText: (text, where) => read(text, where, process.cwd()),
    fromFile: read,
    toFile: (value) => value,
    show: String,
  };
}

/**
 * The path of an HTTP GET: `/readyz`, `/livez`, `/healthz`, a sub-check such as `/readyz/etcd`,
 * or with a query such as `/readyz?exclude=etcd`. Only characters a request line may carry.
 */
export function httpPath(): ValueKind<string> {
  const expected = 'is not an HTTP path (must start with /, e.g. /readyz)';
  const fromText = (text: string, where: string): string => {
    if (!/^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(text)) throw new ConfigError(where, text, expected);
    return text;
  };
  return {
    placeholder: 'PATH',
    fromText,
    fromFile(value, where) {
      if (typeof value !== 'string') throw new ConfigError(where, value, expected);
      return fromText(value, where);
    },
    toFile: (value) => value,
    show: String,
  };
}

/** A DNS name or IP address, as a TLS server name to verify the certificate against. */
export function hostName(): ValueKind<string> {
  const expected = 'is not a DNS name or IP address';
  const fromText = (text: string, where: string): string => {
    if (!isHostName(text)) throw new ConfigError(where, text, expected);
    return text;
  };
  return {
    placeholder: 'NAME',
    fromText,
    fromFile(value, where) {
      if (typeof value !== 'string') throw new ConfigError(where, value, expected);
      return fromText(value, where);
    },
    toFile: (value) => value,
    show: String,
  };
}

const LISTEN_RULES: AddressRules = { host: 'ip', allowPortZero: true };

/** Listen addresses: IP:PORT or [IPv6]:PORT, port 0 for a free one; text is a comma list. */
export function listenList(): ValueKind<HostPort[]> {
  const check = (addresses: HostPort[], value: unknown, where: string): HostPort[] => {
    if (addresses.length === 0) throw new ConfigError(where, value, 'is empty (expected at least one IP:PORT)');
    assertNoDuplicate(addresses, where);
    return addresses;
  };
  return {
    placeholder: 'IP:PORT',
    fromText(text, where) {
      return check(listItems(text).map((item) => parseHostPort(item, where, LISTEN_RULES)), text, where);
    },
    fromFile(value, where) {
      const items = Array.isArray(value) ? value : [value];
      const addresses = items.map((item: unknown, i) => {
        const itemWhere = Array.isArray(value) ? `${where}[${i}]` : where;
        if (typeof item !== 'string') throw new ConfigError(itemWhere, item, 'is not IP:PORT (e.g. 127.0.0.1:6443)');
        return parseHostPort(item.trim(), itemWhere, LISTEN_RULES);
      });
      return check(addresses, value, where);
    },
    concat: (parts, where) => check(parts.flat(), undefined, where),
    toFile: (addresses) => addresses.map(formatHostPort),
    show: (addresses) => addresses.map(formatHostPort).join(','),
  };
}

/** The admin server's address, or null (the empty string) for none. */
export function adminAddress(): ValueKind<HostPort | null> {
  const fromText = (text: string, where: string): HostPort | null =>
    text.trim() === '' ? null : parseHostPort(text.trim(), where, LISTEN_RULES);
  return {
    placeholder: 'IP:PORT',
    fromText,
    fromFile(value, where) {
      if (value === null) return null;
      if (typeof value !== 'string') throw new ConfigError(where, value, 'is not IP:PORT or "" (e.g. 127.0.0.1:9445)');
      return fromText(value, where);
    },
    toFile: (address) => (address === null ? '' : formatHostPort(address)),
    show: (address) => (address === null ? '""' : formatHostPort(address)),
  };
}

const BACKEND_RULES: AddressRules = { host: 'ip-or-name', allowPortZero: false };
const PRIORITY = { min: 0, max: 100 };
const WEIGHT = { min: 1, max: 100 };
const BACKEND_OPTIONS = ['priority', 'weight'] as const;
const BACKEND_KEYS = ['address', ...BACKEND_OPTIONS];

/**
 * Backends. As text, `HOST:PORT[,priority=N][,weight=N]`, several separated by commas or
 * spaces: a `key=value` item belongs to the address before it. In the file, a list of such
 * strings or of `{address, priority, weight}` mappings.
 */
export function backendList(): ValueKind<BackendConfig[]> {
  const check = (backends: BackendConfig[], value: unknown, where: string): BackendConfig[] => {
    if (backends.length === 0) throw new ConfigError(where, value, 'is empty (expected at least one HOST:PORT)');
    assertNoDuplicate(backends, where);
    return backends;
  };
  return {
    placeholder: 'HOST:PORT[,priority=N][,weight=N]',
    fromText: (text, where) => check(parseBackendText(text, where), text, where),
    fromFile(value, where) {
      const items = Array.isArray(value) ? value : [value];
      const backends = items.flatMap((item: unknown, i) => {
        const itemWhere = Array.isArray(value) ? `${where}[${i}]` : where;
        if (typeof item === 'string') return parseBackendText(item, itemWhere);
        if (isMapping(item)) return [parseBackendMapping(item, itemWhere)];
        throw new ConfigError(itemWhere, item, 'is not HOST:PORT or a mapping {address, priority, weight}');
      });
      return check(backends, value, where);
    },
    concat: (parts, where) => check(parts.flat(), undefined, where),
    toFile: (backends) => backends.map(({ address, priority, weight }) => ({ address, priority, weight })),
    show: (backends) => backends.map((backend) => backend.address).join(','),
  };
}

function parseBackendText(text: string, where: string): BackendConfig[] {
  const groups: string[][] = [];
  for (const item of listItems(text)) {
    const last = groups[groups.length - 1];
    if (item.includes('=')) {
      if (last === undefined) throw new ConfigError(where, text, 'must start with HOST:PORT (e.g. 10.0.0.1:6443,priority=1)');
      last.push(item);
    } else {
      groups.push([item]);
    }
  }
  return groups.map(([address = '', ...options]) => {
    const spec = [address, ...options].join(',');
    const backend = backendAt(parseHostPort(address, where, BACKEND_RULES));
    const seen = new Set<string>();
    for (const option of options) {
      const [name = '', optionValue = ''] = option.split('=', 2);
      if (name !== 'priority' && name !== 'weight') {
        const hint = suggest(name, BACKEND_OPTIONS);
        throw new ConfigError(where, spec, `has an unknown option "${name}"${hint ? ` (did you mean ${hint}?)` : ' (expected priority=N, weight=N)'}`);
      }
      if (seen.has(name)) throw new ConfigError(where, spec, `sets ${name} twice`);
      seen.add(name);
      const bounds = name === 'priority' ? PRIORITY : WEIGHT;
      const number = /^\d+$/.test(optionValue) ? Number(optionValue) : Number.NaN;
      if (!(number >= bounds.min && number <= bounds.max)) {
        throw new ConfigError(where, spec, `has an invalid ${name} (expected an integer from ${bounds.min} to ${bounds.max})`);
      }
      backend[name] = number;
    }
    return backend;
  });
}

function parseBackendMapping(item: Record<string, unknown>, where: string): BackendConfig {
  for (const key of Object.keys(item)) {
    if (!BACKEND_KEYS.includes(key)) throw unknownKey(`${where}.${key}`, key, BACKEND_KEYS);
  }
  const address = item['address'];
  if (address === undefined) throw new ConfigError(`${where}.address`, undefined, 'is missing (HOST:PORT)');
  if (typeof address !== 'string') throw new ConfigError(`${where}.address`, address, 'is not HOST:PORT');
  const backend = backendAt(parseHostPort(address.trim(), `${where}.address`, BACKEND_RULES));
  if (item['priority'] !== undefined) backend.priority = integer(PRIORITY).fromFile(item['priority'], `${where}.priority`, '');
  if (item['weight'] !== undefined) backend.weight = integer(WEIGHT).fromFile(item['weight'], `${where}.weight`, '');
  return backend;
}

function backendAt(hostPort: HostPort): BackendConfig {
  return { ...hostPort, address: formatHostPort(hostPort), priority: 0, weight: 1 };
}

function assertNoDuplicate(addresses: HostPort[], where: string): void {
  const seen = new Set<string>();
  for (const address of addresses) {
    // Port 0 asks for a fresh free port each time: two of them are two listeners.
    if (address.port === 0) continue;
    const key = addressKey(address);
    if (seen.has(key)) throw new ConfigError(where, formatHostPort(address), 'is listed more than once');
    seen.add(key);
  }
}

/** Items of a comma- or space-separated list; empty items (a trailing comma) are dropped. */
function listItems(text: string): string[] {
  return text.split(/[\s,]+/).filter((item) => item !== '');
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The error for a key the config file does not know, with the likely intended one. */
export function unknownKey(where: string, key: string, known: readonly string[]): ConfigError {
  const hint = suggest(key, known);
  return new ConfigError(where, undefined, hint ? `unknown key (did you mean ${hint}?)` : `unknown key (known: ${known.join(', ')})`);
}
