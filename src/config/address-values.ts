import { addressKey, formatHostPort, parseHostPort, type AddressRules } from './address.js';
import { ConfigError } from './config-error.js';
import type { BackendConfig, HostPort } from './schema.js';
import { suggest } from './suggest.js';
import { integer, unknownKey, type ValueKind } from './values.js';
import { isObject } from '../json.js';

/**
 * The settings whose values are addresses: where the proxy and the admin server listen, and the
 * backends with their priority and weight.
 */

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
        if (typeof item !== 'string') throw new ConfigError(itemWhere, item, 'is not IP:PORT (e.g. 127.0.0.1:6444)');
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
        if (isObject(item)) return [parseBackendMapping(item, itemWhere)];
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
