import { resolve } from 'node:path';
import { isHostName } from './address.js';
import { ConfigError } from './config-error.js';
import { formatDuration, parseDuration } from './duration.js';
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

/**
 * A setting whose value is one string, read the same way from a flag, a variable and the file
 * (where anything but a string is refused with the same `expected` sentence).
 */
export function textKind<T extends string>(placeholder: string, expected: string, check: (text: string) => T | undefined): ValueKind<T> {
  const fromText = (text: string, where: string): T => {
    const value = check(text);
    if (value === undefined) throw new ConfigError(where, text, expected);
    return value;
  };
  return {
    placeholder,
    fromText,
    fromFile(value, where) {
      if (typeof value !== 'string') throw new ConfigError(where, value, expected);
      return fromText(value, where);
    },
    toFile: (value) => value,
    show: String,
  };
}

export function oneOf<const T extends string>(choices: readonly T[]): ValueKind<T> {
  return textKind(choices.join('|'), `is not one of ${choices.join(', ')}`,
    (text) => choices.find((candidate) => candidate === text.trim()));
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
 * A directory path, made absolute like {@link filePath}, or `""` for none. Whether it exists is
 * checked once the sources are merged (validate.ts).
 */
export function optionalDirectory(): ValueKind<string> {
  const read = (value: unknown, where: string, baseDir: string): string => {
    if (typeof value !== 'string') throw new ConfigError(where, value, 'is not a directory path');
    return value.trim() === '' ? '' : resolve(baseDir, value);
  };
  return {
    placeholder: 'DIR',
    fromText: (text, where) => read(text, where, process.cwd()),
    fromFile: read,
    toFile: (value) => value,
    show: (value) => (value === '' ? '""' : value),
  };
}

/**
 * The path of an HTTP GET: `/readyz`, `/livez`, `/healthz`, a sub-check such as `/readyz/etcd`,
 * or with a query such as `/readyz?exclude=etcd`. Only characters a request line may carry.
 */
export function httpPath(): ValueKind<string> {
  return textKind('PATH', 'is not an HTTP path (must start with /, e.g. /readyz)',
    (text) => (/^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(text) ? text : undefined));
}

/** A DNS name or IP address, as a TLS server name to verify the certificate against. */
export function hostName(): ValueKind<string> {
  return textKind('NAME', 'is not a DNS name or IP address', (text) => (isHostName(text) ? text : undefined));
}


/** The error for a key the config file does not know, with the likely intended one. */
export function unknownKey(where: string, key: string, known: readonly string[]): ConfigError {
  const hint = suggest(key, known);
  return new ConfigError(where, undefined, hint ? `unknown key (did you mean ${hint}?)` : `unknown key (known: ${known.join(', ')})`);
}
